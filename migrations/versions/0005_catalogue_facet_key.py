"""catalogue: the facet values of a practice on its row (facet_key)

`good_practices.facet_key` lists the facet values a published practice carries, as
space-separated `facet:value` tokens ("c:12 k:comune s:attiva t:3"), the same rows as
`practice_facets` without the total ('*'). A text search reads it with its candidates and
counts the facets of the best 500 in Python, instead of a GROUP BY over practice_facets; the
result cards read their themes and Comuni from it. Empty for drafts.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("good_practices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("facet_key", sa.Text(), server_default="", nullable=False))
    aggregate = ("string_agg" if op.get_bind().dialect.name == "postgresql"
                 else "group_concat")
    op.execute(
        "UPDATE good_practices SET facet_key = COALESCE((SELECT "
        f"{aggregate}(f.facet || ':' || f.value, ' ') FROM practice_facets f "
        "WHERE f.practice_id = good_practices.id AND f.facet <> '*'), '')")


def downgrade():
    with op.batch_alter_table("good_practices", schema=None) as batch_op:
        batch_op.drop_column("facet_key")
