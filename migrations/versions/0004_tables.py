"""tables: members, meetings, agendas, minutes, decisions, project progress

Published minutes revisions and their decisions are immutable: triggers refuse UPDATE and
DELETE of their rows on SQLite and PostgreSQL alike.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: tables whose rows are never changed once written
IMMUTABLE = ("minutes_revisions", "decisions")


def upgrade():
    op.create_table('meetings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('table_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=True),
    sa.Column('place', sa.String(length=200), nullable=True),
    sa.Column('online_url', sa.String(length=300), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=10), server_default='draft', nullable=False),
    sa.Column('convened_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('minutes_revision', sa.SmallInteger(), server_default='0', nullable=False),
    sa.CheckConstraint("online_url is null or online_url like 'https://%'", name=op.f('ck_meetings_online_url')),
    sa.CheckConstraint("status in ('draft','convened','cancelled')", name=op.f('ck_meetings_status')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_meetings_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['table_id'], ['tables.id'], name=op.f('fk_meetings_table_id_tables'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meetings'))
    )

    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.create_index('ix_meetings_status_starts', ['status', 'starts_at'], unique=False)
        batch_op.create_index('ix_meetings_table_starts', ['table_id', 'starts_at'], unique=False)

    op.create_table('table_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('table_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('body_kind', sa.String(length=12), nullable=False),
    sa.Column('comune_id', sa.Integer(), nullable=True),
    sa.Column('association_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=160), nullable=True),
    sa.Column('joined_on', sa.Date(), nullable=False),
    sa.Column('left_on', sa.Date(), nullable=True),
    sa.CheckConstraint("body_kind in ('comune','association','families')", name=op.f('ck_table_members_body_kind')),
    sa.CheckConstraint("role in ('chair','secretary','member')", name=op.f('ck_table_members_role')),
    sa.ForeignKeyConstraint(['association_id'], ['associations.id'], name=op.f('fk_table_members_association_id_associations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['comune_id'], ['comuni.id'], name=op.f('fk_table_members_comune_id_comuni'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['table_id'], ['tables.id'], name=op.f('fk_table_members_table_id_tables'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_table_members_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_table_members')),
    sa.UniqueConstraint('table_id', 'user_id', name=op.f('uq_table_members_table_id_user_id'))
    )

    with op.batch_alter_table('table_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_table_members_user_id'), ['user_id'], unique=False)

    op.create_table('agenda_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('proposal_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_agenda_items_meeting_id_meetings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], name=op.f('fk_agenda_items_proposal_id_proposals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agenda_items')),
    sa.UniqueConstraint('meeting_id', 'proposal_id', name=op.f('uq_agenda_items_meeting_id_proposal_id'))
    )

    with op.batch_alter_table('agenda_items', schema=None) as batch_op:
        batch_op.create_index('ix_agenda_items_meeting', ['meeting_id', 'position'], unique=False)
        batch_op.create_index(batch_op.f('ix_agenda_items_proposal_id'), ['proposal_id'], unique=False)

    op.create_table('attendances',
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('delegate', sa.String(length=120), nullable=True),
    sa.CheckConstraint("status in ('present','absent','delegated')", name=op.f('ck_attendances_status')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_attendances_meeting_id_meetings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['table_members.id'], name=op.f('fk_attendances_member_id_table_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('meeting_id', 'member_id', name=op.f('pk_attendances'))
    )

    op.create_table('minutes_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.SmallInteger(), nullable=False),
    sa.Column('published_at', sa.DateTime(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('published_by', sa.String(length=120), nullable=False),
    sa.Column('approved_by', sa.String(length=120), nullable=True),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_minutes_revisions_meeting_id_meetings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_minutes_revisions')),
    sa.UniqueConstraint('meeting_id', 'number', name=op.f('uq_minutes_revisions_meeting_id_number'))
    )

    op.create_table('decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('revision_id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('table_id', sa.Integer(), nullable=False),
    sa.Column('agenda_item_id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=True),
    sa.Column('revision_number', sa.SmallInteger(), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('votes_for', sa.Integer(), nullable=True),
    sa.Column('votes_against', sa.Integer(), nullable=True),
    sa.Column('votes_abstained', sa.Integer(), nullable=True),
    sa.Column('amount_cents', sa.BigInteger(), nullable=True),
    sa.Column('funding_source', sa.String(length=200), nullable=True),
    sa.Column('responsible', sa.String(length=200), nullable=True),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('motivation', sa.Text(), nullable=True),
    sa.Column('decided_on', sa.Date(), nullable=False),
    sa.Column('published_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("outcome in ('approved','approved_amended','rejected','postponed')", name=op.f('ck_decisions_outcome')),
    sa.CheckConstraint('(votes_for is null or votes_for >= 0) and (votes_against is null or votes_against >= 0) and (votes_abstained is null or votes_abstained >= 0)', name=op.f('ck_decisions_votes')),
    sa.ForeignKeyConstraint(['agenda_item_id'], ['agenda_items.id'], name=op.f('fk_decisions_agenda_item_id_agenda_items')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_decisions_meeting_id_meetings')),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], name=op.f('fk_decisions_proposal_id_proposals')),
    sa.ForeignKeyConstraint(['revision_id'], ['minutes_revisions.id'], name=op.f('fk_decisions_revision_id_minutes_revisions')),
    sa.ForeignKeyConstraint(['table_id'], ['tables.id'], name=op.f('fk_decisions_table_id_tables')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decisions'))
    )

    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index('ix_decisions_decided', ['decided_on', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_decisions_meeting_id'), ['meeting_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_decisions_proposal_id'), ['proposal_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_decisions_revision_id'), ['revision_id'], unique=False)
        batch_op.create_index('ix_decisions_table_decided', ['table_id', 'decided_on', 'id'], unique=False)

    op.create_table('minutes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), server_default='draft', nullable=False),
    sa.Column('intro', sa.Text(), server_default='', nullable=False),
    sa.Column('correction_reason', sa.String(length=500), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('current_revision_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status in ('draft','approved','published')", name=op.f('ck_minutes_status')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_minutes_approved_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['current_revision_id'], ['minutes_revisions.id'], name=op.f('fk_minutes_current_revision_id_minutes_revisions')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_minutes_meeting_id_meetings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_minutes')),
    sa.UniqueConstraint('meeting_id', name=op.f('uq_minutes_meeting_id'))
    )

    with op.batch_alter_table('minutes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_minutes_current_revision_id'), ['current_revision_id'], unique=False)

    op.create_table('minute_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('minutes_id', sa.Integer(), nullable=False),
    sa.Column('agenda_item_id', sa.Integer(), nullable=False),
    sa.Column('discussion', sa.Text(), server_default='', nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('votes_for', sa.Integer(), nullable=True),
    sa.Column('votes_against', sa.Integer(), nullable=True),
    sa.Column('votes_abstained', sa.Integer(), nullable=True),
    sa.Column('amount_cents', sa.BigInteger(), nullable=True),
    sa.Column('funding_source', sa.String(length=200), nullable=True),
    sa.Column('responsible', sa.String(length=200), nullable=True),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('motivation', sa.Text(), nullable=True),
    sa.CheckConstraint("outcome is null or outcome in ('approved','approved_amended','rejected','postponed')", name=op.f('ck_minute_items_outcome')),
    sa.CheckConstraint('(votes_for is null or votes_for >= 0) and (votes_against is null or votes_against >= 0) and (votes_abstained is null or votes_abstained >= 0)', name=op.f('ck_minute_items_votes')),
    sa.CheckConstraint('amount_cents is null or amount_cents >= 0', name=op.f('ck_minute_items_amount')),
    sa.ForeignKeyConstraint(['agenda_item_id'], ['agenda_items.id'], name=op.f('fk_minute_items_agenda_item_id_agenda_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['minutes_id'], ['minutes.id'], name=op.f('fk_minute_items_minutes_id_minutes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_minute_items')),
    sa.UniqueConstraint('minutes_id', 'agenda_item_id', name=op.f('uq_minute_items_minutes_id_agenda_item_id'))
    )

    with op.batch_alter_table('minute_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_minute_items_agenda_item_id'), ['agenda_item_id'], unique=False)

    op.create_table('minutes_comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('minutes_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('for_revision', sa.SmallInteger(), nullable=False),
    sa.ForeignKeyConstraint(['minutes_id'], ['minutes.id'], name=op.f('fk_minutes_comments_minutes_id_minutes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_minutes_comments_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_minutes_comments'))
    )

    with op.batch_alter_table('minutes_comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_minutes_comments_minutes_id'), ['minutes_id'], unique=False)

    op.create_table('projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('decision_id', sa.Integer(), nullable=False),
    sa.Column('table_id', sa.Integer(), nullable=False),
    sa.Column('comune_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('responsible', sa.String(length=200), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('amount_cents', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.String(length=12), server_default='in_progress', nullable=False),
    sa.Column('progress', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('started_on', sa.Date(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('implemented_on', sa.Date(), nullable=True),
    sa.Column('practice_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status in ('in_progress','implemented')", name=op.f('ck_projects_status')),
    sa.CheckConstraint('progress between 0 and 100', name=op.f('ck_projects_progress')),
    sa.ForeignKeyConstraint(['comune_id'], ['comuni.id'], name=op.f('fk_projects_comune_id_comuni')),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.id'], name=op.f('fk_projects_decision_id_decisions')),
    sa.ForeignKeyConstraint(['practice_id'], ['good_practices.id'], name=op.f('fk_projects_practice_id_good_practices'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], name=op.f('fk_projects_proposal_id_proposals')),
    sa.ForeignKeyConstraint(['table_id'], ['tables.id'], name=op.f('fk_projects_table_id_tables')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects')),
    sa.UniqueConstraint('proposal_id', name=op.f('uq_projects_proposal_id'))
    )

    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.create_index('ix_projects_comune_status', ['comune_id', 'status', 'deadline'], unique=False)
        batch_op.create_index(batch_op.f('ix_projects_decision_id'), ['decision_id'], unique=False)
        batch_op.create_index('ix_projects_status_deadline', ['status', 'deadline'], unique=False)

    op.create_table('project_updates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('percent', sa.SmallInteger(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('posted_by_id', sa.Integer(), nullable=True),
    sa.Column('posted_by_name', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('percent between 0 and 100', name=op.f('ck_project_updates_percent')),
    sa.ForeignKeyConstraint(['posted_by_id'], ['users.id'], name=op.f('fk_project_updates_posted_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_updates_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_updates'))
    )

    with op.batch_alter_table('project_updates', schema=None) as batch_op:
        batch_op.create_index('ix_project_updates_project', ['project_id', 'id'], unique=False)

    _immutable_triggers()


def downgrade():
    _drop_immutable_triggers()
    with op.batch_alter_table('project_updates', schema=None) as batch_op:
        batch_op.drop_index('ix_project_updates_project')

    op.drop_table('project_updates')

    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_index('ix_projects_status_deadline')
        batch_op.drop_index(batch_op.f('ix_projects_decision_id'))
        batch_op.drop_index('ix_projects_comune_status')

    op.drop_table('projects')

    with op.batch_alter_table('minutes_comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_minutes_comments_minutes_id'))

    op.drop_table('minutes_comments')

    with op.batch_alter_table('minute_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_minute_items_agenda_item_id'))

    op.drop_table('minute_items')

    with op.batch_alter_table('minutes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_minutes_current_revision_id'))

    op.drop_table('minutes')

    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_decisions_table_decided')
        batch_op.drop_index(batch_op.f('ix_decisions_revision_id'))
        batch_op.drop_index(batch_op.f('ix_decisions_proposal_id'))
        batch_op.drop_index(batch_op.f('ix_decisions_meeting_id'))
        batch_op.drop_index('ix_decisions_decided')

    op.drop_table('decisions')

    op.drop_table('minutes_revisions')

    op.drop_table('attendances')

    with op.batch_alter_table('agenda_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agenda_items_proposal_id'))
        batch_op.drop_index('ix_agenda_items_meeting')

    op.drop_table('agenda_items')

    with op.batch_alter_table('table_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_table_members_user_id'))

    op.drop_table('table_members')

    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_index('ix_meetings_table_starts')
        batch_op.drop_index('ix_meetings_status_starts')

    op.drop_table('meetings')


def _immutable_triggers():
    """Published revisions and decisions refuse UPDATE and DELETE in the database itself."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION tables_published_immutable() RETURNS trigger AS $$
            BEGIN
              RAISE EXCEPTION '% is published and immutable', TG_TABLE_NAME;
            END $$ LANGUAGE plpgsql""")
        for table in IMMUTABLE:
            op.execute(f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION tables_published_immutable()")
    else:
        for table in IMMUTABLE:
            op.execute(f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} is published and immutable'); END")
            op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} is published and immutable'); END")


def _drop_immutable_triggers():
    if op.get_bind().dialect.name == "postgresql":
        for table in IMMUTABLE:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
        op.execute("DROP FUNCTION IF EXISTS tables_published_immutable()")
    else:
        for table in IMMUTABLE:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
