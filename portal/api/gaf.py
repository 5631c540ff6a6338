"""Open data of the Gruppi di Acquisto Familiare: /api/v1/gaf, /api/v1/gaf/<id>.

What the public pages show: each group's Comune, collection point, number of families and
what it gave to the fund; its active suppliers with their patto and products. Never who the
member households are, nor their orders.
"""

from __future__ import annotations

from flask import jsonify, request, url_for
from sqlalchemy import select

from portal import authz
from portal.api import bp, openapi, params
from portal.api.params import Query
from portal.extensions import db
from portal.gaf import services
from portal.gaf.models import GafGroup
from portal.network.models import Comune

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_FILTERS = [Query("comune", params.enum(params.comune_slugs),
                  "Slug del Comune del gruppo, per esempio seveso.")]

openapi.schema("GruppoAcquisto", {
    "type": "object",
    "description": "Un gruppo di acquisto familiare. Importi in centesimi di euro.",
    "properties": {
        "id": {"type": "integer"}, "nome": {"type": "string"},
        "comune": {"type": "string", "description": "Slug del Comune."},
        "punto_di_raccolta": {"type": "string"}, "orari": {"type": "string"},
        "famiglie": {"type": "integer"},
        "quota_fondo_percentuale": {"type": "number"},
        "dato_al_fondo_centesimi": {"type": "integer"},
        "url": {"type": "string"}, "api": {"type": "string"},
        "fornitori": {"type": "array", "description": "Solo nel dettaglio di un gruppo.",
                      "items": {"$ref": "#/components/schemas/FornitoreGaf"}},
    },
})
openapi.schema("FornitoreGaf", {
    "type": "object",
    "description": "Un produttore locale del gruppo, il suo patto e i suoi prodotti.",
    "properties": {
        "id": {"type": "integer"}, "nome": {"type": "string"}, "comune": {"type": "string"},
        "patto": {"type": "string"},
        "prodotti": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "nome": {"type": "string"}, "unita": {"type": "string"},
            "prezzo_centesimi": {"type": "integer"}, "minimo": {"type": "integer"},
            "multiplo": {"type": "integer"}, "massimo": {"type": "integer"},
            "disponibile": {"type": "boolean"}}}},
    },
})


def _record(group: GafGroup, slug: str, detail: bool) -> dict:
    record = {
        "id": group.id, "nome": group.name, "comune": slug,
        "punto_di_raccolta": group.collection_point, "orari": group.opening_times,
        "famiglie": group.members_count, "quota_fondo_percentuale": group.fund_share_bp / 100,
        "dato_al_fondo_centesimi": group.given_cents,
        "url": url_for("gaf.group", group_id=group.id),
        "api": url_for("api.api_gaf_group", group_id=group.id),
    }
    if detail:
        record["fornitori"] = [{
            "id": s.id, "nome": s.name, "comune": s.town, "patto": s.patto,
            "prodotti": [{"id": p.id, "nome": p.name, "unita": p.unit,
                          "prezzo_centesimi": p.price_cents, "minimo": p.min_qty,
                          "multiplo": p.multiple, "massimo": p.max_qty,
                          "disponibile": p.available} for p in s.products],
        } for s in services.suppliers(group)]
    return record


@bp.get("/gaf")
@authz.public
@openapi.path(
    "/api/v1/gaf", "get", summary="Gruppi di acquisto familiare", tags=["gruppi di acquisto"],
    parameters=_FILTERS, description="Per Comune e nome; i fornitori nel dettaglio di ognuno.",
    responses={"200": {"description": "Elenco dei gruppi", "content": {
        "application/json": {"schema": {"type": "object", "properties": {
            "data": {"type": "array",
                     "items": {"$ref": "#/components/schemas/GruppoAcquisto"}}}}}}}})
def api_gaf_groups():
    args = params.read(request.args, _FILTERS)
    query = (select(GafGroup, Comune.slug).join(Comune, Comune.id == GafGroup.comune_id)
             .order_by(Comune.name, GafGroup.name))
    if args["comune"]:
        query = query.where(Comune.slug == args["comune"])
    return jsonify({"data": [_record(g, slug, detail=False)
                             for g, slug in db.session.execute(query).all()]})


@bp.get("/gaf/<int:group_id>")
@authz.public
@openapi.path(
    "/api/v1/gaf/{group_id}", "get", summary="Un gruppo di acquisto, i fornitori e i prodotti",
    tags=["gruppi di acquisto"],
    parameters=[{"name": "group_id", "in": "path", "required": True,
                 "schema": params.integer()}],
    responses={"200": {"description": "Il gruppo", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/GruppoAcquisto"}}}},
        "404": {"description": "Nessun gruppo con questo id.", "content": _ERROR}})
def api_gaf_group(group_id: int):
    group = db.session.get(GafGroup, group_id)
    if group is None:
        return jsonify({"error": "not_found", "message": "Gruppo non trovato."}), 404
    slug = db.session.scalar(select(Comune.slug).where(Comune.id == group.comune_id))
    return jsonify(_record(group, slug, detail=True))
