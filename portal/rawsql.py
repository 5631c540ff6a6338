"""Statements written with SQLAlchemy's Core, run on the driver's own connection.

For the one write that families repeat by the thousand when a round is open (the vote), the
execution machinery around a statement (execution context, result object, events, the ORM
session's transaction) costs far more than the statement itself: about 50–80 µs a statement
against 2–15 µs in the driver, measured on the ballot read. `Prepared` keeps the statement
in Core (one text of the SQL, compiled by SQLAlchemy for the dialect) and runs it on a DBAPI
cursor, converting parameters and results with the same type processors SQLAlchemy would use
(UTC datetimes, enums). `transaction()` gives the connection from the engine's pool, commits
through the dialect (so the page cache still learns about the write: `wrote()`) and rolls back
on any error.

Use it only where a profile says so; everywhere else the ORM session is the rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

from portal.pagecache import WROTE


class Row(tuple):
    """A result row: by position like a tuple, by column name like SQLAlchemy's rows."""

    __slots__ = ()
    _index: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        try:
            return self[self._index[name]]
        except KeyError:
            raise AttributeError(name) from None


class Prepared:
    """One statement compiled once for a dialect, run on a DBAPI cursor."""

    def __init__(self, statement: ClauseElement, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        binds = compiled.binds
        self._positional = compiled.positional
        self._names = list(compiled.positiontup or []) if compiled.positional else list(binds)
        # Values fixed in the statement itself (literals SQLAlchemy made parameters of).
        self._fixed = {name: bind.effective_value for name, bind in binds.items()
                       if not bind.required and bind.callable is None}
        self._bind_processors = {}
        for name, bind in binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self._bind_processors[name] = processor
        columns = list(getattr(statement, "exported_columns", None) or [])
        processors = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                      for column in columns]
        self._result_processors = processors if any(processors) else None
        self._row_class: type[Row] | None = None

    def _parameters(self, params: dict[str, Any]):
        values = {**self._fixed, **params} if self._fixed else params
        processors = self._bind_processors
        if self._positional:
            return tuple(processors[name](values[name]) if name in processors else values[name]
                         for name in self._names)
        return {name: processors[name](values[name]) if name in processors else values[name]
                for name in self._names}

    def _row(self, cursor, raw) -> Row:
        if self._row_class is None:
            names = [d[0] for d in cursor.description]
            self._row_class = type("Row", (Row,), {"__slots__": (),
                                                  "_index": {n: i for i, n in enumerate(names)}})
        processors = self._result_processors
        if processors is not None:
            raw = [p(v) if p is not None else v for p, v in zip(processors, raw, strict=True)]
        return self._row_class(raw)

    def first(self, cursor, params: dict[str, Any]) -> Row | None:
        """The first row, or None."""
        cursor.execute(self.sql, self._parameters(params))
        raw = cursor.fetchone()
        if raw is None:
            return None
        cursor.fetchall()  # leave nothing pending on the cursor (SQLite's RETURNING)
        return self._row(cursor, raw)

    def run(self, cursor, params: dict[str, Any]) -> int:
        """Execute; the number of rows the statement changed."""
        cursor.execute(self.sql, self._parameters(params))
        return cursor.rowcount


class Transaction:
    """A cursor in a transaction of its own (see `transaction()`)."""

    __slots__ = ("cursor", "_connection")

    def __init__(self, cursor, connection):
        self.cursor, self._connection = cursor, connection

    def first(self, statement: Prepared, params: dict[str, Any]) -> Row | None:
        return statement.first(self.cursor, params)

    def run(self, statement: Prepared, params: dict[str, Any]) -> int:
        return statement.run(self.cursor, params)

    def wrote(self) -> None:
        """Tell the page cache that this transaction changes what public pages show (as the
        engine's statement hook would for a write through SQLAlchemy)."""
        self._connection.info[WROTE] = True


@contextmanager
def transaction(engine: Engine, begin: str | None = None, autocommit: bool = False
                ) -> Iterator[Transaction]:
    """A transaction of its own on a pooled connection: committed at the end, rolled back on
    any error. `begin` is sent first (SQLite: "BEGIN IMMEDIATE").

    `autocommit` (PostgreSQL, for a block of one statement): the statement is its own
    transaction, without BEGIN and COMMIT (one round trip instead of three).
    """
    connection = engine.raw_connection()
    driver = connection.dbapi_connection
    postgresql = engine.dialect.name == "postgresql"
    try:
        if postgresql:
            # The pool hands PostgreSQL connections out in autocommit (portal/db_setup.py):
            # a transaction of several statements needs it off (psycopg then sends BEGIN).
            driver.autocommit = autocommit
        cursor = connection.cursor()
        try:
            if begin:
                cursor.execute(begin)
            yield Transaction(cursor, connection)
        finally:
            cursor.close()
        # Through the dialect, as SQLAlchemy commits: the page cache's hook lives there
        # (in autocommit there is nothing left to commit, and nothing is sent).
        engine.dialect.do_commit(connection)
    except BaseException:
        connection.info.pop(WROTE, None)
        connection.rollback()
        raise
    finally:
        if postgresql and not autocommit:
            try:
                driver.autocommit = True  # as the pool hands it out
            except Exception:  # noqa: BLE001 - a broken connection: never back to the pool
                connection.invalidate()
        connection.close()
