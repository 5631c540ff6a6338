"""Gruppi di Acquisto Familiare: groups, their member households, suppliers and products,
order rounds, each household's order and its lines.

A round moves open → closed → delivered → settled. While it is open a household's order
changes line by line (one row per product, unique); at the close the totals are fixed, at
the delivery each household is ticked off, at the settlement the fund's share of the round is
posted to the Comune's fund through the ledger, once.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db_setup import UTCDateTime, utcnow
from portal.extensions import db

#: the fund's share of a round when the group sets none: 2%, in basis points
DEFAULT_SHARE_BP = 200


class RoundState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    DELIVERED = "delivered"
    SETTLED = "settled"


class GafGroup(db.Model):
    """A purchasing group of one Comune, run by a coordinator household."""

    __tablename__ = "gaf_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    comune_id: Mapped[int] = mapped_column(ForeignKey("comuni.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    #: the household whose members coordinate the group; NULL if it left the portal
    coordinator_household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="SET NULL"), index=True)
    #: where families collect their orders (a parish hall, a school) and when it is open
    collection_point: Mapped[str] = mapped_column(String(200))
    opening_times: Mapped[str] = mapped_column(String(200))
    #: the fund's share of each settled round, in basis points (200 = 2%)
    fund_share_bp: Mapped[int] = mapped_column(Integer, default=DEFAULT_SHARE_BP,
                                               server_default=str(DEFAULT_SHARE_BP))
    #: what the group's settled rounds gave to the fund, kept by the settlement
    given_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    members_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    comune = relationship("Comune")
    coordinator_household = relationship("Household")

    __table_args__ = (
        CheckConstraint("fund_share_bp >= 0 AND fund_share_bp <= 10000", name="share"),
        CheckConstraint("given_cents >= 0", name="given"),
    )

    @property
    def share_percent(self) -> str:
        """200 -> "2", 250 -> "2,5" (Italian decimal comma)."""
        whole, rest = divmod(self.fund_share_bp, 100)
        return str(whole) if not rest else f"{whole},{rest:02d}".rstrip("0")

    def __repr__(self) -> str:
        return f"<GafGroup {self.id} {self.name}>"


class GafMember(db.Model):
    """A household in a group, with what it means to spend each month."""

    __tablename__ = "gaf_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("gaf_groups.id", ondelete="CASCADE"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"),
                                              index=True)
    #: the household's monthly commitment, in cents
    monthly_commitment_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    group: Mapped[GafGroup] = relationship()
    household = relationship("Household")

    __table_args__ = (
        UniqueConstraint("group_id", "household_id"),
        CheckConstraint("monthly_commitment_cents >= 0", name="commitment"),
    )

    def __repr__(self) -> str:
        return f"<GafMember {self.group_id}:{self.household_id}>"


class GafSupplier(db.Model):
    """A local producer or cooperative supplying a group."""

    __tablename__ = "gaf_suppliers"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("gaf_groups.id", ondelete="CASCADE"),
                                          index=True)
    name: Mapped[str] = mapped_column(String(120))
    #: the town the producer works in
    town: Mapped[str] = mapped_column(String(120), default="")
    #: what the producer commits to (local, seasonal, fair prices...): the "patto"
    patto: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    group: Mapped[GafGroup] = relationship()
    products: Mapped[list[GafProduct]] = relationship(back_populates="supplier",
                                                      order_by="GafProduct.name")

    def __repr__(self) -> str:
        return f"<GafSupplier {self.id} {self.name}>"


class GafProduct(db.Model):
    """What a supplier sells, in whole units: a household orders `min_qty` or more, in steps
    of `multiple`, up to `max_qty`."""

    __tablename__ = "gaf_products"

    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("gaf_suppliers.id", ondelete="CASCADE"),
                                             index=True)
    name: Mapped[str] = mapped_column(String(120))
    #: the unit a quantity counts ("kg", "pagnotta", "flacone 1 l")
    unit: Mapped[str] = mapped_column(String(30))
    price_cents: Mapped[int] = mapped_column(Integer)
    min_qty: Mapped[int] = mapped_column(Integer, default=1)
    multiple: Mapped[int] = mapped_column(Integer, default=1)
    max_qty: Mapped[int] = mapped_column(Integer, default=20)
    available: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")

    supplier: Mapped[GafSupplier] = relationship(back_populates="products")

    __table_args__ = (
        CheckConstraint("price_cents > 0", name="price"),
        CheckConstraint("min_qty >= 1 AND multiple >= 1 AND max_qty >= min_qty",
                        name="quantities"),
    )

    def __repr__(self) -> str:
        return f"<GafProduct {self.id} {self.name}>"


class GafRound(db.Model):
    """One order round of a group: households order between `opens_at` and `closes_at`."""

    __tablename__ = "gaf_rounds"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("gaf_groups.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(12), default=RoundState.OPEN)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivery_on: Mapped[date] = mapped_column(Date)
    #: fixed at the close: the sum of the households' orders
    total_cents: Mapped[int | None] = mapped_column(BigInteger)
    #: fixed at the settlement: round half up of total × the group's share / 10000
    fund_share_cents: Mapped[int | None] = mapped_column(BigInteger)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    group: Mapped[GafGroup] = relationship()

    __table_args__ = (
        Index("ix_gaf_rounds_group_id", "group_id", "id"),
        CheckConstraint("state in ('open', 'closed', 'delivered', 'settled')", name="state"),
        CheckConstraint("closes_at > opens_at", name="window"),
    )

    def __repr__(self) -> str:
        return f"<GafRound {self.id} {self.state}>"


class GafOrder(db.Model):
    """A household's order in a round; `total_cents` is kept by every line change."""

    __tablename__ = "gaf_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("gaf_rounds.id", ondelete="CASCADE"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"),
                                              index=True)
    total_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    #: the coordinator's tick at the collection point
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    round: Mapped[GafRound] = relationship()
    household = relationship("Household")
    lines: Mapped[list[GafOrderLine]] = relationship(back_populates="order",
                                                     order_by="GafOrderLine.id")

    __table_args__ = (
        UniqueConstraint("round_id", "household_id"),
        CheckConstraint("total_cents >= 0", name="total"),
    )

    def __repr__(self) -> str:
        return f"<GafOrder {self.id} {self.total_cents}>"


class GafOrderLine(db.Model):
    """A quantity of one product in an order, at the price it had when set."""

    __tablename__ = "gaf_order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("gaf_orders.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("gaf_products.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    price_cents: Mapped[int] = mapped_column(Integer)

    order: Mapped[GafOrder] = relationship(back_populates="lines")
    product: Mapped[GafProduct] = relationship()

    __table_args__ = (
        UniqueConstraint("order_id", "product_id"),
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("price_cents > 0", name="price"),
    )

    @property
    def amount_cents(self) -> int:
        return self.quantity * self.price_cents

    def __repr__(self) -> str:
        return f"<GafOrderLine {self.order_id}:{self.product_id} × {self.quantity}>"
