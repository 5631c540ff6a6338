"""The portal's one cache: Flask-Caching, with invalidation that follows committed writes.

- Backend: Redis when `REDIS_URL` is set (every worker, node and `flask` command shares it),
  otherwise an in-process `SimpleCache` (development, a single worker: a write made by another
  process shows there when the cached value times out).
- Every key carries the *generation*: a random token kept in the cache and replaced after each
  committed transaction that changed rows (SQLAlchemy's session events `after_flush`,
  `do_orm_execute` and `after_commit`). What was cached before a write is never read again
  after it; old entries simply expire. A token rather than a counter: if the cache loses it
  (eviction, a restarted Redis) the next one is new too, never a number already used. Tables
  that no public page shows (login sessions, mail outbox, notifications, audit log) do not
  move it. Writes made outside the ORM session call `mark_changed()`.
- `remember(key, compute)` keeps a value that is the same for everyone (a count, a list of
  themes) until the next write or its timeout; `fragment()` does the same for a piece of a
  template (`{% call fragment("name", vary...) %}…{% endcall %}`), so that a signed-in page
  renders only what is its own: the header's account links, a form's CSRF token, a ballot.
- Whole pages: a GET of a public endpoint by a visitor without a session cookie is answered
  from the cache when the same page (scheme, host, path, query, language, htmx headers) was
  rendered since the last write; signed-in visitors, answers that set a cookie or touch the
  session (forms carry a CSRF token tied to it), errors and anything but a 200 are never
  stored. `PAGE_CACHE_SECONDS` = 0 turns the page cache off.
- The cache is an optimisation: if Redis does not answer, pages are rendered as if it were
  empty, and Redis is not asked again for `RETRY_SECONDS` (a Redis that hangs must not make
  every request wait for its timeout).
- The generation is read once per request, before the value it guards is computed. On SQLite a
  request's reads share the snapshot of its first statement: a value computed from a snapshot
  older than a write committed meanwhile may be kept under the new generation, until its
  timeout. PostgreSQL (READ COMMITTED) reads afresh on every statement.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, has_request_context, request, session
from flask_babel import get_locale
from markupsafe import Markup
from redis.exceptions import RedisError
from sqlalchemy import event

from portal.authz import PUBLIC, rule_for
from portal.extensions import cache, db

log = logging.getLogger(__name__)
T = TypeVar("T")

GENERATION_KEY = "generation"
#: Tables whose rows no public page shows: writing them leaves cached pages valid.
QUIET_TABLES = frozenset({"login_sessions", "outbox", "notifications", "audit_log"})
#: htmx request headers that change the answer (a partial instead of the page).
HTMX_HEADERS = ("HX-Request", "HX-Boosted", "HX-History-Restore-Request", "HX-Target",
                "HX-Trigger", "HX-Trigger-Name")
#: after a cache error, seconds during which the cache is not asked (each process)
RETRY_SECONDS = 5.0
#: seconds Redis is given to connect or answer before the request goes on without it
REDIS_TIMEOUT = 0.25
_CHANGED = "rete_changed_rows"
_DOWN_UNTIL = "rete_cache_down_until"
_MISSING = object()


# --------------------------------------------------------------------------- the backend


def _call(method: str, *args, **kwargs) -> Any:
    """`cache.<method>(...)`, or `_MISSING` when the cache could not be reached or is resting
    after that (logged once per failure, not once per request). Other errors (a value that
    cannot be pickled) are the caller's bug and are raised."""
    state = current_app.extensions
    if state.get(_DOWN_UNTIL, 0.0) > time.monotonic():
        return _MISSING
    try:
        return getattr(cache, method)(*args, **kwargs)
    except (RedisError, OSError):  # the cache is an optimisation; see the module
        log.warning("cache: %s failed; going on without the cache for %.0f s", method,
                    RETRY_SECONDS, exc_info=True)
        state[_DOWN_UNTIL] = time.monotonic() + RETRY_SECONDS
        return _MISSING


# --------------------------------------------------------------------------- generation


def generation() -> str | None:
    """The current write generation (read once per request); None if the cache is down."""
    if has_request_context() and "rete_generation" in g:
        return g.rete_generation
    value = _call("get", GENERATION_KEY)
    if value is None:  # never set, or lost: start a new one (another process may race us)
        fresh = secrets.token_hex(8)
        if _call("add", GENERATION_KEY, fresh, timeout=0) is _MISSING:
            value = _MISSING
        else:
            value = _call("get", GENERATION_KEY) or fresh
    value = None if value is _MISSING else str(value)
    if has_request_context():
        g.rete_generation = value
    return value


def bump() -> None:
    """Make everything cached so far stale (called after a committed write)."""
    if _call("set", GENERATION_KEY, secrets.token_hex(8), timeout=0) is _MISSING:
        log.error("cache: a committed write could not replace the generation; cached pages "
                  "and values stay until they time out")
    if has_request_context():
        g.pop("rete_generation", None)


def _loud(instances) -> bool:
    return any(getattr(obj, "__tablename__", None) not in QUIET_TABLES for obj in instances)


def _after_flush(session, _context) -> None:
    # (new, dirty and deleted still list what this flush wrote)
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
    """Say that the session's transaction changes what pages show (for writes the session's
    events cannot see, such as statements on a connection of its own)."""
    db.session.info[_CHANGED] = True


def pending_changes() -> bool:
    """Whether the request's session holds changes not yet committed."""
    current = db.session()
    return bool(current.new or current.dirty or current.deleted
                or current.info.get(_CHANGED))


