"""A micro-cache of whole public pages for anonymous visitors.

Most visits are anonymous reads of the same public pages (the home, the Comuni, the catalogue,
the proposals, a table's page). Each gunicorn worker keeps the responses it rendered for them for
`PAGE_CACHE_SECONDS` (default 10; 0 disables the cache; each page 80–100% of it, at random, so
that pages rendered together do not expire together) and answers the same request again
without running Flask at all, like a reverse proxy's micro-cache would, but knowing what the
portal knows:

- Only GET requests from visitors with no cookie but the language one (no session, so no user,
  no flash message, no CSRF token) are looked up or stored; the key is the path, the query
  string, the language, the host and scheme, and the htmx headers (partials differ from pages).
- Only answers the portal marked as cacheable are stored: status 200 of an endpoint whose rule
  is `public`, not streamed, setting no cookie, not `private`/`no-store`, at most 512 KiB.
- Any transaction that writes to the database (except to the tables that never show on a public
  page: login sessions, outbox, notifications, audit log) makes every worker's cache stale at
  once: the commit appends a byte to a generation file in the instance folder and every lookup
  compares the file's identity (inode, size, modification time) — one `stat()` per request.
- With `REDIS_URL` set (several workers, several servers) the pages are also kept in Redis,
  shared by every worker and node: a page one worker rendered is served by all the others, and
  a write on any node makes every node's pages stale, through a counter in Redis that each
  worker reads whenever its own generation file changed and at least every
  `PAGE_CACHE_SYNC_SECONDS` (default 0.5). Without Redis, servers that share one database do not
  share the file either: there the age bound (`PAGE_CACHE_SECONDS`) is the only bound between
  them. If Redis stops answering, each worker goes on with its own cache.

The cache holds at most `PAGE_CACHE_MAX_MB` (default 32) per worker, least recently used first out.

The generation read at the start of every request (before the request touches the database) is
also left in the WSGI environ (`rete.generation`): `portal/memo.py` keeps reference data under
it, so that what the request computes is never kept past a write it could not see.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from hashlib import blake2b
from pathlib import Path

from flask import Flask, current_app, has_request_context, request
from flask_login import current_user
from sqlalchemy import event

#: The WSGI environ key the Flask side sets on an answer that may be stored.
MARK = "rete.page_cache"
#: The WSGI environ key holding the generation read when the request came in.
GENERATION = "rete.generation"
#: Redis keys, after REDIS_PREFIX and before a digest of the database's URL (so that several
#: portals, or test suites, may share one Redis).
REDIS_COUNTER = ":pages:generation:"
REDIS_PAGE = ":pages:page:"

log = logging.getLogger(__name__)
#: Tables whose writes never change what an anonymous visitor sees.
QUIET_TABLES = ("login_sessions", "outbox", "notifications", "audit_log")
MAX_ENTRY_BYTES = 512 * 1024
#: Cookies that do not make a visitor someone else (the language is part of the key).
ANONYMOUS_COOKIES = frozenset({"lang"})
#: htmx request headers that change the answer; HX-Current-URL does not (it is only read to
#: send an anonymous visitor to the login page, which is never a stored 200).
_KEY_HEADERS = ("HTTP_HX_REQUEST", "HTTP_HX_BOOSTED", "HTTP_HX_HISTORY_RESTORE_REQUEST",
                "HTTP_HX_TARGET", "HTTP_HX_TRIGGER", "HTTP_HX_TRIGGER_NAME")
#: Set on a pooled connection's info by a transaction that wrote; read after its commit.
WROTE = "rete_wrote"
_WRITE_PREFIXES = ("INSERT", "UPDATE", "DELETE", "TRUNCA")
_QUIET_STATEMENTS = tuple(f"{verb} {table}" for table in QUIET_TABLES
                          for verb in ("INSERT INTO", "UPDATE", "DELETE FROM"))


#: A stored page lives between this share of `PAGE_CACHE_SECONDS` and all of it, at random:
#: pages rendered together (after a write, or at start) do not all expire together again and
#: again, each time a burst of renders that the visitors of that moment wait for.
MIN_LIFETIME_SHARE = 0.8


@dataclass(slots=True)
class Entry:
    status: str
    headers: list[tuple[str, str]]
    body: bytes
    generation: tuple
    created: float
    #: seconds it is served for, from `created`
    lifetime: float


class Generation:
    """A file whose identity changes on every write transaction, seen by every worker."""

    #: Past this size the file is replaced (new inode) instead of growing.
    MAX_SIZE = 64 * 1024

    def __init__(self, path: str | os.PathLike, shared: SharedCounter | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            self.path.touch()
        self._lock = threading.Lock()
        self.shared = shared

    def local(self) -> tuple[int, int, int]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self.bump()
            st = os.stat(self.path)
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def current(self, shared_pages: bool = True) -> tuple:
        """This node's generation, and the Rete-wide counter when Redis is shared.

        `shared_pages=False` for a request that will not look for a page in Redis (a POST, a
        signed-in visitor): its counter may be the one read up to `sync` seconds ago even if
        this node wrote since, because this node's writes are already in the file's part.
        """
        local = self.local()
        if self.shared is None:
            return local
        return (*local, self.shared.value(local, eager=shared_pages))

    def bump(self) -> None:
        # Redis first: a worker that sees the file change then reads the new counter.
        if self.shared is not None:
            self.shared.bump()
        with self._lock:
            try:
                size = os.stat(self.path).st_size
            except FileNotFoundError:
                size = 0
            if size >= self.MAX_SIZE:
                fresh = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
                fresh.write_bytes(b"")
                os.replace(fresh, self.path)
            # O_APPEND writes of one byte are atomic: concurrent bumps all change the size.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, b".")
            finally:
                os.close(fd)


class SharedCounter:
    """The write counter in Redis, seen by every node; read at most every `sync` seconds,
    and at once whenever this node's own generation file changed (a write on this node)."""

    def __init__(self, client, key: str, sync: float = 0.5, clock=time.monotonic):
        self.client = client
        self.key = key
        self.sync = sync
        self.clock = clock
        self._seen: tuple | None = None
        self._value = 0
        self._read_at = float("-inf")
        # The bump's own connection, made from the client's settings (address, database,
        # password, TLS) in this process: a write sends one INCR packed once, and reads its
        # answer, without the client's pool and command layers (~170 calls and 45 µs of CPU
        # a write, against ~40 and 15).
        self._lock = threading.Lock()
        self._connection = None
        self._pid = 0
        self._incr = None

    def value(self, local: tuple, eager: bool = True) -> int:
        """The counter; read again from Redis after `sync` seconds, and at once when this
        node's file changed if `eager` (a page looked for in Redis must be of the counter that
        includes this node's own writes: the pages there are keyed by the counter alone)."""
        now = self.clock()
        if (eager and local != self._seen) or now - self._read_at >= self.sync:
            try:
                self._value = int(self.client.get(self.key) or 0)
            except Exception:  # noqa: BLE001 - Redis down: this node's file still bounds staleness
                log.warning("page cache: Redis did not answer; using this node's generation only")
            self._seen, self._read_at = local, now
        return self._value

    def bump(self) -> None:
        with self._lock:
            while True:
                fresh = self._connection is None or self._pid != os.getpid()
                try:
                    if fresh:  # new, or inherited from a fork
                        self._connect()
                    self._connection.send_packed_command(self._incr, check_health=False)
                    self._value = int(self._connection.read_response())
                    return
                except Exception:  # noqa: BLE001 - the other nodes fall back on PAGE_CACHE_SECONDS
                    self._drop_connection()
                    if fresh:  # Redis does not answer: no second wait for it
                        log.warning("page cache: could not tell Redis about a write")
                        return
                    # A connection Redis had closed (a restart, an idle timeout): once more on
                    # a new one.

    def _connect(self) -> None:
        connection = self.client.connection_pool.make_connection()
        connection.connect()
        self._connection, self._pid = connection, os.getpid()
        self._incr = connection.pack_command("INCR", self.key)

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and self._pid == os.getpid():
            try:
                connection.disconnect()
            except Exception:  # noqa: BLE001 - it is being dropped anyway
                log.debug("page cache: closing a dropped Redis connection failed", exc_info=True)


