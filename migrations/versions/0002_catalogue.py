"""good-practice catalogue: practices, themes, promoters, indicators, revisions, files,
adoptions, and the search index (terms, facets, stored counts of facets, facet pairs, terms)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

THEMES = [
    ("Conciliazione famiglia-lavoro", "conciliazione-famiglia-lavoro"),
    ("Mutuo aiuto", "mutuo-aiuto"),
    ("Economia di vicinato e GAF", "economia-di-vicinato-e-gaf"),
    ("Scuola ed educazione", "scuola-ed-educazione"),
    ("Casa e abitare", "casa-e-abitare"),
    ("Anziani e cura", "anziani-e-cura"),
    ("Disabilità", "disabilita"),
    ("Tempo libero e sport", "tempo-libero-e-sport"),
    ("Tariffe e Fattore Famiglia", "tariffe-e-fattore-famiglia"),
    ("Partecipazione", "partecipazione"),
]


def upgrade():
    op.create_table('catalogue_facet_counts',
    sa.Column('facet', sa.String(length=1), nullable=False),
    sa.Column('value', sa.String(length=20), nullable=False),
    sa.Column('count', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('facet', 'value', name=op.f('pk_catalogue_facet_counts'))
    )
    op.create_table('catalogue_facet_pairs',
    sa.Column('facet', sa.String(length=1), nullable=False),
    sa.Column('value', sa.String(length=20), nullable=False),
    sa.Column('other_facet', sa.String(length=1), nullable=False),
    sa.Column('other_value', sa.String(length=20), nullable=False),
    sa.Column('count', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('facet', 'value', 'other_facet', 'other_value', name=op.f('pk_catalogue_facet_pairs'))
    )
    op.create_table('catalogue_term_stats',
    sa.Column('term', sa.String(length=40), nullable=False),
    sa.Column('df', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('term', name=op.f('pk_catalogue_term_stats'))
    )
    op.create_table('themes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('slug', sa.String(length=90), nullable=False),
    sa.Column('position', sa.Integer(), server_default='0', nullable=False),
    sa.Column('active', sa.Boolean(), server_default='1', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_themes')),
    sa.UniqueConstraint('name', name=op.f('uq_themes_name')),
    sa.UniqueConstraint('slug', name=op.f('uq_themes_slug'))
    )
    op.create_table('good_practices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=140), nullable=False),
    sa.Column('title', sa.String(length=160), nullable=False),
    sa.Column('title_key', sa.String(length=160), server_default='', nullable=False),
    sa.Column('summary', sa.String(length=600), nullable=False),
    sa.Column('body', sa.Text(), server_default='', nullable=False),
    sa.Column('body_html', sa.Text(), server_default='', nullable=False),
    sa.Column('status', sa.String(length=16), server_default='idea', nullable=False),
    sa.Column('started_on', sa.Date(), nullable=True),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('beneficiaries', sa.String(length=300), nullable=True),
    sa.Column('beneficiaries_count', sa.Integer(), nullable=True),
    sa.Column('cost_cents', sa.Integer(), nullable=True),
    sa.Column('funding_sources', sa.String(length=500), nullable=True),
    sa.Column('contacts', sa.String(length=500), nullable=True),
    sa.Column('owner_comune_id', sa.Integer(), nullable=True),
    sa.Column('owner_association_id', sa.Integer(), nullable=True),
    sa.Column('origin_label', sa.String(length=200), nullable=True),
    sa.Column('origin_url', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('published_at', sa.DateTime(), nullable=True),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.Column('adoption_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('revision_count', sa.Integer(), server_default='0', nullable=False),
    sa.CheckConstraint("status in ('idea','sperimentazione','attiva','conclusa')", name=op.f('ck_good_practices_status')),
    sa.CheckConstraint('cost_cents is null or cost_cents >= 0', name=op.f('ck_good_practices_cost')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_good_practices_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_association_id'], ['associations.id'], name=op.f('fk_good_practices_owner_association_id_associations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_comune_id'], ['comuni.id'], name=op.f('fk_good_practices_owner_comune_id_comuni'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'], name=op.f('fk_good_practices_published_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_good_practices')),
    sa.UniqueConstraint('slug', name=op.f('uq_good_practices_slug'))
    )
    with op.batch_alter_table('good_practices', schema=None) as batch_op:
        batch_op.create_index('ix_good_practices_adoptions', ['adoption_count', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_good_practices_owner_association_id'), ['owner_association_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_good_practices_owner_comune_id'), ['owner_comune_id'], unique=False)
        batch_op.create_index('ix_good_practices_published', ['published_at', 'id'], unique=False)
        batch_op.create_index('ix_good_practices_title_key', ['title_key', 'id'], unique=False)

    op.create_table('practice_adoptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('comune_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), server_default='valutazione', nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('started_on', sa.Date(), nullable=True),
    sa.Column('declared_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("status in ('valutazione','avvio','attiva','abbandonata')", name=op.f('ck_practice_adoptions_status')),
    sa.ForeignKeyConstraint(['comune_id'], ['comuni.id'], name=op.f('fk_practice_adoptions_comune_id_comuni'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['declared_by_id'], ['users.id'], name=op.f('fk_practice_adoptions_declared_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['practice_id'], ['good_practices.id'], name=op.f('fk_practice_adoptions_practice_id_good_practices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_practice_adoptions')),
    sa.UniqueConstraint('practice_id', 'comune_id', name=op.f('uq_practice_adoptions_practice_id_comune_id'))
    )
    with op.batch_alter_table('practice_adoptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_practice_adoptions_comune_id'), ['comune_id'], unique=False)

    op.create_table('practice_comuni',
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('comune_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['comune_id'], ['comuni.id'], name=op.f('fk_practice_comuni_comune_id_comuni'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['practice_id'], ['good_practices.id'], name=op.f('fk_practice_comuni_practice_id_good_practices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('practice_id', 'comune_id', name=op.f('pk_practice_comuni'))
    )
    with op.batch_alter_table('practice_comuni', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_practice_comuni_comune_id'), ['comune_id'], unique=False)

    op.create_table('practice_facets',
    sa.Column('facet', sa.String(length=1), nullable=False),
    sa.Column('value', sa.String(length=20), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['practice_id'], ['good_practices.id'], name=op.f('fk_practice_facets_practice_id_good_practices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('facet', 'value', 'practice_id', name=op.f('pk_practice_facets')),
    sqlite_with_rowid=False,
    )
    with op.batch_alter_table('practice_facets', schema=None) as batch_op:
        batch_op.create_index('ix_practice_facets_practice', ['practice_id', 'facet', 'value'], unique=False)

    op.create_table('practice_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('storage_key', sa.String(length=200), nullable=False),
    sa.Column('filename', sa.String(length=160), nullable=False),
    sa.Column('content_type', sa.String(length=60), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind in ('cover','attachment')", name=op.f('ck_practice_files_kind')),
    sa.ForeignKeyConstraint(['practice_id'], ['good_practices.id'], name=op.f('fk_practice_files_practice_id_good_practices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_practice_files_uploaded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_practice_files')),
    sa.UniqueConstraint('storage_key', name=op.f('uq_practice_files_storage_key'))
    )
    with op.batch_alter_table('practice_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_practice_files_practice_id'), ['practice_id'], unique=False)

    op.create_table('practice_promoters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=160), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('role', sa.String(length=120), nullable=True),
    sa.Column('comune_id', sa.Integer(), nullable=True),
    sa.Column('association_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind in ('comune','association','third_sector','enterprise')", name=op.f('ck_practice_promoters_kind')),
    sa.ForeignKeyConstraint(['association_id'], ['associations.id'], name=op.f('fk_practice_promoters_association_id_associations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['comune_id'], ['comuni.id'], name=op.f('fk_practice_promoters_comune_id_comuni'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['practice_id'], ['good_practices.id'], name=op.f('fk_practice_promoters_practice_id_good_practices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_practice_promoters'))
    )
    with op.batch_alter_table('practice_promoters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_practice_promoters_association_id'), ['association_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_practice_promoters_practice_id'), ['practice_id'], unique=False)

    op.create_table('practice_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_practice_revisions_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['practice_id'], ['good_practices.id'], name=op.f('fk_practice_revisions_practice_id_good_practices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_practice_revisions')),
    sa.UniqueConstraint('practice_id', 'number', name=op.f('uq_practice_revisions_practice_id_number'))
    )
    op.create_table('practice_terms',
    sa.Column('term', sa.String(length=40), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('weight', sa.SmallInteger(), nullable=False),
    sa.ForeignKeyConstraint(['practice_id'], ['good_practices.id'], name=op.f('fk_practice_terms_practice_id_good_practices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('term', 'practice_id', name=op.f('pk_practice_terms')),
    sqlite_with_rowid=False,
    )
    with op.batch_alter_table('practice_terms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_practice_terms_practice_id'), ['practice_id'], unique=False)
        batch_op.create_index('ix_practice_terms_rank', ['term', 'weight', 'practice_id'], unique=False)

    op.create_table('practice_themes',
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('theme_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['practice_id'], ['good_practices.id'], name=op.f('fk_practice_themes_practice_id_good_practices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['theme_id'], ['themes.id'], name=op.f('fk_practice_themes_theme_id_themes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('practice_id', 'theme_id', name=op.f('pk_practice_themes'))
    )
    with op.batch_alter_table('practice_themes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_practice_themes_theme_id'), ['theme_id'], unique=False)

    op.create_table('practice_indicators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('adoption_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=160), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('unit', sa.String(length=40), nullable=True),
    sa.Column('measured_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['adoption_id'], ['practice_adoptions.id'], name=op.f('fk_practice_indicators_adoption_id_practice_adoptions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['practice_id'], ['good_practices.id'], name=op.f('fk_practice_indicators_practice_id_good_practices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_practice_indicators'))
    )
    with op.batch_alter_table('practice_indicators', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_practice_indicators_adoption_id'), ['adoption_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_practice_indicators_practice_id'), ['practice_id'], unique=False)


    # The ten themes the Rete started with; coordinators maintain the list from then on.
    themes = sa.table("themes", sa.column("name", sa.String), sa.column("slug", sa.String),
                      sa.column("position", sa.Integer), sa.column("active", sa.Boolean))
    op.bulk_insert(themes, [
        {"name": name, "slug": slug, "position": i, "active": True}
        for i, (name, slug) in enumerate(THEMES, start=1)
    ])


def downgrade():
    with op.batch_alter_table('practice_indicators', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_practice_indicators_practice_id'))
        batch_op.drop_index(batch_op.f('ix_practice_indicators_adoption_id'))

    op.drop_table('practice_indicators')
    with op.batch_alter_table('practice_themes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_practice_themes_theme_id'))

    op.drop_table('practice_themes')
    with op.batch_alter_table('practice_terms', schema=None) as batch_op:
        batch_op.drop_index('ix_practice_terms_rank')
        batch_op.drop_index(batch_op.f('ix_practice_terms_practice_id'))

    op.drop_table('practice_terms')
    op.drop_table('practice_revisions')
    with op.batch_alter_table('practice_promoters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_practice_promoters_practice_id'))
        batch_op.drop_index(batch_op.f('ix_practice_promoters_association_id'))

    op.drop_table('practice_promoters')
    with op.batch_alter_table('practice_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_practice_files_practice_id'))

    op.drop_table('practice_files')
    with op.batch_alter_table('practice_facets', schema=None) as batch_op:
        batch_op.drop_index('ix_practice_facets_practice')

    op.drop_table('practice_facets')
    with op.batch_alter_table('practice_comuni', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_practice_comuni_comune_id'))

    op.drop_table('practice_comuni')
    with op.batch_alter_table('practice_adoptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_practice_adoptions_comune_id'))

    op.drop_table('practice_adoptions')
    with op.batch_alter_table('good_practices', schema=None) as batch_op:
        batch_op.drop_index('ix_good_practices_title_key')
        batch_op.drop_index('ix_good_practices_published')
        batch_op.drop_index(batch_op.f('ix_good_practices_owner_comune_id'))
        batch_op.drop_index(batch_op.f('ix_good_practices_owner_association_id'))
        batch_op.drop_index('ix_good_practices_adoptions')

    op.drop_table('good_practices')
    op.drop_table('themes')
    op.drop_table('catalogue_facet_counts')
    op.drop_table('catalogue_term_stats')
    op.drop_table('catalogue_facet_pairs')
