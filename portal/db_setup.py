"""Database engine settings shared by every module: SQLite pragmas, UTC timestamps, and on
PostgreSQL read-only requests ended by COMMIT.

Why COMMIT: psycopg 3 keeps a statement prepared on the server after its fifth run on a
connection (no planning afterwards: a ten-table statement plans in ~3 ms and runs in 0.5), but
it forgets every prepared statement at each ROLLBACK — and a request that only read ends its
transaction with one when the session is removed. So a request that wrote nothing commits its
read-only transaction instead (the same for the database) and the connection keeps its
prepared statements from one request to the next. A request that wrote anything, failed, or
left unflushed changes is rolled back as before.

Also on PostgreSQL, a pooled connection is pinged (`SELECT 1`) only when it comes back to
work after `PING_IDLE_SECONDS` of rest, or when psycopg already knows it is broken, instead of
before every request (SQLAlchemy's `pool_pre_ping`: one more round trip each time). A busy
worker's connection is seldom idle that long; if the server restarted meanwhile, the first
statement fails, SQLAlchemy sees the disconnection and renews the whole pool, so at most that
one request per worker gets an error page.
"""

import time
from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import DateTime, event
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator


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


#: Connection.info key: the open transaction ran a statement that may have changed something.
WROTE = "rete_wrote_any"
_READ_ONLY_PREFIXES = ("SELECT", "WITH", "SHOW", "EXPLAIN")


def _note_statement(conn, _cursor, statement, _params, _context, _executemany):
    if not statement.lstrip()[:7].upper().startswith(_READ_ONLY_PREFIXES):
        conn.info[WROTE] = True
    elif "FOR UPDATE" in statement or "FOR SHARE" in statement:
        conn.info[WROTE] = True  # a lock taken for a write to come: never commit it by chance


def _transaction_ended(conn):
    conn.info.pop(WROTE, None)


def _end_read_only_transaction(exc: BaseException | None) -> None:
    """Commit, rather than roll back, a transaction that only read (see the module's doc)."""
    if exc is not None:
        return
    from portal.extensions import db

    registry = db.session
    if not registry.registry.has():
        return
    session = registry()
    if not session.in_transaction() or session.new or session.dirty or session.deleted:
        return
    try:
        connection = session.connection()
        if connection.info.get(WROTE):
            return
        session.commit()
    except Exception:  # noqa: BLE001 - the session's removal rolls back whatever is left
        session.rollback()


#: a pooled PostgreSQL connection idle longer than this is pinged before it is used again
PING_IDLE_SECONDS = 5.0
_RESTED_SINCE = "rete_rested_since"


def _rest(_dbapi_connection, record):
    record.info[_RESTED_SINCE] = time.monotonic()


def _ping_if_rested(dbapi_connection, record, _proxy):
    """Checkout: a connection known broken, or back from a long rest and not answering, is
    refused; the pool then opens another (SQLAlchemy's documented pessimistic handling)."""
    from sqlalchemy.exc import DisconnectionError

    if getattr(dbapi_connection, "broken", False) or getattr(dbapi_connection, "closed", False):
        raise DisconnectionError("the connection is broken")
    rested = record.info.get(_RESTED_SINCE)
    if rested is None or time.monotonic() - rested < PING_IDLE_SECONDS:
        return
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")  # the request's statements follow in its transaction
    except Exception as exc:  # noqa: BLE001 - any failure means the connection is gone
        raise DisconnectionError(f"the connection did not answer: {exc}") from exc


def init_app(app: Flask) -> None:
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        with app.app_context():
            from portal.extensions import db

            engine: Engine = db.engine
            if not getattr(engine, "_rete_read_only_commit", False):
                event.listen(engine, "before_cursor_execute", _note_statement)
                event.listen(engine, "commit", _transaction_ended)
                event.listen(engine, "rollback", _transaction_ended)
                if not engine.pool._pre_ping:
                    event.listen(engine.pool, "checkin", _rest)
                    event.listen(engine.pool, "checkout", _ping_if_rested)
                engine._rete_read_only_commit = True
        # Registered after Flask-SQLAlchemy's own teardown, so it runs before the session's
        # removal (teardowns run in reverse order).
        app.teardown_appcontext(_end_read_only_transaction)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            from portal.extensions import db

            engine: Engine = db.engine
            if not getattr(engine, "_rete_pragmas", False):
                event.listen(engine, "connect", _sqlite_pragmas)
                engine._rete_pragmas = True
