"""Voting rounds of a table, the proposals in them and the households' votes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
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


class RoundRule(StrEnum):
    #: each household supports up to `max_supports` proposals; `threshold` supports select one
    SUPPORTS = "supports"
    #: participatory budget: each ballot fits `budget_cents`; winners by approvals within it
    BUDGET = "budget"


class Round(db.Model):
    """A voting round of a table, open between `opens_at` and `closes_at` (UTC)."""

    __tablename__ = "voting_rounds"

    id: Mapped[int] = mapped_column(primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(160))
    description: Mapped[str | None] = mapped_column(Text)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: frozen once the round opens (the service refuses changes)
    rule: Mapped[str] = mapped_column(String(10))
    #: supports rule: how many proposals one household may support
    max_supports: Mapped[int | None] = mapped_column(Integer)
    #: supports rule: supports needed for a proposal to be selected
    threshold: Mapped[int | None] = mapped_column(Integer)
    #: budget rule: the money available, which is also the limit of each ballot
    budget_cents: Mapped[int | None] = mapped_column(BigInteger)
    #: secret of the round's pseudonymous household hashes (never published)
    salt: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: set once, when the results were computed after the close
    results_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the published computation (steps of the budget allocation, totals)
    results: Mapped[dict | None] = mapped_column(JSON)
    #: votes cast in the round (denormalised, same transaction as the votes)
    ballot_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    table = relationship("Table")
    entries: Mapped[list[RoundEntry]] = relationship(
        back_populates="round", cascade="all, delete-orphan", passive_deletes=True,
        order_by="RoundEntry.proposal_id",
    )

    __table_args__ = (
        CheckConstraint("rule in ('supports','budget')", name="rule"),
        CheckConstraint("closes_at > opens_at", name="window"),
        CheckConstraint(
            "(rule = 'supports' and max_supports >= 1 and threshold >= 1) or "
            "(rule = 'budget' and budget_cents > 0)", name="parameters"),
        Index("ix_voting_rounds_table_opens", "table_id", "opens_at"),
        Index("ix_voting_rounds_closes", "closes_at"),
    )

    def is_open(self, now: datetime) -> bool:
        return self.opens_at <= now < self.closes_at

    def has_opened(self, now: datetime) -> bool:
        return now >= self.opens_at

    def is_closed(self, now: datetime) -> bool:
        return now >= self.closes_at

    def __repr__(self) -> str:
        return f"<Round {self.id} {self.rule} {self.title!r}>"


class RoundEntry(db.Model):
    """A proposal taking part in a round, with its tally in that round."""

    __tablename__ = "voting_entries"

    round_id: Mapped[int] = mapped_column(
        ForeignKey("voting_rounds.id", ondelete="CASCADE"), primary_key=True
    )
    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    #: votes in this round; updated atomically in the same transaction as the votes
    vote_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: set when the results were computed
    selected: Mapped[bool | None] = mapped_column()
    #: the cost at the time the round opened (budget rounds)
    cost_cents: Mapped[int | None] = mapped_column(BigInteger)

    round: Mapped[Round] = relationship(back_populates="entries")
    proposal = relationship("Proposal")

    __table_args__ = (
        CheckConstraint("vote_count >= 0", name="vote_count"),
        # the round's list, a page at a time, in order of votes or of cost
        Index("ix_voting_entries_round_votes", "round_id", "vote_count", "proposal_id"),
        Index("ix_voting_entries_round_cost", "round_id", "cost_cents", "proposal_id"),
    )


class Vote(db.Model):
    """One household's support of one proposal in one round: one row, never two."""

    __tablename__ = "votes"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("voting_rounds.id", ondelete="CASCADE"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    #: the member who cast it (null once the account is deleted; the vote stays)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("round_id", "household_id", "proposal_id"),
        Index("ix_votes_proposal_round", "proposal_id", "round_id"),
        Index("ix_votes_household", "household_id"),
    )

    def __repr__(self) -> str:
        return f"<Vote round {self.round_id} household {self.household_id} -> {self.proposal_id}>"


class RoundState(StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"
