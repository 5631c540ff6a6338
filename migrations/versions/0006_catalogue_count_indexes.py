"""catalogue: indexes that list the most frequent facet values without reading them all

The catalogue page names the 16 Comuni with most practices (of all, or of a chosen filter's
practices, from the stored pair counts): with 1,500 Comuni that read and sorted 1,500 rows
(PostgreSQL: 500 heap pages for one theme). These indexes hold the counts in order, covering
the columns read.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("catalogue_facet_counts", schema=None) as batch_op:
        batch_op.create_index("ix_catalogue_facet_counts_top", ["facet", "count", "value"],
                              unique=False)
    with op.batch_alter_table("catalogue_facet_pairs", schema=None) as batch_op:
        batch_op.create_index("ix_catalogue_facet_pairs_top",
                              ["facet", "value", "other_facet", "count", "other_value"],
                              unique=False)


def downgrade():
    with op.batch_alter_table("catalogue_facet_pairs", schema=None) as batch_op:
        batch_op.drop_index("ix_catalogue_facet_pairs_top")
    with op.batch_alter_table("catalogue_facet_counts", schema=None) as batch_op:
        batch_op.drop_index("ix_catalogue_facet_counts_top")
