"""The tables' personal data: seats, remarks on draft minutes, what a member recorded.

A seat of a deleted account leaves the table at once: off the public members list and out
of the quorum of the meetings to come. A seat that never attended goes altogether; one with
attendance at past meetings stays ended, because those meetings' attendance and quorum are
recorded (and published in their minutes): it points to the anonymised account.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import delete, exists, update

from portal.core.personal import declare_not_personal, forget, register_personal, rows
from portal.extensions import db
from portal.tables.models import (
    Attendance,
    Meeting,
    Minutes,
    MinutesComment,
    MinutesRevision,
    ProjectUpdate,
    TableMember,
)
from portal.tables.services import today

SEAT_KEPT = (
    "A seat with attendance at past meetings stays, ended on the day of the deletion (off "
    "the members list and the quorum to come): those meetings' attendance and quorum are "
    "recorded and published; it points to the anonymised account, shown as deleted.")


def _export_seats(user) -> dict[str, Any]:
    return {"table_seats": rows(TableMember, TableMember.user_id == user.id, (
        "table_id", "role", "body_kind", "comune_id", "association_id", "title", "joined_on",
        "left_on"))}


def _remove_seats(user) -> None:
    attended = exists().where(Attendance.member_id == TableMember.id)
    db.session.execute(delete(TableMember).where(TableMember.user_id == user.id, ~attended),
                       execution_options={"synchronize_session": False})
    db.session.execute(
        update(TableMember).where(TableMember.user_id == user.id, TableMember.left_on.is_(None))
        .values(left_on=today()), execution_options={"synchronize_session": False})


def _export_minutes_comments(user) -> dict[str, Any]:
    return {"minutes_comments": rows(MinutesComment, MinutesComment.user_id == user.id,
                                     ("minutes_id", "for_revision", "body", "created_at"))}


def _delete_minutes_comments(user) -> None:
    # remarks on a draft, seen by the table only: they go
    db.session.execute(delete(MinutesComment).where(MinutesComment.user_id == user.id))


def _export_minutes(user) -> dict[str, Any]:
    approved = rows(Minutes, Minutes.approved_by_id == user.id,
                    ("meeting_id", "status", "approved_at"))
    return {"minutes_approved": approved} if approved else {}


def _forget_minutes(user) -> None:
    forget(user, Minutes.approved_by_id)


def _export_meetings(user) -> dict[str, Any]:
    created = rows(Meeting, Meeting.created_by_id == user.id,
                   ("id", "table_id", "title", "starts_at", "created_at"))
    return {"meetings_created": created} if created else {}


def _forget_meetings(user) -> None:
    forget(user, Meeting.created_by_id)


def _export_project_updates(user) -> dict[str, Any]:
    posted = rows(ProjectUpdate, ProjectUpdate.posted_by_id == user.id,
                  ("project_id", "percent", "note", "posted_by_name", "created_at"))
    return {"project_updates": posted} if posted else {}


def _forget_project_updates(user) -> None:
    # The update is the office's public account of a project: its text and the signature
    # ("name, office") stay as published; it no longer points to the account.
    forget(user, ProjectUpdate.posted_by_id)


def init_app(app: Flask) -> None:
    register_personal(app, TableMember, _export_seats, _remove_seats,
                      kept={"user_id": SEAT_KEPT})
    register_personal(app, MinutesComment, _export_minutes_comments, _delete_minutes_comments)
    register_personal(app, Minutes, _export_minutes, _forget_minutes)
    register_personal(app, Meeting, _export_meetings, _forget_meetings)
    register_personal(app, ProjectUpdate, _export_project_updates, _forget_project_updates)
    declare_not_personal(
        app, MinutesRevision,
        "published minutes are an official act, immutable (database triggers): the names of "
        "who published and approved them are officers acting in office, kept as published")
    declare_not_personal(
        app, Attendance,
        "attendance of a meeting refers to a seat, not an account (the seat is handled); the "
        "delegate is a name written by the secretary in the minutes' record, linked to no "
        "account")
