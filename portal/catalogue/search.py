"""Full-text search and facets of the catalogue, on our own index, identical on every database.

Why our own index: SQLite FTS5 and PostgreSQL text search stem, rank and fold accents each in
their own way, so the same query would find different practices. Here one analyzer (accent
folding, Italian stopwords, the Snowball Italian stemmer) turns title, summary and body into
weighted terms stored in `practice_terms`; a query goes through the same analyzer and becomes
plain indexed lookups on (term, practice_id). Facets are rows of `practice_facets`; the counts of
the whole catalogue are kept in `catalogue_facet_counts`, counts of a narrower set are a GROUP BY
over that candidate set. Only published practices are in the index.
"""

from __future__ import annotations

import html
import re
import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

import nh3
import snowballstemmer
from sqlalchemy import and_, case, delete, func, insert, or_, select, update

from portal.catalogue.models import (
    FacetCount,
    GoodPractice,
    PracticeFacet,
    PracticeStatus,
    PracticeTerm,
    PromoterKind,
)
from portal.extensions import db

#: longest term kept in the index (longer words are cut: they still match themselves)
MAX_TERM = 40
#: a query uses at most this many distinct terms; the rest is ignored
MAX_QUERY_TERMS = 8
#: a query longer than this is refused (400) rather than silently cut
MAX_QUERY_LENGTH = 200
#: shortest word of a query matched as a prefix too ("famig" finds "famiglia")
MIN_PREFIX = 3
WEIGHT_TITLE, WEIGHT_SUMMARY, WEIGHT_BODY = 10, 4, 1
MAX_WEIGHT = 1000

FACET_THEME, FACET_COMUNE, FACET_STATUS, FACET_KIND, FACET_ALL = "t", "c", "s", "k", "*"
FACETS = (FACET_THEME, FACET_COMUNE, FACET_STATUS, FACET_KIND)

# Function words that carry no meaning for a search (accent-folded, as the analyzer sees them).
STOPWORDS = frozenset("""
a ad agli ai al all alla alle allo anche avere c che chi ci coi col come con cui d da dagli dai
dal dall dalla dalle dallo degli dei del dell della delle dello di dov dove e ed essere gli ha
hanno ho i il in io l la le lei li lo loro lui ma mi ne negli nei nel nell nella nelle nello
noi non o per pero piu poi quale quali quando quanto quella quelle quelli quello questa queste
questi questo se sei si sia siamo sono su sua sue sugli sui sul sull sulla sulle sullo suo suoi
ti tra fra tu tutti tutto tutte tutta un una uno vi voi
""".split())

_WORD = re.compile(r"[a-z0-9]+")
_local = threading.local()