# --------------------------------------------------------------------------- values


def remember(key: str | tuple, compute: Callable[[], T], timeout: int | None = None) -> T:
    """`compute()`, kept in the cache until the next committed write (or `timeout` seconds;
    `CACHE_DEFAULT_TIMEOUT` when None).

    Keep only what is the same for every visitor and can be pickled: tuples, dicts, strings,
    numbers, dataclasses — never ORM objects. A request with uncommitted changes computes
    without keeping (its rows must not reach other requests)."""
    gen = generation()
    if gen is None:
        return compute()
    name = key if isinstance(key, str) else ":".join(map(str, key))
    full = f"v:{gen}:{name}"
    hit = _call("get", full)
    if hit is not None and hit is not _MISSING:
        return hit[0]  # kept in a tuple: a value of None is a hit too
    value = compute()
    if not pending_changes():
        _call("set", full, (value,), timeout=timeout)
    return value


def fragment(name: str, *vary: object, caller: Callable[[], Markup]) -> Markup:
    """A piece of a page kept like `remember()`, in the visitor's language, for the Jinja
    `{% call %}` block around it: `{% call fragment("footer") %}…{% endcall %}`.

    The block must show the same thing to everyone who shares `name` and `vary`: nothing
    about the visitor (their name, roles, a CSRF token, flashed messages) and nothing from the
    request that `vary` does not name (the path, the query). What it shows from the database
    is read inside the block (pass loaders, not rows), so that a kept fragment costs no query.
    """
    # caller() is Jinja's rendering, escaped and marked safe; it is kept as it is (pickled
    # with its type), so a kept fragment is never escaped twice.
    return remember(("fragment", name, str(get_locale() or ""), *vary), caller)


# --------------------------------------------------------------------------- pages


def _page_key() -> str | None:
    """The key of this request's page, or None if it may not come from the cache."""
    if request.method != "GET" or request.endpoint in (None, "static"):
        return None
    if current_app.config["SESSION_COOKIE_NAME"] in request.cookies:
        return None
    if current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies:
        return None
    if rule_for(request.endpoint) is not PUBLIC:
        return None
    gen = generation()
    if gen is None:
        return None
    parts = [request.scheme, request.host, request.full_path, str(get_locale() or ""),
             *(request.headers.get(name, "") for name in HTMX_HEADERS)]
    digest = hashlib.blake2b("\n".join(parts).encode(), digest_size=16).hexdigest()
    return f"p:{gen}:{digest}"


def _serve_cached_page() -> Response | None:
    if not current_app.config.get("PAGE_CACHE_SECONDS"):
        return None
    key = _page_key()
    if key is None:
        return None
    hit = _call("get", key)
    if hit is None:
        g.rete_page_key = key  # rendered now: stored after the view
        return None
    if hit is _MISSING:
        return None
    status, headers, body = hit
    return Response(body, status=status, headers=headers)


def _storable(response: Response) -> bool:
    cache_control = response.cache_control
    return not (response.status_code != 200 or response.is_streamed
                or response.direct_passthrough or "Set-Cookie" in response.headers
                or cache_control.private or cache_control.no_store
                # Flask writes the session's cookie after these hooks: a page that put
                # anything in the session (a form's CSRF token, a flash) is that visitor's.
                or session.modified or session
                or pending_changes())


def _store_page(response: Response) -> Response:
    key = g.pop("rete_page_key", None)
    if key and _storable(response):
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        _call("set", key, (response.status_code, headers, response.get_data()),
              timeout=int(current_app.config["PAGE_CACHE_SECONDS"]))
    return response


# --------------------------------------------------------------------------- setup


def cache_config(app: Flask) -> None:
    """Flask-Caching's settings from the portal's (unless the app was given its own)."""
    redis_url = app.config.get("REDIS_URL") or ""
    if "CACHE_TYPE" not in app.config:
        app.config["CACHE_TYPE"] = "RedisCache" if redis_url else "SimpleCache"
    if redis_url:
        app.config.setdefault("CACHE_REDIS_URL", redis_url)
        app.config.setdefault("CACHE_OPTIONS", {"socket_connect_timeout": REDIS_TIMEOUT,
                                                "socket_timeout": REDIS_TIMEOUT})
    else:
        # (cachelib's default of 500 entries is a few pages per language and path)
        app.config.setdefault("CACHE_THRESHOLD", 2000)
    app.config.setdefault("CACHE_KEY_PREFIX", f"{app.config.get('REDIS_PREFIX') or 'rete'}:")
    app.config.setdefault("CACHE_DEFAULT_TIMEOUT", 300 if redis_url else 60)


def init_app(app: Flask) -> None:
    cache_config(app)
    cache.init_app(app)
    scoped = db.session
    if not getattr(scoped, "_rete_cache_events", False):
        event.listen(scoped, "after_flush", _after_flush)
        event.listen(scoped, "do_orm_execute", _orm_execute)
        event.listen(scoped, "after_commit", _after_commit)
        event.listen(scoped, "after_rollback", _after_rollback)
        scoped._rete_cache_events = True
    app.jinja_env.globals["fragment"] = fragment
    app.before_request(_serve_cached_page)
    app.after_request(_store_page)


def clear() -> None:
    """Empty the cache (tests, after loading data by other means than the portal)."""
    _call("clear")
    if has_request_context():
        g.pop("rete_generation", None)
