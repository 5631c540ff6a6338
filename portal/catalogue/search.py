"""Search of the catalogue on each database's own full-text engine, behind `find()`.

What a practice is found by: its title, the names of its themes and promoters (Comuni,
associations...), its summary and its description, weighted in that order. Only published
practices are in the index.

- PostgreSQL: `good_practices.search_vector`, a tsvector built with the `italian_unaccent`
  text search configuration (the `italian` one with `unaccent` before the stemmer, migration
  0015) under a GIN index; a query is `to_tsquery` with the same configuration.
- SQLite: the FTS5 table `practice_search` (rowid = the practice's id) holds the same texts
  already folded and stemmed here, with the Snowball Italian stemmer (snowballstemmer) and
  PostgreSQL's Italian stopwords; a query goes through the same analyzer.

Either way accents and capitals do not count, a plural finds its singular, and the last word
of a query also matches as a prefix (the live search runs while one types). Several words find
the practices holding any of them, those holding all of them first. The same words find the
same practices on both databases; the order among them may differ (ts_rank and bm25).

The index is kept by `index(practice)`, which the services call after every change that the
search sees (they flush; the request commits). Everything that depends on the database is in
this module.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field
from functools import reduce

import nh3
import snowballstemmer
from sqlalchemy import (
    Integer,
    String,
    bindparam,
    case,
    cast,
    column,
    delete,
    func,
    insert,
    literal,
    literal_column,
    null,
    select,
    table,
    union,
    union_all,
    update,
)
from sqlalchemy.orm import selectinload

from portal.caching import remember
from portal.catalogue.models import (
    FTS_TABLE,
    GoodPractice,
    PracticeStatus,
    Promoter,
    PromoterKind,
    Theme,
    practice_comuni,
    practice_themes,
    theme_name,
)
from portal.extensions import db
from portal.network.models import Comune

#: a query longer than this is refused (400) rather than silently cut
MAX_QUERY_LENGTH = 200
#: a query uses at most this many distinct words; the rest is ignored
MAX_QUERY_WORDS = 8
#: the last word of a query, at least this long, also matches as a prefix ("doposc")
MIN_PREFIX = 3

FACET_THEME, FACET_COMUNE, FACET_STATUS, FACET_KIND = "t", "c", "s", "k"
FACETS = (FACET_THEME, FACET_COMUNE, FACET_STATUS, FACET_KIND)
#: Comuni counted for the Comune facet (there may be 1,500)
TOP_COMUNI = 16
#: PostgreSQL ranks at most this many of the newest matches (see `_relevance_page`); the
#: deepest page one can open (50 of 20) is within it
RANK_POOL = 1000
SORTS = ("relevance", "newest", "title", "adopted")
STATUS_VALUES = tuple(s.value for s in PracticeStatus)
KIND_VALUES = tuple(k.value for k in PromoterKind)

#: PostgreSQL's text search configuration (migration 0015)
PG_CONFIG = "italian_unaccent"
#: the weights of title, themes and promoters, summary and description (SQLite's bm25; on
#: PostgreSQL the same parts carry the weights A, B, C and D)
BM25_WEIGHTS = (10.0, 5.0, 2.0, 1.0)

#: PostgreSQL's Italian stopwords (tsearch_data/italian.stop, from Snowball), so that both
#: databases drop the same words. Like PostgreSQL, a word is looked up after its accents are
#: removed: the accented entries ("più", "perché") never match and those words are kept.
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

_WORD = re.compile(r"[a-z0-9]+")
_STEMMER = snowballstemmer.stemmer("italian")


# --------------------------------------------------------------------------- the analyzer


def fold(text: str) -> str:
    """Lower-case and without accents ("Città" -> "citta")."""
    text = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


def words(text: str) -> list[str]:
    """The folded words of `text` that carry meaning (stopwords left out)."""
    return [w for w in _WORD.findall(fold(text)) if w not in STOPWORDS]


def stem(word: str) -> str:
    """The Italian stem of a folded word ("famiglie" -> "famigl"); numbers stay as they are
    (PostgreSQL does not stem them either)."""
    if any(c.isdigit() for c in word):
        return word
    return _STEMMER.stemWord(word)


def analyze(text: str) -> str:
    """The text as SQLite's index holds it: stems separated by spaces."""
    return " ".join(stem(w) for w in words(text))


def sort_key(text: str) -> str:
    """A key made of [a-z0-9] only, so that titles sort the same on every database."""
    return "".join(_WORD.findall(fold(text)))[:160]


