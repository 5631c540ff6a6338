"""catalogue: a Comune's adoptions, latest first, from one index

A Comune's page lists the ten practices it adopted most recently (`WHERE comune_id = ? ORDER BY
updated_at DESC, id DESC LIMIT 10`). With only an index on `comune_id` every adoption of the
Comune was read and sorted (up to 52 in the benchmark, 0.4 ms on PostgreSQL); the composite
index walks the latest ten directly on both backends and replaces the single-column one (it
still serves the foreign key).

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("practice_adoptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practice_adoptions_comune_id"))
        batch_op.create_index("ix_practice_adoptions_comune_latest",
                              ["comune_id", "updated_at", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("practice_adoptions", schema=None) as batch_op:
        batch_op.drop_index("ix_practice_adoptions_comune_latest")
        batch_op.create_index(batch_op.f("ix_practice_adoptions_comune_id"), ["comune_id"],
                              unique=False)
