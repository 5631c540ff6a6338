"""The contract between the benchmark and its modules: `Context` and `Target`.

A module is a file in `bench/modules/` defining

    ORDER: int                      # generation order; the foundation is 0
    SCALE: dict[str, int]           # optional: default sizes it reads from ctx.scale
    SMALL_SCALE: dict[str, int]     # optional: sizes for `--small`
    def generate(ctx: Context) -> None
    def targets(ctx: Context) -> list[Target]

`generate` runs inside one transaction per module; `targets` runs after generation, on a
read-only connection, and may look rows up to build paths.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, text

#: The bars of issue 17, at 16 connections: an anonymous public page (through the page cache),
#: a page a signed-in household opens (rendered for every request), and the vote.
PUBLIC_BAR: dict[str, Any] = {"min_ratio": 0.25, "max_p95_ms": 25.0}
SIGNED_IN_BAR: dict[str, Any] = {"min_ratio": 0.10, "max_p95_ms": None, "max_p99_ms": 100.0}
VOTE_BAR: dict[str, Any] = {"min_ratio": 0.05, "max_p95_ms": 50.0}


@dataclass
class Target:
    """One page (or request) to load: what to send, and the bar it must pass.

    With `login` ((email, password)) the runner signs in through the login form before the
    load (GET /accedi for the CSRF token, POST the credentials, keep the session cookie) and
    every request carries that cookie: a signed-in page, never served from the page cache.

    With `as_users` the runner logs in as each of these user ids (the login view's own service
    calls, made in-process: hundreds of voters would otherwise wait for the login form's rate
    limit and password hashing) and rotates them request by request; requests then carry the
    session cookie and an `X-CSRFToken` header, and `{csrf}` in the body is replaced by the
    user's token. With `variants` ((path, body) pairs) the runner rotates those instead of
    `path`/`body`; variant i is sent as user i % len(as_users).
    """

    name: str
    path: str
    method: str = "GET"
    headers: dict[str, str] | None = None
    body: str | None = None
    #: minimum share of the floor's requests per second
    min_ratio: float = 0.25
    #: maximum 95th-percentile latency in milliseconds (None: no bar on p95)
    max_p95_ms: float | None = 25.0
    as_users: list[int] | None = None
    variants: list[tuple[str, str | None]] | None = None
    #: maximum 99th-percentile latency in milliseconds (None: no bar on p99)
    max_p99_ms: float | None = None
    #: (email, password) to sign in with through the login form
    login: tuple[str, str] | None = None

    @property
    def signed_in(self) -> bool:
        return bool(self.login or self.as_users)


@dataclass
class Context:
    """What a module's `generate(ctx)` and `targets(ctx)` receive."""

    conn: Connection
    url: str
    dialect: str  # "sqlite" or "postgresql"
    scale: dict[str, int]
    rng: random.Random
    #: generated ids shared between modules, e.g. ids["comuni"] = [1, 2, ...]
    ids: dict[str, Any] = field(default_factory=dict)
    #: "now" of the generated world (aware UTC); every module dates its rows from it
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: a valid hash of the demo password (demo-rete-2026), computed once
    password_hash: str = ""
    _next_ids: dict[str, int] = field(default_factory=dict, repr=False)

    def next_id(self, table_name: str, count: int = 1) -> int:
        """Reserve `count` consecutive primary keys in `table_name` and return the first.

        Give ids explicitly in bulk_insert rows: modules then know them without reading back;
        the generator moves PostgreSQL sequences past them at the end.
        """
        if table_name not in self._next_ids:
            current = self.conn.execute(text(f"SELECT max(id) FROM {table_name}")).scalar()
            self._next_ids[table_name] = (current or 0) + 1
        first = self._next_ids[table_name]
        self._next_ids[table_name] = first + count
        return first

    def bulk_insert(self, table_name: str, rows: list[dict] | Iterable[dict]) -> int:
        """Insert rows fast (PostgreSQL COPY, SQLite executemany); return how many.

        Every row must have the same keys (the columns). Aware datetimes are stored as naive
        UTC, like `portal.db_setup.UTCDateTime`; give explicit values for columns whose default
        is Python-side (SQLAlchemy `default=`), since they are bypassed here.
        """
        rows = rows if isinstance(rows, list) else list(rows)
        if not rows:
            return 0
        columns = list(rows[0])
        raw = self.conn.connection.driver_connection
        if self.dialect == "postgresql":
            cols = ", ".join(columns)
            with raw.cursor() as cur, cur.copy(f"COPY {table_name} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([_value(row[c]) for c in columns])
        else:
            sql = (f"INSERT INTO {table_name} ({', '.join(columns)}) "
                   f"VALUES ({', '.join('?' * len(columns))})")
            cur = raw.cursor()
            try:
                cur.executemany(sql, ([_sqlite_value(row[c]) for c in columns] for row in rows))
            finally:
                cur.close()
        return len(rows)


def _value(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _sqlite_value(value: Any) -> Any:
    # SQLAlchemy's SQLite DateTime stores "YYYY-MM-DD HH:MM:SS.ffffff" and Date "YYYY-MM-DD".
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


__all__ = ["PUBLIC_BAR", "SIGNED_IN_BAR", "VOTE_BAR", "Context", "Target"]
