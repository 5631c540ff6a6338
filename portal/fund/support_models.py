"""Support from the fondo solidale: Fattore Famiglia profiles, tariffs, applications, pacts.

A support application (domanda di sostegno) holds a family's personal data — the reason, its
members' ages, disabilities and pregnancies, its income and assets or ISEE — visible only to
the household and to the fund managers of its Comune, and dropped by the purge some time after
the application ends (`purged_at`): the amounts and the dates stay, for the fund's accounts.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
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

#: the approval of two different managers is needed above this amount, unless the Comune
#: sets another threshold
DEFAULT_DOUBLE_APPROVAL_CENTS = 50_000
#: how long the personal data of an ended application is kept, unless the Comune says
DEFAULT_PURGE_AFTER_DAYS = 365


class FattoreProfile(db.Model):
    """A version of a Comune's family weights, adopted by a decision and valid from a day.

    The profile in force on a day is the one with the latest `valid_from` not after it; a
    new decision adds a row, never edits one, so a past computation can be explained.
    Weights are hundredths of a point on the equivalence scale (20 = +0.20).
    """

    __tablename__ = "fund_fattore_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    comune_id: Mapped[int] = mapped_column(ForeignKey("comuni.id", ondelete="CASCADE"))
    valid_from: Mapped[date] = mapped_column(Date)
    #: the act that adopted the weights ("Delibera G.C. n. 45 del 3 marzo 2026")
    decision: Mapped[str] = mapped_column(String(300))
    decision_url: Mapped[str | None] = mapped_column(String(300))
    w_child_0_2: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    w_child_3_5: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    w_child_6_13: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    w_child_14_17: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    #: each member aged 18 to 25
    w_young_adult: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    w_single_parent: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    w_pregnancy: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    comune = relationship("Comune")

    __table_args__ = (
        UniqueConstraint("comune_id", "valid_from"),
        CheckConstraint(
            "w_child_0_2 BETWEEN 0 AND 300 AND w_child_3_5 BETWEEN 0 AND 300 "
            "AND w_child_6_13 BETWEEN 0 AND 300 AND w_child_14_17 BETWEEN 0 AND 300 "
            "AND w_young_adult BETWEEN 0 AND 300 AND w_single_parent BETWEEN 0 AND 300 "
            "AND w_pregnancy BETWEEN 0 AND 300", name="weights"),
    )

    def __repr__(self) -> str:
        return f"<FattoreProfile {self.comune_id} from {self.valid_from}>"


class Tariff(db.Model):
    """A service of a Comune whose fee follows the Fattore Famiglia (see fattore.fee)."""

    __tablename__ = "fund_tariffs"

    id: Mapped[int] = mapped_column(primary_key=True)
    comune_id: Mapped[int] = mapped_column(ForeignKey("comuni.id", ondelete="CASCADE"),
                                           index=True)
    name: Mapped[str] = mapped_column(String(120))
    #: what the fee is for: "al mese", "a pasto"
    unit: Mapped[str] = mapped_column(String(40), default="", server_default="")
    min_fee_cents: Mapped[int] = mapped_column(Integer)
    max_fee_cents: Mapped[int] = mapped_column(Integer)
    #: the Fattore Famiglia (cents) up to which the minimum applies
    threshold_low_cents: Mapped[int] = mapped_column(BigInteger)
    #: the Fattore Famiglia (cents) from which the maximum applies
    threshold_high_cents: Mapped[int] = mapped_column(BigInteger)
    position: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")

    __table_args__ = (
        CheckConstraint("min_fee_cents >= 0 AND max_fee_cents >= min_fee_cents", name="fees"),
        CheckConstraint("threshold_low_cents >= 0 AND threshold_high_cents > "
                        "threshold_low_cents", name="thresholds"),
    )

    def __repr__(self) -> str:
        return f"<Tariff {self.comune_id} {self.name}>"


class SupportSettings(db.Model):
    """A Comune's rules for support applications (defaults when it has no row)."""

    __tablename__ = "fund_support_settings"

    comune_id: Mapped[int] = mapped_column(ForeignKey("comuni.id", ondelete="CASCADE"),
                                           primary_key=True)
    #: above this amount granted, two different fund managers must approve
    double_approval_cents: Mapped[int] = mapped_column(
        BigInteger, default=DEFAULT_DOUBLE_APPROVAL_CENTS,
        server_default=str(DEFAULT_DOUBLE_APPROVAL_CENTS))
    #: days after an application ends before its personal data is purged
    purge_after_days: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_PURGE_AFTER_DAYS, server_default=str(DEFAULT_PURGE_AFTER_DAYS))

    __table_args__ = (
        CheckConstraint("double_approval_cents >= 0", name="double_approval"),
        CheckConstraint("purge_after_days BETWEEN 1 AND 3650", name="purge_after"),
    )


