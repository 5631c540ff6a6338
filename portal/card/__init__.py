"""Family Card: the household's card and Family Pay, the merchants of the circuit, their
offers and the purchases at the till, whose share feeds the fund (through its ledger)."""

from flask import Blueprint, Flask
from sqlalchemy import select

from portal.authz import Scope
from portal.card.models import Merchant
from portal.extensions import db
from portal.network.services import register_scope

bp = Blueprint("card", __name__)

from portal.card import personal, views  # noqa: E402,F401


def merchant_scopes(comune_ids: set[int] | None) -> list[tuple[int, str]]:
    """Merchants as scopes of roles: those of the given Comuni, or every one (None)."""
    query = select(Merchant.id, Merchant.name).order_by(Merchant.name)
    if comune_ids is not None:
        query = query.where(Merchant.comune_id.in_(comune_ids))
    return [(row.id, row.name) for row in db.session.execute(query)]


def init_app(app: Flask) -> None:
    register_scope(Scope.MERCHANT.value, merchant_scopes)
    personal.init_app(app)
