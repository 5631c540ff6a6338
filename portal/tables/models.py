"""Tables (tavoli), their members, meetings, agendas, minutes, decisions and projects.

Minutes are drafted in mutable rows (`Minutes`, `MinuteItem`); publishing writes an
immutable `MinutesRevision` with its `Decision` rows. The database itself refuses UPDATE and
DELETE on those two tables (triggers in migration 0004), and the ORM refuses them too.
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
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db_setup import UTCDateTime, utcnow
from portal.extensions import db


class Table(db.Model):
    __tablename__ = "tables"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    slug: Mapped[str] = mapped_column(String(180), unique=True)
    #: null for the inter-municipal table, which belongs to the whole Rete
    comune_id: Mapped[int | None] = mapped_column(
        ForeignKey("comuni.id", ondelete="CASCADE"), unique=True
    )
    constituted_on: Mapped[date | None] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Text)

    comune = relationship("Comune")

    @property
    def is_intercomunale(self) -> bool:
        return self.comune_id is None

    def __repr__(self) -> str:
        return f"<Table {self.slug}>"


class MemberRole(StrEnum):
    CHAIR = "chair"
    SECRETARY = "secretary"
    MEMBER = "member"


class BodyKind(StrEnum):
    """What a member represents at the table."""

    COMUNE = "comune"
    ASSOCIATION = "association"
    FAMILIES = "families"


class TableMember(db.Model):
    """A seat at a table: the public composition. Roles in `RoleAssignment` grant the rights."""

    __tablename__ = "table_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(10), default=MemberRole.MEMBER)
    body_kind: Mapped[str] = mapped_column(String(12))
    #: the Comune represented (body_kind comune)
    comune_id: Mapped[int | None] = mapped_column(ForeignKey("comuni.id", ondelete="SET NULL"))
    #: the association represented (body_kind association)
    association_id: Mapped[int | None] = mapped_column(
        ForeignKey("associations.id", ondelete="SET NULL")
    )
    #: the office held, e.g. "Assessore alle politiche familiari"
    title: Mapped[str | None] = mapped_column(String(160))
    joined_on: Mapped[date] = mapped_column(Date)
    #: set when the member leaves: the seat stays for the attendance history
    left_on: Mapped[date | None] = mapped_column(Date)

    table: Mapped[Table] = relationship()
    user = relationship("User")
    comune = relationship("Comune")
    association = relationship("Association")

    __table_args__ = (
        UniqueConstraint("table_id", "user_id"),
        CheckConstraint("role in ('chair','secretary','member')", name="role"),
        CheckConstraint("body_kind in ('comune','association','families')", name="body_kind"),
    )

    @property
    def active(self) -> bool:
        return self.left_on is None

    def __repr__(self) -> str:
        return f"<TableMember {self.user_id} {self.role} at {self.table_id}>"


class MeetingStatus(StrEnum):
    DRAFT = "draft"
    CONVENED = "convened"
    CANCELLED = "cancelled"


class Meeting(db.Model):
    """A seduta of a table: public once convened."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    place: Mapped[str | None] = mapped_column(String(200))
    online_url: Mapped[str | None] = mapped_column(String(300))
    #: the text of the convocation
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=MeetingStatus.DRAFT,
                                        server_default="draft")
    convened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: denormalised for the lists: the number of the latest published revision (0 = none)
    minutes_revision: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")

    table: Mapped[Table] = relationship()
    items: Mapped[list[AgendaItem]] = relationship(
        back_populates="meeting", order_by="AgendaItem.position", cascade="all, delete-orphan",
        passive_deletes=True,
    )

    __table_args__ = (
        Index("ix_meetings_table_starts", "table_id", "starts_at"),
        Index("ix_meetings_status_starts", "status", "starts_at"),
        CheckConstraint("status in ('draft','convened','cancelled')", name="status"),
        CheckConstraint("online_url is null or online_url like 'https://%'", name="online_url"),
    )

    @property
    def is_public(self) -> bool:
        return self.status != MeetingStatus.DRAFT

    @property
    def recorded_afterwards(self) -> bool:
        """Entered once it had already been held (no convocation was sent)."""
        return self.convened_at is not None and self.convened_at >= self.starts_at

    def has_started(self, now: datetime) -> bool:
        return self.starts_at <= now

    def __repr__(self) -> str:
        return f"<Meeting {self.id} {self.status} {self.starts_at:%Y-%m-%d}>"


class AgendaItem(db.Model):
    """A point of the agenda: a free item, or a proposal put to the table."""

    __tablename__ = "agenda_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(SmallInteger)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id"), index=True)

    meeting: Mapped[Meeting] = relationship(back_populates="items")
    proposal = relationship("Proposal")

    __table_args__ = (
        Index("ix_agenda_items_meeting", "meeting_id", "position"),
        UniqueConstraint("meeting_id", "proposal_id"),
    )

    def __repr__(self) -> str:
        return f"<AgendaItem {self.meeting_id}.{self.position} {self.title!r}>"


class AttendanceStatus(StrEnum):
    PRESENT = "present"
    ABSENT = "absent"
    DELEGATED = "delegated"


