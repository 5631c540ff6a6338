"""Open data of the tables: /api/v1/tavoli, /api/v1/sedute/<id>, /api/v1/delibere."""

from __future__ import annotations

from datetime import date

from flask import jsonify, request, url_for
from sqlalchemy import func, select, tuple_

from portal import authz
from portal.api import bp, openapi, params
from portal.api.params import Query
from portal.extensions import db
from portal.tables import services
from portal.tables.models import (
    Decision,
    Meeting,
    MeetingStatus,
    Minutes,
    Table,
    TableMember,
)

PER_PAGE = 50
OUTCOMES = ["approved", "approved_amended", "rejected", "postponed"]
#: A cursor of /delibere: "<day of the decision>_<id>", as the `next` link gives it.
DECISION_CURSOR = ("^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
                   "_[1-9][0-9]{0,8}$")
_DECISION_FILTERS = [
    Query("tavolo", params.enum(params.table_slugs),
          "Slug del tavolo, per esempio tavolo-seveso."),
    Query("esito", {"type": "string", "enum": OUTCOMES}),
    params.cursor("prima", DECISION_CURSOR, "Cursore della pagina successiva: usa il campo "
                  "`next` della risposta. Opaco; un valore fuori da questa forma è un 400."),
]
_DECISION_COLUMNS = (
    Decision.id, Table.slug, Decision.meeting_id, Decision.revision_number, Decision.position,
    Decision.title, Decision.outcome, Decision.votes_for, Decision.votes_against,
    Decision.votes_abstained, Decision.amount_cents, Decision.funding_source,
    Decision.responsible, Decision.deadline, Decision.motivation, Decision.proposal_id,
    Decision.decided_on, Decision.published_at)

openapi.schema("Tavolo", {
    "type": "object",
    "properties": {
        "slug": {"type": "string"}, "nome": {"type": "string"},
        "comune": {"type": ["string", "null"], "description": "Slug del Comune; null per il "
                                                              "tavolo intercomunale."},
        "costituito_il": {"type": ["string", "null"], "format": "date"},
        "componenti": {"type": "integer"},
        "prossima_seduta": {"type": ["string", "null"], "description": "URL API della seduta"},
        "url": {"type": "string"}, "calendario": {"type": "string"},
    },
})
openapi.schema("Delibera", {
    "type": "object",
    "properties": {
        "id": {"type": "integer"}, "tavolo": {"type": "string"},
        "seduta": {"type": "integer"}, "revisione": {"type": "integer"},
        "punto": {"type": "integer"}, "oggetto": {"type": "string"},
        "esito": {"type": "string", "enum": OUTCOMES},
        "voti": {"type": ["object", "null"], "properties": {
            "favorevoli": {"type": "integer"}, "contrari": {"type": "integer"},
            "astenuti": {"type": "integer"}}},
        "spesa_centesimi": {"type": ["integer", "null"]},
        "fonte_finanziamento": {"type": ["string", "null"]},
        "responsabile": {"type": ["string", "null"]},
        "scadenza": {"type": ["string", "null"], "format": "date"},
        "motivazione": {"type": ["string", "null"]},
        "proposta": {"type": ["integer", "null"]},
        "data": {"type": "string", "format": "date"},
        "pubblicata_il": {"type": "string", "format": "date-time"},
        "url": {"type": "string"},
    },
})
openapi.schema("Seduta", {
    "type": "object",
    "properties": {
        "id": {"type": "integer"}, "tavolo": {"type": "string"}, "titolo": {"type": "string"},
        "inizio": {"type": "string", "format": "date-time"},
        "fine": {"type": ["string", "null"], "format": "date-time"},
        "luogo": {"type": ["string", "null"]}, "collegamento": {"type": ["string", "null"]},
        "stato": {"type": "string", "enum": ["convened", "cancelled"]},
        "ordine_del_giorno": {"type": "array", "items": {"type": "object"}},
        "verbale": {"type": ["object", "null"], "description": "Revisione in vigore: numero, "
                    "impronta SHA-256, presenze e delibere; null se non pubblicato."},
        "revisioni": {"type": "array", "items": {"type": "object"}},
        "url": {"type": "string"}, "pdf": {"type": ["string", "null"]},
    },
})


