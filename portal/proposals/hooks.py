"""Panels and filters the proposals module adds to the rest of the portal."""

from __future__ import annotations

from portal import authz
from portal.authz import Role
from portal.core.services import register_dashboard_panel
from portal.proposals.services import count_submitted_for, proposal_panels, state_label
from portal.proposals.themes import theme_label


def _has_proposals_area(user) -> bool:
    return user.household_id is not None or bool(authz.scope_ids(user, Role.FACILITATOR))


def _moderates(user) -> bool:
    return authz.is_coordinator(user) or bool(authz.scope_ids(user, Role.MODERATOR))


def init_app(app) -> None:
    app.jinja_env.filters.setdefault("proposal_state", state_label)
    app.jinja_env.filters.setdefault("theme_label", theme_label)
    app.jinja_env.globals.setdefault("proposals_waiting", count_submitted_for)
    app.jinja_env.globals.setdefault("proposal_panels", proposal_panels)
    register_dashboard_panel("proposals/_panel_mine.html", _has_proposals_area)
    register_dashboard_panel("proposals/_panel_queue.html", _moderates)
