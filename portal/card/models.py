"""Family Card: the household's card and its requests, the Comune's eligibility rule, the
merchants of the circuit (esercizi convenzionati), their offers and the purchases at the till.

Money is integer cents. A purchase's fund share is posted to the Comune's fund through the
ledger's service API (`portal.fund.ledger`), keyed by merchant and receipt: the unique
(merchant, receipt) pair and the ledger's idempotency key make a retried receipt one purchase
and one ledger transaction.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db_setup import UTCDateTime, utcnow
from portal.extensions import db


class CardStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    REVOKED = "revoked"


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class MerchantStatus(StrEnum):
    APPLIED = "applied"
    APPROVED = "approved"
    REFUSED = "refused"


class CardRule(db.Model):
    """A Comune's eligibility rule; a Comune without a row uses the default (one child under
    26, no ISEE ceiling)."""

    __tablename__ = "card_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    comune_id: Mapped[int] = mapped_column(ForeignKey("comuni.id", ondelete="CASCADE"),
                                           unique=True)
    min_children: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    child_max_age: Mapped[int] = mapped_column(SmallInteger, default=25, server_default="25")
    #: when set, the officer checks the declared ISEE against it (the rule cannot)
    isee_ceiling_cents: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint("min_children >= 0 AND min_children <= 20", name="min_children"),
        CheckConstraint("child_max_age >= 0 AND child_max_age <= 40", name="child_max_age"),
        CheckConstraint("isee_ceiling_cents IS NULL OR isee_ceiling_cents > 0", name="isee"),
    )


class Card(db.Model):
    """One Family Card per household (unique), valid two years, renewable."""

    __tablename__ = "cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), unique=True)
    comune_id: Mapped[int] = mapped_column(ForeignKey("comuni.id"), index=True)
    #: 14 random digits and two ISO 7064 mod 97-10 check digits
    number: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(10), default=CardStatus.ACTIVE)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_on: Mapped[date] = mapped_column(Date)
    #: moves when the card is revoked or renewed: older QR tokens stop working
    token_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    #: the holder's initials, the only thing about the family the till sees
    initials: Mapped[str] = mapped_column(String(6), default="")

    household = relationship("Household")
    comune = relationship("Comune")

    __table_args__ = (
        CheckConstraint("status in ('active','suspended','expired','revoked')", name="status"),
    )

    def __repr__(self) -> str:
        return f"<Card {self.id} {self.status}>"


class CardRequest(db.Model):
    __tablename__ = "card_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True)
    comune_id: Mapped[int] = mapped_column(ForeignKey("comuni.id"))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                   ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(10), default=RequestStatus.PENDING)
    #: the ISEE the family declares, when its Comune has a ceiling
    declared_isee_cents: Mapped[int | None] = mapped_column(BigInteger)
    #: why the rule could not decide, or why the request was refused
    note: Mapped[str | None] = mapped_column(String(500))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))

    household = relationship("Household")
    comune = relationship("Comune")

    __table_args__ = (
        CheckConstraint("status in ('pending','approved','refused')", name="status"),
        Index("ix_card_requests_comune_status", "comune_id", "status"),
    )


class Merchant(db.Model):
    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    comune_id: Mapped[int] = mapped_column(ForeignKey("comuni.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(80))
    #: partita IVA, 11 digits, checked with python-stdnum
    vat_number: Mapped[str | None] = mapped_column(String(11), unique=True)
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(30))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=MerchantStatus.APPLIED,
                                        server_default="approved")
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    applied_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    comune = relationship("Comune")
    offers: Mapped[list[Offer]] = relationship(back_populates="merchant",
                                               order_by="Offer.id")

    __table_args__ = (
        CheckConstraint("status in ('applied','approved','refused')", name="status"),
        Index("ix_merchants_status_name", "status", "name", "id"),
    )

    def __repr__(self) -> str:
        return f"<Merchant {self.name}>"


class Offer(db.Model):
    """A discount for card holders; `fund_share_bp` is the share of the amount paid that goes
    to the fund, in basis points (90 = 0.9%)."""

    __tablename__ = "card_offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"),
                                             index=True)
    title: Mapped[str] = mapped_column(String(160))
    conditions: Mapped[str | None] = mapped_column(String(500))
    #: discount in basis points of the amount before discount (500 = 5%)
    discount_bp: Mapped[int] = mapped_column(Integer)
    fund_share_bp: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)

    merchant: Mapped[Merchant] = relationship(back_populates="offers")

    __table_args__ = (
        CheckConstraint("discount_bp >= 0 AND discount_bp <= 10000", name="discount"),
        CheckConstraint("fund_share_bp >= 0 AND fund_share_bp <= 10000", name="fund_share"),
        CheckConstraint("valid_until IS NULL OR valid_until >= valid_from", name="validity"),
    )


class Purchase(db.Model):
    """A purchase at the till with a card: one per (merchant, receipt)."""

    __tablename__ = "card_purchases"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("card_offers.id",
                                                            ondelete="SET NULL"))
    receipt: Mapped[str] = mapped_column(String(40))
    #: the amount before discount, the discount, and the share posted to the fund
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    discount_cents: Mapped[int] = mapped_column(BigInteger)
    fund_share_cents: Mapped[int] = mapped_column(BigInteger)
    fund_transaction_id: Mapped[int | None] = mapped_column(ForeignKey("fund_transactions.id"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    card: Mapped[Card] = relationship()
    merchant: Mapped[Merchant] = relationship()

    __table_args__ = (
        UniqueConstraint("merchant_id", "receipt"),
        CheckConstraint("amount_cents > 0", name="amount"),
        CheckConstraint("discount_cents >= 0 AND discount_cents <= amount_cents",
                        name="discount"),
        CheckConstraint("fund_share_cents >= 0", name="fund_share"),
        Index("ix_card_purchases_merchant_created", "merchant_id", "created_at"),
        Index("ix_card_purchases_card_created", "card_id", "created_at"),
    )
