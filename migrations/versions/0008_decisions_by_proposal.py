"""tables: decisions of a proposal, newest first, from one index

The proposal page asks for the latest decision on a proposal (`WHERE proposal_id = ? ORDER BY
decided_on DESC, id DESC LIMIT 1`). With only an index on `proposal_id`, SQLite preferred walking
`ix_decisions_decided` over every decision (180,000 in the benchmark: 270-490 ms). The composite
index answers it directly on both backends and replaces the single-column one.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decisions_proposal_id"))
        batch_op.create_index("ix_decisions_proposal_decided",
                              ["proposal_id", "decided_on", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_decisions_proposal_decided")
        batch_op.create_index(batch_op.f("ix_decisions_proposal_id"), ["proposal_id"],
                              unique=False)
