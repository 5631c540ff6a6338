"""The fondi solidali: a double-entry ledger per Comune and one for the Rete.

A fund has accounts: `available` (the money the fund can give), one `income` account per
source of money in (card, gaf, donation, allocation, campaign...) and one `expense` account per
category of money out (support...). A transaction moves money with entries whose amounts sum
to zero: a contribution credits an income account (negative) and debits the available account
(positive); a grant credits the available account and debits an expense account. So the
available balance is the money held, an income account's balance is minus what came in from
its source, an expense account's what went out for its category.

Transactions and entries are never updated or deleted (triggers in migration 0018 on
PostgreSQL and SQLite, and the ORM refuses too): a correction is a reversing transaction.
Account balances and the monthly totals are kept by the ledger's own writes in the same
database transaction, so that pages read a handful of rows, never every entry;
`portal.fund.ledger.check()` recomputes them all from the entries.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db_setup import UTCDateTime, utcnow
from portal.extensions import db

#: the account kinds; `available` is the one that may never go negative
ACCOUNT_KINDS = ("available", "income", "expense")
TRANSACTION_KINDS = ("contribution", "grant", "reversal")
DIRECTIONS = ("in", "out")


class Fund(db.Model):
    """The fondo solidale of a Comune, or the Rete's own (comune_id NULL, scope_id 0)."""

    __tablename__ = "funds"

    id: Mapped[int] = mapped_column(primary_key=True)
    comune_id: Mapped[int | None] = mapped_column(ForeignKey("comuni.id"))
    #: the Comune's id, or 0 for the Rete: unique, so there is one fund per Comune and one
    #: for the Rete (a unique index would let several NULLs through)
    scope_id: Mapped[int] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    comune = relationship("Comune")

    __table_args__ = (
        CheckConstraint("(comune_id IS NULL AND scope_id = 0) OR scope_id = comune_id",
                        name="scope"),
    )

    def __repr__(self) -> str:
        return f"<Fund {self.id} scope {self.scope_id}>"


class FundAccount(db.Model):
    """One account of a fund; `balance_cents` is kept by every entry posted to it."""

    __tablename__ = "fund_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"))
    kind: Mapped[str] = mapped_column(String(16))
    #: the source (income) or category (expense); empty for the available account
    category: Mapped[str] = mapped_column(String(40), default="")
    #: the sum of the account's entries, kept by the ledger's writes
    balance_cents: Mapped[int] = mapped_column(BigInteger, default=0)

    fund: Mapped[Fund] = relationship()

    __table_args__ = (
        UniqueConstraint("fund_id", "kind", "category"),
        CheckConstraint("kind in ('available', 'income', 'expense')", name="kind"),
        # the money held never goes negative; income is credited, expense debited
        CheckConstraint("kind <> 'available' OR balance_cents >= 0", name="available"),
        CheckConstraint("kind <> 'income' OR balance_cents <= 0", name="income"),
        CheckConstraint("kind <> 'expense' OR balance_cents >= 0", name="expense"),
    )

    def __repr__(self) -> str:
        return f"<FundAccount {self.id} {self.kind}:{self.category} {self.balance_cents}>"


