"""Full-text search and facets of the catalogue, on our own index, identical on every database.

Why our own index: SQLite FTS5 and PostgreSQL text search stem, rank and fold accents each in
their own way, so the same query would find different practices. Here one analyzer (accent
folding, Italian stopwords, the Snowball Italian stemmer) turns title, summary and body into
weighted terms stored in `practice_terms`; a query goes through the same analyzer and becomes
plain indexed lookups. Only published practices are in the index.

The work per request is bounded whatever the size of the catalogue (100,000 practices in the
benchmark):
- counts kept on every save: facet values (`catalogue_facet_counts`), pairs of facet values
  (`catalogue_facet_pairs`) and term frequencies (`catalogue_term_stats`); the whole catalogue
  and a single filter never count rows;
- a text search walks the postings of its rarest word best first (index on term, weight,
  practice) and probes the other words and the filters row by row, stopping after
  MAX_CANDIDATES matches; combined filters are walked the same way from the rarest one;
- facet counts of a text search or of combined filters are a GROUP BY over those candidates,
  which the page then calls "the most relevant" when there were more.
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
from sqlalchemy import and_, delete, func, insert, or_, select

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
    """Lower-case and strip accents ("Città" -> "citta")."""
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
    """One word of a query: its stem, and the folded word to complete when the stem is not in
    the index (a word still being typed: "famig" finds "famiglia")."""

    stem: str
    prefix: str | None


class QueryError(ValueError):
    """The search cannot be run; the message is for the user."""


def parse_query(q: str) -> list[QueryTerm]:
    """The words of a free-text query, deduplicated by stem, at most MAX_QUERY_TERMS."""
    seen: dict[str, QueryTerm] = {}
    for w in words(q):
        s = stem(w)
        if s not in seen:
            seen[s] = QueryTerm(s, w if len(w) >= MIN_PREFIX and not w.isdigit() else None)
        if len(seen) >= MAX_QUERY_TERMS:
            break
    return list(seen.values())


SORTS = ("relevance", "newest", "title", "adopted")
#: at most this many practices are gathered for a text search or a combination of filters;
#: totals above it are shown as "more than", facets counted over these (the best ones)
MAX_CANDIDATES = 500
#: terms a word being typed may complete to (the most frequent ones)
MAX_COMPLETIONS = 12


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
    items: list  # of Card
    total: int
    #: facet -> [(value, count)], values as stored (ids as strings)
    facets: dict[str, list[tuple[str, int]]]
    #: True when more than MAX_CANDIDATES matched: `total` is then a lower bound and the
    #: facets count the MAX_CANDIDATES best matches
    capped: bool = False


def _ids_param(column, ids: list[int]):
    """`column IN (ids)` with one bound parameter, however many ids (JSON on SQLite, an array
    on PostgreSQL): thousands of ids without thousands of placeholders."""
    import json

    from sqlalchemy import Integer, bindparam, literal_column
    from sqlalchemy.dialects.postgresql import ARRAY

    if db.session.get_bind().dialect.name == "postgresql":
        return column == func.any(bindparam("ids", ids, type_=ARRAY(Integer)))
    each = select(literal_column("value")).select_from(
        func.json_each(bindparam("ids", json.dumps(ids))))
    return column.in_(each)


def _resolve(terms: list[QueryTerm]) -> list[tuple[list[str], int]] | None:
    """Each query word as the index terms it matches and their total frequency; None when a
    word matches no term (then nothing can match). Two small queries on catalogue_term_stats."""
    from portal.catalogue.models import TermStat

    known = dict(db.session.execute(select(TermStat.term, TermStat.df).where(
        TermStat.term.in_([t.stem for t in terms]), TermStat.df > 0)).all())
    groups = []
    for i, t in enumerate(terms):
        if t.stem in known:
            groups.append(([t.stem], known[t.stem]))
            continue
        if not t.prefix or i != len(terms) - 1:
            return None
        upper = t.prefix + "z" * (MAX_TERM - len(t.prefix))
        # A range, not LIKE: it uses the primary key, needs no escaping, and 'z' is the
        # greatest character a term can hold whatever the collation.
        completions = db.session.execute(
            select(TermStat.term, TermStat.df)
            .where(TermStat.term >= t.prefix, TermStat.term <= upper, TermStat.df > 0)
            .order_by(TermStat.df.desc(), TermStat.term).limit(MAX_COMPLETIONS)).all()
        if not completions:
            return None
        groups.append(([c[0] for c in completions], sum(c[1] for c in completions)))
    return groups


_PROBE = PracticeFacet.__table__.alias("probe")
#: facet values listed at most for the Comune facet (there may be 1,500 Comuni)
TOP_COMUNI = 16


def _probe(table, *conditions):
    """"A matching row exists", written as a correlated scalar subquery with LIMIT 1 so that
    PostgreSQL probes it row by row (as SQLite does) instead of turning it into a join over
    every matching row: the walk along the rank index then stops after one page of results."""
    from sqlalchemy import literal

    return select(literal(1)).select_from(table).where(*conditions).limit(1) \
        .scalar_subquery().is_not(None)


def _has_facet(practice_id, facet: str, value: str):
    return _probe(_PROBE, _PROBE.c.facet == facet, _PROBE.c.value == value,
                  _PROBE.c.practice_id == practice_id)


def _text_candidates(search: Search) -> tuple[list[int], bool] | None:
    """Ids of the practices matching every word and filter, best first, at most
    MAX_CANDIDATES; and whether there were more.

    The rarest word drives and ranks (its weight: where and how often it appears; the rarest
    word is also the most telling one); the other words and the filters are primary-key
    probes per candidate. A word matched exactly is walked in rank order on
    ix_practice_terms_rank, so the walk stops after MAX_CANDIDATES matches however common
    the word is.
    """
    groups = _resolve(search.terms)
    if groups is None:
        return [], False
    groups.sort(key=lambda g: g[1])
    (driving, _df), *others = groups
    pt = PracticeTerm.__table__.alias("pt")
    conditions = []
    for n, (terms, _df) in enumerate(others):
        other = PracticeTerm.__table__.alias(f"o{n}")
        conditions.append(_probe(
            other, other.c.practice_id == pt.c.practice_id,
            other.c.term.in_(terms) if len(terms) > 1 else other.c.term == terms[0]))
    for facet, value in search.filters.items():
        conditions.append(_has_facet(pt.c.practice_id, facet, value))
    if len(driving) == 1:
        query = (select(pt.c.practice_id).where(pt.c.term == driving[0], *conditions)
                 .order_by(pt.c.weight.desc(), pt.c.practice_id.desc()))
    else:  # the completions of a word being typed: a practice may match several
        score = func.max(pt.c.weight)
        query = (select(pt.c.practice_id).where(pt.c.term.in_(driving), *conditions)
                 .group_by(pt.c.practice_id)
                 .order_by(score.desc(), pt.c.practice_id.desc()))
    ids = list(db.session.scalars(query.limit(MAX_CANDIDATES + 1)))
    return ids[:MAX_CANDIDATES], len(ids) > MAX_CANDIDATES


def _filter_candidates(filters: dict[str, str]) -> tuple[list[int], bool]:
    """Ids of the practices carrying every chosen facet value (newest ids first), driven by
    the rarest one, at most MAX_CANDIDATES."""
    stored = dict(((f, v), c) for f, v, c in db.session.execute(
        select(FacetCount.facet, FacetCount.value, FacetCount.count).where(
            or_(*[and_(FacetCount.facet == f, FacetCount.value == v)
                  for f, v in filters.items()]))))
    items = sorted(filters.items(), key=lambda fv: stored.get(fv, 0))
    (facet, value), rest = items[0], items[1:]
    pf = PracticeFacet.__table__.alias("pf")
    query = (select(pf.c.practice_id).where(pf.c.facet == facet, pf.c.value == value,
                                           *[_has_facet(pf.c.practice_id, f, v) for f, v in rest])
             .order_by(pf.c.practice_id.desc()).limit(MAX_CANDIDATES + 1))
    ids = list(db.session.scalars(query))
    return ids[:MAX_CANDIDATES], len(ids) > MAX_CANDIDATES


def _counts_over(ids: list[int]) -> dict[str, list[tuple[str, int]]]:
    out: dict[str, list[tuple[str, int]]] = {f: [] for f in FACETS}
    if not ids:
        return out
    rows = db.session.execute(
        select(PracticeFacet.facet, PracticeFacet.value, func.count())
        .where(_ids_param(PracticeFacet.practice_id, ids), PracticeFacet.facet != FACET_ALL)
        .group_by(PracticeFacet.facet, PracticeFacet.value)).all()
    for facet, value, n in rows:
        out[facet].append((value, n))
    return out


def _stored_counts() -> dict[str, list[tuple[str, int]]]:
    """The stored facet counts (the most frequent Comuni only), total under FACET_ALL."""
    out: dict[str, list[tuple[str, int]]] = {f: [] for f in (*FACETS, FACET_ALL)}
    from sqlalchemy import union_all

    small = (select(FacetCount.facet, FacetCount.value, FacetCount.count)
             .where(FacetCount.facet.in_((FACET_THEME, FACET_STATUS, FACET_KIND, FACET_ALL)),
                    FacetCount.count > 0))
    comuni = (select(FacetCount.facet, FacetCount.value, FacetCount.count)
              .where(FacetCount.facet == FACET_COMUNE, FacetCount.count > 0)
              .order_by(FacetCount.count.desc(), FacetCount.value).limit(TOP_COMUNI)
              .subquery())
    for facet, value, n in db.session.execute(union_all(small, select(comuni))):
        out[facet].append((value, n))
    return out


def _pair_counts(facet: str, value: str) -> dict[str, list[tuple[str, int]]]:
    from portal.catalogue.models import FacetPair

    out: dict[str, list[tuple[str, int]]] = {f: [] for f in FACETS}
    out[facet].append((value, _stored_total(facet, value)))
    columns = (FacetPair.other_facet, FacetPair.other_value, FacetPair.count)
    mine = (FacetPair.facet == facet, FacetPair.value == value, FacetPair.count > 0)
    small = select(*columns).where(*mine, FacetPair.other_facet != FACET_COMUNE)
    comuni = (select(*columns).where(*mine, FacetPair.other_facet == FACET_COMUNE)
              .order_by(FacetPair.count.desc(), FacetPair.other_value).limit(TOP_COMUNI))
    for query in (small, comuni):
        for other_facet, other_value, n in db.session.execute(query):
            out[other_facet].append((other_value, n))
    return out


def _stored_total(facet: str, value: str) -> int:
    return db.session.scalar(select(FacetCount.count).where(
        FacetCount.facet == facet, FacetCount.value == value)) or 0


def _sorted(counts):
    for values in counts.values():
        values.sort(key=lambda vc: (-vc[1], vc[0]))
    return counts


_ORDER = {
    "newest": (GoodPractice.published_at.desc(), GoodPractice.id.desc()),
    "title": (GoodPractice.title_key.asc(), GoodPractice.id.asc()),
    "adopted": (GoodPractice.adoption_count.desc(), GoodPractice.id.desc()),
}


def _page(search: Search, ids: list[int] | None) -> list:
    """The cards of the requested page: from the candidates, or (None) from all practices."""
    offset = (search.page - 1) * search.per_page
    if ids is not None and search.sort == "relevance":
        return cards(ids[offset:offset + search.per_page])
    if ids is not None and not ids:
        return []
    query = select(*_CARD_COLUMNS).order_by(*_ORDER.get(search.sort, _ORDER["newest"]))
    if ids is None:
        query = query.where(GoodPractice.published_at.is_not(None))
    else:
        query = query.where(_ids_param(GoodPractice.id, ids))
    return _fill([Card(*r) for r in db.session.execute(
        query.limit(search.per_page).offset(offset))])


#: below this share of the catalogue a filter's practices are gathered then sorted; above it
#: the sort index is walked and each practice checked (a few checks find a page)
SCAN_SHARE = 0.02


def _single_filter_page(search: Search, facet: str, value: str, total: int) -> list:
    offset = (search.page - 1) * search.per_page
    order = _ORDER.get(search.sort, _ORDER["newest"])
    everything = _stored_total(FACET_ALL, "")
    if total >= SCAN_SHARE * everything:
        query = (select(*_CARD_COLUMNS).where(GoodPractice.published_at.is_not(None),
                                              _has_facet(GoodPractice.id, facet, value))
                 .order_by(*order))
    else:
        pf = PracticeFacet.__table__.alias("pf")
        query = (select(*_CARD_COLUMNS).join(pf, pf.c.practice_id == GoodPractice.id)
                 .where(pf.c.facet == facet, pf.c.value == value).order_by(*order))
    return _fill([Card(*r) for r in db.session.execute(
        query.limit(search.per_page).offset(offset))])


def matching_ids(search: Search) -> tuple[list[int] | None, bool]:
    """The candidate ids of a search (None: every published practice) and whether capped."""
    filters = search.filters
    if search.is_text:
        return _text_candidates(search)
    if len(filters) >= 2:
        return _filter_candidates(filters)
    return None, False


@dataclass(frozen=True)
class ThemeRef:
    id: int
    slug: str
    name: str


@dataclass(frozen=True)
class ComuneRef:
    id: int
    slug: str
    name: str
    istat_code: str


@dataclass
class Card:
    """What a results page shows of a practice: plain values, no ORM object (lists are read
    by the hundred per second; building ORM instances would cost more than the queries)."""

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
    def themes_text(self) -> str:
        return ", ".join(t.name for t in self.themes)

    @property
    def comuni_text(self) -> str:
        return ", ".join(c.name for c in self.comuni)

    @property
    def summary_short(self) -> str:
        """The summary cut at a word near 260 characters (the list shows several dozen)."""
        if len(self.summary) <= 260:
            return self.summary
        return self.summary[:257].rsplit(" ", 1)[0] + "…"


_CARD_COLUMNS = (GoodPractice.id, GoodPractice.slug, GoodPractice.title, GoodPractice.summary,
                 GoodPractice.status, GoodPractice.adoption_count, GoodPractice.published_at,
                 GoodPractice.started_on, GoodPractice.ended_on, GoodPractice.beneficiaries,
                 GoodPractice.beneficiaries_count, GoodPractice.cost_cents,
                 GoodPractice.funding_sources)


def all_themes() -> dict[int, ThemeRef]:
    """Every theme by id (a few rows), read once per request."""
    from flask import g, has_app_context

    cached = g.get("catalogue_themes") if has_app_context() else None
    if cached is None:
        from portal.catalogue.models import Theme

        cached = {r.id: ThemeRef(r.id, r.slug, r.name) for r in db.session.execute(
            select(Theme.id, Theme.slug, Theme.name).order_by(Theme.position, Theme.name))}
        if has_app_context():
            g.catalogue_themes = cached
    return cached


def cards(ids: list[int]) -> list[Card]:
    """Cards of the practices `ids`, in that order."""
    if not ids:
        return []
    by_id = {r.id: Card(*r) for r in db.session.execute(
        select(*_CARD_COLUMNS).where(GoodPractice.id.in_(ids)))}
    return _fill([by_id[i] for i in ids if i in by_id])


def _fill(found: list[Card]) -> list[Card]:
    """Add themes and Comuni to cards: one query for the whole page."""
    from sqlalchemy import String, cast, literal, null, union_all

    from portal.catalogue.models import practice_comuni, practice_themes
    from portal.network.models import Comune

    if not found:
        return found
    by_id = {c.id: c for c in found}
    ids = list(by_id)
    themes = all_themes()
    text = cast(null(), String)
    rows = db.session.execute(union_all(
        select(practice_themes.c.practice_id, literal("t"), practice_themes.c.theme_id,
               text, text, text).where(practice_themes.c.practice_id.in_(ids)),
        select(practice_comuni.c.practice_id, literal("c"), Comune.id, Comune.slug,
               Comune.name, Comune.istat_code)
        .join(Comune, Comune.id == practice_comuni.c.comune_id)
        .where(practice_comuni.c.practice_id.in_(ids))))
    for practice_id, kind, ref, slug, name, istat_code in rows:
        if kind == "t":
            if ref in themes:
                by_id[practice_id].themes.append(themes[ref])
        else:
            by_id[practice_id].comuni.append(ComuneRef(ref, slug, name, istat_code))
    order = {t.id: n for n, t in enumerate(themes.values())}
    for card in found:
        card.themes.sort(key=lambda t: order[t.id])
        card.comuni.sort(key=lambda c: c.name)
    return found


def run(search: Search, with_facets: bool = True) -> Result:
    """Run a search: the page of practices (as cards), the total and the facet counts.

    Whatever the size of the catalogue the work is bounded: the whole catalogue and single
    filters read stored counts; text and combined filters gather at most MAX_CANDIDATES ids.
    """
    empty = {f: [] for f in FACETS} if with_facets else {}
    if search.has_text_but_no_terms:
        return Result(search, [], 0, empty)
    filters = search.filters
    ids, capped = matching_ids(search)
    if ids is not None:
        total = len(ids)
        counts = _counts_over(ids) if with_facets else {}
        page = _page(search, ids)
    elif filters:
        (facet, value), = filters.items()
        total = _stored_total(facet, value)
        counts = _pair_counts(facet, value) if with_facets else {}
        page = _single_filter_page(search, facet, value, total)
    else:
        counts = _stored_counts()
        total = dict(counts.pop(FACET_ALL)).get("", 0)
        counts = counts if with_facets else {}
        page = _page(search, None)
    return Result(search, page, total, _sorted(counts), capped)


# --------------------------------------------------------------------------- index upkeep


def facet_values(practice: GoodPractice) -> set[tuple[str, str]]:
    """The facet rows a published practice carries."""
    values = {(FACET_ALL, ""), (FACET_STATUS, practice.status)}
    values |= {(FACET_THEME, str(t.id)) for t in practice.themes}
    values |= {(FACET_COMUNE, str(c.id)) for c in practice.comuni}
    values |= {(FACET_KIND, p.kind) for p in practice.promoters}
    return values


def _upsert(model, keys: dict, column: str, delta: int):
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    stmt = upsert(model).values(**keys, **{column: max(delta, 0)})
    return stmt.on_conflict_do_update(index_elements=list(keys),
                                      set_={column: getattr(model, column) + delta})


def _bump_all(model, rows: list[dict], column: str) -> None:
    """Add each row's delta to a stored count, creating rows when needed (atomic upserts)."""
    for row in rows:
        keys = {k: v for k, v in row.items() if k != "delta"}
        db.session.execute(_upsert(model, keys, column, row["delta"]))


