"""The Network's personal data: roles a person holds or granted, applications they decided."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import delete

from portal.core.personal import forget, register_personal, rows
from portal.extensions import db
from portal.network.models import JoinApplication, RoleAssignment


def _export_roles(user) -> dict[str, Any]:
    data = {"roles": rows(RoleAssignment, RoleAssignment.user_id == user.id,
                          ("role", "scope_type", "scope_id", "granted_at"))}
    granted = rows(RoleAssignment, RoleAssignment.granted_by_id == user.id,
                   ("role", "scope_type", "scope_id", "granted_at"))
    if granted:
        data["roles_granted"] = granted
    return data


def _delete_roles(user) -> None:
    # a deleted account holds no role; the grants it made stay, no longer naming it
    db.session.execute(delete(RoleAssignment).where(RoleAssignment.user_id == user.id))
    forget(user, RoleAssignment.granted_by_id)


def _export_applications(user) -> dict[str, Any]:
    decided = rows(JoinApplication, JoinApplication.decided_by_id == user.id,
                   ("comune_name", "status", "decided_at", "decision_note"))
    sent = rows(JoinApplication, JoinApplication.contact_email == user.email,
                ("created_at", "comune_name", "contact_name", "contact_role", "contact_email",
                 "council_act", "message", "status"))
    return {key: value for key, value in
            (("join_applications_decided", decided), ("join_applications_sent", sent)) if value}


def _forget_decisions(user) -> None:
    # An application is a Comune's official request: its contact (an office, named in the
    # council's act) stays with it; the coordinator who decided is no longer named.
    forget(user, JoinApplication.decided_by_id)


def init_app(app: Flask) -> None:
    register_personal(app, RoleAssignment, _export_roles, _delete_roles)
    register_personal(app, JoinApplication, _export_applications, _forget_decisions)
