"""catalogue: on PostgreSQL, the terms and facets of each practice in one array under GIN

A search whose words and filters are each common but rarely meet ("spazio compiti" in a common
theme and status) cannot stop early: walking the rarest word's postings probes all of them
(16,000 at 100,000 practices, 55-70 ms), and joining the whole lists (terms, theme, status:
110,000 rows) still took 25-50 ms on PostgreSQL. `good_practices.search_keys` holds the
practice's index terms and its facet tokens ("t:3", "s:attiva") in one text array under a GIN
index: the lists are intersected inside the index (3 ms for the same search) and only the
matches are read. Filled here from practice_terms and practice_facets, then kept by
`search.reindex`. On SQLite the column exists, stays NULL and its partial index is empty: the
SQLite search walks its postings in process, where a probe is cheap.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

FILL = """
UPDATE good_practices AS p SET search_keys = ARRAY(
    SELECT t.term FROM practice_terms AS t WHERE t.practice_id = p.id
    UNION ALL
    SELECT f.facet || ':' || f.value FROM practice_facets AS f
     WHERE f.practice_id = p.id AND f.facet <> '*')
 WHERE p.published_at IS NOT NULL
"""


def upgrade():
    with op.batch_alter_table("good_practices", schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            "search_keys", sa.Text().with_variant(ARRAY(sa.Text()), "postgresql"),
            nullable=True))
    if op.get_context().dialect.name == "postgresql":
        op.execute(FILL)
    op.create_index("ix_good_practices_search_keys", "good_practices", ["search_keys"],
                    unique=False, postgresql_using="gin",
                    postgresql_where=sa.text("search_keys IS NOT NULL"),
                    sqlite_where=sa.text("search_keys IS NOT NULL"))


def downgrade():
    op.drop_index("ix_good_practices_search_keys", table_name="good_practices",
                  postgresql_using="gin", postgresql_where=sa.text("search_keys IS NOT NULL"),
                  sqlite_where=sa.text("search_keys IS NOT NULL"))
    with op.batch_alter_table("good_practices", schema=None) as batch_op:
        batch_op.drop_column("search_keys")