def html_to_text(body_html: str) -> str:
    return html.unescape(nh3.clean(body_html or "", tags=set()))


# --------------------------------------------------------------------------- what is asked


class QueryError(ValueError):
    """The search cannot be run; the message is for the user."""


@dataclass
class Search:
    """What the user asked for: text, one value per facet, sort and page."""

    q: str = ""
    theme: int | None = None
    comune: int | None = None
    status: str | None = None
    kind: str | None = None
    sort: str = ""
    page: int = 1
    per_page: int = 20
    words: list[str] = field(default_factory=list)

    def __post_init__(self):
        if len(self.q) > MAX_QUERY_LENGTH:
            raise QueryError("too long")
        self.words = list(dict.fromkeys(words(self.q)))[:MAX_QUERY_WORDS]
        if self.sort not in SORTS or (self.sort == "relevance" and not self.words):
            self.sort = "relevance" if self.words else "newest"

    @property
    def filters(self) -> dict[str, str]:
        chosen = {FACET_THEME: self.theme, FACET_COMUNE: self.comune, FACET_STATUS: self.status,
                  FACET_KIND: self.kind}
        return {f: str(v) for f, v in chosen.items() if v not in (None, "")}

    @property
    def is_text(self) -> bool:
        return bool(self.words)

    @property
    def has_text_but_no_terms(self) -> bool:
        """Only stopwords or symbols were typed: nothing can match."""
        return bool(self.q.strip()) and not self.words


@dataclass(frozen=True)
class ThemeRef:
    id: int
    slug: str
    name: str

    @property
    def label(self) -> str:
        return theme_name(self.name)


@dataclass(frozen=True)
class ComuneRef:
    id: int
    slug: str
    name: str
    istat_code: str


@dataclass
class Card:
    """What a results page shows of a practice (plain values)."""

    id: int
    slug: str
    title: str
    summary: str
    status: str
    adoption_count: int
    published_at: object
    started_on: object
    ended_on: object
    beneficiaries: str | None
    beneficiaries_count: int | None
    cost_cents: int | None
    funding_sources: str | None
    themes: list[ThemeRef] = field(default_factory=list)
    comuni: list[ComuneRef] = field(default_factory=list)

    @property
    def summary_short(self) -> str:
        """The summary cut at a word near 260 characters."""
        if len(self.summary) <= 260:
            return self.summary
        return self.summary[:257].rsplit(" ", 1)[0] + "…"

    @property
    def themes_text(self) -> str:
        return ", ".join(t.label for t in self.themes)

    @property
    def comuni_text(self) -> str:
        return ", ".join(c.name for c in self.comuni)


@dataclass
class Result:
    search: Search
    items: list[Card]
    total: int
    #: facet -> [(value, count)], most frequent first; values as strings (ids too)
    facets: dict[str, list[tuple[str, int]]]
    #: the Comuni of the Comune facet by id (their names label it)
    facet_comuni: dict[int, ComuneRef] = field(default_factory=dict)


_CARD_COLUMNS = (GoodPractice.id, GoodPractice.slug, GoodPractice.title, GoodPractice.summary,
                 GoodPractice.status, GoodPractice.adoption_count, GoodPractice.published_at,
                 GoodPractice.started_on, GoodPractice.ended_on, GoodPractice.beneficiaries,
                 GoodPractice.beneficiaries_count, GoodPractice.cost_cents,
                 GoodPractice.funding_sources)
_ORDER = {
    "newest": (GoodPractice.published_at.desc(), GoodPractice.id.desc()),
    "title": (GoodPractice.title_key.asc(), GoodPractice.id.asc()),
    "adopted": (GoodPractice.adoption_count.desc(), GoodPractice.id.desc()),
}


# --------------------------------------------------------------------------- the engines


def _postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _prefix(search: Search) -> str | None:
    """The last word, matched as a prefix too while it is being typed."""
    last = search.words[-1]
    return last if len(last) >= MIN_PREFIX and not any(c.isdigit() for c in last) else None


def _pg_queries(search: Search):
    """PostgreSQL: the tsqueries of any of the words and of every word."""
    prefix = _prefix(search)
    queries = []
    for n, word in enumerate(search.words):
        query = func.to_tsquery(literal_column(f"'{PG_CONFIG}'"), bindparam(f"w{n}", word))
        if n == len(search.words) - 1 and prefix:
            # the prefix of the word as typed ('simple': no stemming of what is unfinished)
            query = query.op("||")(func.to_tsquery(literal_column("'simple'"),
                                                   bindparam("prefix", prefix + ":*")))
        queries.append(query)
    return (reduce(lambda a, b: a.op("||")(b), queries),
            reduce(lambda a, b: a.op("&&")(b), queries))