class PageCache:
    """WSGI middleware in front of the Flask app; see the module's docstring."""

    def __init__(self, wsgi_app, seconds: float, generation: Generation,
                 max_bytes: int = 32 * 1024 * 1024, clock=time.monotonic,
                 shared=None, prefix: str = "rete" + REDIS_PAGE, spread=random.random):
        self.wsgi_app = wsgi_app
        self.seconds = seconds
        #: a number in [0, 1) for each stored page, which places its lifetime in its range
        self.spread = spread
        self.generation = generation
        self.max_bytes = max_bytes
        self.clock = clock
        #: a Redis client keeping the pages for every worker and node, or None
        self.shared = shared
        self.prefix = prefix
        self.shared_hits = 0
        self.entries: OrderedDict[tuple, Entry] = OrderedDict()
        self.size = 0
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lookup

    @staticmethod
    def key(environ) -> tuple | None:
        """The cache key of a request, or None when it must reach the app."""
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("HTTP_AUTHORIZATION"):
            return None
        lang = ""
        cookies = environ.get("HTTP_COOKIE")
        if cookies:
            for part in cookies.split(";"):
                name, _, value = part.strip().partition("=")
                if not name:
                    continue
                if name not in ANONYMOUS_COOKIES:
                    return None
                lang = value
        return (environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""), lang,
                environ.get("HTTP_HOST", ""), environ.get("wsgi.url_scheme", ""),
                tuple(environ.get(h) for h in _KEY_HEADERS))

    def __call__(self, environ, start_response):
        # Read before the request opens a transaction: whatever it computes is at least as new.
        key = self.key(environ) if self.seconds > 0 else None
        generation = environ[GENERATION] = self.generation.current(
            shared_pages=key is not None and self.shared is not None)
        if key is None:
            return self.wsgi_app(environ, start_response)
        now = self.clock()
        with self._lock:
            entry = self.entries.get(key)
            if entry is not None:
                if entry.generation == generation and now - entry.created < entry.lifetime:
                    self.entries.move_to_end(key)
                    self.hits += 1
                else:
                    self._drop(key)
                    entry = None
        if entry is None and self.shared is not None:
            entry = self._shared_get(key, generation, now)
        if entry is not None:
            start_response(entry.status,
                           entry.headers + [("Age", str(int(now - entry.created)))])
            return [entry.body]
        self.misses += 1
        return self._render(environ, start_response, key, generation)

    # ------------------------------------------------------------------ shared store (Redis)

    def _shared_key(self, key: tuple) -> str:
        return self.prefix + blake2b(repr(key).encode(), digest_size=20).hexdigest()

    def _shared_get(self, key: tuple, generation: tuple, now: float) -> Entry | None:
        """A page another worker stored for this generation, kept here too; or None."""
        try:
            raw = self.shared.get(self._shared_key(key))
        except Exception:  # noqa: BLE001 - Redis down: render, as without it
            return None
        if not raw:
            return None
        head, _, body = raw.partition(b"\n")
        try:
            meta = json.loads(head)
            stored_generation = meta["g"]
            age = time.time() - meta["t"]
            lifetime = min(float(meta.get("l", self.seconds)), self.seconds)
        except (ValueError, KeyError, TypeError):
            return None
        if stored_generation != generation[-1] or not 0 <= age < lifetime:
            return None
        entry = Entry(meta["s"], [tuple(h) for h in meta["h"]], body, generation, now - age,
                      lifetime)
        self._keep(key, entry)
        self.shared_hits += 1
        return entry

    def _shared_set(self, key: tuple, entry: Entry) -> None:
        meta = json.dumps({"g": entry.generation[-1], "t": time.time(), "s": entry.status,
                           "h": entry.headers, "l": entry.lifetime},
                          separators=(",", ":")).encode()
        try:
            self.shared.set(self._shared_key(key), meta + b"\n" + entry.body,
                            px=max(1, int(entry.lifetime * 1000)))
        except Exception:  # noqa: BLE001 - Redis down: this worker keeps its copy
            log.warning("page cache: could not store a page in Redis")

    # ------------------------------------------------------------------ store

    def _render(self, environ, start_response, key, generation):
        answer: dict = {}

        def capture(status, headers, exc_info=None):
            if exc_info is not None or not environ.get(MARK):
                answer["passed"] = True
                return start_response(status, headers, exc_info)
            answer["status"], answer["headers"] = status, headers
            return _no_write

        app_iter = self.wsgi_app(environ, capture)
        if answer.get("passed") or "status" not in answer:
            return app_iter
        status, headers = answer["status"], answer["headers"]
        try:
            body = b"".join(app_iter)
        finally:
            close = getattr(app_iter, "close", None)
            if close is not None:
                close()
        if (status.startswith("200 ") and len(body) <= MAX_ENTRY_BYTES
                and not any(name.lower() == "set-cookie" for name, _ in headers)):
            lifetime = self.seconds * (MIN_LIFETIME_SHARE
                                       + (1 - MIN_LIFETIME_SHARE) * self.spread())
            self._store(key, Entry(status, list(headers), body, generation, self.clock(),
                                   lifetime))
        start_response(status, headers)
        return [body]

    def _store(self, key, entry: Entry) -> None:
        self._keep(key, entry)
        if self.shared is not None:
            self._shared_set(key, entry)

    def _keep(self, key, entry: Entry) -> None:
        with self._lock:
            self._drop(key)
            self.entries[key] = entry
            self.size += len(entry.body)
            while self.size > self.max_bytes and self.entries:
                self._drop(next(iter(self.entries)))

    def _drop(self, key) -> None:
        entry = self.entries.pop(key, None)
        if entry is not None:
            self.size -= len(entry.body)

    def clear(self) -> None:
        with self._lock:
            self.entries.clear()
            self.size = 0


