"""Reading the catalogue list from query arguments: shared by the pages and the API."""

from __future__ import annotations

from urllib.parse import quote_plus, urlencode

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select

from portal.catalogue import search, services
from portal.extensions import db
from portal.network.models import Comune

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
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadSearch(message)
    return int(raw)


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
    """The list URL with some arguments changed (None removes one); page resets unless set."""
    merged = dict(args)
    if "pagina" not in changes:
        merged.pop("pagina", None)
    for key, value in changes.items():
        if value in (None, ""):
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    ordered = {k: merged[k] for k in ARGS if k in merged}
    return url_for(endpoint) + ("?" + urlencode(ordered) if ordered else "")


def int_formatter():
    """A fast integer formatter with the locale's digit grouping (Babel once, not per number)."""
    from flask_babel import format_decimal

    sample = format_decimal(1234567)
    sep = "" if sample[1].isdigit() else sample[1]
    return lambda n: f"{n:,}".replace(",", sep)


def facet_view(result: search.Result, args: dict) -> list[dict]:
    """Facets for the template: title, the URL arg, options with label, count, url, chosen."""
    counts = result.facets
    themes = {str(t.id): t for t in search.all_themes().values()}
    comune_ids = [int(v) for v, _n in counts.get(search.FACET_COMUNE, [])[:15]]
    if result.search.comune and result.search.comune > 0:
        comune_ids.append(result.search.comune)
    comuni = {str(r.id): r for r in db.session.execute(
        select(Comune.id, Comune.slug, Comune.name).where(Comune.id.in_(comune_ids or [-1])))}
    base = url_for("catalogue.index")
    kept = {k: v for k, v in args.items() if k != "pagina"}
    fmt = int_formatter()

    # Each value is quoted once; a link's query string is then a join (dozens per page).
    quoted = {k: quote_plus(v) for k, v in kept.items()}

    def options(facet, arg, label_of, slug_of, limit=None):
        chosen_value = args.get(arg)
        position = ARGS.index(arg)
        before = [f"{k}={quoted[k]}" for k in ARGS[:position] if k in quoted]
        after = [f"{k}={quoted[k]}" for k in ARGS[position + 1:] if k in quoted]
        items = []
        for value, n in counts.get(facet, []):
            label, slug = label_of(value), slug_of(value)
            if label is None:
                continue
            chosen = slug == chosen_value
            parts = [*before, *after] if chosen else [*before, f"{arg}={quote_plus(slug)}",
                                                      *after]
            items.append({"label": label, "count": n, "count_text": fmt(n), "chosen": chosen,
                          "url": base + ("?" + "&".join(parts) if parts else "")})
        if limit and len(items) > limit:
            items = items[:limit] + [i for i in items[limit:] if i["chosen"]]
        return items

    status_labels = {s: services.status_label(s) for s in search.STATUS_VALUES}
    kind_labels = {k: services.kind_label(k) for k in search.KIND_VALUES}
    return [
        {"title": _("Tema"), "arg": "tema", "options": options(
            search.FACET_THEME, "tema", lambda v: themes[v].name if v in themes else None,
            lambda v: themes[v].slug if v in themes else None)},
        {"title": _("Comune"), "arg": "comune", "options": options(
            search.FACET_COMUNE, "comune", lambda v: comuni[v].name if v in comuni else None,
            lambda v: comuni[v].slug if v in comuni else None, limit=15)},
        {"title": _("Stato"), "arg": "stato", "options": options(
            search.FACET_STATUS, "stato", status_labels.get, lambda v: v)},
        {"title": _("Promotori"), "arg": "promotore", "options": options(
            search.FACET_KIND, "promotore", kind_labels.get, lambda v: v)},
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
        "url": url_for("catalogue.detail", slug=p.slug, _external=True),
    }
