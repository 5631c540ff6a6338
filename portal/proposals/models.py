"""Proposals of the families, their public history, co-proposers, partners, comments, reports."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
    select,
)
from sqlalchemy.ext.associationproxy import AssociationProxy, association_proxy
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from portal.core.texts import render
from portal.db_setup import UTCDateTime, utcnow
from portal.extensions import db


class ProposalState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    CHANGES_REQUESTED = "changes_requested"
    PUBLISHED = "published"
    SELECTED = "selected"
    ON_AGENDA = "on_agenda"
    APPROVED = "approved"
    NOT_APPROVED = "not_approved"
    IN_PROGRESS = "in_progress"
    IMPLEMENTED = "implemented"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    MERGED = "merged"


#: States in which a proposal is readable by everyone (listed, commented, voted when in a round).
PUBLIC_STATES: tuple[ProposalState, ...] = (
    ProposalState.PUBLISHED,
    ProposalState.SELECTED,
    ProposalState.ON_AGENDA,
    ProposalState.APPROVED,
    ProposalState.NOT_APPROVED,
    ProposalState.IN_PROGRESS,
    ProposalState.IMPLEMENTED,
)

#: Who moves each edge: author (the proposing household or its facilitator), moderator
#: (of an association active in the proposal's Comune), table (chair or secretary of the
#: addressed table), system (only through ``authorized=True``: a round's results).
_S = ProposalState
TRANSITIONS: dict[ProposalState, dict[ProposalState, str]] = {
    _S.DRAFT: {_S.SUBMITTED: "author", _S.WITHDRAWN: "author"},
    _S.SUBMITTED: {_S.PUBLISHED: "moderator", _S.CHANGES_REQUESTED: "moderator",
                   _S.REJECTED: "moderator", _S.MERGED: "moderator", _S.WITHDRAWN: "author"},
    _S.CHANGES_REQUESTED: {_S.SUBMITTED: "author", _S.WITHDRAWN: "author",
                           _S.REJECTED: "moderator"},
    _S.PUBLISHED: {_S.SELECTED: "system", _S.MERGED: "moderator", _S.WITHDRAWN: "author"},
    _S.SELECTED: {_S.ON_AGENDA: "table", _S.WITHDRAWN: "author"},
    _S.ON_AGENDA: {_S.APPROVED: "table", _S.NOT_APPROVED: "table", _S.SELECTED: "table"},
    _S.APPROVED: {_S.IN_PROGRESS: "table"},
    _S.IN_PROGRESS: {_S.IMPLEMENTED: "table"},
}

#: States waiting for a moderator.
MODERATION_STATES: tuple[ProposalState, ...] = (ProposalState.SUBMITTED,)

_STATE_VALUES = ", ".join(f"'{s.value}'" for s in ProposalState)


class ProposalFlags:
    """What pages and policies ask of a proposal, from its `state` and `hidden_at`."""

    @property
    def is_public(self) -> bool:
        return self.state in PUBLIC_STATES

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None


class ProposalSupport(db.Model):
    """A proposal's supports in its current (latest) round, in a narrow row of its own.

    Every vote and withdrawal moves this counter, in the same transaction as the vote. On the
    proposals row itself each vote rewrote a row of ~850 bytes and all ten of its indexes
    (the counter was in one of them, so PostgreSQL could not update it in place): about a
    fifth of the database's work per vote. Every proposal has its row, made with it (see the
    `after_insert` listener below); `Proposal.support_count` reads it.
    """

    __tablename__ = "proposal_supports"

    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True)
    support_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        CheckConstraint("support_count >= 0", name="support_count"),
        # The public list, most supported first (keyset on the proposal's id).
        Index("ix_proposal_supports_ranking", "support_count", "proposal_id"),
    )


class Proposal(ProposalFlags, db.Model):
    """A project idea of one household (with co-proposers) addressed to a table."""

    __tablename__ = "proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the Comune of the proposing household (moderated by associations active there)
    comune_id: Mapped[int] = mapped_column(ForeignKey("comuni.id"))
    #: the table it is addressed to: its Comune's table or the inter-municipal one
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id"))
    #: the proposing household; null once the household is gone (the proposal stays)
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="SET NULL"), index=True
    )
    #: the user who wrote it (a member of the household, or the facilitator on its behalf)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                  index=True)
    title: Mapped[str] = mapped_column(String(160))
    summary: Mapped[str] = mapped_column(String(500))
    #: Markdown as written by the family
    body: Mapped[str] = mapped_column(Text, default="")
    #: `body` rendered and sanitised (nh3), safe to output as is
    body_html: Mapped[str] = mapped_column(Text, default="")
    estimated_cost_cents: Mapped[int | None] = mapped_column(BigInteger)
    #: what the proposing families will do themselves
    own_contribution: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default=ProposalState.DRAFT,
                                       server_default="draft")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: when the state last changed (the moderation queue's age counts from the submission)
    state_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: supports in its current (latest) round, read from its ProposalSupport row (read-only
    #: here: the ballot, a new round and a merge write that row)
    support_count: Mapped[int] = column_property(func.coalesce(
        select(ProposalSupport.support_count).where(ProposalSupport.proposal_id == id)
        .correlate_except(ProposalSupport).scalar_subquery(), 0))
    #: public and not hidden: shown in the public list (kept in step by the ORM events below)
    listed: Mapped[bool] = mapped_column(default=False, server_default="0")
    comment_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("proposals.id", ondelete="SET NULL")
    )
    #: a facilitator who submitted for a household that could not do it online
    on_behalf_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    #: how the household gave its consent (e.g. "modulo firmato il 3 marzo allo sportello")
    on_behalf_consent: Mapped[str | None] = mapped_column(String(300))
    on_behalf_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: a moderator hid the published proposal after a report (the history says why)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_reason: Mapped[str | None] = mapped_column(String(500))
    hidden_by_association_id: Mapped[int | None] = mapped_column(
        ForeignKey("associations.id", ondelete="SET NULL")
    )

    comune = relationship("Comune")
    table = relationship("Table")
    household = relationship("Household")
    author = relationship("User", foreign_keys=[author_id])
    on_behalf_by = relationship("User", foreign_keys=[on_behalf_by_id])
    merged_into: Mapped[Proposal | None] = relationship(remote_side=[id])
    hidden_by_association = relationship("Association")
    theme_rows: Mapped[list[ProposalTheme]] = relationship(
        cascade="all, delete-orphan", order_by="ProposalTheme.theme", back_populates="proposal"
    )
    #: the theme slugs, as a list of strings
    themes: AssociationProxy[list[str]] = association_proxy(
        "theme_rows", "theme", creator=lambda theme: ProposalTheme(theme=theme)
    )
    events: Mapped[list[ProposalEvent]] = relationship(
        back_populates="proposal", cascade="all, delete-orphan",
        order_by="ProposalEvent.id", passive_deletes=True,
    )
    co_proposers: Mapped[list[CoProposer]] = relationship(
        back_populates="proposal", cascade="all, delete-orphan", order_by="CoProposer.id",
        passive_deletes=True,
    )
    partners: Mapped[list[ProposalPartner]] = relationship(
        back_populates="proposal", cascade="all, delete-orphan", passive_deletes=True,
    )

    __table_args__ = (
        CheckConstraint(f"state in ({_STATE_VALUES})", name="state"),
        CheckConstraint("estimated_cost_cents is null or estimated_cost_cents >= 0",
                        name="cost"),
        # The public list, newest first (keyset on id), whole or by place.
        Index("ix_proposals_listed_published", "listed", "published_at", "id"),
        Index("ix_proposals_comune_listed", "comune_id", "listed", "published_at", "id"),
        Index("ix_proposals_table_listed", "table_id", "listed", "published_at", "id"),
        # Filter by state (and the moderation queue, the tables' selected proposals).
        Index("ix_proposals_state_published", "state", "published_at", "id"),
        Index("ix_proposals_table_state", "table_id", "state"),
        Index("ix_proposals_merged_into", "merged_into_id"),
    )

    def __repr__(self) -> str:
        return f"<Proposal {self.id} {self.state} {self.title!r}>"


@event.listens_for(Proposal, "after_insert")
def _count_from_zero(_mapper, connection, target: Proposal) -> None:
    """Every proposal has its supports row from the start, in the same transaction."""
    connection.execute(ProposalSupport.__table__.insert().values(
        proposal_id=target.id, support_count=0))


def _is_listed(state: str | None, hidden_at: datetime | None) -> bool:
    return state in PUBLIC_STATES and hidden_at is None


@event.listens_for(Proposal.state, "set")
def _state_set(target: Proposal, value, _old, _initiator):
    target.listed = _is_listed(value, target.hidden_at)


@event.listens_for(Proposal.hidden_at, "set")
def _hidden_set(target: Proposal, value, _old, _initiator):
    target.listed = _is_listed(target.state, value)


class ProposalTheme(db.Model):
    """One theme of a proposal (a row each, so that the list filters with an index)."""

    __tablename__ = "proposal_themes"

    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True
    )
    #: a theme slug (the catalogue's, see `portal.proposals.themes`)
    theme: Mapped[str] = mapped_column(String(90), primary_key=True)

    proposal: Mapped[Proposal] = relationship(back_populates="theme_rows")

    __table_args__ = (Index("ix_proposal_themes_theme", "theme", "proposal_id"),)


class EventKind(StrEnum):
    STATE = "state"  # a transition of the state graph
    HIDDEN = "hidden"
    UNHIDDEN = "unhidden"
    COMMENT_HIDDEN = "comment_hidden"
    COMMENT_UNHIDDEN = "comment_unhidden"
    EDITED = "edited"  # a resubmission after changes were requested


class ProposalEvent(db.Model):
    """One line of a proposal's public history: who did what, for which association, why."""

    __tablename__ = "proposal_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(20), default=EventKind.STATE)
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str | None] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: the association on whose behalf a moderator acted (shown publicly)
    association_id: Mapped[int | None] = mapped_column(
        ForeignKey("associations.id", ondelete="SET NULL")
    )
    #: the table (secretary, chair) on whose behalf the actor acted, when relevant
    table_id: Mapped[int | None] = mapped_column(ForeignKey("tables.id", ondelete="SET NULL"))
    #: the moderator's message, the reason of a refusal or of hiding, a decision's reference;
    #: for a note the portal wrote, its Italian text (shown when `message` is null)
    note: Mapped[str | None] = mapped_column(Text)
    #: a note the portal wrote: its key in portal.core.texts.MESSAGES, shown in the reader's
    #: language, and its values
    message: Mapped[str | None] = mapped_column(String(60))
    params: Mapped[dict | None] = mapped_column(db.JSON)
    #: e.g. the comment hidden, the proposal merged into, the round that selected it
    details: Mapped[dict | None] = mapped_column(db.JSON)

    proposal: Mapped[Proposal] = relationship(back_populates="events")
    actor = relationship("User")
    association = relationship("Association")
    table = relationship("Table")

    __table_args__ = (Index("ix_proposal_events_proposal", "proposal_id", "id"),)

    @property
    def note_text(self) -> str | None:
        """The note in the reader's language when the portal wrote it, else as written."""
        return render(self.message, self.params, self.note) if self.message else self.note

    def __repr__(self) -> str:
        return f"<ProposalEvent {self.proposal_id} {self.kind} {self.from_state}->{self.to_state}>"


