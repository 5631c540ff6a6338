"""The GAF's rules: membership, orders line by line, and a round's close, delivery and
settlement.

A household's order changes one line at a time, under a lock on the order's row (FOR UPDATE
on PostgreSQL, the database's write lock on SQLite) taken after the round's state and closing
time are read under a shared lock: two members of one household editing at once each change
their own line and the total is recomputed from the lines under the lock, so nothing is lost;
a close takes the round's row exclusively, so no line changes after it.

The fund's share of a round is `round half up` of total × share in basis points / 10000, to
the cent: 12345 cents at 200 bp is 246.9 → 247 cents, 12325 cents is 246.5 → 247. It is posted
with `post_contribution(..., key="gaf-round:<id>:settlement")`, so a second settlement (a
double click, a retry) posts nothing more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from portal.core.services import audit
from portal.db_setup import utcnow
from portal.extensions import db
from portal.fund.ledger import ROME, fund_for, post_contribution
from portal.gaf.models import (
    GafGroup,
    GafMember,
    GafOrder,
    GafOrderLine,
    GafProduct,
    GafRound,
    GafSupplier,
    RoundState,
)

log = logging.getLogger(__name__)

#: the most a household may commit to in a month: a thousand euro
COMMITMENT_MAX = 100_000
QUANTITY_MAX = 1000


class GafError(Exception):
    """A change the rules refuse; `field` names the form field at fault, if any."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def fund_share(total_cents: int, bp: int) -> int:
    """The fund's share of `total_cents` at `bp` basis points, rounded half up to the cent."""
    return (total_cents * bp + 5000) // 10000


# --------------------------------------------------------------------------- locks


def _lock(model, row_id: int, read: bool = False):
    """Read a row under a lock: FOR UPDATE (FOR SHARE if `read`) on PostgreSQL, the
    database's write lock on SQLite (which has no row locks)."""
    connection = db.session.connection()
    query = select(model).where(model.id == row_id)
    if connection.dialect.name == "sqlite":
        # pysqlite begins a transaction only at the first write: take the write lock now, so
        # that what is read here cannot change before our write
        if not connection.connection.dbapi_connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        query = query.with_for_update(read=read)
    return db.session.scalar(query.execution_options(populate_existing=True))


# --------------------------------------------------------------------------- membership


def membership(group_id: int, household_id: int | None) -> GafMember | None:
    if household_id is None:
        return None
    return db.session.scalar(select(GafMember).where(GafMember.group_id == group_id,
                                                     GafMember.household_id == household_id))


def _check_commitment(cents) -> int:
    if not isinstance(cents, int) or isinstance(cents, bool) or not 0 <= cents <= COMMITMENT_MAX:
        raise GafError(_("L'impegno mensile va da 0 a 1.000 euro."), "commitment")
    return cents


def join(group: GafGroup, household, commitment_cents: int = 0) -> GafMember:
    """Add a household of the group's Comune; joining twice is refused."""
    if household is None:
        raise GafError(_("Per aderire a un gruppo serve un nucleo familiare."))
    if household.comune_id != group.comune_id:
        raise GafError(_("Il gruppo è di un altro Comune: aderisci a un gruppo del tuo."))
    _check_commitment(commitment_cents)
    if membership(group.id, household.id) is not None:
        raise GafError(_("Il tuo nucleo fa già parte del gruppo."))
    member = GafMember(group_id=group.id, household_id=household.id,
                       monthly_commitment_cents=commitment_cents)
    try:
        with db.session.begin_nested():
            db.session.add(member)
            db.session.flush()
    except IntegrityError:
        raise GafError(_("Il tuo nucleo fa già parte del gruppo.")) from None
    db.session.execute(update(GafGroup).where(GafGroup.id == group.id)
                       .values(members_count=GafGroup.members_count + 1))
    log.info("household %s joined gaf group %s", household.id, group.id)
    return member


def leave(group: GafGroup, household) -> None:
    member = membership(group.id, getattr(household, "id", None))
    if member is None:
        raise GafError(_("Il tuo nucleo non fa parte del gruppo."))
    if group.coordinator_household_id == household.id:
        raise GafError(_("Il nucleo che coordina il gruppo non può lasciarlo."))
    db.session.delete(member)
    db.session.execute(update(GafGroup).where(GafGroup.id == group.id)
                       .values(members_count=GafGroup.members_count - 1))
    db.session.flush()