def fold(text: str) -> str:
    """Lower-case, strip accents and anything that is not a letter or a digit."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return text


def words(text: str) -> list[str]:
    """The folded words of `text`, without stopwords and one-letter words."""
    return [w[:MAX_TERM] for w in _WORD.findall(fold(text)) if len(w) > 1 and w not in STOPWORDS]


def _stemmer():
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = snowballstemmer.stemmer("italian")
    return stemmer


@lru_cache(maxsize=20000)
def stem(word: str) -> str:
    """The Italian stem of an already folded word ("famiglie" -> "famigl")."""
    if word.isdigit():
        return word
    return _stemmer().stemWord(word) or word


def sort_key(text: str) -> str:
    """A key made of [a-z0-9] only, so that titles sort the same on every database."""
    return "".join(_WORD.findall(fold(text)))[:160]


def html_to_text(body_html: str) -> str:
    return html.unescape(nh3.clean(body_html or "", tags=set()))


def analyze(title: str, summary: str, body_text: str) -> dict[str, int]:
    """Weighted terms of a practice: {stem: weight}."""
    weights: Counter[str] = Counter()
    for text, weight in ((title, WEIGHT_TITLE), (summary, WEIGHT_SUMMARY),
                         (body_text, WEIGHT_BODY)):
        for w in words(text):
            weights[stem(w)] += weight
    return {term: min(weight, MAX_WEIGHT) for term, weight in weights.items()}


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class QueryTerm:
    """One word of a query: its stem, and the folded word as a prefix when long enough."""

    stem: str
    prefix: str | None

    def condition(self):
        exact = PracticeTerm.term == self.stem
        if not self.prefix:
            return exact
        # A range instead of LIKE: uses the index and needs no escaping; 'z' is the greatest
        # character a term can hold, whatever the database collation.
        upper = self.prefix + "z" * (MAX_TERM - len(self.prefix))
        return or_(exact, and_(PracticeTerm.term >= self.prefix, PracticeTerm.term <= upper))


class QueryError(ValueError):
    """The search cannot be run; the message is for the user."""


def parse_query(q: str) -> list[QueryTerm]:
    """The terms of a free-text query, deduplicated, at most MAX_QUERY_TERMS."""
    seen: dict[str, QueryTerm] = {}
    for w in words(q):
        s = stem(w)
        prefix = w if len(w) >= MIN_PREFIX and not w.isdigit() else None
        if s not in seen:
            seen[s] = QueryTerm(s, prefix)
        if len(seen) >= MAX_QUERY_TERMS:
            break
    return list(seen.values())


SORTS = ("relevance", "newest", "title", "adopted")


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
    terms: list[QueryTerm] = field(default_factory=list)

    def __post_init__(self):
        if len(self.q) > MAX_QUERY_LENGTH:
            raise QueryError("too long")
        self.terms = parse_query(self.q)
        if self.sort not in SORTS or (self.sort == "relevance" and not self.terms):
            self.sort = "relevance" if self.terms else "newest"

    @property
    def filters(self) -> dict[str, str]:
        """The selected facet values, as stored in practice_facets."""
        chosen = {FACET_THEME: self.theme, FACET_COMUNE: self.comune, FACET_STATUS: self.status,
                  FACET_KIND: self.kind}
        return {f: str(v) for f, v in chosen.items() if v not in (None, "")}

    @property
    def is_text(self) -> bool:
        return bool(self.terms)

    @property
    def has_text_but_no_terms(self) -> bool:
        """Only stopwords or symbols were typed: nothing can match."""
        return bool(self.q.strip()) and not self.terms


@dataclass
class Result:
    search: Search
    items: list[GoodPractice]
    total: int
    #: facet -> [(value, count)], values as stored (ids as strings)
    facets: dict[str, list[tuple[str, int]]]


def _facet_filter(facet: str, value: str):
    return PracticeFacet.__table__.c.practice_id.in_(
        select(PracticeFacet.practice_id).where(PracticeFacet.facet == facet,
                                                PracticeFacet.value == value)
    )


def _scored(search: Search, filters: dict[str, str]):
    """practice_id, score of the practices matching every query term and the filters."""
    terms = search.terms
    query = select(PracticeTerm.practice_id.label("practice_id"),
                   func.sum(PracticeTerm.weight).label("score"))
    conditions = [t.condition() for t in terms]
    query = query.where(or_(*conditions) if len(conditions) > 1 else conditions[0])
    for facet, value in filters.items():
        query = query.where(PracticeTerm.practice_id.in_(
            select(PracticeFacet.practice_id).where(PracticeFacet.facet == facet,
                                                    PracticeFacet.value == value)))
    query = query.group_by(PracticeTerm.practice_id)
    if len(terms) > 1:
        # Every term must match: count which query terms each practice matched.
        which = case(*[(cond, i) for i, cond in enumerate(conditions)])
        query = query.having(func.count(func.distinct(which)) == len(terms))
    return query


def _candidates(search: Search, filters: dict[str, str]):
    """A select of the ids of the practices matching the text and `filters`."""
    if search.is_text:
        return select(_scored(search, filters).subquery().c.practice_id)
    if not filters:
        return select(PracticeFacet.practice_id).where(PracticeFacet.facet == FACET_STATUS)
    items = list(filters.items())
    facet, value = items[0]
    query = select(PracticeFacet.practice_id).where(PracticeFacet.facet == facet,
                                                    PracticeFacet.value == value)
    for facet, value in items[1:]:
        query = query.where(_facet_filter(facet, value))
    return query


def _stored_counts(facets) -> dict[str, list[tuple[str, int]]]:
    rows = db.session.execute(
        select(FacetCount.facet, FacetCount.value, FacetCount.count)
        .where(FacetCount.facet.in_(list(facets)), FacetCount.count > 0)
    ).all()
    out: dict[str, list[tuple[str, int]]] = {f: [] for f in facets}
    for facet, value, count in rows:
        out[facet].append((value, count))
    return out


def _grouped_counts(search: Search, filters: dict[str, str], facets) -> dict:
    if not search.is_text and not filters:
        return _stored_counts(facets)
    rows = db.session.execute(
        select(PracticeFacet.facet, PracticeFacet.value, func.count())
        .where(PracticeFacet.facet.in_(list(facets)),
               PracticeFacet.practice_id.in_(_candidates(search, filters)))
        .group_by(PracticeFacet.facet, PracticeFacet.value)
    ).all()
    out: dict[str, list[tuple[str, int]]] = {f: [] for f in facets}
    for facet, value, count in rows:
        out[facet].append((value, count))
    return out


def facet_counts(search: Search) -> dict[str, list[tuple[str, int]]]:
    """Counts per facet value. A facet with a selected value is counted without its own filter,
    so that its other values show how many practices choosing them instead would give."""
    filters = search.filters
    free = [f for f in FACETS if f not in filters]
    counts = _grouped_counts(search, filters, free) if free else {}
    for facet in filters:
        others = {f: v for f, v in filters.items() if f != facet}
        counts.update(_grouped_counts(search, others, [facet]))
    for values in counts.values():
        values.sort(key=lambda vc: (-vc[1], vc[0]))
    return counts


def count(search: Search) -> int:
    filters = search.filters
    if not search.is_text and len(filters) <= 1:
        facet, value = next(iter(filters.items()), (FACET_ALL, ""))
        return db.session.scalar(select(FacetCount.count).where(
            FacetCount.facet == facet, FacetCount.value == value)) or 0
    return db.session.scalar(
        select(func.count()).select_from(_candidates(search, filters).subquery())) or 0


_ORDER = {
    "newest": (GoodPractice.published_at.desc(), GoodPractice.id.desc()),
    "title": (GoodPractice.title_key.asc(), GoodPractice.id.asc()),
    "adopted": (GoodPractice.adoption_count.desc(), GoodPractice.id.desc()),
}


def page_ids(search: Search) -> list[int]:
    """The ids of the practices on the requested page, in order."""
    offset = (search.page - 1) * search.per_page
    filters = search.filters
    if search.sort == "relevance":
        scored = _scored(search, filters).subquery()
        query = select(scored.c.practice_id).order_by(scored.c.score.desc(),
                                                       scored.c.practice_id.desc())
    else:
        query = select(GoodPractice.id).order_by(*_ORDER[search.sort])
        if search.is_text or filters:
            query = query.where(GoodPractice.id.in_(_candidates(search, filters)))
        else:
            query = query.where(GoodPractice.published_at.is_not(None))
    return list(db.session.scalars(query.limit(search.per_page).offset(offset)))


def run(search: Search, with_facets: bool = True) -> Result:
    """Run a search: the page of practices, the total and the facet counts."""
    from sqlalchemy.orm import selectinload

    if search.has_text_but_no_terms:
        return Result(search, [], 0, {f: [] for f in FACETS} if with_facets else {})
    ids = page_ids(search)
    items: list[GoodPractice] = []
    if ids:
        loaded = db.session.scalars(
            select(GoodPractice).where(GoodPractice.id.in_(ids))
            .options(selectinload(GoodPractice.themes), selectinload(GoodPractice.comuni))
        ).all()
        by_id = {p.id: p for p in loaded}
        items = [by_id[i] for i in ids if i in by_id]
    total = count(search)
    return Result(search, items, total, facet_counts(search) if with_facets else {})


# --------------------------------------------------------------------------- index upkeep


def facet_values(practice: GoodPractice) -> set[tuple[str, str]]:
    """The facet rows a published practice carries."""
    values = {(FACET_ALL, ""), (FACET_STATUS, practice.status)}
    values |= {(FACET_THEME, str(t.id)) for t in practice.themes}
    values |= {(FACET_COMUNE, str(c.id)) for c in practice.comuni}
    values |= {(FACET_KIND, p.kind) for p in practice.promoters}
    return values


def _bump(facet: str, value: str, delta: int) -> None:
    """Add `delta` to a stored facet count, creating the row when needed (atomic upsert)."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    stmt = upsert(FacetCount).values(facet=facet, value=value, count=max(delta, 0))
    stmt = stmt.on_conflict_do_update(index_elements=["facet", "value"],
                                      set_={"count": FacetCount.count + delta})
    db.session.execute(stmt)


