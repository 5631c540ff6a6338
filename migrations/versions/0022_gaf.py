"""gaf: purchasing groups, suppliers, products, order rounds

Groups of a Comune with their member households, suppliers with their products, order rounds
and each household's order (one per round, unique) with one line per product (unique), so
that two members of a household editing at once change separate rows, never one whole order.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gaf_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comune_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("coordinator_household_id", sa.Integer(), nullable=True),
        sa.Column("collection_point", sa.String(length=200), nullable=False),
        sa.Column("opening_times", sa.String(length=200), nullable=False),
        sa.Column("fund_share_bp", sa.Integer(), server_default="200", nullable=False),
        sa.Column("given_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("members_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "fund_share_bp >= 0 AND fund_share_bp <= 10000", name=op.f("ck_gaf_groups_share")
        ),
        sa.CheckConstraint("given_cents >= 0", name=op.f("ck_gaf_groups_given")),
        sa.ForeignKeyConstraint(
            ["comune_id"], ["comuni.id"], name=op.f("fk_gaf_groups_comune_id_comuni")
        ),
        sa.ForeignKeyConstraint(
            ["coordinator_household_id"],
            ["households.id"],
            name=op.f("fk_gaf_groups_coordinator_household_id_households"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gaf_groups")),
    )
    op.create_index(op.f("ix_gaf_groups_comune_id"), "gaf_groups", ["comune_id"], unique=False)
    op.create_index(
        op.f("ix_gaf_groups_coordinator_household_id"),
        "gaf_groups",
        ["coordinator_household_id"],
        unique=False,
    )
    op.create_table(
        "gaf_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("monthly_commitment_cents", sa.BigInteger(), nullable=False),
        sa.Column("joined_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("monthly_commitment_cents >= 0", name=op.f("ck_gaf_members_commitment")),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["gaf_groups.id"],
            name=op.f("fk_gaf_members_group_id_gaf_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_gaf_members_household_id_households"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gaf_members")),
        sa.UniqueConstraint(
            "group_id", "household_id", name=op.f("uq_gaf_members_group_id_household_id")
        ),
    )
    op.create_index(
        op.f("ix_gaf_members_household_id"), "gaf_members", ["household_id"], unique=False
    )
    op.create_table(
        "gaf_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("opens_at", sa.DateTime(), nullable=False),
        sa.Column("closes_at", sa.DateTime(), nullable=False),
        sa.Column("delivery_on", sa.Date(), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=True),
        sa.Column("fund_share_cents", sa.BigInteger(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("settled_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "state in ('open', 'closed', 'delivered', 'settled')", name=op.f("ck_gaf_rounds_state")
        ),
        sa.CheckConstraint("closes_at > opens_at", name=op.f("ck_gaf_rounds_window")),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["gaf_groups.id"],
            name=op.f("fk_gaf_rounds_group_id_gaf_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gaf_rounds")),
    )
    op.create_index("ix_gaf_rounds_group_id", "gaf_rounds", ["group_id", "id"], unique=False)
    op.create_table(
        "gaf_suppliers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("town", sa.String(length=120), nullable=False),
        sa.Column("patto", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["gaf_groups.id"],
            name=op.f("fk_gaf_suppliers_group_id_gaf_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gaf_suppliers")),
    )
    op.create_index(op.f("ix_gaf_suppliers_group_id"), "gaf_suppliers", ["group_id"], unique=False)
    op.create_table(
        "gaf_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("total_cents >= 0", name=op.f("ck_gaf_orders_total")),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_gaf_orders_household_id_households"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["gaf_rounds.id"],
            name=op.f("fk_gaf_orders_round_id_gaf_rounds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gaf_orders")),
        sa.UniqueConstraint(
            "round_id", "household_id", name=op.f("uq_gaf_orders_round_id_household_id")
        ),
    )
    op.create_index(
        op.f("ix_gaf_orders_household_id"), "gaf_orders", ["household_id"], unique=False
    )
    op.create_table(
        "gaf_products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("unit", sa.String(length=30), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("min_qty", sa.Integer(), nullable=False),
        sa.Column("multiple", sa.Integer(), nullable=False),
        sa.Column("max_qty", sa.Integer(), nullable=False),
        sa.Column("available", sa.Boolean(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "min_qty >= 1 AND multiple >= 1 AND max_qty >= min_qty",
            name=op.f("ck_gaf_products_quantities"),
        ),
        sa.CheckConstraint("price_cents > 0", name=op.f("ck_gaf_products_price")),
        sa.ForeignKeyConstraint(
            ["supplier_id"],
            ["gaf_suppliers.id"],
            name=op.f("fk_gaf_products_supplier_id_gaf_suppliers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gaf_products")),
    )
    op.create_index(
        op.f("ix_gaf_products_supplier_id"), "gaf_products", ["supplier_id"], unique=False
    )
    op.create_table(
        "gaf_order_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.CheckConstraint("price_cents > 0", name=op.f("ck_gaf_order_lines_price")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_gaf_order_lines_quantity")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["gaf_orders.id"],
            name=op.f("fk_gaf_order_lines_order_id_gaf_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["gaf_products.id"],
            name=op.f("fk_gaf_order_lines_product_id_gaf_products"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gaf_order_lines")),
        sa.UniqueConstraint(
            "order_id", "product_id", name=op.f("uq_gaf_order_lines_order_id_product_id")
        ),
    )
    op.create_index(
        op.f("ix_gaf_order_lines_product_id"), "gaf_order_lines", ["product_id"], unique=False
    )


def downgrade() -> None:
    # indexes go with their tables
    op.drop_table("gaf_order_lines")
    op.drop_table("gaf_products")
    op.drop_table("gaf_orders")
    op.drop_table("gaf_suppliers")
    op.drop_table("gaf_rounds")
    op.drop_table("gaf_members")
    op.drop_table("gaf_groups")