def _position_of(cursor: str) -> tuple[date, int]:
    """The (day, id) a cursor names. The grammar's days run to 31 in every month: "2026-02-30"
    lies after every decision of 28 February and before any of 1 March."""
    day, _sep, ident = cursor.partition("_")
    year, month, number = (int(part) for part in day.split("-"))
    try:
        return date(year, month, number), int(ident)
    except ValueError:  # a day past the month's end; December has 31
        return date(year, month + 1, 1), 0


def _decision(d, table_slug: str, url: str) -> dict:
    """A decision's record, from a Decision or a light row with the same column names."""
    return {
        "id": d.id, "tavolo": table_slug, "seduta": d.meeting_id,
        "revisione": d.revision_number, "punto": d.position, "oggetto": d.title,
        "esito": d.outcome,
        "voti": None if d.votes_for is None else {
            "favorevoli": d.votes_for, "contrari": d.votes_against,
            "astenuti": d.votes_abstained},
        "spesa_centesimi": d.amount_cents, "fonte_finanziamento": d.funding_source,
        "responsabile": d.responsible,
        "scadenza": d.deadline.isoformat() if d.deadline else None,
        "motivazione": d.motivation, "proposta": d.proposal_id,
        "data": d.decided_on.isoformat(), "pubblicata_il": d.published_at.isoformat(),
        "url": url,
    }


@bp.get("/tavoli")
@authz.public
@openapi.path("/api/v1/tavoli", "get", summary="I tavoli della Rete",
              description="Ogni tavolo comunale e il tavolo intercomunale, con il numero dei "
                          "componenti e la prossima seduta convocata.",
              responses={"200": {"description": "Elenco dei tavoli", "content": {
                  "application/json": {"schema": {"type": "object", "properties": {
                      "data": {"type": "array",
                               "items": {"$ref": "#/components/schemas/Tavolo"}}}}}}}})
def api_tables():
    tables = services.tables_list()
    counts = dict(db.session.execute(
        select(TableMember.table_id, func.count()).where(TableMember.left_on.is_(None))
        .group_by(TableMember.table_id)).all())
    upcoming: dict[int, Meeting] = {}
    for m in services.upcoming_meetings([t.id for t in tables], limit=len(tables) * 3):
        upcoming.setdefault(m.table_id, m)
    return jsonify({"data": [{
        "slug": t.slug, "nome": t.name, "comune": t.comune.slug if t.comune else None,
        "costituito_il": t.constituted_on.isoformat() if t.constituted_on else None,
        "componenti": counts.get(t.id, 0),
        "prossima_seduta": url_for("api.api_meeting", meeting_id=upcoming[t.id].id,
                                   _external=True) if t.id in upcoming else None,
        "url": url_for("tables.table", slug=t.slug, _external=True),
        "calendario": url_for("tables.table_ics", slug=t.slug, _external=True),
    } for t in tables]})


@bp.get("/sedute/<int:meeting_id>")
@authz.public
@openapi.path("/api/v1/sedute/{id}", "get", summary="Una seduta, con il verbale in vigore",
              parameters=[{"name": "id", "in": "path", "required": True,
                           "schema": params.integer()}],
              responses={"200": {"description": "La seduta", "content": {"application/json": {
                  "schema": {"$ref": "#/components/schemas/Seduta"}}}},
                  "404": {"description": "Seduta inesistente o non ancora convocata",
                          "content": {"application/json": {
                              "schema": {"$ref": "#/components/schemas/Error"}}}}})
