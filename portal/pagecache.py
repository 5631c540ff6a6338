"""A micro-cache of whole public pages for anonymous visitors.

Most visits are anonymous reads of the same public pages (the home, the Comuni, the catalogue,
the proposals, a table's page). Each gunicorn worker keeps the responses it rendered for them for
`PAGE_CACHE_SECONDS` (default 10; 0 disables the cache) and answers the same request again
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
  Several servers sharing one database do not share this file: there the age bound
  (`PAGE_CACHE_SECONDS`) is the only bound, so keep it low or set it to 0.

The cache holds at most `PAGE_CACHE_MAX_MB` (default 32) per worker, least recently used first out.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app, request
from flask_login import current_user
from sqlalchemy import event

#: The WSGI environ key the Flask side sets on an answer that may be stored.
MARK = "rete.page_cache"
#: Tables whose writes never change what an anonymous visitor sees.
QUIET_TABLES = ("login_sessions", "outbox", "notifications", "audit_log")
MAX_ENTRY_BYTES = 512 * 1024
#: Cookies that do not make a visitor someone else (the language is part of the key).
ANONYMOUS_COOKIES = frozenset({"lang"})
#: htmx request headers that change the answer; HX-Current-URL does not (it is only read to
#: send an anonymous visitor to the login page, which is never a stored 200).
_KEY_HEADERS = ("HTTP_HX_REQUEST", "HTTP_HX_BOOSTED", "HTTP_HX_HISTORY_RESTORE_REQUEST",
                "HTTP_HX_TARGET", "HTTP_HX_TRIGGER", "HTTP_HX_TRIGGER_NAME")
_WRITE_PREFIXES = ("INSERT", "UPDATE", "DELETE", "TRUNCA")
_QUIET_STATEMENTS = tuple(f"{verb} {table}" for table in QUIET_TABLES
                          for verb in ("INSERT INTO", "UPDATE", "DELETE FROM"))


@dataclass(slots=True)
class Entry:
    status: str
    headers: list[tuple[str, str]]
    body: bytes
    generation: tuple[int, int, int]
    created: float


class Generation:
    """A file whose identity changes on every write transaction, seen by every worker."""

    #: Past this size the file is replaced (new inode) instead of growing.
    MAX_SIZE = 64 * 1024

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            self.path.touch()
        self._lock = threading.Lock()

    def current(self) -> tuple[int, int, int]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self.bump()
            st = os.stat(self.path)
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def bump(self) -> None:
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


class PageCache:
    """WSGI middleware in front of the Flask app; see the module's docstring."""

    def __init__(self, wsgi_app, seconds: float, generation: Generation,
                 max_bytes: int = 32 * 1024 * 1024, clock=time.monotonic):
        self.wsgi_app = wsgi_app
        self.seconds = seconds
        self.generation = generation
        self.max_bytes = max_bytes
        self.clock = clock
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
        key = self.key(environ)
        if key is None:
            return self.wsgi_app(environ, start_response)
        generation = self.generation.current()
        now = self.clock()
        with self._lock:
            entry = self.entries.get(key)
            if entry is not None:
                if entry.generation == generation and now - entry.created < self.seconds:
                    self.entries.move_to_end(key)
                    self.hits += 1
                else:
                    self._drop(key)
                    entry = None
        if entry is not None:
            start_response(entry.status,
                           entry.headers + [("Age", str(int(now - entry.created)))])
            return [entry.body]
        self.misses += 1
        return self._render(environ, start_response, key, generation)

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
            self._store(key, Entry(status, list(headers), body, generation, self.clock()))
        start_response(status, headers)
        return [body]

    def _store(self, key, entry: Entry) -> None:
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
            conn.info["rete_wrote"] = True

    @event.listens_for(engine, "commit")
    def _committed(conn):
        if conn.info.pop("rete_wrote", False):
            generation.bump()

    @event.listens_for(engine, "rollback")
    def _rolled_back(conn):
        conn.info.pop("rete_wrote", None)


def init_app(app: Flask) -> None:
    seconds = float(app.config.get("PAGE_CACHE_SECONDS", 0) or 0)
    if seconds <= 0:
        return
    generation = Generation(app.config.get("PAGE_CACHE_FILE")
                            or Path(app.instance_path) / "page-cache.generation")
    from portal.extensions import db

    with app.app_context():
        for engine in db.engines.values():
            _watch_writes(engine, generation)
    app.after_request(_mark_cacheable)
    cache = PageCache(app.wsgi_app, seconds, generation,
                      max_bytes=int(float(app.config.get("PAGE_CACHE_MAX_MB", 32)) * 1024 * 1024))
    app.wsgi_app = cache
    app.extensions["page_cache"] = cache


def page_cache() -> PageCache | None:
    return current_app.extensions.get("page_cache")