def _fts_query(search: Search, joiner: str) -> str:
    """An FTS5 query over the stems (each quoted: only [a-z0-9] reach it)."""
    prefix = _prefix(search)
    parts = []
    for n, word in enumerate(search.words):
        part = f'"{stem(word)}"'
        if n == len(search.words) - 1 and prefix:
            part = f'({part} OR "{prefix}"*)'
        parts.append(part)
    return f" {joiner} ".join(parts)


def _sqlite_hits(search: Search):
    """SQLite: (id, rank, every) of the indexed practices holding any of the words."""
    fts = table(FTS_TABLE, column("rowid", Integer))
    match = literal_column(FTS_TABLE).op("MATCH")
    # its own FROM: not correlated to the outer reading of the same table
    every = (select(fts.c.rowid).where(match(bindparam("every", _fts_query(search, "AND"))))
             .correlate(None))
    return (select(fts.c.rowid.label("id"),
                   func.bm25(literal_column(FTS_TABLE), *BM25_WEIGHTS).label("rank"),
                   case((fts.c.rowid.in_(every), 1), else_=0).label("every"))
            .where(match(bindparam("any", _fts_query(search, "OR")))).subquery("hits"))


def _match(search: Search):
    """The condition "holds any of the words" on good_practices (None without text): no
    ranking, so that counting reads the full-text index only."""
    if not search.is_text:
        return None
    if _postgresql():
        return GoodPractice.search_vector.op("@@")(_pg_queries(search)[0])
    fts = table(FTS_TABLE, column("rowid", Integer))
    return GoodPractice.id.in_(select(fts.c.rowid).where(
        literal_column(FTS_TABLE).op("MATCH")(bindparam("any", _fts_query(search, "OR")))))


# --------------------------------------------------------------------------- the search


def _matching(search: Search, hits=None, columns=(GoodPractice.id,), where=None):
    """SELECT of `columns` of the published practices matching every filter, joined to the
    ranked `hits` or under the text condition `where` (see `_match`)."""
    query = select(*columns).where(GoodPractice.published_at.is_not(None))
    if where is not None:
        query = query.where(where)
    if hits is not None:
        query = query.join(hits, hits.c.id == GoodPractice.id)
    if search.theme is not None:
        query = query.where(GoodPractice.id.in_(
            select(practice_themes.c.practice_id)
            .where(practice_themes.c.theme_id == search.theme)))
    if search.comune is not None:
        query = query.where(GoodPractice.id.in_(
            select(practice_comuni.c.practice_id)
            .where(practice_comuni.c.comune_id == search.comune)))
    if search.status:
        query = query.where(GoodPractice.status == search.status)
    if search.kind:
        query = query.where(GoodPractice.id.in_(
            select(Promoter.practice_id).where(Promoter.kind == search.kind)))
    return query


def _counts(matching) -> tuple[int, dict[str, list[tuple[str, int]]]]:
    """How many practices match, and how many of them carry each theme, Comune (the most
    frequent), status and promoter kind: one statement.

    `matching` selects (id, status). It is a CTE, which both databases materialise because
    it is read more than once: the text is matched once for the total and the four GROUP
    BYs. Every branch of the UNION ALL has the same named columns (facet, value, n); the
    total is the row of facet "total"."""
    ids = matching.cte("matching")
    in_ids = select(ids.c.id)
    n = func.count().label("n")
    pt, pc = practice_themes.c, practice_comuni.c

    def branch(facet, value, *, count=n):
        return select(literal(facet, String).label("facet"),
                      cast(value, String).label("value"), count)

    top_comuni = (select(pc.comune_id, n).where(pc.practice_id.in_(in_ids))
                  .group_by(pc.comune_id).order_by(n.desc(), pc.comune_id)
                  .limit(TOP_COMUNI).subquery("top_comuni"))
    query = union_all(
        branch("total", null()).select_from(ids),
        branch(FACET_THEME, pt.theme_id).where(pt.practice_id.in_(in_ids))
        .group_by(pt.theme_id),
        branch(FACET_COMUNE, top_comuni.c.comune_id, count=top_comuni.c.n),
        branch(FACET_STATUS, ids.c.status).group_by(ids.c.status),
        branch(FACET_KIND, Promoter.kind,
               count=func.count(Promoter.practice_id.distinct()).label("n"))
        .where(Promoter.practice_id.in_(in_ids)).group_by(Promoter.kind),
    )
    total = 0
    facets: dict[str, list[tuple[str, int]]] = {f: [] for f in FACETS}
    for row in db.session.execute(query):
        if row.facet == "total":
            total = row.n
        else:
            facets[row.facet].append((row.value, row.n))
    for rows in facets.values():
        rows.sort(key=lambda vc: (-vc[1], vc[0]))
    return total, facets


