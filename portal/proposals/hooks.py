"""Panels and filters the proposals module adds to the rest of the portal."""

from __future__ import annotations

from flask import url_for
from flask_babel import gettext as _

from portal import authz
from portal.authz import Role
from portal.catalogue.services import register_prefill_source
from portal.core.services import register_dashboard_panel
from portal.proposals.services import (
    count_submitted_for,
    get,
    proposal_panels,
    shown_title,
    state_label,
)
from portal.proposals.themes import theme_label
from portal.web import parse_id


def _has_proposals_area(user) -> bool:
    return user.household_id is not None or bool(authz.scope_ids(user, Role.FACILITATOR))


def _moderates(user) -> bool:
    return authz.is_coordinator(user) or bool(authz.scope_ids(user, Role.MODERATOR))


def practice_from_proposal(value: str) -> dict | None:
    """A new good practice of the catalogue started from a published proposal
    (`/pratiche/nuova?proposta=<id>`): its text, themes and Comune, and a link back."""
    number = parse_id(value)
    proposal = get(number) if number else None
    if proposal is None or proposal.published_at is None or proposal.is_hidden:
        return None
    return {
        "title": proposal.title, "summary": proposal.summary, "body": proposal.body or "",
        "themes": list(proposal.themes), "comuni": [proposal.comune_id],
        "origin_label": _("Proposta n. %(id)d: %(title)s", id=proposal.id,
                          title=proposal.title)[:200],
        "origin_url": url_for("proposals.detail", proposal_id=proposal.id),
    }


def init_app(app) -> None:
    app.jinja_env.filters.setdefault("proposal_state", state_label)
    app.jinja_env.filters.setdefault("theme_label", theme_label)
    app.jinja_env.globals.setdefault("proposals_waiting", count_submitted_for)
    app.jinja_env.globals.setdefault("proposal_panels", proposal_panels)
    app.jinja_env.filters.setdefault("proposal_title", shown_title)
    register_dashboard_panel("proposals/_panel_mine.html", _has_proposals_area)
    register_dashboard_panel("proposals/_panel_queue.html", _moderates)
    register_prefill_source("proposta", practice_from_proposal)
