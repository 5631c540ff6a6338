"""Audit log, mail outbox and the public activity stream."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.texts import render
from portal.db_setup import UTCDateTime, utcnow
from portal.extensions import db


class AuditLog(db.Model):
    """Who did what, on which object, when and from where. Append-only."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: null when the actor deleted their account or the action was the system's
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(80))
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[int | None]
    ip: Mapped[str | None] = mapped_column(String(45))
    details: Mapped[dict] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_audit_log_object", "object_type", "object_id"),)

    def __repr__(self) -> str:
        return f"<AuditLog {self.action} {self.object_type}:{self.object_id}>"


@event.listens_for(AuditLog, "before_update")
@event.listens_for(AuditLog, "before_delete")
def _append_only(_mapper, _connection, target):
    # The only permitted updates drop a value: the database's own ON DELETE SET NULL of the
    # actor, and the address dropped after AUDIT_IP_DAYS (services.purge_audit_ips, one bulk
    # UPDATE); the ORM never rewrites history.
    raise RuntimeError("the audit log is append-only")


class OutboxMessage(db.Model):
    """An e-mail waiting to be sent; `flask outbox send` delivers it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    to: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(String(500))

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} to {self.to}>"


class Activity(db.Model):
    """A public event shown on the home page and on a Comune's page."""

    __tablename__ = "activity"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: e.g. comune.joined, proposal.published, decision.published, practice.published
    kind: Mapped[str] = mapped_column(String(40))
    #: the text in Italian, as written when the event happened (shown when `message` is null)
    title: Mapped[str] = mapped_column(String(300))
    #: the key of the text in portal.core.texts.MESSAGES, shown in the reader's language
    message: Mapped[str | None] = mapped_column(String(60))
    #: the values of `message` (names and titles as people wrote them, ISO dates)
    params: Mapped[dict | None] = mapped_column(JSON)
    #: a path inside the portal, built with url_for when the event happened
    link: Mapped[str] = mapped_column(String(300))
    comune_id: Mapped[int | None] = mapped_column(ForeignKey("comuni.id", ondelete="CASCADE"))

    __table_args__ = (
        Index("ix_activity_at", "at"),
        Index("ix_activity_comune_at", "comune_id", "at"),
    )

    @property
    def text(self) -> str:
        """The event in the reader's language (older events: as they were written)."""
        return render(self.message, self.params, self.title)

    def __repr__(self) -> str:
        return f"<Activity {self.kind} {self.title!r}>"


class Notification(db.Model):
    """A message for one user in the portal ("le mie notifiche"); mail goes via the outbox."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: e.g. proposal.published, proposal.changes_requested, meeting.convened
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(300))
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_notifications_user_created", "user_id", "created_at"),)

    def __repr__(self) -> str:
        return f"<Notification {self.kind} to {self.user_id}>"
