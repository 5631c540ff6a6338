"""Open data of the fondi solidali: /api/v1/fondi, /api/v1/fondi/<slug>(/movimenti).

The same figures as the public pages, from what the ledger keeps; movements anonymised (no
donor, no family, no description of support to a family), newest first in keyset pages.
"""

from __future__ import annotations

from flask import jsonify, request, url_for

from portal import authz
from portal.api import bp, openapi
from portal.fund import services
from portal.fund.ledger import find_fund
from portal.i18n import machine_time
from portal.web import MAX_ID, parse_int

PER_PAGE = 50
_SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"},
         "description": "Slug del Comune (per esempio seveso), o rete per il fondo della Rete."}
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}

openapi.schema("Fondo", {
    "type": "object",
    "description": "Il fondo solidale di un Comune o della Rete. Importi in centesimi di euro.",
    "properties": {
        "slug": {"type": "string"}, "nome": {"type": "string"},
        "comune": {"type": ["string", "null"], "description": "Slug del Comune; null per la "
                                                              "Rete."},
        "attivo": {"type": "boolean", "description": "false se non ha ancora movimenti."},
        "disponibile_centesimi": {"type": "integer"},
        "entrate_centesimi": {"type": "integer"}, "uscite_centesimi": {"type": "integer"},
        "entrate": {"type": "object", "additionalProperties": {"type": "integer"},
                    "description": "Entrate per provenienza (card, gaf, donation, allocation, "
                                   "campaign...)."},
        "uscite": {"type": "object", "additionalProperties": {"type": "integer"},
                   "description": "Uscite per destinazione (support, project...)."},
        "mesi": {"type": "array", "description": "Gli ultimi 12 mesi.", "items": {
            "type": "object", "properties": {
                "mese": {"type": "string", "description": "AAAA-MM"},
                "entrate_centesimi": {"type": "integer"},
                "uscite_centesimi": {"type": "integer"}}}},
        "famiglie_sostenute": {"type": ["integer", "null"],
                               "description": "null quando sono meno di 3."},
        "raccolte": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "titolo": {"type": "string"},
            "proposta": {"type": "integer"}, "obiettivo_centesimi": {"type": "integer"},
            "raccolti_centesimi": {"type": "integer"}, "donazioni": {"type": "integer"},
            "apertura": {"type": "string", "format": "date"},
            "chiusura": {"type": ["string", "null"], "format": "date"}}}},
        "url": {"type": "string"}, "api": {"type": "string"},
        "movimenti": {"type": "string"},
        "csv": {"type": "string"},
    },
})
openapi.schema("Movimento", {
    "type": "object",
    "description": "Un movimento del fondo, senza nomi.",
    "properties": {
        "id": {"type": "integer"},
        "data": {"type": "string", "format": "date-time"},
        "tipo": {"type": "string", "enum": ["contribution", "grant", "reversal"]},
        "categoria": {"type": "string"},
        "importo_centesimi": {"type": "integer",
                              "description": "Positivo in entrata, negativo in uscita."},
        "descrizione": {"type": "string"},
        "storna": {"type": ["integer", "null"]},
        "raccolta": {"type": ["integer", "null"]},
    },
})


def _fund_record(place: services.Place, detail: bool, fund=None,
                 totals: tuple[int, int, int] | None = None) -> dict:
    """A fund's record; the list gives the fund and its totals, one fund reads them."""
    summary = None
    if totals is None:
        fund = find_fund(place.comune_id)
        summary = services.summary(fund)
        totals = (summary.available_cents, summary.income_cents, summary.expense_cents)
    record = {
        "slug": place.slug, "nome": place.name,
        "comune": place.comune.slug if place.comune is not None else None,
        "attivo": fund is not None,
        "disponibile_centesimi": totals[0],
        "entrate_centesimi": totals[1], "uscite_centesimi": totals[2],
        "url": url_for("fund.index") if place.comune is None
        else url_for("fund.fund_page", slug=place.slug),
        "api": url_for("api.api_fund", slug=place.slug),
    }
    if detail and summary is not None:
        record.update({
            "entrate": dict(summary.income), "uscite": dict(summary.expense),
            "mesi": [{"mese": m["month"].strftime("%Y-%m"), "entrate_centesimi": m["in"],
                      "uscite_centesimi": m["out"]} for m in summary.months],
            "famiglie_sostenute": summary.families_shown,
            "raccolte": [{
                "id": c.id, "titolo": c.title, "proposta": c.proposal_id,
                "obiettivo_centesimi": c.target_cents, "raccolti_centesimi": c.raised_cents,
                "donazioni": c.donations, "apertura": c.opens_on.isoformat(),
                "chiusura": c.closes_on.isoformat() if c.closes_on else None,
            } for c in services.campaigns(fund)],
            "movimenti": url_for("api.api_fund_movements", slug=place.slug),
            "csv": url_for("fund.movements_csv", slug=place.slug),
        })
    return record