def _relevance_page(search: Search):
    """SELECT of the cards of the practices matching a text, best first: those holding every
    word, then by rank.

    PostgreSQL: ts_rank reads each candidate's whole tsvector, so a word found in nearly every
    practice would have every one of them read and ranked for one page. Only a pool is
    ranked: the newest RANK_POOL practices holding every word and the newest RANK_POOL holding
    any (found through the GIN index, or a scan when most rows match, and cut by a top-N sort
    on a plain column), at least as many as the page asked reaches. The trade-off: for a
    very common word, an old practice that would rank high is not among the first results
    (it is still counted, and found by a more precise query or a filter). SQLite's bm25 comes
    from the FTS index itself: all matches are ranked there."""
    if not _postgresql():
        hits = _sqlite_hits(search)
        return (_matching(search, hits, _CARD_COLUMNS)
                .order_by(hits.c.every.desc(), hits.c.rank, GoodPractice.id.desc()))
    any_, every = _pg_queries(search)
    vector = GoodPractice.search_vector
    pool = max(RANK_POOL, search.page * search.per_page)

    def newest(tsquery):
        return (_matching(search, where=vector.op("@@")(tsquery))
                .order_by(GoodPractice.published_at.desc(), GoodPractice.id.desc()).limit(pool))

    candidates = union(newest(every), newest(any_)) if len(search.words) > 1 else newest(any_)
    pooled = candidates.subquery("pool")
    return (select(*_CARD_COLUMNS).where(GoodPractice.id.in_(select(pooled.c.id)))
            .order_by(case((vector.op("@@")(every), 1), else_=0).desc(),
                      func.ts_rank(vector, any_).desc(), GoodPractice.id.desc()))


def _page(search: Search) -> list[Card]:
    """The cards of the page asked for (themes and Comuni filled)."""
    if search.sort == "relevance" and search.is_text:
        query = _relevance_page(search)
    else:
        query = (_matching(search, columns=_CARD_COLUMNS, where=_match(search))
                 .order_by(*_ORDER.get(search.sort, _ORDER["newest"])))
    rows = db.session.execute(query.limit(search.per_page)
                              .offset((search.page - 1) * search.per_page)).all()
    cards = [Card(*row) for row in rows]
    fill(cards)
    return cards


def _compute(search: Search) -> tuple[list[Card], int, dict, dict[int, ComuneRef]]:
    total, facets = _counts(_matching(search, columns=(GoodPractice.id, GoodPractice.status),
                                      where=_match(search)))
    cards = _page(search) if total else []
    return cards, total, facets, comune_refs(int(v) for v, _n in facets[FACET_COMUNE])


def find(search: Search) -> Result:
    """The page of practices a search asks for (as cards), their total and the facet counts.

    They are the same for every visitor until the next write: kept in the cache under the
    search's words (as analysed), filters, sort and page, so that a popular search is counted
    and ranked once per write for everyone, signed in or not."""
    if search.has_text_but_no_terms:
        return Result(search, [], 0, {f: [] for f in FACETS})
    key = ("catalogue:search", " ".join(search.words),
           *(f"{f}={v}" for f, v in sorted(search.filters.items())),
           search.sort, search.page, search.per_page)
    cards, total, facets, comuni = remember(key, lambda: _compute(search))
    return Result(search, cards, total, facets, comuni)


def all_themes() -> dict[int, ThemeRef]:
    """Every theme by id in display order (position, name), retired ones too."""
    return dict(remember("catalogue:themes", lambda: tuple(
        (t.id, ThemeRef(*t)) for t in db.session.execute(
            select(Theme.id, Theme.slug, Theme.name).order_by(Theme.position, Theme.name)))))


