"""The last step of the loop: an implemented project becomes a good practice in the catalogue."""

from __future__ import annotations

from flask import current_app, url_for
from flask_babel import gettext as _

from portal.catalogue import services as catalogue
from portal.core.services import audit
from portal.tables.models import Project, ProjectStatus
from portal.tables.services import TablesError


def practice_data(project: Project) -> dict:
    """What the catalogue entry starts from: the proposal and the decision that approved it."""
    proposal = project.proposal
    decision = project.decision
    lines = [proposal.body or proposal.summary or "", "",
             "## " + _("Come è nata"), "",
             _("Proposta dalle famiglie (proposta n. %(n)d), approvata dal %(table)s nella "
               "seduta del %(day)s e realizzata il %(done)s.", n=proposal.id,
               table=project.table.name, day=decision.decided_on.strftime("%d/%m/%Y"),
               done=project.implemented_on.strftime("%d/%m/%Y")
               if project.implemented_on else "-")]
    for update in reversed(project.updates):
        lines.append(f"- {update.created_at:%d/%m/%Y} ({update.percent}%): {update.note}")
    data = {
        "title": project.title[:160],
        "summary": (proposal.summary or project.title)[:600],
        "body": "\n".join(lines),
        "status": "attiva",
        "started_on": project.started_on,
        "cost_cents": project.amount_cents,
        "funding_sources": decision.funding_source,
        "comuni": [project.comune_id] if project.comune_id else [],
        "owner_comune_id": project.comune_id,
        "themes": list(getattr(proposal, "themes", []) or []),
        "origin_label": _("Delibera del %(table)s del %(day)s", table=project.table.name,
                          day=decision.decided_on.strftime("%d/%m/%Y"))[:200],
        "origin_url": url_for("tables.project", project_id=project.id),
        # Who carried it out: the Comune whose table decided it and the proposal's partner
        # associations (the families who proposed it are named in the body).
        "promoters": ([{"comune_id": project.comune_id, "role": "capofila"}]
                      if project.comune_id else [])
        + [{"association_id": partner.association_id, "role": "partner"}
           for partner in proposal.partners],
    }
    return data


def start_practice(actor, project: Project) -> str:
    """Draft the catalogue entry, link it to the project, and return where to edit it."""
    if project.status != ProjectStatus.IMPLEMENTED:
        raise TablesError(_("Solo un progetto realizzato diventa una buona pratica."))
    if project.practice_id is not None:
        raise TablesError(_("Il progetto è già una buona pratica."))
    data = practice_data(project)
    try:
        practice = catalogue.create_draft(actor, data)
    except catalogue.CatalogueError:
        # Themes of proposals and of the catalogue may differ: start without them.
        data["themes"] = []
        practice = catalogue.create_draft(actor, data)
    project.practice_id = practice.id
    audit("project.practice_created", project, {"practice": practice.id}, actor=actor)
    for endpoint, args in (("catalogue.edit", {"slug": practice.slug}),
                           ("catalogue.detail", {"slug": practice.slug})):
        if endpoint in current_app.view_functions:
            try:
                return url_for(endpoint, **args)
            except Exception:  # noqa: BLE001,S112 - the catalogue's URL arguments differ
                continue
    return url_for("tables.project", project_id=project.id)