@bp.get("/fondi")
@authz.public
@openapi.path("/api/v1/fondi", "get", summary="I fondi solidali", tags=["fondi"],
              description="Il fondo della Rete e quello di ogni Comune che lo usa, con "
                          "disponibilità, entrate e uscite totali.",
              responses={"200": {"description": "Elenco dei fondi", "content": {
                  "application/json": {"schema": {"type": "object", "properties": {
                      "data": {"type": "array",
                               "items": {"$ref": "#/components/schemas/Fondo"}}}}}}}})
def api_funds():
    funds, _total = services.funds_overview(1, 10_000)
    totals = services.totals_by_fund()
    return jsonify({"data": [_fund_record(services.place_for(services.RETE), detail=False)] + [
        _fund_record(place, detail=False, fund=fund, totals=totals.get(fund.id, (0, 0, 0)))
        for place, fund, _balance in funds]})


def _place_or_404(slug: str):
    place = services.place_for(slug)
    if place is None:
        return None, (jsonify({"error": "not_found", "message": "Fondo non trovato."}), 404)
    return place, None


@bp.get("/fondi/<slug>")
@authz.public
@openapi.path("/api/v1/fondi/{slug}", "get", summary="Un fondo solidale", tags=["fondi"],
              description="Disponibilità, entrate e uscite per categoria e per mese, famiglie "
                          "sostenute (null sotto 3), raccolte fondi.",
              parameters=[_SLUG],
              responses={"200": {"description": "Il fondo", "content": {"application/json": {
                  "schema": {"$ref": "#/components/schemas/Fondo"}}}},
                  "404": {"description": "Comune sconosciuto", "content": _ERROR}})
def api_fund(slug: str):
    place, missing = _place_or_404(slug)
    if missing:
        return missing
    return jsonify(_fund_record(place, detail=True))


@bp.get("/fondi/<slug>/movimenti")
@authz.public
@openapi.path("/api/v1/fondi/{slug}/movimenti", "get", tags=["fondi"],
              summary="I movimenti di un fondo, senza nomi",
              description="Dal più recente, 50 per pagina; la pagina successiva è nel campo "
                          "`next` (cursore `prima`).",
              parameters=[_SLUG, {"name": "prima", "in": "query",
                                  "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
                                  "description": "Cursore della pagina successiva (campo "
                                                 "`next`)."}],
              responses={"200": {"description": "Una pagina di movimenti", "content": {
                  "application/json": {"schema": {"type": "object", "properties": {
                      "data": {"type": "array",
                               "items": {"$ref": "#/components/schemas/Movimento"}},
                      "next": {"type": ["string", "null"]}}}}}},
                  "400": {"description": "Cursore non valido", "content": _ERROR},
                  "404": {"description": "Comune sconosciuto", "content": _ERROR}})
def api_fund_movements(slug: str):
    place, missing = _place_or_404(slug)
    if missing:
        return missing
    before = None
    if "prima" in request.args:
        # every cursor of the declared grammar names a place in the list: past the last id
        # is the start of it
        before = parse_int(request.args.get("prima", ""), 0, 10**18 - 1)
        if before is None:
            return jsonify({"error": "bad_request", "message": "Cursore non valido: usa "
                            "l'indirizzo del campo next di una risposta."}), 400
        if before > MAX_ID:
            before = None
    fund = find_fund(place.comune_id)
    rows, next_id = services.movements(fund, before, PER_PAGE)
    signed = services.signed_amounts(fund, rows) if fund is not None else {}
    return jsonify({
        "data": [{
            "id": t.id, "data": machine_time(t.created_at), "tipo": t.kind,
            "categoria": t.category, "importo_centesimi": signed.get(t.id, 0),
            "descrizione": services.public_memo(t), "storna": t.reverses_id,
            "raccolta": t.campaign_id,
        } for t in rows],
        "next": url_for("api.api_fund_movements", slug=place.slug, prima=next_id)
        if next_id else None,
    })