def reindex(practice: GoodPractice) -> None:
    """Bring the practice's terms, facets and the stored counts in line with its content."""
    db.session.flush()
    old = set(db.session.execute(
        select(PracticeFacet.facet, PracticeFacet.value)
        .where(PracticeFacet.practice_id == practice.id)).all())
    new = facet_values(practice) if practice.is_published else set()
    db.session.execute(delete(PracticeTerm).where(PracticeTerm.practice_id == practice.id))
    if old - new:
        db.session.execute(delete(PracticeFacet).where(
            PracticeFacet.practice_id == practice.id,
            or_(*[and_(PracticeFacet.facet == f, PracticeFacet.value == v)
                  for f, v in old - new])))
    if new - old:
        db.session.execute(insert(PracticeFacet), [
            {"facet": f, "value": v, "practice_id": practice.id} for f, v in new - old])
    for f, v in sorted(old - new):
        _bump(f, v, -1)
    for f, v in sorted(new - old):
        _bump(f, v, +1)
    if practice.is_published:
        terms = analyze(practice.title, practice.summary, html_to_text(practice.body_html))
        if terms:
            db.session.execute(insert(PracticeTerm), [
                {"term": t, "practice_id": practice.id, "weight": w} for t, w in terms.items()])


def rebuild_counts() -> None:
    """Recount every facet from practice_facets (after a bulk load or to repair drift)."""
    db.session.execute(delete(FacetCount))
    rows = db.session.execute(
        select(PracticeFacet.facet, PracticeFacet.value, func.count())
        .group_by(PracticeFacet.facet, PracticeFacet.value)).all()
    if rows:
        db.session.execute(insert(FacetCount), [
            {"facet": f, "value": v, "count": c} for f, v, c in rows])