class FundCampaign(db.Model):
    """A fundraising campaign (raccolta fondi) for an approved project of the fund's Comune."""

    __tablename__ = "fund_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"), index=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    title: Mapped[str] = mapped_column(String(160))
    description: Mapped[str | None] = mapped_column(Text)
    target_cents: Mapped[int] = mapped_column(BigInteger)
    #: donations linked to the campaign, net of reversals: kept by the ledger's writes
    raised_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    donations: Mapped[int] = mapped_column(Integer, default=0)
    opens_on: Mapped[date] = mapped_column(Date)
    closes_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    fund: Mapped[Fund] = relationship()
    proposal = relationship("Proposal")

    __table_args__ = (
        CheckConstraint("target_cents > 0", name="target"),
        CheckConstraint("raised_cents >= 0", name="raised"),
    )

    @property
    def percent(self) -> int:
        """How far towards the target, 0..100 (the bar never overflows)."""
        return max(0, min(100, self.raised_cents * 100 // self.target_cents))

    def __repr__(self) -> str:
        return f"<FundCampaign {self.id} {self.raised_cents}/{self.target_cents}>"


class FundTransaction(db.Model):
    """One movement of money, immutable; a correction is a reversing transaction."""

    __tablename__ = "fund_transactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"))
    #: the idempotency key the writer chose: the same key again returns this transaction
    key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    #: income source (contribution) or expense category (grant); a reversal copies its own
    category: Mapped[str] = mapped_column(String(40))
    #: always positive; the entries say which way it went
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    memo: Mapped[str] = mapped_column(String(300), default="")
    #: what the money is about in the module that posted it ("purchase:12", "application:3")
    ref: Mapped[str | None] = mapped_column(String(120))
    #: the transaction this one reverses; unique: a transaction is reversed at most once
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("fund_transactions.id"),
                                                    unique=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("fund_campaigns.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the first day of the month (Europe/Rome) the transaction counts in
    month: Mapped[date] = mapped_column(Date)
    #: sha-256 of the content the key stands for: a retry with other content is refused
    content_hash: Mapped[str] = mapped_column(String(64))

    fund: Mapped[Fund] = relationship()
    entries: Mapped[list[FundEntry]] = relationship(back_populates="transaction",
                                                    order_by="FundEntry.id")
    reverses: Mapped[FundTransaction | None] = relationship(remote_side=[id])
    campaign: Mapped[FundCampaign | None] = relationship()

    __table_args__ = (
        # the movements of a fund, newest first, in keyset pages
        Index("ix_fund_transactions_fund_id", "fund_id", "id"),
        Index("ix_fund_transactions_campaign", "campaign_id", "id"),
        CheckConstraint("kind in ('contribution', 'grant', 'reversal')", name="kind"),
        CheckConstraint("amount_cents > 0", name="amount"),
        CheckConstraint("(kind = 'reversal') = (reverses_id IS NOT NULL)", name="reverses"),
    )

    def __repr__(self) -> str:
        return f"<FundTransaction {self.id} {self.kind} {self.amount_cents}>"


class FundEntry(db.Model):
    """One side of a transaction on one account; signed cents, never zero."""

    __tablename__ = "fund_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("fund_transactions.id"),
                                                index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("fund_accounts.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)

    transaction: Mapped[FundTransaction] = relationship(back_populates="entries")
    account: Mapped[FundAccount] = relationship()

    __table_args__ = (CheckConstraint("amount_cents <> 0", name="amount"),)

    def __repr__(self) -> str:
        return f"<FundEntry {self.id} {self.account_id} {self.amount_cents}>"


class FundMonthly(db.Model):
    """Money in or out of a fund in a month and category, kept by the ledger's writes.

    `amount_cents` is the net of the month (a reversal booked in a later month counts there,
    negative); `movements` counts transactions, a reversal counting -1.
    """

    __tablename__ = "fund_monthly"

    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    direction: Mapped[str] = mapped_column(String(3), primary_key=True)
    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    movements: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (CheckConstraint("direction in ('in', 'out')", name="direction"),)

    def __repr__(self) -> str:
        return f"<FundMonthly {self.fund_id} {self.month} {self.direction}:{self.category}>"


class FundDonation(db.Model):
    """Who gave a donation, if the donor wished to be named: kept beside the immutable
    transaction so that the name can be erased on request."""

    __tablename__ = "fund_donations"

    transaction_id: Mapped[int] = mapped_column(ForeignKey("fund_transactions.id"),
                                                primary_key=True)
    #: as the fund manager typed it; NULL for an anonymous donor
    donor_name: Mapped[str | None] = mapped_column(String(160))

    def __repr__(self) -> str:
        return f"<FundDonation {self.transaction_id}>"


@event.listens_for(FundTransaction, "before_update")
@event.listens_for(FundTransaction, "before_delete")
@event.listens_for(FundEntry, "before_update")
@event.listens_for(FundEntry, "before_delete")
def _immutable(_mapper, _connection, target):
    from portal.fund.ledger import LedgerError

    raise LedgerError(f"{type(target).__name__} is immutable: post a reversal instead")
