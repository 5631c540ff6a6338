"""card: Family Card, merchants' offers, purchases, operators

A Comune's eligibility rule (`card_rules`), one card per household (`cards`, unique
household), the households' requests (`card_requests`), the merchants' offers
(`card_offers`) and the purchases at the till (`card_purchases`, unique per merchant and
receipt: a retried receipt is one purchase). The existing `merchants` table gains the
application's fields; merchants created before it are taken as approved.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "card_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comune_id", sa.Integer(), nullable=False),
        sa.Column("min_children", sa.SmallInteger(), server_default="1", nullable=False),
        sa.Column("child_max_age", sa.SmallInteger(), server_default="25", nullable=False),
        sa.Column("isee_ceiling_cents", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("child_max_age >= 0 AND child_max_age <= 40",
                           name=op.f("ck_card_rules_child_max_age")),
        sa.CheckConstraint("isee_ceiling_cents IS NULL OR isee_ceiling_cents > 0",
                           name=op.f("ck_card_rules_isee")),
        sa.CheckConstraint("min_children >= 0 AND min_children <= 20",
                           name=op.f("ck_card_rules_min_children")),
        sa.ForeignKeyConstraint(["comune_id"], ["comuni.id"],
                                name=op.f("fk_card_rules_comune_id_comuni"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_rules")),
        sa.UniqueConstraint("comune_id", name=op.f("uq_card_rules_comune_id")),
    )
    op.create_table(
        "cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("comune_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("token_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("initials", sa.String(length=6), nullable=False),
        sa.CheckConstraint("status in ('active','suspended','expired','revoked')",
                           name=op.f("ck_cards_status")),
        sa.ForeignKeyConstraint(["comune_id"], ["comuni.id"],
                                name=op.f("fk_cards_comune_id_comuni")),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"],
                                name=op.f("fk_cards_household_id_households"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cards")),
        sa.UniqueConstraint("household_id", name=op.f("uq_cards_household_id")),
        sa.UniqueConstraint("number", name=op.f("uq_cards_number")),
    )
    op.create_index(op.f("ix_cards_comune_id"), "cards", ["comune_id"], unique=False)
    op.create_table(
        "card_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("comune_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("declared_isee_cents", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("status in ('pending','approved','refused')",
                           name=op.f("ck_card_requests_status")),
        sa.ForeignKeyConstraint(["comune_id"], ["comuni.id"],
                                name=op.f("fk_card_requests_comune_id_comuni")),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"],
                                name=op.f("fk_card_requests_decided_by_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"],
                                name=op.f("fk_card_requests_household_id_households"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["requested_by_id"], ["users.id"],
                                name=op.f("fk_card_requests_requested_by_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_requests")),
    )
    op.create_index("ix_card_requests_comune_status", "card_requests", ["comune_id", "status"],
                    unique=False)
    op.create_index(op.f("ix_card_requests_household_id"), "card_requests", ["household_id"],
                    unique=False)

    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("vat_number", sa.String(length=11), nullable=True))
        batch_op.add_column(sa.Column("contact_email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("contact_phone", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("description", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("status", sa.String(length=10), server_default="approved",
                                      nullable=False))
        batch_op.add_column(sa.Column("applied_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("applied_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("decided_at", sa.DateTime(), nullable=True))
        batch_op.create_check_constraint(op.f("ck_merchants_status"),
                                        "status in ('applied','approved','refused')")
        batch_op.create_index("ix_merchants_status_name", ["status", "name", "id"],
                              unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_merchants_vat_number"), ["vat_number"])
        batch_op.create_foreign_key(batch_op.f("fk_merchants_applied_by_id_users"), "users",
                                    ["applied_by_id"], ["id"], ondelete="SET NULL")

    op.create_table(
        "card_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=160), nullable=False),
        sa.Column("conditions", sa.String(length=500), nullable=True),
        sa.Column("discount_bp", sa.Integer(), nullable=False),
        sa.Column("fund_share_bp", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.CheckConstraint("discount_bp >= 0 AND discount_bp <= 10000",
                           name=op.f("ck_card_offers_discount")),
        sa.CheckConstraint("fund_share_bp >= 0 AND fund_share_bp <= 10000",
                           name=op.f("ck_card_offers_fund_share")),
        sa.CheckConstraint("valid_until IS NULL OR valid_until >= valid_from",
                           name=op.f("ck_card_offers_validity")),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"],
                                name=op.f("fk_card_offers_merchant_id_merchants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_offers")),
    )
    op.create_index(op.f("ix_card_offers_merchant_id"), "card_offers", ["merchant_id"],
                    unique=False)
    op.create_table(
        "card_purchases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=True),
        sa.Column("receipt", sa.String(length=40), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("discount_cents", sa.BigInteger(), nullable=False),
        sa.Column("fund_share_cents", sa.BigInteger(), nullable=False),
        sa.Column("fund_transaction_id", sa.Integer(), nullable=True),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_card_purchases_amount")),
        sa.CheckConstraint("discount_cents >= 0 AND discount_cents <= amount_cents",
                           name=op.f("ck_card_purchases_discount")),
        sa.CheckConstraint("fund_share_cents >= 0", name=op.f("ck_card_purchases_fund_share")),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"],
                                name=op.f("fk_card_purchases_card_id_cards"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["fund_transaction_id"], ["fund_transactions.id"],
                                name=op.f("fk_card_purchases_fund_transaction_id_fund_transactions")),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"],
                                name=op.f("fk_card_purchases_merchant_id_merchants")),
        sa.ForeignKeyConstraint(["offer_id"], ["card_offers.id"],
                                name=op.f("fk_card_purchases_offer_id_card_offers"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["operator_id"], ["users.id"],
                                name=op.f("fk_card_purchases_operator_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_purchases")),
        sa.UniqueConstraint("merchant_id", "receipt",
                            name=op.f("uq_card_purchases_merchant_id_receipt")),
    )
    op.create_index("ix_card_purchases_card_created", "card_purchases",
                    ["card_id", "created_at"], unique=False)
    op.create_index("ix_card_purchases_merchant_created", "card_purchases",
                    ["merchant_id", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_card_purchases_merchant_created", table_name="card_purchases")
    op.drop_index("ix_card_purchases_card_created", table_name="card_purchases")
    op.drop_table("card_purchases")
    op.drop_index(op.f("ix_card_offers_merchant_id"), table_name="card_offers")
    op.drop_table("card_offers")
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_merchants_applied_by_id_users"),
                                 type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_merchants_vat_number"), type_="unique")
        batch_op.drop_index("ix_merchants_status_name")
        batch_op.drop_constraint(op.f("ck_merchants_status"), type_="check")
        batch_op.drop_column("decided_at")
        batch_op.drop_column("applied_by_id")
        batch_op.drop_column("applied_at")
        batch_op.drop_column("status")
        batch_op.drop_column("description")
        batch_op.drop_column("contact_phone")
        batch_op.drop_column("contact_email")
        batch_op.drop_column("vat_number")
    op.drop_index(op.f("ix_card_requests_household_id"), table_name="card_requests")
    op.drop_index("ix_card_requests_comune_status", table_name="card_requests")
    op.drop_table("card_requests")
    op.drop_index(op.f("ix_cards_comune_id"), table_name="cards")
    op.drop_table("cards")
    op.drop_table("card_rules")
