"""catalogue: when a practice was first published (first_published_at)

A draft that was never published may be deleted by those who may edit it; a practice that was
ever published may not (its revisions are public history), even after it went back to draft.
`good_practices.first_published_at` keeps that fact on the row. Filled from `published_at`
for the practices published today, and for drafts from the audit log (a practice taken back
to draft was published and unpublished through the services, which both write an entry).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("good_practices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_published_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE good_practices SET first_published_at = published_at "
               "WHERE published_at IS NOT NULL")
    op.execute(
        "UPDATE good_practices SET first_published_at = (SELECT min(a.at) FROM audit_log a "
        "WHERE a.object_type = 'goodpractice' AND a.object_id = good_practices.id "
        "AND a.action IN ('catalogue.published', 'catalogue.unpublished')) "
        "WHERE first_published_at IS NULL")


def downgrade():
    with op.batch_alter_table("good_practices", schema=None) as batch_op:
        batch_op.drop_column("first_published_at")