def api_meeting(meeting_id: int):
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None or meeting.status == MeetingStatus.DRAFT:
        return jsonify({"error": "not_found", "message": "Seduta non trovata."}), 404
    minutes = meeting.minutes
    revision = minutes.current_revision if minutes is not None else None
    verbale = None
    if revision is not None:
        content = services.content_of(revision)
        decisions = db.session.scalars(select(Decision).where(
            Decision.revision_id == revision.id).order_by(Decision.position)).all()
        verbale = {
            "revisione": revision.number, "sha256": revision.content_hash,
            "pubblicato_il": revision.published_at.isoformat(),
            "motivo_correzione": revision.reason,
            "presenti": content["quorum"]["present"], "componenti": content["quorum"]["members"],
            "numero_legale": content["quorum"]["reached"],
            "presenze": [{"nome": a["name"], "rappresenta": a["represents"],
                          "presenza": a["status"]} for a in content["attendance"]],
            "delibere": [_decision(d, d.table.slug, url_for("tables.decision", decision_id=d.id,
                                                            _external=True))
                         for d in decisions],
        }
    return jsonify({
        "id": meeting.id, "tavolo": meeting.table.slug, "titolo": meeting.title,
        "inizio": meeting.starts_at.isoformat(),
        "fine": meeting.ends_at.isoformat() if meeting.ends_at else None,
        "luogo": meeting.place, "collegamento": meeting.online_url, "stato": meeting.status,
        "ordine_del_giorno": [{"punto": i.position, "titolo": i.title,
                               "proposta": i.proposal_id} for i in meeting.items],
        "verbale": verbale,
        "revisioni": [{"numero": r.number, "sha256": r.content_hash,
                       "pubblicata_il": r.published_at.isoformat(), "motivo": r.reason,
                       "url": url_for("tables.revision", meeting_id=meeting.id, number=r.number,
                                      _external=True)}
                      for r in (services.revisions(meeting) if revision else [])],
        "url": url_for("tables.meeting", meeting_id=meeting.id, _external=True),
        "pdf": url_for("tables.minutes_pdf", meeting_id=meeting.id, _external=True)
        if revision else None,
    })


@bp.get("/delibere")
@authz.public
@openapi.path("/api/v1/delibere", "get", summary="Le delibere dei tavoli (revisione in vigore)",
              description="Dalla più recente; paginazione a cursore con `prima`.",
              parameters=_DECISION_FILTERS,
              responses={"200": {"description": "Una pagina di delibere", "content": {
                  "application/json": {"schema": {"type": "object", "properties": {
                      "data": {"type": "array",
                               "items": {"$ref": "#/components/schemas/Delibera"}},
                      "next": {"type": ["string", "null"]}}}}}}})
def api_decisions():
    wanted = params.read(request.args, _DECISION_FILTERS)
    query = (select(*_DECISION_COLUMNS)
             .join(Minutes, Minutes.current_revision_id == Decision.revision_id)
             .join(Table, Table.id == Decision.table_id))
    if wanted["tavolo"]:
        query = query.where(Table.slug == wanted["tavolo"])
    if wanted["esito"]:
        query = query.where(Decision.outcome == wanted["esito"])
    if wanted["prima"]:
        query = query.where(tuple_(Decision.decided_on, Decision.id)
                            < tuple_(*_position_of(wanted["prima"])))
    rows = db.session.execute(query.order_by(Decision.decided_on.desc(), Decision.id.desc())
                              .limit(PER_PAGE + 1)).all()
    next_url = None
    if len(rows) > PER_PAGE:
        rows = rows[:PER_PAGE]
        last = rows[-1]
        args = {k: v for k, v in request.args.items() if k != "prima"}
        next_url = url_for("api.api_decisions", prima=f"{last.decided_on.isoformat()}_{last.id}",
                           _external=True, **args)
    return jsonify({"data": [
        _decision(r, r.slug, url_for("tables.decision", decision_id=r.id, _external=True))
        for r in rows],
                    "next": next_url})