class Attendance(db.Model):
    """Whether a member was at a meeting; a delegated member counts as present."""

    __tablename__ = "attendances"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"),
                                            primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("table_members.id", ondelete="CASCADE"),
                                           primary_key=True)
    status: Mapped[str] = mapped_column(String(10))
    #: who held the delegation
    delegate: Mapped[str | None] = mapped_column(String(120))

    member: Mapped[TableMember] = relationship()

    __table_args__ = (
        CheckConstraint("status in ('present','absent','delegated')", name="status"),
    )


class MinutesStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    PUBLISHED = "published"


class Minutes(db.Model):
    """The working copy of a meeting's minutes (verbale): drafted, commented, approved."""

    __tablename__ = "minutes"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"),
                                            unique=True)
    status: Mapped[str] = mapped_column(String(10), default=MinutesStatus.DRAFT,
                                        server_default="draft")
    #: opening text (Markdown): who chaired, communications, anything before the items
    intro: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: why this draft corrects the published minutes (null for the first revision)
    correction_reason: Mapped[str | None] = mapped_column(String(500))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    current_revision_id: Mapped[int | None] = mapped_column(
        ForeignKey("minutes_revisions.id"), index=True
    )

    meeting: Mapped[Meeting] = relationship(backref=db.backref("minutes", uselist=False))
    items: Mapped[list[MinuteItem]] = relationship(
        back_populates="minutes", cascade="all, delete-orphan", passive_deletes=True
    )
    current_revision: Mapped[MinutesRevision | None] = relationship(
        foreign_keys=[current_revision_id]
    )
    approved_by = relationship("User")

    __table_args__ = (
        CheckConstraint("status in ('draft','approved','published')", name="status"),
    )


class Outcome(StrEnum):
    APPROVED = "approved"
    APPROVED_AMENDED = "approved_amended"
    REJECTED = "rejected"
    POSTPONED = "postponed"


APPROVING_OUTCOMES = (Outcome.APPROVED, Outcome.APPROVED_AMENDED)
_OUTCOMES = "'approved','approved_amended','rejected','postponed'"
_VOTES_CHECK = (
    "(votes_for is null or votes_for >= 0) and (votes_against is null or votes_against >= 0) "
    "and (votes_abstained is null or votes_abstained >= 0)"
)


class MinuteItem(db.Model):
    """The draft text and decision of one agenda item."""

    __tablename__ = "minute_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    minutes_id: Mapped[int] = mapped_column(ForeignKey("minutes.id", ondelete="CASCADE"))
    agenda_item_id: Mapped[int] = mapped_column(
        ForeignKey("agenda_items.id", ondelete="CASCADE"), index=True
    )
    #: Markdown
    discussion: Mapped[str] = mapped_column(Text, default="", server_default="")
    outcome: Mapped[str | None] = mapped_column(String(20))
    votes_for: Mapped[int | None] = mapped_column(Integer)
    votes_against: Mapped[int | None] = mapped_column(Integer)
    votes_abstained: Mapped[int | None] = mapped_column(Integer)
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    #: where the money comes from, e.g. "Bilancio comunale 2026, cap. 1204"
    funding_source: Mapped[str | None] = mapped_column(String(200))
    #: the body or office responsible for carrying the decision out
    responsible: Mapped[str | None] = mapped_column(String(200))
    deadline: Mapped[date | None] = mapped_column(Date)
    #: the reasons, required when a proposal is not approved
    motivation: Mapped[str | None] = mapped_column(Text)

    minutes: Mapped[Minutes] = relationship(back_populates="items")
    agenda_item: Mapped[AgendaItem] = relationship()

    __table_args__ = (
        UniqueConstraint("minutes_id", "agenda_item_id"),
        CheckConstraint(f"outcome is null or outcome in ({_OUTCOMES})", name="outcome"),
        CheckConstraint(_VOTES_CHECK, name="votes"),
        CheckConstraint("amount_cents is null or amount_cents >= 0", name="amount"),
    )


class MinutesComment(db.Model):
    """A member's remark on the draft minutes (seen by the table, not public)."""

    __tablename__ = "minutes_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    minutes_id: Mapped[int] = mapped_column(ForeignKey("minutes.id", ondelete="CASCADE"),
                                            index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the draft commented: the revision it will become
    for_revision: Mapped[int] = mapped_column(SmallInteger)

    user = relationship("User")


class MinutesRevision(db.Model):
    """A published revision of the minutes. Never updated nor deleted (service and database)."""

    __tablename__ = "minutes_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    number: Mapped[int] = mapped_column(SmallInteger)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the reason of a correction; null for the first revision
    reason: Mapped[str | None] = mapped_column(String(500))
    #: canonical JSON of everything published (see services.canonical_json)
    content: Mapped[str] = mapped_column(Text)
    #: sha256 hex digest of `content`
    content_hash: Mapped[str] = mapped_column(String(64))
    #: names, not ids: the row outlives accounts and must never be rewritten
    published_by: Mapped[str] = mapped_column(String(120))
    approved_by: Mapped[str | None] = mapped_column(String(120))

    meeting: Mapped[Meeting] = relationship()

    __table_args__ = (UniqueConstraint("meeting_id", "number"),)

    def __repr__(self) -> str:
        return f"<MinutesRevision {self.meeting_id} r{self.number}>"


