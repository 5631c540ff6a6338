"""Database settings shared by every module: UTC timestamps, SQLite's pragmas, and the one
commit of a request.

Services only add and flush; a request's transaction is committed in one place, after the view
(`_end_request_transaction`), when a state change succeeded, and rolled back otherwise. `flask`
commands, which run outside a request, commit themselves.
"""

from datetime import UTC, datetime

from flask import Flask, request
from sqlalchemy import DateTime, event
from sqlalchemy.types import TypeDecorator

from portal.extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored as naive UTC and always returned timezone-aware (UTC).

    SQLite has no time zones, PostgreSQL's `timestamp` neither: storing naive UTC on both
    keeps comparisons and migrations identical.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _end_request_transaction(response):
    """The one commit of a request (services only flush): a state change (POST, PUT, DELETE)
    answered with success is committed; anything else is rolled back, so that a refused form
    or an error leaves nothing half-saved and a GET never writes."""
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and response.status_code < 400:
        db.session.commit()
    else:
        db.session.rollback()
    return response


def init_app(app: Flask) -> None:
    # Registered first, so it runs after every other after_request hook.
    app.after_request(_end_request_transaction)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            engine = db.engine
            if not event.contains(engine, "connect", _sqlite_pragmas):
                event.listen(engine, "connect", _sqlite_pragmas)
