"""The GAF's personal data: a household's memberships and orders, the coordinator's seat.

They belong to the household, not to one account: while other members keep their accounts
the household's memberships and orders stay. When the last member deletes the account (the
household is anonymised with them), its memberships go, its orders of rounds still open go,
and the group no longer names it as coordinator. Orders of closed rounds stay, pointing to
the anonymised household: they are the round's accounts with the suppliers and the amount
the fund's share was computed from.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import delete, select, update

from portal.accounts.personal import household_goes_with
from portal.core.personal import register_personal, rows
from portal.extensions import db
from portal.gaf.models import GafGroup, GafMember, GafOrder, GafOrderLine, GafRound, RoundState

ORDERS_KEPT = ("Orders of closed rounds are the group's accounts with its suppliers and the "
               "base of the fund's share; they point to the anonymised household.")


def _export_members(user) -> dict[str, Any]:
    if user.household_id is None:
        return {"gaf_memberships": []}
    return {"gaf_memberships": rows(GafMember, GafMember.household_id == user.household_id,
                                    ("group_id", "monthly_commitment_cents", "joined_at"))}


def _delete_members(user) -> None:
    household = household_goes_with(user)
    if household is not None:
        db.session.execute(delete(GafMember).where(GafMember.household_id == household.id))


def _export_orders(user) -> dict[str, Any]:
    if user.household_id is None:
        return {"gaf_orders": []}
    orders = rows(GafOrder, GafOrder.household_id == user.household_id,
                  ("round_id", "total_cents", "delivered_at", "updated_at"))
    lines = db.session.execute(
        select(GafOrder.round_id, GafOrderLine.product_id, GafOrderLine.quantity,
               GafOrderLine.price_cents)
        .join(GafOrder, GafOrder.id == GafOrderLine.order_id)
        .where(GafOrder.household_id == user.household_id)
        .order_by(GafOrderLine.id)).all()
    return {"gaf_orders": orders, "gaf_order_lines": [
        {"round_id": r, "product_id": p, "quantity": q, "price_cents": c}
        for r, p, q, c in lines]}


def _delete_orders(user) -> None:
    household = household_goes_with(user)
    if household is None:
        return
    still_open = select(GafRound.id).where(GafRound.state == RoundState.OPEN)
    mine = select(GafOrder.id).where(GafOrder.household_id == household.id,
                                     GafOrder.round_id.in_(still_open))
    db.session.execute(delete(GafOrderLine).where(GafOrderLine.order_id.in_(mine)))
    db.session.execute(delete(GafOrder).where(GafOrder.household_id == household.id,
                                              GafOrder.round_id.in_(still_open)))


def _export_coordination(user) -> dict[str, Any]:
    if user.household_id is None:
        return {"gaf_coordinated_groups": []}
    return {"gaf_coordinated_groups": rows(
        GafGroup, GafGroup.coordinator_household_id == user.household_id, ("name",))}


def _forget_coordination(user) -> None:
    household = household_goes_with(user)
    if household is not None:
        db.session.execute(update(GafGroup).where(
            GafGroup.coordinator_household_id == household.id).values(
            coordinator_household_id=None))


def init_app(app: Flask) -> None:
    register_personal(app, GafGroup, _export_coordination, _forget_coordination)
    register_personal(app, GafMember, _export_members, _delete_members)
    register_personal(app, GafOrder, _export_orders, _delete_orders,
                      kept={"household_id": ORDERS_KEPT})
