"""Open data of the Family Card circuit: /api/v1/esercenti, /api/v1/esercenti/<id>.

Only what the public directory shows: the shop's name, Comune, category, address and current
offers; never its VAT number, contacts, operators or purchases.
"""

from __future__ import annotations

from flask import jsonify, request, url_for
from sqlalchemy import select

from portal import authz
from portal.api import bp, openapi, params
from portal.api.params import Query
from portal.card import services
from portal.card.models import Merchant, MerchantStatus
from portal.extensions import db
from portal.network.models import Comune
from portal.web import MAX_PAGE

PER_PAGE = 50
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}

_FILTERS = [
    Query("comune", params.enum(params.comune_slugs),
          "Slug del Comune dell'esercizio, per esempio seveso."),
    Query("categoria", {"type": "string", "enum": list(services.CATEGORIES)}),
    Query("sconto", params.integer(0, 100),
          "Sconto minimo in percentuale di un'offerta in corso."),
    Query("pagina", params.integer(1, MAX_PAGE)),
]

openapi.schema("Esercente", {
    "type": "object",
    "description": "Un esercizio convenzionato con la Family Card e le sue offerte in corso.",
    "properties": {
        "id": {"type": "integer"}, "nome": {"type": "string"},
        "comune": {"type": "string", "description": "Slug del Comune."},
        "categoria": {"type": ["string", "null"]}, "indirizzo": {"type": ["string", "null"]},
        "sconto_massimo_percentuale": {"type": "number"},
        "riconoscimento": {"type": ["string", "null"],
                           "description": "Amico della famiglia (sconto dal 5%) o Sostenitore "
                                          "della famiglia (dal 20%)."},
        "offerte": {"type": "array", "items": {"type": "object", "properties": {
            "titolo": {"type": "string"}, "condizioni": {"type": ["string", "null"]},
            "sconto_percentuale": {"type": "number"},
            "quota_fondo_percentuale": {"type": "number"},
            "valida_dal": {"type": "string", "format": "date"},
            "valida_fino": {"type": ["string", "null"], "format": "date"}}}},
        "url": {"type": "string"},
    },
})


def _record(merchant: Merchant, slugs: dict[int, str]) -> dict:
    offers = services.current_offers(merchant.id)
    best = max((o.discount_bp for o in offers), default=0)
    return {
        "id": merchant.id, "nome": merchant.name, "comune": slugs.get(merchant.comune_id, ""),
        "categoria": merchant.category, "indirizzo": merchant.address,
        "sconto_massimo_percentuale": best / 100,
        "riconoscimento": services.badge(best),
        "offerte": [{"titolo": o.title, "condizioni": o.conditions,
                     "sconto_percentuale": o.discount_bp / 100,
                     "quota_fondo_percentuale": o.fund_share_bp / 100,
                     "valida_dal": o.valid_from.isoformat(),
                     "valida_fino": o.valid_until.isoformat() if o.valid_until else None}
                    for o in offers],
        "url": url_for("card.merchant_page", merchant_id=merchant.id),
    }


def _slugs() -> dict[int, str]:
    return dict(db.session.execute(select(Comune.id, Comune.slug)).all())


@bp.get("/esercenti")
@authz.public
@openapi.path(
    "/api/v1/esercenti", "get", summary="Esercizi convenzionati con la Family Card",
    tags=["Family Card"], parameters=_FILTERS,
    description="In ordine di nome, 50 per pagina; filtri come nella pagina /esercenti.",
    responses={"200": {"description": "Una pagina di esercizi", "content": {
        "application/json": {"schema": {"type": "object", "properties": {
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/Esercente"}},
            "next": {"type": ["string", "null"]}}}}}}})
def api_merchants():
    args = params.read(request.args, _FILTERS)
    slugs = _slugs()
    comune_id = next((i for i, s in slugs.items() if s == args["comune"]), None)
    page = args["pagina"] or 1
    rows, more = services.directory(
        comune_id=comune_id, category=args["categoria"],
        min_discount_bp=(args["sconto"] or 0) * 100, page=page, per_page=PER_PAGE)
    query = {k: request.args[k] for k in ("comune", "categoria", "sconto") if k in request.args}
    return jsonify({
        "data": [_record(m, slugs) for m, _best in rows],
        "next": url_for("api.api_merchants", pagina=page + 1, **query) if more else None,
    })


@bp.get("/esercenti/<int:merchant_id>")
@authz.public
@openapi.path(
    "/api/v1/esercenti/{merchant_id}", "get", summary="Un esercizio convenzionato",
    tags=["Family Card"],
    parameters=[{"name": "merchant_id", "in": "path", "required": True,
                 "schema": params.integer()}],
    responses={"200": {"description": "L'esercizio", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Esercente"}}}},
        "404": {"description": "Nessun esercizio convenzionato con questo id.",
                "content": _ERROR}})
def api_merchant(merchant_id: int):
    merchant = db.session.get(Merchant, merchant_id)
    if merchant is None or merchant.status != MerchantStatus.APPROVED:
        return jsonify({"error": "not_found", "message": "Esercizio non trovato."}), 404
    return jsonify(_record(merchant, _slugs()))
