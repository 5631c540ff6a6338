"""voting: the round's list in order of votes or of cost

The round page shows its proposals a page at a time (keyset pagination) sorted by votes or
by cost; each order walks its own index from the round's first row, whatever the round's size.

Revision ID: 0016
Revises: 0015
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_voting_entries_round_votes", "voting_entries",
                    ["round_id", "vote_count", "proposal_id"])
    op.create_index("ix_voting_entries_round_cost", "voting_entries",
                    ["round_id", "cost_cents", "proposal_id"])


def downgrade():
    op.drop_index("ix_voting_entries_round_cost", table_name="voting_entries")
    op.drop_index("ix_voting_entries_round_votes", table_name="voting_entries")
