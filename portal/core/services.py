"""Audit log, mail outbox and activity: the services every module calls."""

from __future__ import annotations

import logging
import smtplib
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from flask import current_app, has_request_context, request
from flask_login import current_user
from sqlalchemy import update

from portal.core.models import Activity, AuditLog, Notification, OutboxMessage
from portal.core.texts import Text
from portal.db_setup import utcnow
from portal.extensions import db

log = logging.getLogger(__name__)


def audit(action: str, obj: Any = None, details: dict | None = None, actor=None) -> AuditLog:
    """Write who did `action` on `obj` to the audit log (flushed with the request's commit)."""
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user
    entry = AuditLog(
        actor_id=getattr(actor, "id", None),
        action=action,
        object_type=type(obj).__name__.lower() if obj is not None else None,
        object_id=getattr(obj, "id", None),
        ip=request.remote_addr if has_request_context() else None,
        details=details or {},
    )
    db.session.add(entry)
    return entry


def purge_audit_ips(days: int | None = None) -> int:
    """Drop the IP address of audit entries older than `days` (AUDIT_IP_DAYS): the log keeps
    who did what, the address only as long as the privacy notice says. Returns how many
    entries lost it. One UPDATE that only ever sets NULL: safe to run twice or on two nodes
    at once (the database's triggers let the address be dropped, nothing else change)."""
    if days is None:
        days = current_app.config["AUDIT_IP_DAYS"]
    cutoff = utcnow() - timedelta(days=days)
    result = db.session.execute(
        update(AuditLog).where(AuditLog.at < cutoff, AuditLog.ip.is_not(None))
        .values(ip=None), execution_options={"synchronize_session": False})
    return result.rowcount or 0


def activity(kind: str, title: str | Text, link: str, comune_id: int | None = None,
             at: datetime | None = None) -> Activity:
    """Add a public event to the activity stream; `at` is when it happened (default: now).

    `title` is a `Text` (portal.core.texts.text), shown in each reader's language; a plain
    string is shown as it is.
    """
    if isinstance(title, Text):
        message, params, title = title.key, title.params, title.italian()
    else:
        message = params = None
    event = Activity(kind=kind, title=title[:300], message=message, params=params, link=link,
                     comune_id=comune_id, at=at or utcnow())
    db.session.add(event)
    return event


def absolute_url(path: str) -> str:
    """A local path (from `url_for`) as a link for mail or for sharing: always on the
    configured BASE_URL, never on the host the request named."""
    return current_app.config["BASE_URL"] + path


def send_mail(to: str, subject: str, body: str) -> OutboxMessage:
    """Queue a message in the outbox; in debug it is also printed to the console."""
    message = OutboxMessage(to=to, subject=subject[:200], body=body)
    db.session.add(message)
    if current_app.config.get("MAIL_PRINT"):
        print(f"\n--- mail to {to}: {subject}\n{body}\n---", file=sys.stderr)  # noqa: T201
    return message


def notify(users, kind: str, title: str, link: str | None = None, body: str | None = None,
           mail: bool = True) -> list[Notification]:
    """Tell each of `users` (deduplicated, deleted accounts skipped) in the portal and by mail.

    `link` is a path inside the portal; the mail carries it as an absolute URL.
    """
    seen: set[int] = set()
    created = []
    for user in users:
        if user is None or user.id in seen or getattr(user, "deleted_at", None) is not None:
            continue
        seen.add(user.id)
        note = Notification(user_id=user.id, kind=kind, title=title[:300], body=body, link=link)
        db.session.add(note)
        created.append(note)
        if mail:
            text = body or title
            if link:
                text = f"{text}\n\n{absolute_url(link)}"
            send_mail(user.email, title, text)
    return created


def unread_count(user) -> int:
    from sqlalchemy import func

    return db.session.scalar(
        db.select(func.count(Notification.id)).where(
            Notification.user_id == user.id, Notification.read_at.is_(None))
    ) or 0


def deliver_next(after_id: int = 0) -> tuple[int, bool] | None:
    """Send the first queued message after `after_id` over SMTP: (its id, whether it was
    sent), or None when none is left. Safe to run on several nodes at once or twice.

    The message is claimed with a row lock (SKIP LOCKED on PostgreSQL) and marked sent, or its
    failure counted, in the caller's transaction: commit it right after, so that a message
    delivered is never sent again. A message that fails is tried once per run (at most five
    runs), so that it never holds up the others.
    """
    config = current_app.config
    if not config["MAIL_SERVER"]:
        raise RuntimeError("MAIL_SERVER is not set: nothing can be delivered")
    message = db.session.scalars(
        db.select(OutboxMessage)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.attempts < 5,
               OutboxMessage.id > after_id)
        .order_by(OutboxMessage.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if message is None:
        return None
    email = EmailMessage()
    email["From"] = config["MAIL_SENDER"]
    email["To"] = message.to
    email["Subject"] = message.subject
    email.set_content(message.body)
    message.attempts += 1
    try:
        with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30) as smtp:
            if config["MAIL_USE_TLS"]:
                smtp.starttls()
            if config["MAIL_USERNAME"]:
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
            smtp.send_message(email)
    except (OSError, smtplib.SMTPException) as exc:
        message.last_error = str(exc)[:500]
        log.warning("outbox message %s not sent: %s", message.id, exc)
        sent = False
    else:
        message.sent_at = utcnow()
        sent = True
    db.session.flush()
    return message.id, sent


# --------------------------------------------------------------------------- extension points

#: Sections that modules add to the account area ("La mia area"): (template, predicate) pairs.
#: The template is included inside the dashboard's card grid; the predicate(user) says whether
#: the user sees it.
_DASHBOARD_PANELS: list[tuple[str, Any]] = []


def register_dashboard_panel(template: str, predicate=None) -> None:
    entry = (template, predicate)
    if entry not in _DASHBOARD_PANELS:
        _DASHBOARD_PANELS.append(entry)


def dashboard_panels(user) -> list[str]:
    return [t for t, pred in _DASHBOARD_PANELS if pred is None or pred(user)]


#: What modules above core add to the home page's context (the Network: its figures).
_HOME_CONTEXT: list[Callable[[], dict]] = []


def register_home_context(provider: Callable[[], dict]) -> None:
    if provider not in _HOME_CONTEXT:
        _HOME_CONTEXT.append(provider)


def home_context() -> dict:
    context: dict = {}
    for provider in _HOME_CONTEXT:
        context.update(provider())
    return context
