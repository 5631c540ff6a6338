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