def comune_refs(ids) -> dict[int, ComuneRef]:
    ids = list(set(ids))
    if not ids:
        return {}
    return {r.id: ComuneRef(*r) for r in db.session.execute(
        select(Comune.id, Comune.slug, Comune.name, Comune.istat_code)
        .where(Comune.id.in_(ids)))}


def fill(cards: list[Card]) -> None:
    """The themes (display order) and Comuni (by name) of the cards: two queries."""
    if not cards:
        return
    by_id = {c.id: c for c in cards}
    themes = all_themes()
    rank = {theme_id: n for n, theme_id in enumerate(themes)}
    for practice_id, theme_id in sorted(
            db.session.execute(select(practice_themes.c.practice_id, practice_themes.c.theme_id)
                               .where(practice_themes.c.practice_id.in_(by_id))),
            key=lambda r: rank.get(r[1], 0)):
        if theme_id in themes:
            by_id[practice_id].themes.append(themes[theme_id])
    for row in db.session.execute(
            select(practice_comuni.c.practice_id, Comune.id, Comune.slug, Comune.name,
                   Comune.istat_code)
            .join(Comune, Comune.id == practice_comuni.c.comune_id)
            .where(practice_comuni.c.practice_id.in_(by_id)).order_by(Comune.name)):
        by_id[row[0]].comuni.append(ComuneRef(*row[1:]))


def iter_all(search: Search, chunk: int = 500):
    """Every practice matching the search, in chunks ordered by id (keyset), as ORM objects
    with themes, Comuni and promoters (open data)."""
    if search.has_text_but_no_terms:
        return
    ids = _matching(search, where=_match(search))
    last = 0
    while True:
        rows = db.session.scalars(
            select(GoodPractice).where(GoodPractice.id.in_(ids), GoodPractice.id > last)
            .options(selectinload(GoodPractice.themes), selectinload(GoodPractice.comuni),
                     selectinload(GoodPractice.promoters))
            .order_by(GoodPractice.id).limit(chunk)).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


# --------------------------------------------------------------------------- the index


def document(practice: GoodPractice) -> tuple[str, str, str, str]:
    """What the search reads of a practice: title; theme and promoter names; summary;
    description as plain text."""
    tags = " ".join([*(t.name for t in practice.themes), *(p.name for p in practice.promoters)])
    return practice.title, tags, practice.summary, html_to_text(practice.body_html)


def _pg_vector(parts):
    """PostgreSQL's tsvector of a document's parts, weighted A to D."""
    config = literal_column(f"'{PG_CONFIG}'")
    vectors = [func.setweight(func.to_tsvector(config, part), literal_column(f"'{weight}'"))
               for part, weight in zip(parts, "ABCD", strict=True)]
    return reduce(lambda a, b: a.op("||")(b), vectors)


def index(practice: GoodPractice) -> None:
    """Bring the practice's entry in the search index in line with it (none for a draft)."""
    db.session.flush()
    parts = document(practice) if practice.is_published else None
    if _postgresql():
        vector = _pg_vector([bindparam(f"p{n}", part, String) for n, part in enumerate(parts)]) \
            if parts else None
        db.session.execute(update(GoodPractice.__table__)
                           .where(GoodPractice.__table__.c.id == practice.id)
                           .values(search_vector=vector))
        return
    fts = table(FTS_TABLE, column("rowid", Integer), column("title"), column("tags"),
                column("summary"), column("body"))
    db.session.execute(delete(fts).where(fts.c.rowid == practice.id))
    if parts:
        db.session.execute(insert(fts).values(
            rowid=practice.id, **dict(zip(("title", "tags", "summary", "body"),
                                          map(analyze, parts), strict=True))))


def forget(practice_id: int) -> None:
    """Remove a deleted practice from SQLite's index (PostgreSQL's goes with the row)."""
    if not _postgresql():
        fts = table(FTS_TABLE, column("rowid", Integer))
        db.session.execute(delete(fts).where(fts.c.rowid == practice_id))


def rebuild_index() -> int:
    """Index every published practice again (after loading practices by other means than the
    services); returns how many. Flushes; the caller commits."""
    query = (select(GoodPractice).where(GoodPractice.published_at.is_not(None))
             .options(selectinload(GoodPractice.themes), selectinload(GoodPractice.promoters))
             .order_by(GoodPractice.id))
    if _postgresql():
        db.session.execute(update(GoodPractice.__table__).values(search_vector=None))
    else:
        db.session.execute(delete(table(FTS_TABLE)))
    n = 0
    for practice in db.session.scalars(query):
        index(practice)
        n += 1
    return n