def _pairs(values: set[tuple[str, str]]) -> set[tuple[str, str, str, str]]:
    real = [v for v in values if v[0] != FACET_ALL]
    return {(a[0], a[1], b[0], b[1]) for a in real for b in real if a != b}


def reindex(practice: GoodPractice) -> None:
    """Bring the practice's terms and facets, and the stored counts (facets, pairs of facets,
    term frequencies), in line with its content. Only published practices are indexed."""
    from portal.catalogue.models import FacetPair, TermStat

    db.session.flush()
    old = set(db.session.execute(
        select(PracticeFacet.facet, PracticeFacet.value)
        .where(PracticeFacet.practice_id == practice.id)).all())
    new = facet_values(practice) if practice.is_published else set()
    old_terms = set(db.session.scalars(
        select(PracticeTerm.term).where(PracticeTerm.practice_id == practice.id)))
    terms = (analyze(practice.title, practice.summary, html_to_text(practice.body_html))
             if practice.is_published else {})
    db.session.execute(delete(PracticeTerm).where(PracticeTerm.practice_id == practice.id))
    if terms:
        db.session.execute(insert(PracticeTerm), [
            {"term": t, "practice_id": practice.id, "weight": w} for t, w in terms.items()])
    if old - new:
        db.session.execute(delete(PracticeFacet).where(
            PracticeFacet.practice_id == practice.id,
            or_(*[and_(PracticeFacet.facet == f, PracticeFacet.value == v)
                  for f, v in old - new])))
    if new - old:
        db.session.execute(insert(PracticeFacet), [
            {"facet": f, "value": v, "practice_id": practice.id} for f, v in new - old])
    # Sorted, so that concurrent saves take row locks in the same order.
    _bump_all(FacetCount, [{"facet": f, "value": v, "delta": -1} for f, v in sorted(old - new)]
              + [{"facet": f, "value": v, "delta": 1} for f, v in sorted(new - old)], "count")
    old_pairs, new_pairs = _pairs(old), _pairs(new)
    _bump_all(FacetPair, [
        {"facet": a, "value": b, "other_facet": c, "other_value": d, "delta": delta}
        for delta, changed in ((-1, old_pairs - new_pairs), (1, new_pairs - old_pairs))
        for a, b, c, d in sorted(changed)], "count")
    _bump_all(TermStat, [{"term": t, "delta": -1} for t in sorted(old_terms - set(terms))]
              + [{"term": t, "delta": 1} for t in sorted(set(terms) - old_terms)], "df")