class ApplicationStatus(StrEnum):
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    PAID = "paid"
    #: the pact is completed
    CLOSED = "closed"


APPLICATION_STATUSES = tuple(s.value for s in ApplicationStatus)


class SupportApplication(db.Model):
    """A household's domanda di sostegno to the fund of its Comune."""

    __tablename__ = "fund_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    comune_id: Mapped[int] = mapped_column(ForeignKey("comuni.id"))
    #: NULL once the household is gone (the amounts stay for the accounts)
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="SET NULL"), index=True)
    #: the member who applied
    applicant_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default=ApplicationStatus.SUBMITTED,
                                        server_default="submitted")
    amount_requested_cents: Mapped[int] = mapped_column(BigInteger)
    amount_granted_cents: Mapped[int | None] = mapped_column(BigInteger)
    # ---- personal data: NULL after the purge
    reason: Mapped[str | None] = mapped_column(Text)
    #: [{"age": 34, "disability": false, "pregnant": false}, ...]
    members: Mapped[list | None] = mapped_column(JSON)
    income_cents: Mapped[int | None] = mapped_column(BigInteger)
    assets_cents: Mapped[int | None] = mapped_column(BigInteger)
    isee_cents: Mapped[int | None] = mapped_column(BigInteger)
    #: the equivalence scale with the Comune's weights, in hundredths (305 = 3.05)
    scale_hundredths: Mapped[int | None] = mapped_column(Integer)
    #: the Fattore Famiglia in cents, computed when the application was submitted
    indicator_cents: Mapped[int | None] = mapped_column(BigInteger)
    #: the manager's reason for a rejection (it speaks of the family: purged too)
    decision_note: Mapped[str | None] = mapped_column(Text)
    # ---- kept for the accounts
    profile_id: Mapped[int | None] = mapped_column(
        ForeignKey("fund_fattore_profiles.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payment_transaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("fund_transactions.id"))

    comune = relationship("Comune")
    household = relationship("Household")
    applicant = relationship("User")
    profile: Mapped[FattoreProfile | None] = relationship()
    approvals: Mapped[list[ApplicationApproval]] = relationship(
        back_populates="application", cascade="all, delete-orphan",
        order_by="ApplicationApproval.id")
    pact: Mapped[Pact | None] = relationship(back_populates="application",
                                             cascade="all, delete-orphan", uselist=False)

    __table_args__ = (
        # managers' queue: a Comune's open applications, lowest Fattore Famiglia first
        Index("ix_fund_applications_queue", "comune_id", "status", "indicator_cents"),
        CheckConstraint("status in ('submitted','under_review','approved','rejected','paid',"
                        "'closed')", name="status"),
        CheckConstraint("amount_requested_cents > 0", name="requested"),
        CheckConstraint("amount_granted_cents IS NULL OR amount_granted_cents > 0",
                        name="granted"),
    )

    @property
    def payment_key(self) -> str:
        return f"application:{self.id}:payment"

    def __repr__(self) -> str:
        return f"<SupportApplication {self.id} {self.status}>"


class ApplicationApproval(db.Model):
    """One fund manager's approval; a manager approves an application at most once."""

    __tablename__ = "fund_application_approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("fund_applications.id", ondelete="CASCADE"))
    #: NULL once the manager's account is deleted (the approval still counted)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    application: Mapped[SupportApplication] = relationship(back_populates="approvals")
    manager = relationship("User")

    __table_args__ = (UniqueConstraint("application_id", "manager_id"),)


class PactKind(StrEnum):
    LAB_HOURS = "lab_hours"
    SKILL = "skill"
    HELP_FAMILY = "help_family"
    OTHER = "other"


class PactStatus(StrEnum):
    PROPOSED = "proposed"
    AGREED = "agreed"
    COMPLETED = "completed"


class Pact(db.Model):
    """The Patto Gener-Attivo: what the supported family gives back to the community."""

    __tablename__ = "fund_pacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("fund_applications.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    #: what the family does (purged with the application's personal data)
    description: Mapped[str | None] = mapped_column(Text)
    #: hours promised (laboratorio di comunità, help), when counted in hours
    hours: Mapped[int | None] = mapped_column(SmallInteger)
    hours_done: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(12), default=PactStatus.PROPOSED,
                                        server_default="proposed")
    due_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    application: Mapped[SupportApplication] = relationship(back_populates="pact")

    __table_args__ = (
        CheckConstraint("kind in ('lab_hours','skill','help_family','other')", name="kind"),
        CheckConstraint("status in ('proposed','agreed','completed')", name="status"),
        CheckConstraint("hours IS NULL OR hours BETWEEN 1 AND 1000", name="hours"),
        CheckConstraint("hours_done BETWEEN 0 AND 1000", name="hours_done"),
    )
