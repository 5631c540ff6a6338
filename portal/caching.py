"""The portal's one cache: Flask-Caching, with invalidation that follows committed writes.

- Backend: Redis when `REDIS_URL` is set (every worker and node shares it), otherwise an
  in-process `SimpleCache` (development, a single worker).
- Every key carries the *generation*: a counter in the cache that goes up after each committed
  transaction that changed rows (SQLAlchemy's session events `after_flush`, `do_orm_execute`
  and `after_commit`). What was cached before a write is never read again after it; old
  entries simply expire. Tables that no public page shows (login sessions, mail outbox,
  notifications, audit log) do not move it.
- `remember(key, compute)` keeps a value that is the same for everyone (a fragment, a count, a
  list of themes) until the next write or its timeout.
- Whole pages: a GET of a public endpoint by a visitor without a session cookie is answered
  from the cache when the same page (path, query, language, htmx headers) was rendered since
  the last write; signed-in visitors, forms that set a cookie, errors and anything but a 200
  are never stored. `PAGE_CACHE_SECONDS` = 0 turns the page cache off.
- The cache is an optimisation: if Redis does not answer, pages are rendered as if it were
  empty.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, has_request_context, request
from sqlalchemy import event

from portal.extensions import cache, db

log = logging.getLogger(__name__)
T = TypeVar("T")

GENERATION_KEY = "generation"
#: Tables whose rows no public page shows: writing them leaves cached pages valid.
QUIET_TABLES = frozenset({"login_sessions", "outbox", "notifications", "audit_log"})
#: htmx request headers that change the answer (a partial instead of the page).
HTMX_HEADERS = ("HX-Request", "HX-Boosted", "HX-History-Restore-Request", "HX-Target",
                "HX-Trigger", "HX-Trigger-Name")
_CHANGED = "rete_changed_rows"


# --------------------------------------------------------------------------- generation


def generation() -> int:
    """The current write generation (read once per request)."""
    if has_request_context() and "rete_generation" in g:
        return g.rete_generation
    try:
        value = int(cache.get(GENERATION_KEY) or 0)
    except Exception:  # noqa: BLE001 - the cache is an optimisation; see the module
        log.warning("cache: the generation could not be read")
        value = -1
    if has_request_context():
        g.rete_generation = value
    return value


def bump() -> None:
    """Make everything cached so far stale (called after a committed write)."""
    try:
        if cache.inc(GENERATION_KEY) is None:
            cache.set(GENERATION_KEY, 1, timeout=0)
    except Exception:  # noqa: BLE001 - the write is committed; cached pages then time out
        log.exception("cache: a committed write could not move the generation")
    if has_request_context():
        g.pop("rete_generation", None)


def _loud(instances) -> bool:
    return any(getattr(obj, "__tablename__", None) not in QUIET_TABLES for obj in instances)


def _after_flush(session, _context) -> None:
    if _loud(session.new) or _loud(session.dirty) or _loud(session.deleted):
        session.info[_CHANGED] = True


def _orm_execute(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        tables = {getattr(m.local_table, "name", None) for m in state.all_mappers}
        if not tables or tables - QUIET_TABLES:
            state.session.info[_CHANGED] = True
    elif not state.is_select:
        state.session.info[_CHANGED] = True  # text() and other statements: assume a write


def _after_commit(session) -> None:
    if session.info.pop(_CHANGED, False):
        bump()


def _after_rollback(session) -> None:
    session.info.pop(_CHANGED, None)


def mark_changed() -> None:
    """Say that the request's transaction changed what pages show (for writes made on a
    connection outside the ORM session's knowledge)."""
    db.session.info[_CHANGED] = True


def pending_changes() -> bool:
    """Whether the request's session holds changes not yet committed."""
    session = db.session
    return bool(session.new or session.dirty or session.deleted or session.info.get(_CHANGED))


# --------------------------------------------------------------------------- values