def rebuild_counts() -> None:
    """Recount facets, pairs of facets and term frequencies from the index (after a bulk load,
    or to repair drift)."""
    from portal.catalogue.models import FacetPair, TermStat

    db.session.execute(delete(FacetCount))
    db.session.execute(delete(FacetPair))
    db.session.execute(delete(TermStat))
    rows = db.session.execute(
        select(PracticeFacet.facet, PracticeFacet.value, func.count())
        .group_by(PracticeFacet.facet, PracticeFacet.value)).all()
    if rows:
        db.session.execute(insert(FacetCount), [
            {"facet": f, "value": v, "count": c} for f, v, c in rows])
    a, b = PracticeFacet.__table__.alias("a"), PracticeFacet.__table__.alias("b")
    pairs = db.session.execute(
        select(a.c.facet, a.c.value, b.c.facet, b.c.value, func.count())
        .join(b, and_(b.c.practice_id == a.c.practice_id,
                      or_(b.c.facet != a.c.facet, b.c.value != a.c.value)))
        .where(a.c.facet != FACET_ALL, b.c.facet != FACET_ALL)
        .group_by(a.c.facet, a.c.value, b.c.facet, b.c.value)).all()
    if pairs:
        db.session.execute(insert(FacetPair), [
            {"facet": f, "value": v, "other_facet": of, "other_value": ov, "count": c}
            for f, v, of, ov, c in pairs])
    terms = db.session.execute(select(PracticeTerm.term, func.count())
                               .group_by(PracticeTerm.term)).all()
    if terms:
        db.session.execute(insert(TermStat), [{"term": t, "df": c} for t, c in terms])


