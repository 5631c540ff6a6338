"""fund: the ledger of the fondi solidali

Funds (one per Comune, one for the Rete), their accounts, transactions and entries, the
monthly totals and campaign totals the ledger keeps, and the names of donors. Transactions and
entries are append-only: triggers refuse UPDATE and DELETE on both databases; on PostgreSQL a
deferred constraint trigger also refuses, at commit, a transaction whose entries do not sum to
zero (or that has fewer than two).

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

IMMUTABLE = ("fund_transactions", "fund_entries")

_PG_IMMUTABLE = """
CREATE FUNCTION fund_ledger_immutable() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: post a reversing transaction', TG_TABLE_NAME;
END $$ LANGUAGE plpgsql"""

_PG_BALANCED = """
CREATE FUNCTION fund_ledger_balanced() RETURNS trigger AS $$
DECLARE
  tx integer;
  total bigint;
  n integer;
BEGIN
  IF TG_TABLE_NAME = 'fund_entries' THEN
    tx := NEW.transaction_id;
  ELSE
    tx := NEW.id;
  END IF;
  SELECT COALESCE(SUM(amount_cents), 0), COUNT(*) INTO total, n
    FROM fund_entries WHERE transaction_id = tx;
  IF total <> 0 OR n < 2 THEN
    RAISE EXCEPTION 'fund transaction % is unbalanced: % entries summing to %', tx, n, total;
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql"""


def upgrade():
    op.create_table(
        "funds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comune_id", sa.Integer(), nullable=True),
        sa.Column("scope_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("(comune_id IS NULL AND scope_id = 0) OR scope_id = comune_id",
                           name=op.f("ck_funds_scope")),
        sa.ForeignKeyConstraint(["comune_id"], ["comuni.id"],
                                name=op.f("fk_funds_comune_id_comuni")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funds")),
        sa.UniqueConstraint("scope_id", name=op.f("uq_funds_scope_id")),
    )
    op.create_table(
        "fund_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fund_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("balance_cents", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("kind <> 'available' OR balance_cents >= 0",
                           name=op.f("ck_fund_accounts_available")),
        sa.CheckConstraint("kind <> 'expense' OR balance_cents >= 0",
                           name=op.f("ck_fund_accounts_expense")),
        sa.CheckConstraint("kind <> 'income' OR balance_cents <= 0",
                           name=op.f("ck_fund_accounts_income")),
        sa.CheckConstraint("kind in ('available', 'income', 'expense')",
                           name=op.f("ck_fund_accounts_kind")),
        sa.ForeignKeyConstraint(["fund_id"], ["funds.id"],
                                name=op.f("fk_fund_accounts_fund_id_funds")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_accounts")),
        sa.UniqueConstraint("fund_id", "kind", "category",
                            name=op.f("uq_fund_accounts_fund_id_kind_category")),
    )
    op.create_table(
        "fund_monthly",
        sa.Column("fund_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("movements", sa.Integer(), nullable=False),
        sa.CheckConstraint("direction in ('in', 'out')",
                           name=op.f("ck_fund_monthly_direction")),
        sa.ForeignKeyConstraint(["fund_id"], ["funds.id"],
                                name=op.f("fk_fund_monthly_fund_id_funds")),
        sa.PrimaryKeyConstraint("fund_id", "month", "direction", "category",
                                name=op.f("pk_fund_monthly")),
    )
    op.create_table(
        "fund_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fund_id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=160), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("target_cents", sa.BigInteger(), nullable=False),
        sa.Column("raised_cents", sa.BigInteger(), nullable=False),
        sa.Column("donations", sa.Integer(), nullable=False),
        sa.Column("opens_on", sa.Date(), nullable=False),
        sa.Column("closes_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("raised_cents >= 0", name=op.f("ck_fund_campaigns_raised")),
        sa.CheckConstraint("target_cents > 0", name=op.f("ck_fund_campaigns_target")),
        sa.ForeignKeyConstraint(["fund_id"], ["funds.id"],
                                name=op.f("fk_fund_campaigns_fund_id_funds")),
        sa.ForeignKeyConstraint(["proposal_id"], ["proposals.id"],
                                name=op.f("fk_fund_campaigns_proposal_id_proposals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_campaigns")),
    )
    op.create_index(op.f("ix_fund_campaigns_fund_id"), "fund_campaigns", ["fund_id"])
    op.create_index(op.f("ix_fund_campaigns_proposal_id"), "fund_campaigns", ["proposal_id"])
    op.create_table(
        "fund_transactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fund_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("memo", sa.String(length=300), nullable=False),
        sa.Column("ref", sa.String(length=120), nullable=True),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("(kind = 'reversal') = (reverses_id IS NOT NULL)",
                           name=op.f("ck_fund_transactions_reverses")),
        sa.CheckConstraint("kind in ('contribution', 'grant', 'reversal')",
                           name=op.f("ck_fund_transactions_kind")),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_fund_transactions_amount")),
        sa.ForeignKeyConstraint(["campaign_id"], ["fund_campaigns.id"],
                                name=op.f("fk_fund_transactions_campaign_id_fund_campaigns")),
        sa.ForeignKeyConstraint(["fund_id"], ["funds.id"],
                                name=op.f("fk_fund_transactions_fund_id_funds")),
        sa.ForeignKeyConstraint(["reverses_id"], ["fund_transactions.id"],
                                name=op.f("fk_fund_transactions_reverses_id_fund_transactions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_transactions")),
        sa.UniqueConstraint("key", name=op.f("uq_fund_transactions_key")),
        sa.UniqueConstraint("reverses_id", name=op.f("uq_fund_transactions_reverses_id")),
    )
    op.create_index("ix_fund_transactions_campaign", "fund_transactions",
                    ["campaign_id", "id"])
    op.create_index("ix_fund_transactions_fund_id", "fund_transactions", ["fund_id", "id"])
    op.create_table(
        "fund_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_cents <> 0", name=op.f("ck_fund_entries_amount")),
        sa.ForeignKeyConstraint(["account_id"], ["fund_accounts.id"],
                                name=op.f("fk_fund_entries_account_id_fund_accounts")),
        sa.ForeignKeyConstraint(["transaction_id"], ["fund_transactions.id"],
                                name=op.f("fk_fund_entries_transaction_id_fund_transactions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_entries")),
    )
    op.create_index(op.f("ix_fund_entries_account_id"), "fund_entries", ["account_id"])
    op.create_index(op.f("ix_fund_entries_transaction_id"), "fund_entries",
                    ["transaction_id"])
    op.create_table(
        "fund_donations",
        sa.Column("transaction_id", sa.Integer(), nullable=False),
        sa.Column("donor_name", sa.String(length=160), nullable=True),
        sa.ForeignKeyConstraint(["transaction_id"], ["fund_transactions.id"],
                                name=op.f("fk_fund_donations_transaction_id_fund_transactions")),
        sa.PrimaryKeyConstraint("transaction_id", name=op.f("pk_fund_donations")),
    )
    _triggers()


def _triggers():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_IMMUTABLE)
        for table in IMMUTABLE:
            op.execute(f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION fund_ledger_immutable()")
        op.execute(_PG_BALANCED)
        for table in IMMUTABLE:
            name = "fund_entries_balanced" if table == "fund_entries" else (
                "fund_transactions_balanced")
            op.execute(f"CREATE CONSTRAINT TRIGGER {name} AFTER INSERT ON {table} "
                       "DEFERRABLE INITIALLY DEFERRED "
                       "FOR EACH ROW EXECUTE FUNCTION fund_ledger_balanced()")
        return
    for table in IMMUTABLE:
        op.execute(f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                   f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
        op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                   f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")


def _drop_triggers():
    if op.get_bind().dialect.name == "postgresql":
        for table in IMMUTABLE:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
        op.execute("DROP TRIGGER IF EXISTS fund_entries_balanced ON fund_entries")
        op.execute("DROP TRIGGER IF EXISTS fund_transactions_balanced ON fund_transactions")
        op.execute("DROP FUNCTION IF EXISTS fund_ledger_immutable()")
        op.execute("DROP FUNCTION IF EXISTS fund_ledger_balanced()")
        return
    for table in IMMUTABLE:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")


def downgrade():
    _drop_triggers()
    op.drop_table("fund_donations")
    op.drop_index(op.f("ix_fund_entries_transaction_id"), table_name="fund_entries")
    op.drop_index(op.f("ix_fund_entries_account_id"), table_name="fund_entries")
    op.drop_table("fund_entries")
    op.drop_index("ix_fund_transactions_fund_id", table_name="fund_transactions")
    op.drop_index("ix_fund_transactions_campaign", table_name="fund_transactions")
    op.drop_table("fund_transactions")
    op.drop_index(op.f("ix_fund_campaigns_proposal_id"), table_name="fund_campaigns")
    op.drop_index(op.f("ix_fund_campaigns_fund_id"), table_name="fund_campaigns")
    op.drop_table("fund_campaigns")
    op.drop_table("fund_monthly")
    op.drop_table("fund_accounts")
    op.drop_table("funds")
