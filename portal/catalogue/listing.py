"""Reading the catalogue list from query arguments: shared by the pages and the API."""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import quote_plus, urlencode

from flask import g, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from portal.catalogue import search, services
from portal.extensions import db
from portal.network.models import Comune
from portal.web import parse_int

#: the deepest page of results one can open; past it, the user narrows the search
MAX_PAGE = 50
PER_PAGE = 20
#: query arguments of the list, in URL order
ARGS = ("q", "tema", "comune", "stato", "promotore", "ordina", "pagina")


# --------------------------------------------------------------------------- search


class BadSearch(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _int_arg(args, name: str, default: int, low: int, high: int, message: str) -> int:
    raw = args.get(name, "")
    if raw == "":
        return default
    number = parse_int(raw, low, high)
    if number is None:
        raise BadSearch(message)
    return number


def parse_search(args, per_page: int = PER_PAGE) -> tuple[search.Search, dict]:
    """The Search asked by query arguments, and the labels of what was chosen.

    Raises BadSearch (answered with 400) for a query too long or a page that does not exist.
    """
    q = args.get("q", "")
    if "\x00" in q:
        q = q.replace("\x00", " ")
    if len(q) > search.MAX_QUERY_LENGTH:
        raise BadSearch(_("La ricerca è troppo lunga: usa al massimo %(n)d caratteri.",
                          n=search.MAX_QUERY_LENGTH))
    page = _int_arg(args, "pagina", 1, 1, MAX_PAGE,
                    _("Si possono sfogliare al massimo %(n)d pagine: affina la ricerca con i "
                      "filtri.", n=MAX_PAGE))
    chosen: dict = {}
    theme_id = comune_id = None
    if args.get("tema"):
        theme = next((t for t in search.all_themes().values() if t.slug == args["tema"]), None)
        theme_id = theme.id if theme else -1
        chosen["tema"] = theme
    if args.get("comune"):
        comune = db.session.execute(select(Comune.id, Comune.name).where(
            Comune.slug == args["comune"][:140])).first()
        comune_id = comune.id if comune else -1
        chosen["comune"] = comune
    status = (args.get("stato") or "")[:20] or None
    kind = (args.get("promotore") or "")[:20] or None
    return search.Search(q=q.strip(), theme=theme_id, comune=comune_id, status=status,
                         kind=kind, sort=args.get("ordina", ""), page=page,
                         per_page=per_page), chosen


def current_args(args) -> dict[str, str]:
    return {k: args.get(k) for k in ARGS if args.get(k)}


def list_url(args: dict, endpoint: str = "catalogue.index", **changes) -> str:
    """The list URL with some arguments changed (None removes one); page resets unless set.
    Empty arguments are left out: the same search has one address."""
    merged = {k: v for k, v in args.items() if v not in (None, "")}
    if "pagina" not in changes:
        merged.pop("pagina", None)
    for key, value in changes.items():
        if value in (None, ""):
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    ordered = {k: merged[k] for k in ARGS if k in merged}
    return url_for(endpoint) + ("?" + urlencode(ordered) if ordered else "")


class Links(NamedTuple):
    """URL prefixes of the catalogue's pages (a page appends a slug or an id)."""

    index: str
    detail: str
    comune: str
    api: str
    css: str


def links() -> Links:
    """The catalogue's URL prefixes (a page appends a slug or an id)."""
    return Links(
        index=url_for("catalogue.index"),
        detail=url_for("catalogue.detail", slug="x")[:-1],
        comune=url_for("network.comune", slug="x")[:-1],
        api=url_for("api.practice", practice_id=0)[:-1],
        css=url_for("static", filename="css/catalogue.css"))


def texts() -> dict:
    """The labels of the list in the visitor's language (read by several parts of a page:
    translated once per request)."""
    found = g.get("catalogue_texts")
    if found is not None:
        return found
    from flask_babel import format_decimal

    sample = format_decimal(1234567)
    found = g.catalogue_texts = {
        "facets": {"tema": _("Tema"), "comune": _("Comune"), "stato": _("Stato"),
                   "promotore": _("Promotori")},
        "status": {s: services.status_label(s) for s in search.STATUS_VALUES},
        "kind": {k: services.kind_label(k) for k in search.KIND_VALUES},
        "adoption": {str(k): str(v) for k, v in services.ADOPTION_LABELS.items()},
        "sort_options": [("", _("Predefinito (pertinenza se cerchi)")),
                         ("newest", _("Più recenti")), ("title", _("Titolo (A-Z)")),
                         ("adopted", _("Più adottate"))],
        "list_title": _("Buone pratiche"),
        "thousands": "" if sample[1].isdigit() else sample[1],
    }
    return found


def int_formatter():
    """An integer formatter with the locale's digit grouping."""
    sep = texts()["thousands"]
    return lambda n: str(n) if n < 1000 else f"{n:,}".replace(",", sep)


_quote = quote_plus


def facet_view(result: search.Result, args: dict) -> list[dict]:
    """Facets for the template: title, the URL arg, options with label, count, url, chosen.

    Dicts (the API reads them too); the template reads them by key, without attribute
    look-ups. The Comune facet lists the 15 most frequent values (and the chosen one)."""
    counts = result.facets
    text = texts()
    themes = {str(t.id): t for t in search.all_themes().values()}
    comune_counts = counts.get(search.FACET_COMUNE, [])
    chosen_comune = str(result.search.comune or "")
    comune_counts = comune_counts[:15] + [vc for vc in comune_counts[15:]
                                          if vc[0] == chosen_comune]
    comuni = {str(i): r for i, r in result.facet_comuni.items()}
    base = url_for("catalogue.index")
    kept = {k: v for k, v in args.items() if k != "pagina" and v not in (None, "")}
    fmt = int_formatter()

    # Each value is quoted once; a link's query string is then a join (dozens per page).
    quoted = {k: _quote(v) for k, v in kept.items()}

    def options(values, arg, labels, limit=None):
        """`labels`: value -> (label, slug), None for values not to list."""
        chosen_value = args.get(arg)
        position = ARGS.index(arg)
        before = "&".join([f"{k}={quoted[k]}" for k in ARGS[:position] if k in quoted])
        after = "&".join([f"{k}={quoted[k]}" for k in ARGS[position + 1:] if k in quoted])
        unchosen = base + ("?" + before + ("&" if before and after else "") + after
                           if before or after else "")
        prefix = base + "?" + (before + "&" if before else "") + arg + "="
        suffix = "&" + after if after else ""
        items = []
        for value, n in values:
            label = labels.get(value)
            if label is None:
                continue
            chosen = label[1] == chosen_value
            items.append({"label": label[0], "count": n, "chosen": chosen,
                          "count_text": fmt(n),
                          "url": unchosen if chosen else prefix + _quote(label[1]) + suffix})
        if limit and len(items) > limit:
            items = items[:limit] + [i for i in items[limit:] if i["chosen"]]
        return items

    titles = text["facets"]
    return [
        {"title": titles["tema"], "arg": "tema", "options": options(
            counts.get(search.FACET_THEME, []), "tema",
            {v: (t.label, t.slug) for v, t in themes.items()})},
        {"title": titles["comune"], "arg": "comune", "options": options(
            comune_counts, "comune", {v: (c.name, c.slug) for v, c in comuni.items()},
            limit=15)},
        {"title": titles["stato"], "arg": "stato", "options": options(
            counts.get(search.FACET_STATUS, []), "stato",
            {v: (label, v) for v, label in text["status"].items()})},
        {"title": titles["promotore"], "arg": "promotore", "options": options(
            counts.get(search.FACET_KIND, []), "promotore",
            {v: (label, v) for v, label in text["kind"].items()})},
    ]


class Pager:
    def __init__(self, search_: search.Search, total: int, args: dict, endpoint: str):
        self.page = search_.page
        self.pages = min(MAX_PAGE, max(1, -(-total // search_.per_page)))
        self.prev_url = (list_url(args, endpoint, pagina=self.page - 1 if self.page > 2 else None)
                         if self.page > 1 else None)
        self.next_url = (list_url(args, endpoint, pagina=self.page + 1)
                         if self.page < self.pages else None)


def practice_record(p) -> dict:
    """The open-data record of a published practice (API and CSV share it)."""
    return {
        "id": p.id, "slug": p.slug, "title": p.title, "summary": p.summary,
        "status": p.status, "themes": [t.slug for t in p.themes],  # Card or GoodPractice
        "comuni": [{"id": c.id, "name": c.name, "istat_code": c.istat_code} for c in p.comuni],
        "started_on": p.started_on.isoformat() if p.started_on else None,
        "ended_on": p.ended_on.isoformat() if p.ended_on else None,
        "beneficiaries": p.beneficiaries, "beneficiaries_count": p.beneficiaries_count,
        "cost_cents": p.cost_cents, "funding_sources": p.funding_sources,
        "adoption_count": p.adoption_count,
        "published_at": p.published_at.isoformat() if p.published_at else None,
        "url": _external_detail_base() + p.slug,
    }


def _external_detail_base() -> str:
    """The absolute URL of practice pages without the slug, built once per request."""
    from flask import g

    base = g.get("catalogue_detail_base")
    if base is None:
        base = g.catalogue_detail_base = url_for("catalogue.detail", slug="x",
                                                 _external=True)[:-1]
    return base
