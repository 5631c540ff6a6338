"""Personal data: what every module holds about a person, exported and deleted on request.

Each mapped model that refers to a person (a foreign key to users or households, or a column
holding an address, an IP, a name) is registered here once, by the module that owns it, at
init_app time:

- `register_personal(app, model, export, delete, kept=...)`: `export(user)` returns the
  sections it adds to `/account/dati.json`; `delete(user)` runs when the account is deleted,
  before the account row itself is anonymised, and leaves no row pointing at the person except
  in the columns named in `kept`, each with the reason it may (the row it points to is
  anonymised by then);
- `declare_not_personal(app, model, reason)`: the model's person-like columns are not about a
  portal user that could ask (or are an official act that must not change), and why.

The matrix test (tests/core/test_personal_data.py) walks every mapped model and fails on one
that refers to a person and is in neither list. Later modules add themselves the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import Flask, current_app
from sqlalchemy import ColumnElement, delete, or_, select, update

from portal.core.models import Activity, AuditLog, Notification, OutboxMessage
from portal.extensions import db

EXTENSION = "personal_data"


@dataclass(frozen=True)
class Personal:
    """How one model's rows about a person are exported and deleted."""

    model: type
    export: Callable[[Any], dict[str, Any]]
    delete: Callable[[Any], None]
    #: column name -> why the column may still hold the person's id after deletion
    kept: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NotPersonal:
    model: type
    reason: str


@dataclass
class Registry:
    personal: dict[type, Personal] = field(default_factory=dict)
    not_personal: dict[type, NotPersonal] = field(default_factory=dict)

    def check_new(self, model: type) -> None:
        if model in self.personal or model in self.not_personal:
            raise RuntimeError(f"{model.__name__} is already registered as personal data")


def registry(app: Flask | None = None) -> Registry:
    app = app or current_app
    return app.extensions.setdefault(EXTENSION, Registry())


def register_personal(app: Flask, model: type, export: Callable[[Any], dict[str, Any]],
                      delete: Callable[[Any], None], kept: Mapping[str, str] | None = None
                      ) -> None:
    reg = registry(app)
    reg.check_new(model)
    reg.personal[model] = Personal(model, export, delete, dict(kept or {}))


def declare_not_personal(app: Flask, model: type, reason: str) -> None:
    if not reason.strip():
        raise ValueError("say why the model holds no personal data")
    reg = registry(app)
    reg.check_new(model)
    reg.not_personal[model] = NotPersonal(model, reason)


def export_all(user) -> dict[str, Any]:
    """Every registered model's sections about `user`, in the order modules registered."""
    data: dict[str, Any] = {}
    for entry in registry().personal.values():
        data.update(plain(entry.export(user)))
    return data


def delete_all(user) -> None:
    """Run every registered deletion, the modules above first: they still see the account,
    its household and its roles as they were (accounts and core, registered first, go last)."""
    for entry in reversed(list(registry().personal.values())):
        entry.delete(user)
    db.session.flush()
    # the hooks update in bulk: objects already loaded read their rows again
    db.session.expire_all()


# --------------------------------------------------------------------------- helpers


def plain(value: Any) -> Any:
    """`value` as JSON-ready data: dates as ISO strings, containers walked."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)  # enums, lazy strings


def rows(model: type, where: ColumnElement, fields: Iterable[str]) -> list[dict[str, Any]]:
    """The rows of `model` matching `where`, as dicts of `fields`, oldest first."""
    fields = tuple(fields)
    primary = model.__mapper__.primary_key
    return [plain({name: getattr(row, name) for name in fields})
            for row in db.session.scalars(select(model).where(where).order_by(*primary))]


def by_person(user, *columns) -> ColumnElement:
    """Rows naming `user` in any of `columns` (user ids)."""
    return or_(*(column == user.id for column in columns))


def forget(user, *columns) -> None:
    """Set each of `columns` (nullable references to users) to NULL where it names `user`:
    the row stays, no longer saying who it was."""
    for column in columns:
        db.session.execute(update(column.class_).where(column == user.id).values(
            {column.key: None}), execution_options={"synchronize_session": False})


# --------------------------------------------------------------------------- core's own data

#: why an audit entry keeps naming its actor once the account is deleted
AUDIT_ACTOR_KEPT = (
    "The audit log is append-only, the record of who verified a residence, published minutes "
    "or granted a role: an entry keeps the id of its actor, whose account row is anonymised "
    "(no name, no address), so it names no one; its IP address is dropped after "
    "AUDIT_IP_DAYS like everyone's (flask audit purge-ips).")


def _export_core(user) -> dict[str, Any]:
    return {
        "notifications": rows(Notification, Notification.user_id == user.id,
                              ("created_at", "kind", "title", "body", "link", "read_at")),
    }


def _export_outbox(user) -> dict[str, Any]:
    return {"mail": rows(OutboxMessage, OutboxMessage.to == user.email,
                         ("created_at", "subject", "sent_at"))}


def _export_audit(user) -> dict[str, Any]:
    return {"activity_log": rows(AuditLog, AuditLog.actor_id == user.id,
                                 ("at", "action", "object_type", "object_id", "ip"))}


def _delete_notifications(user) -> None:
    db.session.execute(delete(Notification).where(Notification.user_id == user.id))


def _delete_outbox(user) -> None:
    # the mail not yet sent goes too: it would reach an address the portal no longer knows
    db.session.execute(delete(OutboxMessage).where(OutboxMessage.to == user.email))


def _keep_audit(_user) -> None:
    """Nothing to do now: see AUDIT_ACTOR_KEPT."""


def init_app(app: Flask) -> None:
    register_personal(app, Notification, _export_core, _delete_notifications)
    register_personal(app, OutboxMessage, _export_outbox, _delete_outbox)
    register_personal(app, AuditLog, _export_audit, _keep_audit,
                      kept={"actor_id": AUDIT_ACTOR_KEPT})
    declare_not_personal(app, Activity, "public events about Comuni, proposals and decisions; "
                                        "no column names a person")
