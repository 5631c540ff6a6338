"""The card's personal data: a household's card, its requests and purchases; who applied for
a shop or worked its till.

A card and its requests are the household's. When the last member with an account deletes
it, the requests go, and the card is revoked and loses the holder's initials: it stays,
pointing to the anonymised household, so that the merchants' statements and the fund's shares
keep their purchases, which name no person. An operator who deletes the account stops being
named on the purchases they recorded; an applicant stops being named on the shop's
application (the shop's own address and contact are the business's, shown in the directory).
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import delete, select, update

from portal.accounts.models import User
from portal.card.models import Card, CardRequest, CardStatus, Merchant, Purchase
from portal.core.personal import forget, register_personal, rows
from portal.extensions import db

CARD_KEPT = ("A deleted household's card stays revoked and without initials, pointing to the "
             "anonymised household row: the merchants' statements keep its purchases, which "
             "name no person.")


def _last_member(user) -> bool:
    if user.household_id is None:
        return False
    other = db.session.scalar(select(User.id).where(
        User.household_id == user.household_id, User.id != user.id,
        User.deleted_at.is_(None)).limit(1))
    return other is None


def _export_card(user) -> dict[str, Any]:
    if user.household_id is None:
        return {}
    data = rows(Card, Card.household_id == user.household_id,
                ("number", "status", "issued_at", "expires_on", "initials"))
    purchases = rows(Purchase, Purchase.card_id.in_(
        select(Card.id).where(Card.household_id == user.household_id)),
        ("merchant_id", "receipt", "amount_cents", "discount_cents", "fund_share_cents",
         "created_at", "cancelled_at"))
    return {"family_card": data, "family_card_purchases": purchases} if data else {}


def _delete_card(user) -> None:
    if _last_member(user):
        db.session.execute(update(Card).where(Card.household_id == user.household_id).values(
            status=CardStatus.REVOKED, initials="", token_version=Card.token_version + 1),
            execution_options={"synchronize_session": False})


def _export_requests(user) -> dict[str, Any]:
    if user.household_id is None:
        return {}
    data = rows(CardRequest, CardRequest.household_id == user.household_id,
                ("created_at", "status", "declared_isee_cents", "note", "decided_at"))
    return {"family_card_requests": data} if data else {}


def _delete_requests(user) -> None:
    if _last_member(user):
        db.session.execute(delete(CardRequest).where(
            CardRequest.household_id == user.household_id),
            execution_options={"synchronize_session": False})
    forget(user, CardRequest.requested_by_id, CardRequest.decided_by_id)


def _export_merchants(user) -> dict[str, Any]:
    data = rows(Merchant, Merchant.applied_by_id == user.id,
                ("name", "vat_number", "address", "contact_email", "contact_phone", "status"))
    return {"merchant_applications": data} if data else {}


def _export_till(user) -> dict[str, Any]:
    data = rows(Purchase, Purchase.operator_id == user.id,
                ("merchant_id", "receipt", "amount_cents", "created_at"))
    return {"till_purchases_recorded": data} if data else {}


def init_app(app: Flask) -> None:
    register_personal(app, Card, _export_card, _delete_card,
                      kept={"household_id": CARD_KEPT})
    register_personal(app, CardRequest, _export_requests, _delete_requests)
    register_personal(app, Merchant, _export_merchants,
                      lambda user: forget(user, Merchant.applied_by_id))
    register_personal(app, Purchase, _export_till,
                      lambda user: forget(user, Purchase.operator_id))