def rebuild_all() -> int:
    """Reindex every practice from scratch; returns how many are published."""
    from sqlalchemy.orm import selectinload

    db.session.execute(delete(PracticeTerm))
    db.session.execute(delete(PracticeFacet))
    db.session.execute(delete(FacetCount))
    published = 0
    query = (select(GoodPractice).where(GoodPractice.published_at.is_not(None))
             .options(selectinload(GoodPractice.themes), selectinload(GoodPractice.comuni),
                      selectinload(GoodPractice.promoters)).order_by(GoodPractice.id))
    for practice in db.session.scalars(query):
        new = facet_values(practice)
        db.session.execute(insert(PracticeFacet), [
            {"facet": f, "value": v, "practice_id": practice.id} for f, v in new])
        terms = analyze(practice.title, practice.summary, html_to_text(practice.body_html))
        if terms:
            db.session.execute(insert(PracticeTerm), [
                {"term": t, "practice_id": practice.id, "weight": w} for t, w in terms.items()])
        published += 1
    db.session.flush()
    rebuild_counts()
    return published


def set_adoption_count(practice_id: int, value: int) -> None:
    db.session.execute(update(GoodPractice).where(GoodPractice.id == practice_id)
                       .values(adoption_count=value))


# Values accepted for the status and kind facets.
STATUS_VALUES = tuple(s.value for s in PracticeStatus)
KIND_VALUES = tuple(k.value for k in PromoterKind)


def iter_all(search_: Search, chunk: int = 500):
    """Every practice matching the search (no pages), in chunks, ordered by id (open data)."""
    from sqlalchemy.orm import selectinload

    if search_.has_text_but_no_terms:
        return
    filters = search_.filters
    if search_.is_text or filters:
        ids_query = _candidates(search_, filters)
    else:
        ids_query = select(GoodPractice.id).where(GoodPractice.published_at.is_not(None))
    last = 0
    while True:
        rows = db.session.scalars(
            select(GoodPractice).where(GoodPractice.id.in_(ids_query), GoodPractice.id > last)
            .options(selectinload(GoodPractice.themes), selectinload(GoodPractice.comuni),
                     selectinload(GoodPractice.promoters))
            .order_by(GoodPractice.id).limit(chunk)).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id