def rebuild_all() -> int:
    """Reindex every practice from scratch; returns how many are published."""
    from sqlalchemy.orm import selectinload

    db.session.execute(delete(PracticeTerm))
    db.session.execute(delete(PracticeFacet))
    published = 0
    query = (select(GoodPractice).where(GoodPractice.published_at.is_not(None))
             .options(selectinload(GoodPractice.themes), selectinload(GoodPractice.comuni),
                      selectinload(GoodPractice.promoters)).order_by(GoodPractice.id))
    for practice in db.session.scalars(query):
        db.session.execute(insert(PracticeFacet), [
            {"facet": f, "value": v, "practice_id": practice.id}
            for f, v in facet_values(practice)])
        terms = analyze(practice.title, practice.summary, html_to_text(practice.body_html))
        if terms:
            db.session.execute(insert(PracticeTerm), [
                {"term": t, "practice_id": practice.id, "weight": w} for t, w in terms.items()])
        published += 1
    db.session.flush()
    rebuild_counts()
    return published


# Values accepted for the status and kind facets.
STATUS_VALUES = tuple(s.value for s in PracticeStatus)
KIND_VALUES = tuple(k.value for k in PromoterKind)


def iter_all(search_: Search, chunk: int = 500):
    """Every practice matching the search (a text search: its MAX_CANDIDATES best), in
    chunks ordered by id, as ORM objects with themes, Comuni and promoters (open data)."""
    from sqlalchemy.orm import selectinload

    if search_.has_text_but_no_terms:
        return
    ids, _capped = matching_ids(search_)
    filters = search_.filters
    query = select(GoodPractice).where(GoodPractice.published_at.is_not(None))
    if ids is not None:
        query = query.where(_ids_param(GoodPractice.id, ids))
    elif filters:
        (facet, value), = filters.items()
        query = query.where(_has_facet(GoodPractice.id, facet, value))
    last = 0
    while True:
        rows = db.session.scalars(
            query.where(GoodPractice.id > last)
            .options(selectinload(GoodPractice.themes), selectinload(GoodPractice.comuni),
                     selectinload(GoodPractice.promoters))
            .order_by(GoodPractice.id).limit(chunk)).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id
