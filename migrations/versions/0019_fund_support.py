"""fund: support applications, Fattore Famiglia profiles, tariffs, pacts

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def _weight(name: str) -> sa.Column:
    return sa.Column(name, sa.SmallInteger(), server_default="0", nullable=False)


def upgrade() -> None:
    op.create_table(
        "fund_fattore_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comune_id", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("decision", sa.String(300), nullable=False),
        sa.Column("decision_url", sa.String(300), nullable=True),
        _weight("w_child_0_2"), _weight("w_child_3_5"), _weight("w_child_6_13"),
        _weight("w_child_14_17"), _weight("w_young_adult"), _weight("w_single_parent"),
        _weight("w_pregnancy"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "w_child_0_2 BETWEEN 0 AND 300 AND w_child_3_5 BETWEEN 0 AND 300 "
            "AND w_child_6_13 BETWEEN 0 AND 300 AND w_child_14_17 BETWEEN 0 AND 300 "
            "AND w_young_adult BETWEEN 0 AND 300 AND w_single_parent BETWEEN 0 AND 300 "
            "AND w_pregnancy BETWEEN 0 AND 300",
            name=op.f("ck_fund_fattore_profiles_weights")),
        sa.ForeignKeyConstraint(["comune_id"], ["comuni.id"], ondelete="CASCADE",
                                name=op.f("fk_fund_fattore_profiles_comune_id_comuni")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_fattore_profiles")),
        sa.UniqueConstraint("comune_id", "valid_from",
                            name=op.f("uq_fund_fattore_profiles_comune_id_valid_from")),
    )
    op.create_table(
        "fund_tariffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comune_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("unit", sa.String(40), server_default="", nullable=False),
        sa.Column("min_fee_cents", sa.Integer(), nullable=False),
        sa.Column("max_fee_cents", sa.Integer(), nullable=False),
        sa.Column("threshold_low_cents", sa.BigInteger(), nullable=False),
        sa.Column("threshold_high_cents", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.SmallInteger(), server_default="0", nullable=False),
        sa.CheckConstraint("min_fee_cents >= 0 AND max_fee_cents >= min_fee_cents",
                           name=op.f("ck_fund_tariffs_fees")),
        sa.CheckConstraint("threshold_low_cents >= 0 AND threshold_high_cents > "
                           "threshold_low_cents", name=op.f("ck_fund_tariffs_thresholds")),
        sa.ForeignKeyConstraint(["comune_id"], ["comuni.id"], ondelete="CASCADE",
                                name=op.f("fk_fund_tariffs_comune_id_comuni")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_tariffs")),
    )
    op.create_index(op.f("ix_fund_tariffs_comune_id"), "fund_tariffs", ["comune_id"])
    op.create_table(
        "fund_support_settings",
        sa.Column("comune_id", sa.Integer(), nullable=False),
        sa.Column("double_approval_cents", sa.BigInteger(), server_default="50000",
                  nullable=False),
        sa.Column("purge_after_days", sa.Integer(), server_default="365", nullable=False),
        sa.CheckConstraint("double_approval_cents >= 0",
                           name=op.f("ck_fund_support_settings_double_approval")),
        sa.CheckConstraint("purge_after_days BETWEEN 1 AND 3650",
                           name=op.f("ck_fund_support_settings_purge_after")),
        sa.ForeignKeyConstraint(["comune_id"], ["comuni.id"], ondelete="CASCADE",
                                name=op.f("fk_fund_support_settings_comune_id_comuni")),
        sa.PrimaryKeyConstraint("comune_id", name=op.f("pk_fund_support_settings")),
    )
    op.create_table(
        "fund_applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comune_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("applicant_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), server_default="submitted", nullable=False),
        sa.Column("amount_requested_cents", sa.BigInteger(), nullable=False),
        sa.Column("amount_granted_cents", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("members", sa.JSON(), nullable=True),
        sa.Column("income_cents", sa.BigInteger(), nullable=True),
        sa.Column("assets_cents", sa.BigInteger(), nullable=True),
        sa.Column("isee_cents", sa.BigInteger(), nullable=True),
        sa.Column("scale_hundredths", sa.Integer(), nullable=True),
        sa.Column("indicator_cents", sa.BigInteger(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("profile_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("paid_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("purged_at", sa.DateTime(), nullable=True),
        sa.Column("payment_transaction_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("status in ('submitted','under_review','approved','rejected','paid',"
                           "'closed')", name=op.f("ck_fund_applications_status")),
        sa.CheckConstraint("amount_requested_cents > 0",
                           name=op.f("ck_fund_applications_requested")),
        sa.CheckConstraint("amount_granted_cents IS NULL OR amount_granted_cents > 0",
                           name=op.f("ck_fund_applications_granted")),
        sa.ForeignKeyConstraint(["comune_id"], ["comuni.id"],
                                name=op.f("fk_fund_applications_comune_id_comuni")),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], ondelete="SET NULL",
                                name=op.f("fk_fund_applications_household_id_households")),
        sa.ForeignKeyConstraint(["applicant_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_fund_applications_applicant_id_users")),
        sa.ForeignKeyConstraint(
            ["profile_id"], ["fund_fattore_profiles.id"], ondelete="SET NULL",
            name=op.f("fk_fund_applications_profile_id_fund_fattore_profiles")),
        sa.ForeignKeyConstraint(
            ["payment_transaction_id"], ["fund_transactions.id"],
            name=op.f("fk_fund_applications_payment_transaction_id_fund_transactions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_applications")),
    )
    op.create_index(op.f("ix_fund_applications_household_id"), "fund_applications",
                    ["household_id"])
    op.create_index("ix_fund_applications_queue", "fund_applications",
                    ["comune_id", "status", "indicator_cents"])
    op.create_table(
        "fund_application_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("manager_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"], ["fund_applications.id"], ondelete="CASCADE",
            name=op.f("fk_fund_application_approvals_application_id_fund_applications")),
        sa.ForeignKeyConstraint(["manager_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_fund_application_approvals_manager_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_application_approvals")),
        sa.UniqueConstraint(
            "application_id", "manager_id",
            name=op.f("uq_fund_application_approvals_application_id_manager_id")),
    )
    op.create_table(
        "fund_pacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("hours", sa.SmallInteger(), nullable=True),
        sa.Column("hours_done", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("status", sa.String(12), server_default="proposed", nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("kind in ('lab_hours','skill','help_family','other')",
                           name=op.f("ck_fund_pacts_kind")),
        sa.CheckConstraint("status in ('proposed','agreed','completed')",
                           name=op.f("ck_fund_pacts_status")),
        sa.CheckConstraint("hours IS NULL OR hours BETWEEN 1 AND 1000",
                           name=op.f("ck_fund_pacts_hours")),
        sa.CheckConstraint("hours_done BETWEEN 0 AND 1000", name=op.f("ck_fund_pacts_hours_done")),
        sa.ForeignKeyConstraint(["application_id"], ["fund_applications.id"],
                                ondelete="CASCADE",
                                name=op.f("fk_fund_pacts_application_id_fund_applications")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_pacts")),
        sa.UniqueConstraint("application_id", name=op.f("uq_fund_pacts_application_id")),
    )


def downgrade() -> None:
    op.drop_table("fund_pacts")
    op.drop_table("fund_application_approvals")
    op.drop_index("ix_fund_applications_queue", table_name="fund_applications")
    op.drop_index(op.f("ix_fund_applications_household_id"), table_name="fund_applications")
    op.drop_table("fund_applications")
    op.drop_table("fund_support_settings")
    op.drop_index(op.f("ix_fund_tariffs_comune_id"), table_name="fund_tariffs")
    op.drop_table("fund_tariffs")
    op.drop_table("fund_fattore_profiles")