def set_commitment(member: GafMember, commitment_cents: int) -> None:
    member.monthly_commitment_cents = _check_commitment(commitment_cents)
    db.session.flush()


def ordered_in_month(household_id: int, group_id: int, month: date) -> int:
    """What a household ordered in the group's rounds delivered in `month` (cents)."""
    first = month.replace(day=1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return int(db.session.scalar(
        select(func.coalesce(func.sum(GafOrder.total_cents), 0))
        .join(GafRound, GafRound.id == GafOrder.round_id)
        .where(GafOrder.household_id == household_id, GafRound.group_id == group_id,
               GafRound.delivery_on >= first, GafRound.delivery_on < following)) or 0)


# --------------------------------------------------------------------------- orders


def check_quantity(product: GafProduct, quantity) -> int:
    """A quantity the product allows (0 removes the line), or GafError on `quantity`."""
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
        raise GafError(_("Indica una quantità intera, 0 o più."), "quantity")
    if quantity == 0:
        return 0
    if not product.available:
        raise GafError(_("%(name)s non è disponibile in questo giro.", name=product.name),
                       "quantity")
    if quantity < product.min_qty:
        raise GafError(_("Il minimo per %(name)s è %(n)d.", name=product.name,
                         n=product.min_qty), "quantity")
    if quantity > product.max_qty:
        raise GafError(_("Il massimo per %(name)s è %(n)d.", name=product.name,
                         n=product.max_qty), "quantity")
    if quantity % product.multiple:
        raise GafError(_("%(name)s si ordina a multipli di %(n)d.", name=product.name,
                         n=product.multiple), "quantity")
    return quantity


def is_open(round_: GafRound, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return round_.state == RoundState.OPEN and round_.opens_at <= now < round_.closes_at


def order_of(round_id: int, household_id: int) -> GafOrder | None:
    return db.session.scalar(select(GafOrder).where(GafOrder.round_id == round_id,
                                                    GafOrder.household_id == household_id))


def _order_for(round_id: int, household_id: int) -> GafOrder:
    """The household's order in the round, created on first use; two members creating it at
    once: the unique (round, household) lets one insert through, the other reads it."""
    order = order_of(round_id, household_id)
    if order is not None:
        return order
    try:
        with db.session.begin_nested():
            order = GafOrder(round_id=round_id, household_id=household_id, total_cents=0)
            db.session.add(order)
            db.session.flush()
    except IntegrityError:
        order = order_of(round_id, household_id)
        if order is None:
            raise
    return order


def set_quantity(round_id: int, household_id: int, product_id: int, quantity,
                 now: datetime | None = None) -> GafOrder:
    """Set one line of the household's order (0 removes it) while the round is open."""
    round_ = _lock(GafRound, round_id, read=True)
    if round_ is None:
        raise GafError(_("Il giro d'ordine non esiste."))
    if not is_open(round_, now):
        raise GafError(_("Il giro d'ordine è chiuso: l'ordine non si può più cambiare."),
                       "quantity")
    if membership(round_.group_id, household_id) is None:
        raise GafError(_("Il tuo nucleo non fa parte del gruppo."))
    product = db.session.get(GafProduct, product_id)
    if product is None or product.supplier.group_id != round_.group_id \
            or not product.supplier.active:
        raise GafError(_("Il prodotto non è in vendita in questo gruppo."), "quantity")
    quantity = check_quantity(product, quantity)
    order = _order_for(round_.id, household_id)
    order = _lock(GafOrder, order.id)
    line_filter = (GafOrderLine.order_id == order.id, GafOrderLine.product_id == product.id)
    if quantity == 0:
        db.session.execute(delete(GafOrderLine).where(*line_filter))
    else:
        line = db.session.scalar(select(GafOrderLine).where(*line_filter))
        if line is None:
            db.session.add(GafOrderLine(order_id=order.id, product_id=product.id,
                                        quantity=quantity, price_cents=product.price_cents))
        else:
            line.quantity, line.price_cents = quantity, product.price_cents
    db.session.flush()
    # under the order's lock: the total is what the lines say, whoever changed them
    order.total_cents = int(db.session.scalar(
        select(func.coalesce(func.sum(GafOrderLine.quantity * GafOrderLine.price_cents), 0))
        .where(GafOrderLine.order_id == order.id)))
    order.updated_at = now or utcnow()
    db.session.flush()
    return order


def quantities(order: GafOrder | None) -> dict[int, int]:
    """product id -> quantity of an order."""
    if order is None:
        return {}
    return dict(db.session.execute(select(GafOrderLine.product_id, GafOrderLine.quantity)
                                   .where(GafOrderLine.order_id == order.id)).all())


# --------------------------------------------------------------------------- rounds


def create_round(group: GafGroup, opens_at: datetime, closes_at: datetime,
                 delivery_on: date) -> GafRound:
    if closes_at <= opens_at:
        raise GafError(_("La chiusura deve venire dopo l'apertura."), "closes_at")
    if delivery_on < closes_at.astimezone(ROME).date():
        raise GafError(_("La consegna non può precedere la chiusura."), "delivery_on")
    round_ = GafRound(group_id=group.id, state=RoundState.OPEN, opens_at=opens_at,
                      closes_at=closes_at, delivery_on=delivery_on)
    db.session.add(round_)
    db.session.flush()
    audit("gaf.round_opened", round_, {"group": group.id})
    return round_


def _locked_round(round_: GafRound, expected: tuple[str, ...]) -> GafRound:
    locked = _lock(GafRound, round_.id)
    if locked.state not in expected:
        raise GafError(_("Il giro d'ordine non è nello stato giusto per questa azione."))
    return locked


def close(round_: GafRound, now: datetime | None = None) -> GafRound:
    """Close the round: no order changes after it; the round's total is fixed."""
    round_ = _locked_round(round_, (RoundState.OPEN,))
    round_.state = RoundState.CLOSED
    round_.closed_at = now or utcnow()
    # PostgreSQL sums BIGINT as NUMERIC: back to an integer of cents
    round_.total_cents = int(db.session.scalar(
        select(func.coalesce(func.sum(GafOrder.total_cents), 0))
        .where(GafOrder.round_id == round_.id)))
    db.session.flush()
    audit("gaf.round_closed", round_, {"total_cents": round_.total_cents})
    return round_


def deliver(round_: GafRound, now: datetime | None = None) -> GafRound:
    round_ = _locked_round(round_, (RoundState.CLOSED,))
    round_.state = RoundState.DELIVERED
    round_.delivered_at = now or utcnow()
    db.session.flush()
    audit("gaf.round_delivered", round_)
    return round_


def tick(round_: GafRound, order: GafOrder, delivered: bool,
         now: datetime | None = None) -> None:
    """The coordinator ticks off (or un-ticks) a household at the collection point."""
    if order.round_id != round_.id:
        raise GafError(_("L'ordine è di un altro giro."))
    if round_.state not in (RoundState.CLOSED, RoundState.DELIVERED):
        raise GafError(_("Si spuntano le consegne solo dopo la chiusura e prima del saldo."))
    order.delivered_at = (now or utcnow()) if delivered else None
    db.session.flush()


def settle(round_: GafRound, now: datetime | None = None) -> GafRound:
    """Make every household's amount final and post the fund's share, once: a round already
    settled is returned as it is, and the ledger's idempotency key backs that up."""
    locked = _lock(GafRound, round_.id)
    if locked.state == RoundState.SETTLED:
        return locked
    if locked.state != RoundState.DELIVERED:
        raise GafError(_("Si salda un giro dopo la consegna."))
    group = db.session.get(GafGroup, locked.group_id)
    total = locked.total_cents or 0
    share = fund_share(total, group.fund_share_bp)
    if share > 0:
        post_contribution(
            fund_for(group.comune_id), source="gaf", amount_cents=share,
            key=f"gaf-round:{locked.id}:settlement", ref=f"gaf-round:{locked.id}",
            # the memo is public data written once, in the portal's language
            memo=f"Quota del gruppo di acquisto {group.name}"[:300], at=now)
    locked.state = RoundState.SETTLED
    locked.fund_share_cents = share
    locked.settled_at = now or utcnow()
    db.session.execute(update(GafGroup).where(GafGroup.id == group.id)
                       .values(given_cents=GafGroup.given_cents + share))
    db.session.flush()
    audit("gaf.round_settled", locked, {"total_cents": total, "share_cents": share})
    log.info("gaf round %s settled: %s cents, %s to the fund", locked.id, total, share)
    return locked


# --------------------------------------------------------------------------- reading


@dataclass
class SupplierTotal:
    supplier: GafSupplier
    #: (product, quantity, amount in cents)
    lines: list[tuple[GafProduct, int, int]] = field(default_factory=list)

    @property
    def total_cents(self) -> int:
        return sum(amount for _p, _q, amount in self.lines)


def aggregate(round_: GafRound) -> list[SupplierTotal]:
    """What to order from each supplier: every product's quantity and amount in the round."""
    rows = db.session.execute(
        select(GafOrderLine.product_id, func.sum(GafOrderLine.quantity),
               func.sum(GafOrderLine.quantity * GafOrderLine.price_cents))
        .join(GafOrder, GafOrder.id == GafOrderLine.order_id)
        .where(GafOrder.round_id == round_.id)
        .group_by(GafOrderLine.product_id)).all()
    products = {p.id: p for p in db.session.scalars(
        select(GafProduct).where(GafProduct.id.in_([r[0] for r in rows])))}
    by_supplier: dict[int, SupplierTotal] = {}
    for product_id, quantity, amount in rows:
        product = products[product_id]
        entry = by_supplier.setdefault(product.supplier_id, SupplierTotal(product.supplier))
        entry.lines.append((product, int(quantity), int(amount)))
    result = sorted(by_supplier.values(), key=lambda s: s.supplier.name)
    for entry in result:
        entry.lines.sort(key=lambda line: line[0].name)
    return result


def bills(round_: GafRound) -> list[GafOrder]:
    """Each household's order in the round (with lines), by household name."""
    from portal.accounts.models import Household

    return list(db.session.scalars(
        select(GafOrder).join(Household, Household.id == GafOrder.household_id)
        .where(GafOrder.round_id == round_.id, GafOrder.total_cents > 0)
        .order_by(Household.name, GafOrder.id)))


def suppliers(group: GafGroup, active_only: bool = True) -> list[GafSupplier]:
    query = select(GafSupplier).where(GafSupplier.group_id == group.id)
    if active_only:
        query = query.where(GafSupplier.active.is_(True))
    return list(db.session.scalars(query.order_by(GafSupplier.name)))


def rounds(group: GafGroup, limit: int = 12) -> list[GafRound]:
    return list(db.session.scalars(select(GafRound).where(GafRound.group_id == group.id)
                                   .order_by(GafRound.id.desc()).limit(limit)))


def current_round(group: GafGroup) -> GafRound | None:
    """The newest round still open, if any."""
    return db.session.scalar(select(GafRound).where(
        GafRound.group_id == group.id, GafRound.state == RoundState.OPEN)
        .order_by(GafRound.id.desc()).limit(1))


# --------------------------------------------------------------------------- suppliers


def save_supplier(group: GafGroup, supplier: GafSupplier | None, *, name: str, town: str,
                  patto: str, active: bool = True) -> GafSupplier:
    if supplier is None:
        supplier = GafSupplier(group_id=group.id)
        db.session.add(supplier)
    supplier.name, supplier.town, supplier.patto, supplier.active = name, town, patto, active
    db.session.flush()
    audit("gaf.supplier_saved", supplier, {"group": group.id})
    return supplier


def save_product(supplier: GafSupplier, product: GafProduct | None, *, name: str, unit: str,
                 price_cents: int, min_qty: int, multiple: int, max_qty: int,
                 available: bool = True) -> GafProduct:
    if max_qty < min_qty:
        raise GafError(_("Il massimo non può essere minore del minimo."), "max_qty")
    if product is None:
        product = GafProduct(supplier_id=supplier.id)
        db.session.add(product)
    product.name, product.unit, product.price_cents = name, unit, price_cents
    product.min_qty, product.multiple, product.max_qty = min_qty, multiple, max_qty
    product.available = available
    db.session.flush()
    audit("gaf.product_saved", product, {"supplier": supplier.id})
    return product