class CoProposerStatus(StrEnum):
    INVITED = "invited"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class CoProposer(db.Model):
    """Another household invited to propose together; it counts once it accepts."""

    __tablename__ = "proposal_co_proposers"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"),
                                              index=True)
    status: Mapped[str] = mapped_column(String(10), default=CoProposerStatus.INVITED,
                                        server_default="invited")
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    proposal: Mapped[Proposal] = relationship(back_populates="co_proposers")
    household = relationship("Household")

    __table_args__ = (
        UniqueConstraint("proposal_id", "household_id"),
        CheckConstraint("status in ('invited','accepted','declined')", name="status"),
    )


class ProposalPartner(db.Model):
    """An association named as a partner of the project."""

    __tablename__ = "proposal_partners"

    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True
    )
    association_id: Mapped[int] = mapped_column(
        ForeignKey("associations.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    proposal: Mapped[Proposal] = relationship(back_populates="partners")
    association = relationship("Association")


class Comment(db.Model):
    """A comment on a published proposal; replies are one level deep."""

    __tablename__ = "proposal_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    #: the comment replied to (itself never a reply)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("proposal_comments.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                  index=True)
    #: plain text (shown escaped, line breaks kept)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_reason: Mapped[str | None] = mapped_column(String(500))
    hidden_by_association_id: Mapped[int | None] = mapped_column(
        ForeignKey("associations.id", ondelete="SET NULL")
    )

    proposal: Mapped[Proposal] = relationship()
    parent: Mapped[Comment | None] = relationship(remote_side=[id])
    author = relationship("User")
    hidden_by_association = relationship("Association")

    __table_args__ = (Index("ix_proposal_comments_proposal", "proposal_id", "id"),)

    #: a comment can be edited by its author for this many seconds
    EDIT_WINDOW_SECONDS = 15 * 60

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None

    def __repr__(self) -> str:
        return f"<Comment {self.id} on {self.proposal_id}>"


class Report(db.Model):
    """A user's report of a published proposal or of a comment, for the moderators."""

    __tablename__ = "proposal_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the proposal reported, or the proposal of the comment reported
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"),
                                             index=True)
    comment_id: Mapped[int | None] = mapped_column(
        ForeignKey("proposal_comments.id", ondelete="CASCADE"), index=True
    )
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: hidden | dismissed
    resolution: Mapped[str | None] = mapped_column(String(10))

    proposal: Mapped[Proposal] = relationship()
    comment: Mapped[Comment | None] = relationship()
    reporter = relationship("User", foreign_keys=[reporter_id])

    __table_args__ = (
        Index("ix_proposal_reports_open", "resolved_at", "created_at"),
        CheckConstraint("resolution is null or resolution in ('hidden','dismissed')",
                        name="resolution"),
    )

    def __repr__(self) -> str:
        return f"<Report {self.id} proposal {self.proposal_id} comment {self.comment_id}>"

