"""proposals, moderation, comments, voting rounds and votes

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('proposals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('comune_id', sa.Integer(), nullable=False),
    sa.Column('table_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=160), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('estimated_cost_cents', sa.BigInteger(), nullable=True),
    sa.Column('own_contribution', sa.Text(), nullable=True),
    sa.Column('state', sa.String(length=20), server_default='draft', nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(), nullable=True),
    sa.Column('published_at', sa.DateTime(), nullable=True),
    sa.Column('state_changed_at', sa.DateTime(), nullable=False),
    sa.Column('support_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('listed', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('comment_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('on_behalf_by_id', sa.Integer(), nullable=True),
    sa.Column('on_behalf_consent', sa.String(length=300), nullable=True),
    sa.Column('on_behalf_consent_at', sa.DateTime(), nullable=True),
    sa.Column('hidden_at', sa.DateTime(), nullable=True),
    sa.Column('hidden_reason', sa.String(length=500), nullable=True),
    sa.Column('hidden_by_association_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("state in ('draft', 'submitted', 'changes_requested', 'published', 'selected', 'on_agenda', 'approved', 'not_approved', 'in_progress', 'implemented', 'rejected', 'withdrawn', 'merged')", name=op.f('ck_proposals_state')),
    sa.CheckConstraint('estimated_cost_cents is null or estimated_cost_cents >= 0', name=op.f('ck_proposals_cost')),
    sa.CheckConstraint('support_count >= 0', name=op.f('ck_proposals_support_count')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_proposals_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['comune_id'], ['comuni.id'], name=op.f('fk_proposals_comune_id_comuni')),
    sa.ForeignKeyConstraint(['hidden_by_association_id'], ['associations.id'], name=op.f('fk_proposals_hidden_by_association_id_associations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_proposals_household_id_households'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['merged_into_id'], ['proposals.id'], name=op.f('fk_proposals_merged_into_id_proposals'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['on_behalf_by_id'], ['users.id'], name=op.f('fk_proposals_on_behalf_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['table_id'], ['tables.id'], name=op.f('fk_proposals_table_id_tables')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proposals'))
    )
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proposals_author_id'), ['author_id'], unique=False)
        batch_op.create_index('ix_proposals_comune_listed', ['comune_id', 'listed', 'published_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_proposals_household_id'), ['household_id'], unique=False)
        batch_op.create_index('ix_proposals_listed_published', ['listed', 'published_at', 'id'], unique=False)
        batch_op.create_index('ix_proposals_listed_supports', ['listed', 'support_count', 'id'], unique=False)
        batch_op.create_index('ix_proposals_merged_into', ['merged_into_id'], unique=False)
        batch_op.create_index('ix_proposals_state_published', ['state', 'published_at', 'id'], unique=False)
        batch_op.create_index('ix_proposals_table_listed', ['table_id', 'listed', 'published_at', 'id'], unique=False)
        batch_op.create_index('ix_proposals_table_state', ['table_id', 'state'], unique=False)

    op.create_table('voting_rounds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('table_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=160), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('opens_at', sa.DateTime(), nullable=False),
    sa.Column('closes_at', sa.DateTime(), nullable=False),
    sa.Column('rule', sa.String(length=10), nullable=False),
    sa.Column('max_supports', sa.Integer(), nullable=True),
    sa.Column('threshold', sa.Integer(), nullable=True),
    sa.Column('budget_cents', sa.BigInteger(), nullable=True),
    sa.Column('salt', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('results_at', sa.DateTime(), nullable=True),
    sa.Column('results', sa.JSON(), nullable=True),
    sa.Column('ballot_count', sa.Integer(), server_default='0', nullable=False),
    sa.CheckConstraint("(rule = 'supports' and max_supports >= 1 and threshold >= 1) or (rule = 'budget' and budget_cents > 0)", name=op.f('ck_voting_rounds_parameters')),
    sa.CheckConstraint("rule in ('supports','budget')", name=op.f('ck_voting_rounds_rule')),
    sa.CheckConstraint('closes_at > opens_at', name=op.f('ck_voting_rounds_window')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_voting_rounds_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['table_id'], ['tables.id'], name=op.f('fk_voting_rounds_table_id_tables'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voting_rounds'))
    )
    with op.batch_alter_table('voting_rounds', schema=None) as batch_op:
        batch_op.create_index('ix_voting_rounds_closes', ['closes_at'], unique=False)
        batch_op.create_index('ix_voting_rounds_table_opens', ['table_id', 'opens_at'], unique=False)

    op.create_table('proposal_co_proposers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), server_default='invited', nullable=False),
    sa.Column('invited_by_id', sa.Integer(), nullable=True),
    sa.Column('invited_at', sa.DateTime(), nullable=False),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("status in ('invited','accepted','declined')", name=op.f('ck_proposal_co_proposers_status')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_proposal_co_proposers_household_id_households'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invited_by_id'], ['users.id'], name=op.f('fk_proposal_co_proposers_invited_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], name=op.f('fk_proposal_co_proposers_proposal_id_proposals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proposal_co_proposers')),
    sa.UniqueConstraint('proposal_id', 'household_id', name=op.f('uq_proposal_co_proposers_proposal_id_household_id'))
    )
    with op.batch_alter_table('proposal_co_proposers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proposal_co_proposers_household_id'), ['household_id'], unique=False)

    op.create_table('proposal_comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('edited_at', sa.DateTime(), nullable=True),
    sa.Column('hidden_at', sa.DateTime(), nullable=True),
    sa.Column('hidden_reason', sa.String(length=500), nullable=True),
    sa.Column('hidden_by_association_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_proposal_comments_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['hidden_by_association_id'], ['associations.id'], name=op.f('fk_proposal_comments_hidden_by_association_id_associations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['parent_id'], ['proposal_comments.id'], name=op.f('fk_proposal_comments_parent_id_proposal_comments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], name=op.f('fk_proposal_comments_proposal_id_proposals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proposal_comments'))
    )
    with op.batch_alter_table('proposal_comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proposal_comments_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_proposal_comments_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index('ix_proposal_comments_proposal', ['proposal_id', 'id'], unique=False)

    op.create_table('proposal_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('from_state', sa.String(length=20), nullable=True),
    sa.Column('to_state', sa.String(length=20), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('association_id', sa.Integer(), nullable=True),
    sa.Column('table_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_proposal_events_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['association_id'], ['associations.id'], name=op.f('fk_proposal_events_association_id_associations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], name=op.f('fk_proposal_events_proposal_id_proposals'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['table_id'], ['tables.id'], name=op.f('fk_proposal_events_table_id_tables'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proposal_events'))
    )
    with op.batch_alter_table('proposal_events', schema=None) as batch_op:
        batch_op.create_index('ix_proposal_events_proposal', ['proposal_id', 'id'], unique=False)

    op.create_table('proposal_partners',
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('association_id', sa.Integer(), nullable=False),
    sa.Column('added_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['association_id'], ['associations.id'], name=op.f('fk_proposal_partners_association_id_associations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], name=op.f('fk_proposal_partners_proposal_id_proposals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('proposal_id', 'association_id', name=op.f('pk_proposal_partners'))
    )
    with op.batch_alter_table('proposal_partners', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proposal_partners_association_id'), ['association_id'], unique=False)

    op.create_table('proposal_themes',
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('theme', sa.String(length=90), nullable=False),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], name=op.f('fk_proposal_themes_proposal_id_proposals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('proposal_id', 'theme', name=op.f('pk_proposal_themes'))
    )
    with op.batch_alter_table('proposal_themes', schema=None) as batch_op:
        batch_op.create_index('ix_proposal_themes_theme', ['theme', 'proposal_id'], unique=False)

    op.create_table('votes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_votes_household_id_households'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], name=op.f('fk_votes_proposal_id_proposals'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['round_id'], ['voting_rounds.id'], name=op.f('fk_votes_round_id_voting_rounds'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_votes_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_votes')),
    sa.UniqueConstraint('round_id', 'household_id', 'proposal_id', name=op.f('uq_votes_round_id_household_id_proposal_id'))
    )
    with op.batch_alter_table('votes', schema=None) as batch_op:
        batch_op.create_index('ix_votes_household', ['household_id'], unique=False)
        batch_op.create_index('ix_votes_proposal_round', ['proposal_id', 'round_id'], unique=False)

    op.create_table('voting_entries',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('vote_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('selected', sa.Boolean(), nullable=True),
    sa.Column('cost_cents', sa.BigInteger(), nullable=True),
    sa.CheckConstraint('vote_count >= 0', name=op.f('ck_voting_entries_vote_count')),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], name=op.f('fk_voting_entries_proposal_id_proposals'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['round_id'], ['voting_rounds.id'], name=op.f('fk_voting_entries_round_id_voting_rounds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('round_id', 'proposal_id', name=op.f('pk_voting_entries'))
    )
    with op.batch_alter_table('voting_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voting_entries_proposal_id'), ['proposal_id'], unique=False)

    op.create_table('proposal_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=True),
    sa.Column('reporter_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('resolution', sa.String(length=10), nullable=True),
    sa.CheckConstraint("resolution is null or resolution in ('hidden','dismissed')", name=op.f('ck_proposal_reports_resolution')),
    sa.ForeignKeyConstraint(['comment_id'], ['proposal_comments.id'], name=op.f('fk_proposal_reports_comment_id_proposal_comments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], name=op.f('fk_proposal_reports_proposal_id_proposals'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_proposal_reports_reporter_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_proposal_reports_resolved_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proposal_reports'))
    )
    with op.batch_alter_table('proposal_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proposal_reports_comment_id'), ['comment_id'], unique=False)
        batch_op.create_index('ix_proposal_reports_open', ['resolved_at', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_proposal_reports_proposal_id'), ['proposal_id'], unique=False)



def downgrade():
    with op.batch_alter_table('proposal_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proposal_reports_proposal_id'))
        batch_op.drop_index('ix_proposal_reports_open')
        batch_op.drop_index(batch_op.f('ix_proposal_reports_comment_id'))

    op.drop_table('proposal_reports')
    with op.batch_alter_table('voting_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voting_entries_proposal_id'))

    op.drop_table('voting_entries')
    with op.batch_alter_table('votes', schema=None) as batch_op:
        batch_op.drop_index('ix_votes_proposal_round')
        batch_op.drop_index('ix_votes_household')

    op.drop_table('votes')
    with op.batch_alter_table('proposal_themes', schema=None) as batch_op:
        batch_op.drop_index('ix_proposal_themes_theme')

    op.drop_table('proposal_themes')
    with op.batch_alter_table('proposal_partners', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proposal_partners_association_id'))

    op.drop_table('proposal_partners')
    with op.batch_alter_table('proposal_events', schema=None) as batch_op:
        batch_op.drop_index('ix_proposal_events_proposal')

    op.drop_table('proposal_events')
    with op.batch_alter_table('proposal_comments', schema=None) as batch_op:
        batch_op.drop_index('ix_proposal_comments_proposal')
        batch_op.drop_index(batch_op.f('ix_proposal_comments_parent_id'))
        batch_op.drop_index(batch_op.f('ix_proposal_comments_author_id'))

    op.drop_table('proposal_comments')
    with op.batch_alter_table('proposal_co_proposers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proposal_co_proposers_household_id'))

    op.drop_table('proposal_co_proposers')
    with op.batch_alter_table('voting_rounds', schema=None) as batch_op:
        batch_op.drop_index('ix_voting_rounds_table_opens')
        batch_op.drop_index('ix_voting_rounds_closes')

    op.drop_table('voting_rounds')
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.drop_index('ix_proposals_table_state')
        batch_op.drop_index('ix_proposals_table_listed')
        batch_op.drop_index('ix_proposals_state_published')
        batch_op.drop_index('ix_proposals_merged_into')
        batch_op.drop_index('ix_proposals_listed_supports')
        batch_op.drop_index('ix_proposals_listed_published')
        batch_op.drop_index(batch_op.f('ix_proposals_household_id'))
        batch_op.drop_index('ix_proposals_comune_listed')
        batch_op.drop_index(batch_op.f('ix_proposals_author_id'))

    op.drop_table('proposals')
