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
  MAX_CANDIDATES matches; a filter much rarer than that walk (a common word in a small
  Comune) is walked instead, whole; on PostgreSQL, where a probe costs many times what it
  costs SQLite, a long walk (common filters that rarely meet a common word) is replaced by
  intersecting the words' and filters' lists inside a GIN index of each practice's terms and
  facet tokens (`good_practices.search_keys`) when reading them costs less (same rows, same
  order); a word being typed walks each of its completions best first; combined filters are
  walked from the rarest one;
- the candidates come with their facet key (`good_practices.facet_key`, "c:12 s:attiva t:3"),
  so the facet counts of a text search or of combined filters are counted in Python over
  them (the page calls them "the most relevant" when there were more), and the cards read
  their themes and Comuni from it;
- statements are built once per shape and run with bound values (building a SELECT costs more
  Python than running it).
"""

from __future__ import annotations

import html
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from operator import attrgetter, itemgetter
from types import MappingProxyType

import nh3
import snowballstemmer
from sqlalchemy import (
    Integer,
    Text,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from portal.catalogue.models import (
    FacetCount,
    FacetPair,
    GoodPractice,
    PracticeFacet,
    PracticeStatus,
    PracticeTerm,
    PromoterKind,
    TermStat,
    Theme,
)
from portal.db_setup import in_list, inline_limit
from portal.extensions import db
from portal.memo import memo
from portal.network.models import Comune

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


#: the statements below are built once per shape and reused with bound values: building a
#: SELECT costs more Python than running it
_GP = GoodPractice.__table__
_PT = PracticeTerm.__table__
_PROBE = PracticeFacet.__table__.alias("probe")
#: facet values listed at most for the Comune facet (there may be 1,500 Comuni)
TOP_COMUNI = 16
_LIMIT = bindparam("limit", type_=Integer)


def _ids_param(column, ids: list[int]):
    """`column IN (ids)` with one bound parameter, however many ids (JSON on SQLite, an array
    on PostgreSQL): thousands of ids without thousands of placeholders."""
    import json

    from sqlalchemy import literal_column
    from sqlalchemy.dialects.postgresql import ARRAY

    if db.session.get_bind().dialect.name == "postgresql":
        return column == func.any(bindparam("ids", ids, type_=ARRAY(Integer)))
    each = select(literal_column("value")).select_from(
        func.json_each(bindparam("ids", json.dumps(ids))))
    return column.in_(each)


def _probe(table, *conditions):
    """"A matching row exists", written as a correlated scalar subquery with LIMIT 1 so that
    PostgreSQL probes it row by row (as SQLite does) instead of turning it into a join over
    every matching row: the walk along the rank index then stops after one page of results."""
    return select(literal(1)).select_from(table).where(*conditions).limit(1) \
        .scalar_subquery().is_not(None)


def _has_facet(practice_id, facet: str, value):
    return _probe(_PROBE, _PROBE.c.facet == facet, _PROBE.c.value == value,
                  _PROBE.c.practice_id == practice_id)


# ----------------------------------------------------------------- statistics of a query

#: document frequencies of the query's words and the stored counts of its filters and of the
#: whole catalogue, in one round trip ('w' rows are words; facets are one letter or '*')
@lru_cache(maxsize=4)
def _stats_statement(dialect_name: str):
    return union_all(
        select(literal("w"), TermStat.term, TermStat.df).where(
            in_list(TermStat.term, "terms", dialect_name), TermStat.df > 0),
        select(FacetCount.facet, FacetCount.value, FacetCount.count).where(
            in_list(FacetCount.facet, "facets", dialect_name),
            in_list(FacetCount.value, "values", dialect_name)))


#: the terms a word being typed completes to, the most frequent first. A range, not LIKE: it
#: uses the primary key, needs no escaping, and 'z' is the greatest character a term holds.
_COMPLETIONS = (select(TermStat.term, TermStat.df)
                .where(TermStat.term >= bindparam("low"), TermStat.term <= bindparam("high"),
                       TermStat.df > 0)
                .order_by(TermStat.df.desc(), TermStat.term).limit(MAX_COMPLETIONS))


def _stats(terms: list[str], filters: dict[str, str]) -> tuple[dict, dict]:
    """{term: df} of the known terms, {(facet, value): count} of the filters and the total."""
    params = {"terms": terms, "facets": [*filters, FACET_ALL] if filters else [],
              "values": [*filters.values(), ""] if filters else []}
    known, counts = {}, {}
    for kind, key, n in db.session.execute(_stats_statement(db.engine.dialect.name),
                                           params).all():
        if kind == "w":
            known[key] = n
        else:
            counts[kind, key] = n
    return known, counts


def _resolve(terms: list[QueryTerm], known: dict[str, int]) -> list[tuple[list[str], int]] | None:
    """Each query word as the index terms it matches and their total frequency; None when a
    word matches no term (then nothing can match)."""
    groups = []
    for i, t in enumerate(terms):
        if t.stem in known:
            groups.append(([t.stem], known[t.stem]))
            continue
        if not t.prefix or i != len(terms) - 1:
            return None
        completions = db.session.execute(_COMPLETIONS, {
            "low": t.prefix, "high": t.prefix + "z" * (MAX_TERM - len(t.prefix))}).all()
        if not completions:
            return None
        groups.append(([c[0] for c in completions], sum(c[1] for c in completions)))
    return groups


# ----------------------------------------------------------------- candidates


def _term_in(column, name: str, n: int):
    """`column = :name0` or `column IN (:name0, :name1...)`."""
    if n == 1:
        return column == bindparam(f"{name}0")
    return column.in_([bindparam(f"{name}{i}") for i in range(n)])


def _conditions(practice_id, others: tuple[int, ...], facets: tuple[str, ...]) -> list:
    """Probes of the other words (each as its index terms) and of the filters."""
    conditions = []
    for n, size in enumerate(others):
        other = _PT.alias(f"o{n}")
        conditions.append(_probe(other, other.c.practice_id == practice_id,
                                 _term_in(other.c.term, f"o{n}_", size)))
    for facet in facets:
        conditions.append(_has_facet(practice_id, facet, bindparam(f"f_{facet}")))
    return conditions


def _with_keys(ranked, practice_id, *order):
    """The candidates with their facet key, best first, at most :limit."""
    return (select(practice_id, _GP.c.facet_key).select_from(ranked)
            .join(_GP, _GP.c.id == practice_id).order_by(*order).limit(_LIMIT))


@lru_cache(maxsize=512)
def _walk_word(driving: int, others: tuple[int, ...], facets: tuple[str, ...]):
    """Walk the ranking word's postings best first (ix_practice_terms_rank), probing the other
    words and the filters: the walk stops after :limit matches however common the word.

    A word being typed has several completions (`driving` > 1): each completion's postings are
    walked best first up to :limit matches, then a practice scores its best weight. The
    :limit best practices of all the completions are among those walks (a practice outside
    the first :limit of its best completion has :limit better practices there), so the
    result equals a full aggregation over every posting, at a bounded cost."""
    if driving == 1:
        pt = _PT.alias("pt")
        ranked = (select(pt.c.practice_id.label("pid"), pt.c.weight.label("score"))
                  .where(pt.c.term == bindparam("d0"),
                         *_conditions(pt.c.practice_id, others, facets))
                  .order_by(pt.c.weight.desc(), pt.c.practice_id.desc()).limit(_LIMIT)
                  .subquery("ranked"))
    else:
        walks = []
        for i in range(driving):
            pt = _PT.alias(f"pt{i}")
            walks.append(select(select(pt.c.practice_id.label("pid"), pt.c.weight.label("w"))
                                .where(pt.c.term == bindparam(f"d{i}"),
                                       *_conditions(pt.c.practice_id, others, facets))
                                .order_by(pt.c.weight.desc(), pt.c.practice_id.desc())
                                .limit(_LIMIT).subquery(f"walk{i}")))
        walked = union_all(*walks).subquery("walked")
        ranked = (select(walked.c.pid, func.max(walked.c.w).label("score"))
                  .group_by(walked.c.pid).subquery("ranked"))
    return _with_keys(ranked, ranked.c.pid, ranked.c.score.desc(), ranked.c.pid.desc())


_KEYS = ARRAY(Text)


@lru_cache(maxsize=512)
def _keys_word(others: tuple[int, ...]):
    """PostgreSQL: the practices whose `search_keys` hold the ranking word, every other word
    (one of its index terms) and every filter, found by intersecting their lists inside the
    GIN index (ix_good_practices_search_keys) rather than probing the ranking word's postings
    one by one; ranked by that word's weight, then newest id: the same rows and order as
    _walk_word with one driving term. :required holds the ranking word, the words with one
    index term and the filters' tokens; a word being typed (several completions) is an
    overlap, :any<n>."""
    keys = _GP.c.search_keys
    pt = _PT.alias("pt")
    conditions = [keys.is_not(None),
                  keys.op("@>", is_comparison=True)(bindparam("required", type_=_KEYS))]
    conditions += [keys.op("&&", is_comparison=True)(bindparam(f"any{n}", type_=_KEYS))
                   for n, size in enumerate(others) if size > 1]
    return (select(_GP.c.id, _GP.c.facet_key)
            .join(pt, and_(pt.c.term == bindparam("d0"), pt.c.practice_id == _GP.c.id))
            .where(*conditions)
            .order_by(pt.c.weight.desc(), _GP.c.id.desc()).limit(_LIMIT))


@lru_cache(maxsize=512)
def _walk_filter(drive: str, driving: int, others: tuple[int, ...], facets: tuple[str, ...]):
    """Walk every practice of the rarest filter `drive` (fewer than the ranking word's walk
    would probe), probing the words and the other filters; each match scores its weight for
    the ranking word (its best completion's): the same order as _walk_word."""
    pf = PracticeFacet.__table__.alias("pf")
    scoring = _PT.alias("scoring")
    score = (select(func.max(scoring.c.weight))
             .where(scoring.c.practice_id == pf.c.practice_id,
                    _term_in(scoring.c.term, "d", driving)).scalar_subquery())
    matched = (select(pf.c.practice_id.label("pid"), score.label("score"))
               .where(pf.c.facet == drive, pf.c.value == bindparam(f"f_{drive}"),
                      *_conditions(pf.c.practice_id, others, facets)).subquery("matched"))
    return _with_keys(matched, matched.c.pid, matched.c.score.desc(), matched.c.pid.desc()) \
        .where(matched.c.score.is_not(None))


@lru_cache(maxsize=64)
def _walk_filters(drive: str, facets: tuple[str, ...]):
    """Walk the practices of the rarest filter newest id first, probing the other filters."""
    pf = PracticeFacet.__table__.alias("pf")
    walked = (select(pf.c.practice_id.label("pid"))
              .where(pf.c.facet == drive, pf.c.value == bindparam(f"f_{drive}"),
                     *_conditions(pf.c.practice_id, (), facets))
              .order_by(pf.c.practice_id.desc()).limit(_LIMIT).subquery("walked"))
    return _with_keys(walked, walked.c.pid, walked.c.pid.desc())


#: a filter's practices are all walked instead of the ranking word's postings when there are
#: fewer of them than this share of the postings the word's walk is expected to probe
FILTER_WALK_SHARE = 0.5
#: on these databases (those that keep `good_practices.search_keys`) a word with filters is
#: searched by intersecting the lists inside the GIN index (_keys_word) when its walk cannot
#: stop early (fewer than MAX_CANDIDATES + 1 matches expected among its postings) and reading
#: every entry of the words' and the filters' lists costs less than probing all its postings,
#: one probe costing as much as reading this many entries. PostgreSQL probes an index at 3-4
#: µs a posting (SQLite, in process, at a fraction of that) and intersects GIN lists at ~0.03
#: µs an entry: "spazio compiti" in a common theme and status walks 16,000 postings (55-70 ms)
#: where the index intersects 110,000 entries in 3 ms and the whole statement takes 6-7 ms
#: (joining the lists as tables took 25-50 ms). The words are counted as independent: those
#: of a phrase ("nonni civici") meet more often, and their walk would have stopped early.
KEYS_PROBE_COST = 50
KEYS_DIALECTS = frozenset({"postgresql"})


def _candidates(search: Search) -> tuple[list[tuple[int, str]], bool]:
    """(id, facet key) of the practices matching every word and filter, best first (text:
    the rarest word's weight, then newest id; filters only: newest id), at most
    MAX_CANDIDATES; and whether there were more.

    Text: the rarest word ranks (its weight: where and how often it appears; the rarest word
    is also the most telling one); its postings are walked best first and the other words and
    the filters probed by primary key, until MAX_CANDIDATES matches. When a filter is much
    rarer than what that walk would probe (a common word in a small Comune), the filter's
    practices are walked instead and sorted: the same result, at a cost bounded by the
    filter's size. Filters only: the rarest filter is walked, newest first.
    """
    filters = search.filters
    known, counts = _stats([t.stem for t in search.terms], filters)
    if any(counts.get(fv, 0) == 0 for fv in filters.items()):
        return [], False
    params = {f"f_{f}": v for f, v in filters.items()}
    params["limit"] = MAX_CANDIDATES + 1
    if not search.is_text:
        (drive, _value), *rest = sorted(filters.items(), key=lambda fv: counts[fv])
        query = _walk_filters(drive, tuple(f for f, _v in rest))
    else:
        groups = _resolve(search.terms, known)
        if groups is None:
            return [], False
        groups.sort(key=lambda g: g[1])
        (driving, df), *others = groups
        for n, (terms, _df) in enumerate(others):
            params.update({f"o{n}_{i}": t for i, t in enumerate(terms)})
        params.update({f"d{i}": t for i, t in enumerate(driving)})
        sizes = tuple(len(terms) for terms, _df in others)
        query = None
        if filters:
            total = max(counts.get((FACET_ALL, ""), 1), 1)
            share = 1.0
            for _terms, other_df in others:
                share *= other_df / total
            for fv in filters.items():
                share *= counts[fv] / total
            walk = min(df, (MAX_CANDIDATES + 1) / share) if share else df
            rarest = min(filters.items(), key=lambda fv: counts[fv])
            if counts[rarest] < FILTER_WALK_SHARE * walk:
                query = _walk_filter(rarest[0], len(driving), sizes,
                                     tuple(f for f in filters if f != rarest[0]))
            elif (len(driving) == 1 and walk >= df
                  and df + sum(n for _t, n in others) + sum(counts[fv] for fv in filters.items())
                  < KEYS_PROBE_COST * walk
                  and db.session.get_bind().dialect.name in KEYS_DIALECTS):
                query = _keys_word(sizes)
                params["required"] = [driving[0], *[terms[0] for terms, _df in others
                                                    if len(terms) == 1],
                                      *[f"{f}:{v}" for f, v in filters.items()]]
                params.update({f"any{n}": terms for n, (terms, _df) in enumerate(others)
                               if len(terms) > 1})
        if query is None:
            query = _walk_word(len(driving), sizes, tuple(filters))
    rows = db.session.execute(query, params).all()
    return rows[:MAX_CANDIDATES], len(rows) > MAX_CANDIDATES


def _counts_of(keys: list[str]) -> dict[str, list[tuple[str, int]]]:
    """Facet counts over the candidates' facet keys (no query): the tokens counted and
    sorted, then each facet's run of "f:value" tokens cut out by bisection."""
    from bisect import bisect_left

    counted = sorted(Counter(" ".join(keys).split()).items())
    out: dict[str, list[tuple[str, int]]] = {}
    for f in FACETS:
        # ';' follows ':': the run of tokens starting with "f:"
        run_ = counted[bisect_left(counted, (f + ":",)):bisect_left(counted, (f + ";",))]
        out[f] = [(token[2:], n) for token, n in run_]
    return out


#: the stored facet counts (the most frequent Comuni only), total under FACET_ALL
_STORED_COUNTS = union_all(
    select(FacetCount.facet, FacetCount.value, FacetCount.count)
    .where(FacetCount.facet.in_((FACET_THEME, FACET_STATUS, FACET_KIND, FACET_ALL)),
           FacetCount.count > 0),
    select(select(FacetCount.facet, FacetCount.value, FacetCount.count)
           .where(FacetCount.facet == FACET_COMUNE, FacetCount.count > 0)
           .order_by(FacetCount.count.desc(), FacetCount.value).limit(TOP_COMUNI).subquery()))


def _read_stored_counts() -> dict[str, tuple[tuple[str, int], ...]]:
    out: dict[str, list[tuple[str, int]]] = {f: [] for f in (*FACETS, FACET_ALL)}
    for facet, value, n in db.session.execute(_STORED_COUNTS).all():
        out[facet].append((value, n))
    return {f: tuple(values) for f, values in out.items()}


def _stored_counts() -> dict[str, list[tuple[str, int]]]:
    """The stored counts of the whole catalogue, kept by each worker until the next write
    (portal/memo.py); a fresh copy the caller may change."""
    return {f: list(values) for f, values in
            memo("catalogue.stored_counts", _read_stored_counts).items()}


assert min(FACET_THEME, FACET_STATUS, FACET_KIND) > FACET_COMUNE
_PAIR_COLUMNS = (FacetPair.other_facet, FacetPair.other_value, FacetPair.count)
_MINE = (FacetPair.facet == bindparam("facet"), FacetPair.value == bindparam("value"),
         FacetPair.count > 0)
#: the counts of one filter's practices: their number ('=') and that of the whole catalogue
#: ('*'), the other facets from the stored pair counts (the most frequent Comuni only)
_PAIR_COUNTS = union_all(
    select(literal("="), literal(""), FacetCount.count).where(
        FacetCount.facet == bindparam("facet"), FacetCount.value == bindparam("value")),
    select(FacetCount.facet, FacetCount.value, FacetCount.count).where(
        FacetCount.facet == FACET_ALL),
    # the other facets sort after 'c': one range of ix_catalogue_facet_pairs_top
    select(*_PAIR_COLUMNS).where(*_MINE, FacetPair.other_facet > FACET_COMUNE),
    select(select(*_PAIR_COLUMNS).where(*_MINE, FacetPair.other_facet == FACET_COMUNE)
           .order_by(FacetPair.count.desc(), FacetPair.other_value).limit(TOP_COMUNI)
           .subquery()))


def _read_pair_counts(facet: str, value: str) -> tuple[tuple[str, str, int], ...]:
    return tuple(tuple(r) for r in db.session.execute(
        _PAIR_COUNTS, {"facet": facet, "value": value}).all())


def _pair_counts(facet: str, value: str) -> tuple[int, int, dict[str, list[tuple[str, int]]]]:
    """The number of practices carrying one facet value, of all practices, and the counts of
    the facets within the first: one query, its rows kept by each worker until the next write
    (portal/memo.py)."""
    out: dict[str, list[tuple[str, int]]] = {f: [] for f in FACETS}
    total = everything = 0
    for other_facet, other_value, n in memo(("catalogue.pair_counts", facet, value),
                                            lambda: _read_pair_counts(facet, value)):
        if other_facet == "=":
            total = n
        elif other_facet == FACET_ALL:
            everything = n
        else:
            out[other_facet].append((other_value, n))
    out[facet].insert(0, (value, total))
    return total, everything, out


_BY_VALUE, _BY_COUNT = itemgetter(0), itemgetter(1)


def _sorted(counts):
    """Each facet's values by count, most frequent first, then by value."""
    for values in counts.values():
        values.sort(key=_BY_VALUE)
        values.sort(key=_BY_COUNT, reverse=True)  # stable: equal counts stay by value
    return counts


_ORDER = {
    "newest": (GoodPractice.published_at.desc(), GoodPractice.id.desc()),
    "title": (GoodPractice.title_key.asc(), GoodPractice.id.asc()),
    "adopted": (GoodPractice.adoption_count.desc(), GoodPractice.id.desc()),
}


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


class Card:
    """What a results page shows of a practice: plain values, no ORM object (lists are read
    by the hundred per second; building ORM instances would cost more than the queries)."""

    __slots__ = ("id", "slug", "title", "summary", "status", "adoption_count", "published_at",
                 "started_on", "ended_on", "beneficiaries", "beneficiaries_count",
                 "cost_cents", "funding_sources", "facet_key", "themes", "comuni",
                 "themes_text", "comuni_text", "summary_short")

    def __init__(self, row):
        (self.id, self.slug, self.title, self.summary, self.status, self.adoption_count,
         self.published_at, self.started_on, self.ended_on, self.beneficiaries,
         self.beneficiaries_count, self.cost_cents, self.funding_sources,
         self.facet_key) = row
        self.themes: list[ThemeRef] = []
        self.comuni: list[ComuneRef] = []
        # The summary cut at a word near 260 characters (the list shows several dozen).
        summary = self.summary
        self.summary_short = (summary if len(summary) <= 260
                              else summary[:257].rsplit(" ", 1)[0] + "…")
        self.themes_text = self.comuni_text = ""


_CARD_COLUMNS = (GoodPractice.id, GoodPractice.slug, GoodPractice.title, GoodPractice.summary,
                 GoodPractice.status, GoodPractice.adoption_count, GoodPractice.published_at,
                 GoodPractice.started_on, GoodPractice.ended_on, GoodPractice.beneficiaries,
                 GoodPractice.beneficiaries_count, GoodPractice.cost_cents,
                 GoodPractice.funding_sources, GoodPractice.facet_key)


@lru_cache(maxsize=4)
def _cards_by_id(dialect_name: str):
    return select(*_CARD_COLUMNS).where(in_list(GoodPractice.id, "ids", dialect_name))


_OFFSET = bindparam("offset", type_=Integer)


@lru_cache(maxsize=16)
def _page_query(sort: str, facet: str | None = None, scan: bool = False):
    """A page of published practices in `sort` order, all or those carrying one facet value
    (:value). The ids of the page are found on the sort index (PostgreSQL: an index-only
    scan, however deep the page) and only the page's rows are read."""
    order = _ORDER.get(sort, _ORDER["newest"])
    ids = select(GoodPractice.id).where(GoodPractice.published_at.is_not(None))
    if facet is not None and scan:
        # a frequent value: walk the sort index and check each practice (a few checks fill
        # a page)
        ids = ids.where(_has_facet(GoodPractice.id, facet, bindparam("value")))
    elif facet is not None:
        # a rare value: gather its practices, then sort them
        pf = PracticeFacet.__table__.alias("pf")
        ids = ids.join(pf, pf.c.practice_id == GoodPractice.id).where(
            pf.c.facet == facet, pf.c.value == bindparam("value"))
    if facet is None:  # one plan fits every page: written into the SQL (inline_limit)
        ids = ids.order_by(*order).limit(inline_limit()).offset(inline_limit("offset"))
    else:
        ids = ids.order_by(*order).limit(_LIMIT).offset(_OFFSET)
    return select(*_CARD_COLUMNS).where(GoodPractice.id.in_(ids.scalar_subquery())) \
        .order_by(*order)


_THEMES = select(Theme.id, Theme.slug, Theme.name).order_by(Theme.position, Theme.name)


def _read_themes() -> Mapping[int, ThemeRef]:
    return MappingProxyType({r[0]: ThemeRef(*r)
                             for r in db.session.connection().execute(_THEMES)})


def all_themes(fresh: bool = False) -> Mapping[int, ThemeRef]:
    """Every theme by id in display order (position, name), retired ones too: a few rows of
    reference data that each worker keeps until the next write (`fresh`: read them now)."""
    if fresh:
        return _read_themes()
    return memo("catalogue.themes", _read_themes)


@lru_cache(maxsize=4)
def _comuni_by_id(dialect_name: str):
    return select(Comune.id, Comune.slug, Comune.name, Comune.istat_code).where(
        in_list(Comune.id, "ids", dialect_name))


def comune_refs(ids) -> dict[int, ComuneRef]:
    """The Comuni `ids` (others already read in this request are remembered): one query."""
    from flask import g, has_app_context

    known = g.setdefault("catalogue_comuni", {}) if has_app_context() else {}
    missing = [i for i in set(ids) if i not in known]
    if missing:
        statement = _comuni_by_id(db.engine.dialect.name)
        for r in db.session.execute(statement, {"ids": missing}).all():
            known[r[0]] = ComuneRef(*r)
    return known


def cards(ids: list[int]) -> list[Card]:
    """Cards of the published practices `ids`, in that order."""
    if not ids:
        return []
    by_id = {r[0]: Card(r) for r in db.session.execute(_cards_by_id(db.engine.dialect.name),
                                                       {"ids": ids}).all()}
    return [by_id[i] for i in ids if i in by_id]


_BY_NAME = attrgetter("name")


def _fill(found: list[Card], also_comuni: list[int] = ()) -> None:
    """Themes and Comuni of the cards, from their facet keys: one query for the Comuni of the
    page (and `also_comuni`, e.g. those of the facet list, read in the same query)."""
    themes = [(f"t:{t.id}", t) for t in all_themes().values()]
    comune_ids = list(also_comuni)
    for card in found:
        tokens = card.facet_key.split()
        card.themes = [t for token, t in themes if token in tokens]
        card.themes_text = ", ".join([t.name for t in card.themes])
        card.comuni = [int(token[2:]) for token in tokens if token[0] == FACET_COMUNE]
        comune_ids += card.comuni
    if not comune_ids:
        return
    comuni = comune_refs(comune_ids)
    for card in found:
        card.comuni = sorted([comuni[i] for i in card.comuni if i in comuni], key=_BY_NAME)
        card.comuni_text = ", ".join([c.name for c in card.comuni])


def matching(search: Search) -> tuple[list[tuple[int, str]] | None, bool]:
    """(id, facet key) of the candidates of a search (None: every published practice or a
    single filter's, not gathered) and whether capped."""
    if search.is_text or len(search.filters) >= 2:
        return _candidates(search)
    return None, False


def matching_ids(search: Search) -> tuple[list[int] | None, bool]:
    """The candidate ids of a search (None: every published practice) and whether capped."""
    rows, capped = matching(search)
    return (None if rows is None else [r[0] for r in rows]), capped


def _top_comuni(counts: dict, search: Search) -> list[int]:
    """The Comuni the facet list will name (read with the cards' Comuni)."""
    ids = [int(v) for v, _n in counts.get(FACET_COMUNE, [])[:TOP_COMUNI - 1]]
    if search.comune and search.comune > 0:
        ids.append(search.comune)
    return ids


def run(search: Search, with_facets: bool = True) -> Result:
    """Run a search: the page of practices (as cards), the total and the facet counts.

    Whatever the size of the catalogue the work is bounded: the whole catalogue and single
    filters read stored counts; text and combined filters gather at most MAX_CANDIDATES ids.
    """
    empty = {f: [] for f in FACETS} if with_facets else {}
    if search.has_text_but_no_terms:
        return Result(search, [], 0, empty)
    filters = search.filters
    offset = (search.page - 1) * search.per_page
    params = {"limit": search.per_page, "offset": offset}
    rows, capped = matching(search)
    if rows is not None:
        total = len(rows)
        counts = _counts_of([r[1] for r in rows]) if with_facets else {}
        if not rows:
            page = []
        elif search.sort == "relevance":
            page = cards([r[0] for r in rows[offset:offset + search.per_page]])
        else:
            order = _ORDER.get(search.sort, _ORDER["newest"])
            page = [Card(r) for r in db.session.execute(
                select(*_CARD_COLUMNS).where(_ids_param(GoodPractice.id, [r[0] for r in rows]))
                .order_by(*order).limit(search.per_page).offset(offset)).all()]
    elif filters:
        (facet, value), = filters.items()
        total, everything, counts = _pair_counts(facet, value)
        counts = counts if with_facets else {}
        query = _page_query(search.sort, facet, total >= SCAN_SHARE * everything)
        page = [Card(r) for r in db.session.execute(query, {**params, "value": value}).all()]
    else:
        counts = _stored_counts()
        total = dict(counts.pop(FACET_ALL)).get("", 0)
        counts = counts if with_facets else {}
        page = [Card(r) for r in db.session.execute(_page_query(search.sort), params).all()]
    counts = _sorted(counts)
    _fill(page, _top_comuni(counts, search) if with_facets else ())
    return Result(search, page, total, counts, capped)


#: below this share of the catalogue a filter's practices are gathered then sorted; above it
#: the sort index is walked and each practice checked (a few checks find a page)
SCAN_SHARE = 0.02


# --------------------------------------------------------------------------- index upkeep


def facet_values(practice: GoodPractice) -> set[tuple[str, str]]:
    """The facet rows a published practice carries."""
    values = {(FACET_ALL, ""), (FACET_STATUS, practice.status)}
    values |= {(FACET_THEME, str(t.id)) for t in practice.themes}
    values |= {(FACET_COMUNE, str(c.id)) for c in practice.comuni}
    values |= {(FACET_KIND, p.kind) for p in practice.promoters}
    return values


def facet_key(values) -> str:
    """The facet values as stored on the practice's row: "c:12 k:comune s:attiva t:3"."""
    return " ".join(sorted(f"{f}:{v}" for f, v in values if f != FACET_ALL))


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
    db.session.flush()
    old = set(db.session.execute(
        select(PracticeFacet.facet, PracticeFacet.value)
        .where(PracticeFacet.practice_id == practice.id)).all())
    new = facet_values(practice) if practice.is_published else set()
    practice.facet_key = facet_key(new)
    old_terms = set(db.session.scalars(
        select(PracticeTerm.term).where(PracticeTerm.practice_id == practice.id)))
    terms = (analyze(practice.title, practice.summary, html_to_text(practice.body_html))
             if practice.is_published else {})
    _set_search_keys(practice, terms)
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


def _set_search_keys(practice: GoodPractice, terms) -> None:
    """PostgreSQL (whether or not its searches use them now: KEYS_DIALECTS): the practice's
    terms and facet tokens, as `_keys_word` intersects them (NULL for a draft); SQLite leaves
    the column NULL."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    practice.search_keys = ([*sorted(terms), *practice.facet_key.split()]
                            if practice.is_published else None)


#: PostgreSQL: every published practice's search_keys from its rows in practice_terms and
#: practice_facets (what _set_search_keys writes), for bulk loads that bypass `reindex`
#: (migration 0012 keeps its own copy: a migration does not import the application)
SEARCH_KEYS_FROM_INDEX = """
UPDATE good_practices AS p SET search_keys = ARRAY(
    SELECT t.term FROM practice_terms AS t WHERE t.practice_id = p.id
    UNION ALL
    SELECT f.facet || ':' || f.value FROM practice_facets AS f
     WHERE f.practice_id = p.id AND f.facet <> '*')
 WHERE p.published_at IS NOT NULL
"""


def rebuild_counts() -> None:
    """Recount facets, pairs of facets and term frequencies from the index (after a bulk load,
    or to repair drift)."""
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
    db.session.execute(update(GoodPractice).values(facet_key="", search_keys=None))
    for practice in db.session.scalars(query):
        values = facet_values(practice)
        practice.facet_key = facet_key(values)
        db.session.execute(insert(PracticeFacet), [
            {"facet": f, "value": v, "practice_id": practice.id} for f, v in values])
        terms = analyze(practice.title, practice.summary, html_to_text(practice.body_html))
        _set_search_keys(practice, terms)
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