class Decision(db.Model):
    """A delibera as published in one revision of the minutes. Immutable like its revision."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("minutes_revisions.id"), index=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id"))
    agenda_item_id: Mapped[int] = mapped_column(ForeignKey("agenda_items.id"))
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id"))
    #: the revision number, repeated so a decision names itself without a join
    revision_number: Mapped[int] = mapped_column(SmallInteger)
    position: Mapped[int] = mapped_column(SmallInteger)
    title: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(20))
    votes_for: Mapped[int | None] = mapped_column(Integer)
    votes_against: Mapped[int | None] = mapped_column(Integer)
    votes_abstained: Mapped[int | None] = mapped_column(Integer)
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    funding_source: Mapped[str | None] = mapped_column(String(200))
    responsible: Mapped[str | None] = mapped_column(String(200))
    deadline: Mapped[date | None] = mapped_column(Date)
    motivation: Mapped[str | None] = mapped_column(Text)
    #: the day of the meeting (Europe/Rome)
    decided_on: Mapped[date] = mapped_column(Date)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)

    meeting: Mapped[Meeting] = relationship()
    table: Mapped[Table] = relationship()
    revision: Mapped[MinutesRevision] = relationship()
    proposal = relationship("Proposal")

    __table_args__ = (
        Index("ix_decisions_table_decided", "table_id", "decided_on", "id"),
        Index("ix_decisions_decided", "decided_on", "id"),
        # the latest decision on a proposal (its page), newest first
        Index("ix_decisions_proposal_decided", "proposal_id", "decided_on", "id"),
        CheckConstraint(f"outcome in ({_OUTCOMES})", name="outcome"),
        CheckConstraint(_VOTES_CHECK, name="votes"),
    )

    @property
    def approves(self) -> bool:
        return self.outcome in APPROVING_OUTCOMES

    def __repr__(self) -> str:
        return f"<Decision {self.id} {self.outcome} r{self.revision_number}>"


@event.listens_for(MinutesRevision, "before_update")
@event.listens_for(MinutesRevision, "before_delete")
@event.listens_for(Decision, "before_update")
@event.listens_for(Decision, "before_delete")
def _immutable(_mapper, _connection, target):
    raise RuntimeError(f"{type(target).__name__} is published and immutable")


class ProjectStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    IMPLEMENTED = "implemented"


class Project(db.Model):
    """An approved proposal being carried out: the accountability record."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), unique=True)
    #: the decision that approved it (the row of the revision that first approved it)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"), index=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id"))
    #: the Comune of the table; null for the inter-municipal table
    comune_id: Mapped[int | None] = mapped_column(ForeignKey("comuni.id"))
    title: Mapped[str] = mapped_column(String(200))
    responsible: Mapped[str] = mapped_column(String(200))
    deadline: Mapped[date | None] = mapped_column(Date)
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12), default=ProjectStatus.IN_PROGRESS,
                                        server_default="in_progress")
    #: the latest update's percentage
    progress: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    started_on: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    implemented_on: Mapped[date | None] = mapped_column(Date)
    #: the catalogue entry the project became ("crea buona pratica")
    practice_id: Mapped[int | None] = mapped_column(
        ForeignKey("good_practices.id", ondelete="SET NULL"))

    proposal = relationship("Proposal")
    decision: Mapped[Decision] = relationship()
    table: Mapped[Table] = relationship()
    comune = relationship("Comune")
    updates: Mapped[list[ProjectUpdate]] = relationship(
        back_populates="project", order_by="ProjectUpdate.id.desc()",
        cascade="all, delete-orphan", passive_deletes=True,
    )

    __table_args__ = (
        # the accountability sections page their ids along these (migration 0011)
        Index("ix_projects_comune_status", "comune_id", "status", "deadline", "id"),
        Index("ix_projects_status_deadline", "status", "deadline", "id"),
        CheckConstraint("status in ('in_progress','implemented')", name="status"),
        CheckConstraint("progress between 0 and 100", name="progress"),
    )

    def is_overdue(self, today: date) -> bool:
        return (self.status == ProjectStatus.IN_PROGRESS and self.deadline is not None
                and self.deadline < today)

    def __repr__(self) -> str:
        return f"<Project {self.id} {self.status} {self.progress}%>"


class ProjectUpdate(db.Model):
    """A progress update posted by the responsible officer."""

    __tablename__ = "project_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    percent: Mapped[int] = mapped_column(SmallInteger)
    note: Mapped[str] = mapped_column(Text)
    posted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: the poster's name and office as shown publicly
    posted_by_name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    project: Mapped[Project] = relationship(back_populates="updates")

    __table_args__ = (
        Index("ix_project_updates_project", "project_id", "id"),
        CheckConstraint("percent between 0 and 100", name="percent"),
    )