def remember(key: str | tuple, compute: Callable[[], T], timeout: int | None = None) -> T:
    """`compute()`, kept in the cache until the next committed write (or `timeout` seconds).

    Keep only what is the same for every visitor and can be pickled: tuples, dicts, strings,
    numbers, dataclasses — never ORM objects. A request with uncommitted changes computes
    without keeping (its rows must not reach other requests)."""
    gen = generation()
    full = f"v:{gen}:{key if isinstance(key, str) else ':'.join(map(str, key))}"
    if gen >= 0:
        try:
            hit = cache.get(full)
        except Exception:  # noqa: BLE001
            hit = None
        if hit is not None:
            return hit[0]
    value = compute()
    if gen >= 0 and not pending_changes():
        try:
            cache.set(full, (value,), timeout=timeout)
        except Exception:  # noqa: BLE001
            log.warning("cache: could not keep %s", full)
    return value


# --------------------------------------------------------------------------- pages


def _page_key() -> str | None:
    """The key of this request's page, or None if it may not come from the cache."""
    if request.method != "GET" or request.endpoint in (None, "static"):
        return None
    if current_app.config["SESSION_COOKIE_NAME"] in request.cookies:
        return None
    if current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies:
        return None
    from portal.authz import PUBLIC, rule_for

    if rule_for(request.endpoint) is not PUBLIC:
        return None
    gen = generation()
    if gen < 0:
        return None
    from portal.i18n import current_locale

    parts = [request.scheme, request.host, request.full_path, current_locale(),
             *(request.headers.get(name, "") for name in HTMX_HEADERS)]
    digest = hashlib.blake2b("\n".join(parts).encode(), digest_size=16).hexdigest()
    return f"p:{gen}:{digest}"


def _serve_cached_page():
    if not current_app.config.get("PAGE_CACHE_SECONDS"):
        return None
    key = _page_key()
    if key is None:
        return None
    g.rete_page_key = key
    try:
        hit = cache.get(key)
    except Exception:  # noqa: BLE001
        return None
    if hit is None:
        return None
    status, headers, body = hit
    g.rete_page_key = None  # already stored
    return Response(body, status=status, headers=headers)


def _store_page(response: Response) -> Response:
    key = g.get("rete_page_key")
    if not key:
        return response
    cache_control = response.cache_control
    if (response.status_code != 200 or response.is_streamed or response.direct_passthrough
            or "Set-Cookie" in response.headers or cache_control.private
            or cache_control.no_store or pending_changes()):
        return response
    headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
    try:
        cache.set(key, (response.status_code, headers, response.get_data()),
                  timeout=current_app.config["PAGE_CACHE_SECONDS"])
    except Exception:  # noqa: BLE001
        log.warning("cache: could not keep a page")
    return response


# --------------------------------------------------------------------------- setup


def cache_config(app: Flask) -> None:
    """Flask-Caching's settings from the portal's (unless the app was given its own)."""
    redis_url = app.config.get("REDIS_URL") or ""
    if "CACHE_TYPE" not in app.config:
        app.config["CACHE_TYPE"] = "RedisCache" if redis_url else "SimpleCache"
    if redis_url:
        app.config.setdefault("CACHE_REDIS_URL", redis_url)
    app.config.setdefault("CACHE_KEY_PREFIX", f"{app.config.get('REDIS_PREFIX') or 'rete'}:")
    app.config.setdefault("CACHE_DEFAULT_TIMEOUT", 300)


def init_app(app: Flask) -> None:
    cache_config(app)
    cache.init_app(app)
    session = db.session
    if not getattr(session, "_rete_cache_events", False):
        event.listen(session, "after_flush", _after_flush)
        event.listen(session, "do_orm_execute", _orm_execute)
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_rollback", _after_rollback)
        session._rete_cache_events = True
    app.before_request(_serve_cached_page)
    app.after_request(_store_page)


def clear(app: Flask | None = None) -> None:
    """Empty the cache (tests, after loading data by other means than the portal)."""
    cache.clear()