def _no_write(_data):  # pragma: no cover - Flask never uses the legacy write()
    raise RuntimeError("the page cache does not support write()")


# ---------------------------------------------------------------------- the Flask side


def _mark_cacheable(response):
    """Tell the middleware that this answer may be stored (see the module's docstring)."""
    if (request.method != "GET" or response.status_code != 200 or response.is_streamed
            or response.direct_passthrough):
        return response
    from portal.authz import PUBLIC, rule_for

    endpoint = request.endpoint
    if endpoint is None or endpoint == "static" or rule_for(endpoint) is not PUBLIC:
        return response
    cache_control = response.cache_control
    if cache_control.private or cache_control.no_store or cache_control.no_cache:
        return response
    if current_user.is_authenticated:
        return response
    request.environ[MARK] = True
    return response


def _watch_writes(engine, generation: Generation) -> None:
    """Bump the generation after every committed transaction that wrote something visible."""

    @event.listens_for(engine, "before_cursor_execute")
    def _note_write(conn, _cursor, statement, _params, _context, _executemany):
        statement = statement.lstrip()
        if statement[:6].upper() in _WRITE_PREFIXES and not statement.startswith(
                _QUIET_STATEMENTS):
            conn.info[WROTE] = True

    # After the commit, not in the "commit" event (which SQLAlchemy sends before the DBAPI
    # commit): a worker that sees the generation move must find the rows already there, or it
    # would keep a page of the old rows under the new generation. (It also keeps SQLite's
    # write lock free while the file and Redis are told.)
    dialect = engine.dialect
    commit = dialect.do_commit

    def do_commit(dbapi_connection):
        commit(dbapi_connection)
        if dbapi_connection.info.pop(WROTE, False):  # the pool record's info, as conn's
            try:
                generation.bump()
            except Exception:  # noqa: BLE001 - the write is committed: never fail it now
                # The stored pages then live out PAGE_CACHE_SECONDS (the memo MEMO_SECONDS).
                log.exception("page cache: a committed write could not move the generation")

    dialect.do_commit = do_commit

    @event.listens_for(engine, "rollback")
    def _rolled_back(conn):
        conn.info.pop(WROTE, None)


