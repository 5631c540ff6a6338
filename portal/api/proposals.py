"""API routes of the proposals and voting modules: public proposals and round results."""

from __future__ import annotations

from flask import jsonify, request, url_for
from sqlalchemy import select

from portal import authz
from portal.api import bp, openapi, params
from portal.api.params import Query
from portal.extensions import db
from portal.proposals import services as proposals
from portal.proposals.models import PUBLIC_STATES
from portal.proposals.themes import themes as theme_catalogue
from portal.tables.models import Table
from portal.voting import services as voting
from portal.voting.models import Round

openapi.schema("ProposalSummary", {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "summary": {"type": "string"},
        "state": {"type": "string", "enum": [s.value for s in PUBLIC_STATES]},
        "comune": {"type": "string"},
        "table": {"type": "string"},
        "support_count": {"type": "integer"},
        "comment_count": {"type": "integer"},
        "estimated_cost_cents": {"type": ["integer", "null"]},
        "published_at": {"type": "string", "format": "date-time"},
        "themes": {"type": "array", "items": {"type": "string"}},
        "url": {"type": "string"},
    },
})
openapi.schema("ProposalList", {
    "type": "object",
    "properties": {
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/ProposalSummary"}},
        "next": {"type": ["string", "null"], "description": "URL of the next page (keyset)"},
        "prev": {"type": ["string", "null"]},
    },
})
openapi.schema("RoundResults", {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "table": {"type": "string"},
        "rule": {"type": "string", "enum": ["supports", "budget"]},
        "opens_at": {"type": "string", "format": "date-time"},
        "closes_at": {"type": "string", "format": "date-time"},
        "max_supports": {"type": ["integer", "null"]},
        "threshold": {"type": ["integer", "null"]},
        "budget_cents": {"type": ["integer", "null"]},
        "ballots": {"type": "integer"},
        "votes": {"type": "integer"},
        "steps": {"type": "array", "description": "The published computation, in order",
                  "items": {"type": "object"}},
        "votes_csv": {"type": "string", "description": "Pseudonymous votes, to recount"},
    },
})

#: A keyset cursor of /proposte: "<key>_<id>", the key being the publication time in
#: microseconds since 1970 (ordina=recenti) or the number of supports (ordina=sostegni).
PROPOSAL_CURSOR = "^(0|[1-9][0-9]{0,15})_[1-9][0-9]{0,8}$"
#: No proposal has this many supports: a bigger key in a cursor means "from the top".
_MAX_COUNT = 2**31 - 1

_FILTERS = [
    Query("comune", params.enum(params.comune_slugs),
          "Slug del Comune della proposta, per esempio giussano."),
    Query("tavolo", params.enum(lambda: ["intercomunale", "comunali", *params.table_slugs()]),
          "Slug di un tavolo, oppure «intercomunale» (il tavolo della Rete) o «comunali» (i "
          "tavoli dei Comuni)."),
    Query("tema", params.enum(lambda: list(theme_catalogue())), "Slug di un tema."),
    Query("stato", {"type": "string", "enum": [s.value for s in PUBLIC_STATES]}),
    Query("votazione", params.integer(), "Id di una votazione: le proposte in votazione."),
    Query("ordina", {"type": "string", "enum": list(proposals.ListFilters.SORTS)},
          "Ordine: le più recenti (predefinito) o le più sostenute."),
    params.cursor("dopo", PROPOSAL_CURSOR, "Cursore della pagina successiva: usa il campo "
                  "`next` della risposta. Opaco; un valore fuori da questa forma è un 400."),
    params.cursor("prima", PROPOSAL_CURSOR, "Cursore della pagina precedente: usa il campo "
                  "`prev` della risposta. Opaco; un valore fuori da questa forma è un 400."),
]


def _error(status: int, code: str, message: str):
    return jsonify(error=code, message=message), status


@bp.get("/proposte")
@authz.public
@openapi.path("/api/v1/proposte", "get", summary="Published proposals, newest or most supported",
              parameters=_FILTERS, tags=["proposte"],
              responses={"200": {"description": "A page of proposals", "content": {
                  "application/json": {"schema": {"$ref": "#/components/schemas/ProposalList"}}}}},
              description="Cinquanta proposte a pagina, in ordine di chiave (keyset): i campi "
                          "`next` e `prev` sono gli indirizzi delle pagine vicine.")
def proposals_list():
    wanted = params.read(request.args, _FILTERS)
    tavolo = wanted["tavolo"]
    if tavolo and tavolo not in proposals.ListFilters.LEVELS:  # a table's slug: its id
        wanted["tavolo"] = db.session.scalar(select(Table.id).where(Table.slug == tavolo))
    for name in ("dopo", "prima"):
        if wanted[name] and wanted.get("ordina") == "sostegni":
            key, _sep, ident = wanted[name].partition("_")
            wanted[name] = f"{min(int(key), _MAX_COUNT)}_{ident}"
    filters = proposals.ListFilters({k: str(v) for k, v in wanted.items() if v is not None})
    filters.resolve()
    page = proposals.search(filters, per_page=50)
    items = [{
        "id": r.id, "title": r.title, "summary": r.summary, "state": r.state,
        "comune": r.comune.name, "table": r.table.name, "support_count": r.support_count,
        "comment_count": r.comment_count, "estimated_cost_cents": r.estimated_cost_cents,
        "published_at": r.published_at.isoformat() if r.published_at else None,
        "themes": list(r.themes),
        "url": url_for("proposals.detail", proposal_id=r.id, _external=True),
    } for r in page.rows]

    def link(**cursor):
        return url_for("api.proposals_list", _external=True, **filters.query_args(**cursor))

    return jsonify(items=items,
                   next=link(dopo=page.next_cursor) if page.next_cursor else None,
                   prev=link(prima=page.prev_cursor) if page.prev_cursor else None)


@bp.get("/votazioni/<int:round_id>/risultati")
@authz.public
@openapi.path("/api/v1/votazioni/{round_id}/risultati", "get",
              summary="Results of a closed voting round, with the published computation",
              tags=["votazioni"],
              parameters=[{"name": "round_id", "in": "path", "required": True,
                           "schema": params.integer()}],
              responses={"200": {"description": "The results", "content": {
                  "application/json": {"schema": {"$ref": "#/components/schemas/RoundResults"}}}},
                  "404": {"description": "No such round, or not closed yet", "content": {
                      "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}})
def round_results(round_id: int):
    round_ = db.session.get(Round, round_id)
    if round_ is None:
        return _error(404, "not_found", "Votazione non trovata.")
    # as readers see them: stored by `flask voting close`, or computed now (a GET never writes)
    results = voting.results_of(round_)
    if results is None:
        return _error(404, "not_closed", "I risultati sono pubblicati alla chiusura.")
    return jsonify(
        id=round_.id, title=round_.title, table=round_.table.name, rule=round_.rule,
        opens_at=round_.opens_at.isoformat(), closes_at=round_.closes_at.isoformat(),
        max_supports=round_.max_supports, threshold=round_.threshold,
        budget_cents=round_.budget_cents, ballots=results.get("ballots", 0),
        votes=results.get("votes", 0), steps=results.get("steps", []),
        votes_csv=url_for("voting.votes_csv", round_id=round_.id, _external=True))
