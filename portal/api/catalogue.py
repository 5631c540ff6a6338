"""Open data of the catalogue: /api/v1/pratiche (the same search as the page) and one practice."""

from __future__ import annotations

from flask import jsonify, request

from portal import authz
from portal.api import bp, openapi, params
from portal.api.params import Query
from portal.catalogue import search, services
from portal.catalogue.listing import (
    MAX_PAGE,
    BadSearch,
    current_args,
    facet_view,
    list_url,
    parse_search,
    practice_record,
)

MAX_PER_PAGE = 100

_FILTERS = [
    Query("q", params.text(search.MAX_QUERY_LENGTH),
          "Testo libero su titolo, temi, promotori, sintesi e descrizione (radici italiane, "
          "accenti ignorati): trova le pratiche con almeno una delle parole, prima quelle che "
          "le hanno tutte."),
    Query("tema", params.enum(lambda: [t.slug for t in search.all_themes().values()]),
          "Slug di un tema, per esempio scuola-ed-educazione."),
    Query("comune", params.enum(params.comune_slugs),
          "Slug di un Comune in cui la pratica si svolge, per esempio seveso."),
    Query("stato", {"type": "string", "enum": list(search.STATUS_VALUES)}),
    Query("promotore", {"type": "string", "enum": list(search.KIND_VALUES)},
          "Tipo di promotore."),
    Query("ordina", {"type": "string", "enum": list(search.SORTS)},
          "Ordine; predefinito: pertinenza con q, altrimenti le più recenti."),
    Query("pagina", params.integer(1, MAX_PAGE)),
    Query("per_pagina", params.integer(1, MAX_PER_PAGE, default=20)),
]

openapi.schema("Practice", {
    "type": "object",
    "properties": {
        "id": {"type": "integer"}, "slug": {"type": "string"}, "title": {"type": "string"},
        "summary": {"type": "string"},
        "status": {"type": "string", "enum": list(search.STATUS_VALUES)},
        "themes": {"type": "array", "items": {"type": "string"}},
        "comuni": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"},
            "istat_code": {"type": "string"}}}},
        "started_on": {"type": ["string", "null"], "format": "date"},
        "ended_on": {"type": ["string", "null"], "format": "date"},
        "beneficiaries": {"type": ["string", "null"]},
        "beneficiaries_count": {"type": ["integer", "null"]},
        "cost_cents": {"type": ["integer", "null"], "description": "Costo in centesimi di euro."},
        "funding_sources": {"type": ["string", "null"]},
        "adoption_count": {"type": "integer"},
        "published_at": {"type": "string", "format": "date-time"},
        "url": {"type": "string", "format": "uri"},
    },
})
openapi.schema("PracticeDetail", {
    "allOf": [{"$ref": "#/components/schemas/Practice"}, {"type": "object", "properties": {
        "body_html": {"type": "string", "description": "Descrizione, HTML già ripulito."},
        "contacts": {"type": ["string", "null"]},
        "promoters": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"},
            "kind": {"type": "string", "enum": list(search.KIND_VALUES)},
            "role": {"type": ["string", "null"]}}}},
        "indicators": {"type": "array", "items": {"$ref": "#/components/schemas/Indicator"}},
        "adoptions": {"type": "array", "items": {"type": "object", "properties": {
            "comune": {"type": "string"}, "status": {"type": "string"},
            "started_on": {"type": ["string", "null"], "format": "date"},
            "notes": {"type": ["string", "null"]},
            "indicators": {"type": "array",
                           "items": {"$ref": "#/components/schemas/Indicator"}}}}},
    }}],
})
openapi.schema("Indicator", {"type": "object", "properties": {
    "name": {"type": "string"}, "value": {"type": "number"}, "unit": {"type": ["string", "null"]},
    "measured_on": {"type": ["string", "null"], "format": "date"}}})


def _error(code: int, error: str, message: str):
    response = jsonify({"error": error, "message": message})
    response.status_code = code
    return response


@bp.get("/pratiche")
@authz.public
@openapi.path(
    "/api/v1/pratiche", "get", summary="Buone pratiche pubblicate (ricerca e filtri della pagina "
    "/pratiche)", tags=["Buone pratiche"], parameters=_FILTERS,
    responses={
        "200": {"description": "Una pagina di pratiche con il totale e i conteggi dei filtri.",
                "content": {"application/json": {"schema": {"type": "object", "properties": {
                    "data": {"type": "array", "items": {"$ref": "#/components/schemas/Practice"}},
                    "page": {"allOf": [{"$ref": "#/components/schemas/Page"}, {
                        "type": "object", "properties": {"total_is_lower_bound": {
                            "type": "boolean", "description": "Sempre falso: total conta "
                            "tutte le corrispondenze (campo mantenuto per compatibilità)."}}}]},
                    "facets": {"type": "object"}}}}}},
    })
def practices():
    per_page = params.read(request.args, _FILTERS)["per_pagina"] or 20
    raw = request.args.get("per_pagina", "")
    try:
        wanted, _chosen = parse_search(request.args, per_page=per_page)
    except BadSearch as exc:
        return _error(400, "bad_request", exc.message)
    result = search.find(wanted)
    args = current_args(request.args)
    if raw:
        args["per_pagina"] = raw
    pages = min(MAX_PAGE, max(1, -(-result.total // per_page)))

    def page_url(n: int | None) -> str | None:
        if n is None:
            return None
        url = list_url(args, "api.practices", pagina=n if n > 1 else None)
        return url + (("&" if "?" in url else "?") + f"per_pagina={raw}" if raw else "")

    facets = {f["arg"]: [{"label": o["label"], "count": o["count"]} for o in f["options"]]
              for f in facet_view(result, args)}
    return jsonify({
        "data": [practice_record(p) for p in result.items],
        "page": {"total": result.total, "total_is_lower_bound": False,
                 "page": wanted.page, "per_page": per_page,
                 "next": page_url(wanted.page + 1) if wanted.page < pages else None,
                 "prev": page_url(wanted.page - 1) if wanted.page > 1 else None},
        "facets": facets,
    })


def _indicator(i) -> dict:
    return {"name": i.name, "value": i.value, "unit": i.unit,
            "measured_on": i.measured_on.isoformat() if i.measured_on else None}


@bp.get("/pratiche/<int:practice_id>")
@authz.public
@openapi.path(
    "/api/v1/pratiche/{practice_id}", "get", summary="Una buona pratica pubblicata",
    tags=["Buone pratiche"],
    parameters=[{"name": "practice_id", "in": "path", "required": True,
                 "schema": params.integer()}],
    responses={
        "200": {"description": "La pratica, con promotori, risultati e adozioni.",
                "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/PracticeDetail"}}}},
        "404": openapi.NOT_FOUND,
    })
def practice(practice_id: int):
    # what the practice page shows, read the same way
    p = services.practice_page(practice_id=practice_id)
    if p is None or not p.is_published:
        return _error(404, "not_found", "Nessuna buona pratica pubblicata con questo id.")
    record = practice_record(p)
    record.update({
        "body_html": p.body_html, "contacts": p.contacts,
        "promoters": [{"name": x.name, "kind": x.kind, "role": x.role} for x in p.promoters],
        "indicators": [_indicator(i) for i in p.indicators],
        "adoptions": [{"comune": a.comune.name, "status": a.status,
                       "started_on": a.started_on.isoformat() if a.started_on else None,
                       "notes": a.notes, "indicators": [_indicator(i) for i in a.indicators]}
                      for a in p.adoptions],
        "page_url": record["url"],
    })
    return jsonify(record)