def _redis_client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25)


def init_app(app: Flask) -> None:
    """The generation (always, when the page cache or the memo is on) and the page cache."""
    seconds = float(app.config.get("PAGE_CACHE_SECONDS", 0) or 0)
    memo_seconds = float(app.config.get("MEMO_SECONDS", 0) or 0)
    if seconds <= 0 and memo_seconds <= 0:
        return
    redis_url = app.config.get("REDIS_URL") or ""
    client = _redis_client(redis_url) if redis_url else None
    # Two portals (or two test databases) may share one Redis: keys name the database.
    scope = blake2b(app.config["SQLALCHEMY_DATABASE_URI"].encode(), digest_size=6).hexdigest()
    prefix = app.config.get("REDIS_PREFIX") or "rete"
    shared = (SharedCounter(client, f"{prefix}{REDIS_COUNTER}{scope}",
                            float(app.config.get("PAGE_CACHE_SYNC_SECONDS", 0.5)))
              if client is not None else None)
    generation = Generation(app.config.get("PAGE_CACHE_FILE")
                            or Path(app.instance_path) / "page-cache.generation", shared)
    from portal.extensions import db

    with app.app_context():
        for engine in db.engines.values():
            _watch_writes(engine, generation)
    app.extensions["rete_generation"] = generation
    if seconds > 0:
        app.after_request(_mark_cacheable)
    max_bytes = int(float(app.config.get("PAGE_CACHE_MAX_MB", 32)) * 1024 * 1024)
    cache = PageCache(app.wsgi_app, seconds, generation, max_bytes=max_bytes,
                      shared=client if seconds > 0 else None,
                      prefix=f"{prefix}{REDIS_PAGE}{scope}:")
    app.wsgi_app = cache
    if seconds > 0:
        app.extensions["page_cache"] = cache


def current_generation() -> tuple | None:
    """The generation read when this request came in (None: no page cache nor memo)."""
    source = current_app.extensions.get("rete_generation")
    if source is None:
        return None
    if not has_request_context():
        return source.current()
    generation = request.environ.get(GENERATION)
    if generation is None:
        generation = request.environ[GENERATION] = source.current()
    return generation


def page_cache() -> PageCache | None:
    return current_app.extensions.get("page_cache")
