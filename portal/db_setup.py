"""Database engine settings shared by every module: SQLite pragmas, UTC timestamps, and on
PostgreSQL reads outside transactions and read-only transactions ended by COMMIT.

On PostgreSQL, reads run outside any transaction until the first write: a connection comes
out of the pool in autocommit, and the statement hook turns autocommit off just before the
first statement that may change something, takes a row lock or opens a server-side cursor, so
that statement and every later one run in one transaction, committed or rolled back as
before. A read-only page costs one round trip per statement instead of BEGIN, statements,
COMMIT (0.25-0.7 ms of CPU a page); under PostgreSQL's READ COMMITTED each statement read its
own snapshot anyway, so no page sees anything different. Raw transactions (portal/rawsql.py)
set the mode they need.

Why COMMIT, when a transaction that only read is open at the end of a request (after a
commit, reads begin one again): psycopg 3 keeps a statement prepared on the server after its
fifth run on a connection (no planning afterwards: a ten-table statement plans in ~3 ms and
runs in 0.5), but it forgets every prepared statement at each ROLLBACK — and the session's
removal ends a transaction with one. So such a transaction is committed instead (the same for
the database) and the connection keeps its prepared statements from one request to the next.
A request that wrote anything, failed, or left unflushed changes is rolled back as before.

Also on PostgreSQL, a pooled connection is pinged (`SELECT 1`) only when it comes back to
work after `PING_IDLE_SECONDS` of rest, or when psycopg already knows it is broken, instead of
before every request (SQLAlchemy's `pool_pre_ping`: one more round trip each time). A busy
worker's connection is seldom idle that long; if the server restarted meanwhile, the first
statement fails, SQLAlchemy sees the disconnection and renews the whole pool, so at most that
one request per worker gets an error page.
"""

import re
import time
from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import DateTime, event
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


def inline_limit(name: str = "limit", value: int | None = None):
    """A LIMIT (or OFFSET) written into the SQL text when the statement runs, instead of sent
    as a parameter (SQLAlchemy's `literal_execute`: the compiled statement stays cached).

    PostgreSQL plans a prepared statement again on every run when its LIMIT or OFFSET is a
    parameter: for the generic plan it must assume that a tenth of the rows will be read, so
    the plan for the values at hand always looks cheaper (`python -m bench.profile --plans`
    lists the statements planned on every run). With the number in the text, a statement
    whose other parameters do not change the best plan is planned once per connection (the
    accountability overview went from 0.65 ms of planning a request to none, the proposals
    list from 0.3-0.4). Where a parameter filters on a skewed value (a theme, a Comune, a
    search term), keep `bindparam("limit")`: there the per-value plan is the one to keep
    (a generic plan of the proposals list filtered by theme took 32 ms instead of 0.4)."""
    from sqlalchemy import Integer, bindparam

    return bindparam(name, value, type_=Integer, literal_execute=True)


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


def in_list(column, name: str, dialect_name: str):
    """`column` is one of the values of the list given as parameter `name`: on PostgreSQL
    `column = ANY(:name)`, one array parameter; elsewhere `IN (...)`, expanded.

    SQLAlchemy expands an IN list into one parameter per value when the statement runs, so
    each length of list is another SQL text: PostgreSQL parses and plans it afresh and psycopg
    never keeps it prepared. One array keeps one text and one plan (a catalogue page's cards
    and Comuni, a search's word and filter counts)."""
    from sqlalchemy import any_, bindparam

    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


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
#: a row lock (FOR UPDATE, FOR NO KEY UPDATE, FOR SHARE, FOR KEY SHARE): held for a write to come
_ROW_LOCK = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+)?UPDATE\b|\bFOR\s+(?:KEY\s+)?SHARE\b",
                       re.IGNORECASE)


def writes(statement: str) -> bool:
    """Whether a statement may change something or lock rows (then it runs in a transaction)."""
    return (not statement.lstrip()[:7].upper().startswith(_READ_ONLY_PREFIXES)
            or (" FOR " in statement.upper() and _ROW_LOCK.search(statement) is not None))


def _note_statement(conn, _cursor, statement, _params, context, _executemany):
    wrote = writes(statement)
    if wrote:
        conn.info[WROTE] = True  # (a lock: never commit it by chance as a read-only request)
    if wrote or (context is not None and context.execution_options.get("stream_results")):
        driver = conn.connection.dbapi_connection
        if driver.autocommit:
            # The first write of this use of the connection (or a server-side cursor, which
            # lives in a transaction): from here on, one transaction (psycopg sends BEGIN
            # before this statement).
            driver.autocommit = False


def _autocommit_reads(dbapi_connection, _record, _proxy):
    """Checkout: reads run outside a transaction until the first write (see the module)."""
    from sqlalchemy.exc import DisconnectionError

    try:
        if not dbapi_connection.autocommit:
            dbapi_connection.autocommit = True
    except Exception as exc:  # noqa: BLE001 - left in a transaction or broken: not reusable
        raise DisconnectionError(f"the connection is not idle: {exc}") from exc


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
            cursor.execute("SELECT 1")  # (in autocommit: no transaction is left open)
    except Exception as exc:  # noqa: BLE001 - any failure means the connection is gone
        raise DisconnectionError(f"the connection did not answer: {exc}") from exc


def _end_request_transaction(response):
    """The one commit of a request (services only flush): a state change (POST, PUT, DELETE)
    answered with success is committed; anything else is rolled back, so that a refused form
    or an error leaves nothing half-saved and a GET never writes."""
    from flask import request

    from portal.extensions import db

    if request.method in ("POST", "PUT", "PATCH", "DELETE") and response.status_code < 400:
        db.session.commit()
    else:
        db.session.rollback()
    return response


def init_app(app: Flask) -> None:
    # Registered first, so it runs after every other after_request hook.
    app.after_request(_end_request_transaction)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        with app.app_context():
            from portal.extensions import db

            engine: Engine = db.engine
            if not getattr(engine, "_rete_read_only_commit", False):
                event.listen(engine, "before_cursor_execute", _note_statement)
                event.listen(engine, "commit", _transaction_ended)
                event.listen(engine, "rollback", _transaction_ended)
                # before the ping below, which then runs outside a transaction too
                event.listen(engine.pool, "checkout", _autocommit_reads)
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
