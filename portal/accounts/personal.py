"""The account's own personal data: the account, its sessions, its household and invitations.

Registered with the core's registry (portal/core/personal.py). A household is shared: while
another member keeps an account it stays as it is (it is their data too); when the last one
leaves, its name, declared address, members and invitations go and the row stays anonymised,
because counted votes point to it.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import delete, func, select

from portal.accounts import services
from portal.accounts.models import (
    Household,
    HouseholdInvitation,
    HouseholdMember,
    LoginSession,
    User,
)
from portal.core.personal import by_person, forget, register_personal, rows
from portal.extensions import db


def household_goes_with(user: User) -> Household | None:
    """The user's household when no one else keeps an account in it: deleting the account
    anonymises it. None when the user has no household or others remain."""
    if user.household_id is None:
        return None
    others = db.session.scalar(
        select(func.count(User.id)).where(User.household_id == user.household_id,
                                          User.id != user.id, User.deleted_at.is_(None)))
    return None if others else db.session.get(Household, user.household_id)


def _export_account(user: User) -> dict[str, Any]:
    return {"account": {
        "id": user.id, "name": user.name, "email": user.email, "created_at": user.created_at,
        "email_confirmed_at": user.email_confirmed_at,
    }}


def _leave_household(user: User) -> None:
    if user.household_id is not None:
        services.leave_household(user)  # the last one out anonymises it


def _export_sessions(user: User) -> dict[str, Any]:
    return {"sessions": rows(LoginSession, LoginSession.user_id == user.id,
                             ("created_at", "ip", "user_agent"))}


def _delete_sessions(user: User) -> None:
    db.session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))


def _export_household(user: User) -> dict[str, Any]:
    household = user.household
    data: dict[str, Any] = {"household": None}
    if household is not None:
        data["household"] = {
            "id": household.id, "name": household.name, "comune": household.comune.name,
            "street": household.street, "house_number": household.house_number,
            "status": household.status, "created_at": household.created_at,
            "verified_at": household.verified_at, "review_note": household.review_note,
            "members": [{"first_name": m.first_name, "kind": m.kind,
                         "birth_year": m.birth_year, "disability": m.disability}
                        for m in household.members],
        }
    reviewed = rows(Household, Household.verified_by_id == user.id,
                    ("id", "status", "verified_at"))
    if reviewed:  # an officer: the residences they verified
        data["households_reviewed"] = reviewed
    return data


def _forget_reviews(user: User) -> None:
    # who verified stays in the audit log; the household no longer names the officer
    forget(user, Household.verified_by_id)


def _members_in_household(_user: User) -> dict[str, Any]:
    """Exported in the household's section; see `_export_household`."""
    return {}


def _members_go_with_household(_user: User) -> None:
    """The members go when the last account leaves (`services.leave_household`)."""


def _export_invitations(user: User) -> dict[str, Any]:
    return {"household_invitations": rows(
        HouseholdInvitation,
        by_person(user, HouseholdInvitation.created_by_id, HouseholdInvitation.used_by_id),
        ("household_id", "created_at", "expires_at", "used_at", "note"))}


def _delete_invitations(user: User) -> None:
    # a link the person sent and nobody used stops working; used ones stop naming them
    db.session.execute(delete(HouseholdInvitation).where(
        HouseholdInvitation.created_by_id == user.id, HouseholdInvitation.used_at.is_(None)))
    forget(user, HouseholdInvitation.created_by_id, HouseholdInvitation.used_by_id)


def init_app(app: Flask) -> None:
    # The account row itself is anonymised last, by services.delete_account.
    register_personal(app, User, _export_account, _leave_household)
    register_personal(app, LoginSession, _export_sessions, _delete_sessions)
    register_personal(app, Household, _export_household, _forget_reviews)
    register_personal(app, HouseholdMember, _members_in_household, _members_go_with_household)
    register_personal(app, HouseholdInvitation, _export_invitations, _delete_invitations)
