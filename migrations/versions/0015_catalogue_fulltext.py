"""catalogue: search on each database's own full-text engine

The catalogue's own index (practice_terms, practice_facets, the three count tables,
good_practices.facet_key and search_keys) gives way to:
- PostgreSQL: the `unaccent` extension, a text search configuration `italian_unaccent` (the
  `italian` one with unaccent before the Italian stemmer) and `good_practices.search_vector`,
  a tsvector under a GIN index (NULL for drafts);
- SQLite: the FTS5 table `practice_search` (rowid = the practice's id) holding title, theme and
  promoter names, summary and description folded and stemmed (Snowball Italian stemmer,
  PostgreSQL's Italian stopwords), as portal.catalogue.search writes them.
Both are filled here for the published practices, with a copy of the analyzer of this
revision (a migration imports nothing of the application). Facets are counted by GROUP BY over
practice_themes, practice_comuni and practice_promoters, whose indexes now lead with the value
and hold the practice.

Downgrade gives back the old structures empty (`flask catalogue reindex` of that revision
fills them).

Revision ID: 0015
Revises: 0014
"""

import html
import re
import unicodedata

import nh3
import snowballstemmer
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

CONFIG = "italian_unaccent"
FTS = ("CREATE VIRTUAL TABLE practice_search USING fts5(title, tags, summary, body, "
       "tokenize = 'unicode61')")

#: PostgreSQL's tsearch_data/italian.stop (see portal/catalogue/search.py)
STOPWORDS = frozenset("""
ad al allo ai agli all agl alla alle con col coi da dal dallo dai dagli dall dagl dalla dalle
di del dello dei degli dell degl della delle in nel nello nei negli nell negl nella nelle su
sul sullo sui sugli sull sugl sulla sulle per tra contro io tu lui lei noi voi loro mio mia
miei mie tuo tua tuoi tue suo sua suoi sue nostro nostra nostri nostre vostro vostra vostri
vostre mi ti ci vi lo la li le gli ne il un uno una ma ed se perché anche come dov dove che
chi cui non più quale quanto quanti quanta quante quello quelli quella quelle questo questi
questa queste si tutto tutti a c e i l o ho hai ha abbiamo avete hanno abbia abbiate abbiano
avrò avrai avrà avremo avrete avranno avrei avresti avrebbe avremmo avreste avrebbero avevo
avevi aveva avevamo avevate avevano ebbi avesti ebbe avemmo aveste ebbero avessi avesse
avessimo avessero avendo avuto avuta avuti avute sono sei è siamo siete sia siate siano sarò
sarai sarà saremo sarete saranno sarei saresti sarebbe saremmo sareste sarebbero ero eri era
eravamo eravate erano fui fosti fu fummo foste furono fossi fosse fossimo fossero essendo
faccio fai facciamo fanno faccia facciate facciano farò farai farà faremo farete faranno
farei faresti farebbe faremmo fareste farebbero facevo facevi faceva facevamo facevate
facevano feci facesti fece facemmo faceste fecero facessi facesse facessimo facessero facendo
sto stai sta stiamo stanno stia stiate stiano starò starai starà staremo starete staranno
starei staresti starebbe staremmo stareste starebbero stavo stavi stava stavamo stavate
stavano stetti stesti stette stemmo steste stettero stessi stesse stessimo stessero stando
""".split())
_STEMMER = snowballstemmer.stemmer("italian")


def _analyze(text: str) -> str:
    folded = "".join(c for c in unicodedata.normalize("NFKD", text or "")
                     if not unicodedata.combining(c)).lower()
    return " ".join(w if any(c.isdigit() for c in w) else _STEMMER.stemWord(w)
                    for w in re.findall(r"[a-z0-9]+", folded) if w not in STOPWORDS)


def _documents(bind):
    """(id, title, theme and promoter names, summary, description as text) of each
    published practice."""
    names: dict[int, list[str]] = {}
    for pid, name in bind.execute(sa.text(
            "SELECT pt.practice_id, t.name FROM practice_themes pt "
            "JOIN themes t ON t.id = pt.theme_id ORDER BY t.position, t.name")):
        names.setdefault(pid, []).append(name)
    for pid, name in bind.execute(sa.text(
            "SELECT practice_id, name FROM practice_promoters ORDER BY id")):
        names.setdefault(pid, []).append(name)
    for pid, title, summary, body_html in bind.execute(sa.text(
            "SELECT id, title, summary, body_html FROM good_practices "
            "WHERE published_at IS NOT NULL")).all():
        body = html.unescape(nh3.clean(body_html or "", tags=set()))
        yield pid, title, " ".join(names.get(pid, [])), summary, body


def _unaccent_schema(bind) -> str:
    """The schema of the unaccent extension, installed in `public` when missing (not in the
    schema being migrated: dropping that schema must not take it away from others)."""
    found = bind.execute(sa.text(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'unaccent'")).scalar()
    if found is None:
        op.execute("CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public")
        found = "public"
    return found


def upgrade():
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    for name in ("practice_terms", "practice_facets", "catalogue_facet_counts",
                 "catalogue_facet_pairs", "catalogue_term_stats"):
        op.drop_table(name)
    with op.batch_alter_table("good_practices", schema=None) as batch_op:
        batch_op.drop_index("ix_good_practices_search_keys",
                            postgresql_where=sa.text("search_keys IS NOT NULL"),
                            sqlite_where=sa.text("search_keys IS NOT NULL"))
        batch_op.drop_column("search_keys")
        batch_op.drop_column("facet_key")
        batch_op.add_column(sa.Column(
            "search_vector", sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql"),
            nullable=True))
    with op.batch_alter_table("practice_themes", schema=None) as batch_op:
        batch_op.drop_index("ix_practice_themes_theme_id")
        batch_op.create_index("ix_practice_themes_theme", ["theme_id", "practice_id"])
    with op.batch_alter_table("practice_comuni", schema=None) as batch_op:
        batch_op.drop_index("ix_practice_comuni_comune_id")
        batch_op.create_index("ix_practice_comuni_comune", ["comune_id", "practice_id"])
    with op.batch_alter_table("practice_promoters", schema=None) as batch_op:
        batch_op.create_index("ix_practice_promoters_kind", ["kind", "practice_id"])

    if pg:
        schema = _unaccent_schema(bind)
        op.execute(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {CONFIG}")
        op.execute(f"CREATE TEXT SEARCH CONFIGURATION {CONFIG} (COPY = pg_catalog.italian)")
        op.execute(f'ALTER TEXT SEARCH CONFIGURATION {CONFIG} ALTER MAPPING FOR hword, '
                   f'hword_part, word WITH "{schema}".unaccent, italian_stem')
        update = sa.text(
            "UPDATE good_practices SET search_vector = "
            "setweight(to_tsvector('italian_unaccent', :title), 'A') || "
            "setweight(to_tsvector('italian_unaccent', :tags), 'B') || "
            "setweight(to_tsvector('italian_unaccent', :summary), 'C') || "
            "setweight(to_tsvector('italian_unaccent', :body), 'D') WHERE id = :id")
        for pid, title, tags, summary, body in list(_documents(bind)):
            bind.execute(update, {"id": pid, "title": title, "tags": tags, "summary": summary,
                                  "body": body})
    else:
        op.execute(FTS)
        insert = sa.text("INSERT INTO practice_search (rowid, title, tags, summary, body) "
                         "VALUES (:id, :title, :tags, :summary, :body)")
        for pid, *parts in list(_documents(bind)):
            bind.execute(insert, dict(zip(("id", "title", "tags", "summary", "body"),
                                          (pid, *map(_analyze, parts)), strict=True)))
    op.create_index("ix_good_practices_search_vector", "good_practices", ["search_vector"],
                    postgresql_using="gin",
                    postgresql_where=sa.text("search_vector IS NOT NULL"),
                    sqlite_where=sa.text("search_vector IS NOT NULL"))


def downgrade():
    pg = op.get_bind().dialect.name == "postgresql"
    op.drop_index("ix_good_practices_search_vector", table_name="good_practices",
                  postgresql_using="gin",
                  postgresql_where=sa.text("search_vector IS NOT NULL"),
                  sqlite_where=sa.text("search_vector IS NOT NULL"))
    if not pg:
        op.execute("DROP TABLE practice_search")
    with op.batch_alter_table("practice_promoters", schema=None) as batch_op:
        batch_op.drop_index("ix_practice_promoters_kind")
    with op.batch_alter_table("practice_comuni", schema=None) as batch_op:
        batch_op.drop_index("ix_practice_comuni_comune")
        batch_op.create_index("ix_practice_comuni_comune_id", ["comune_id"])
    with op.batch_alter_table("practice_themes", schema=None) as batch_op:
        batch_op.drop_index("ix_practice_themes_theme")
        batch_op.create_index("ix_practice_themes_theme_id", ["theme_id"])
    with op.batch_alter_table("good_practices", schema=None) as batch_op:
        batch_op.drop_column("search_vector")
        batch_op.add_column(sa.Column("facet_key", sa.Text(), server_default="",
                                      nullable=False))
        batch_op.add_column(sa.Column(
            "search_keys", sa.Text().with_variant(postgresql.ARRAY(sa.Text()), "postgresql"),
            nullable=True))
    op.create_index("ix_good_practices_search_keys", "good_practices", ["search_keys"],
                    postgresql_using="gin", postgresql_where=sa.text("search_keys IS NOT NULL"),
                    sqlite_where=sa.text("search_keys IS NOT NULL"))
    if pg:
        op.execute(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {CONFIG}")

    op.create_table(
        "catalogue_facet_counts",
        sa.Column("facet", sa.String(length=1), nullable=False),
        sa.Column("value", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("facet", "value", name=op.f("pk_catalogue_facet_counts")))
    op.create_index("ix_catalogue_facet_counts_top", "catalogue_facet_counts",
                    ["facet", "count", "value"])
    op.create_table(
        "catalogue_facet_pairs",
        sa.Column("facet", sa.String(length=1), nullable=False),
        sa.Column("value", sa.String(length=20), nullable=False),
        sa.Column("other_facet", sa.String(length=1), nullable=False),
        sa.Column("other_value", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("facet", "value", "other_facet", "other_value",
                                name=op.f("pk_catalogue_facet_pairs")))
    op.create_index("ix_catalogue_facet_pairs_top", "catalogue_facet_pairs",
                    ["facet", "value", "other_facet", "count", "other_value"])
    op.create_table(
        "catalogue_term_stats",
        sa.Column("term", sa.String(length=40), nullable=False),
        sa.Column("df", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("term", name=op.f("pk_catalogue_term_stats")))
    op.create_table(
        "practice_facets",
        sa.Column("facet", sa.String(length=1), nullable=False),
        sa.Column("value", sa.String(length=20), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["practice_id"], ["good_practices.id"],
                                name=op.f("fk_practice_facets_practice_id_good_practices"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("facet", "value", "practice_id", name=op.f("pk_practice_facets")),
        sqlite_with_rowid=False)
    op.create_index("ix_practice_facets_practice", "practice_facets",
                    ["practice_id", "facet", "value"])
    op.create_table(
        "practice_terms",
        sa.Column("term", sa.String(length=40), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("weight", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(["practice_id"], ["good_practices.id"],
                                name=op.f("fk_practice_terms_practice_id_good_practices"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("term", "practice_id", name=op.f("pk_practice_terms")),
        sqlite_with_rowid=False)
    op.create_index("ix_practice_terms_practice_id", "practice_terms", ["practice_id"])
    op.create_index("ix_practice_terms_rank", "practice_terms", ["term", "weight", "practice_id"])
