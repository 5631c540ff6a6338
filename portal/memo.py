"""Reference data kept by each worker until the next write: `memo(key, compute)`.

Many pages read the same small, rarely changing data (the themes, the list of rounds, a
Comune's name, labels). `memo` keeps what `compute()` returned, per worker, for as long as
nothing has been written to the database since — the same generation the page cache uses
(portal/pagecache.py: every committed transaction that writes something a public page shows
bumps it, on every worker and, with Redis, on every node) — and at most `MEMO_SECONDS`
(default 60; 0 turns the memo off and every call computes).

- The generation is the one read when the request came in, before it opened a transaction, so
  a value is never kept past a write the computation could not see (SQLite readers keep the
  snapshot they started with).
- A request that has written in its open transaction computes without keeping: its uncommitted
  rows must not reach other requests.
- Values are shared by every request of the worker: keep immutable things (tuples, frozen
  dataclasses, strings, dicts nobody mutates), never ORM objects bound to a session, and never
  anything that depends on who is asking.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app

T = TypeVar("T")
#: Beyond this many keys the memo starts again (some keys come from ids in URLs).
MAX_ENTRIES = 2048

_lock = threading.Lock()


def _transaction_wrote() -> bool:
    from portal.extensions import db
    from portal.pagecache import WROTE

    session = db.session()
    if session.new or session.dirty or session.deleted:
        return True
    if not session.in_transaction():
        return False
    # In a transaction, connection() is the one it already holds (pagecache marks its writes).
    return bool(session.connection().info.get(WROTE))


def memo(key: Any, compute: Callable[[], T]) -> T:
    """`compute()`, or the value it gave earlier in this worker if nothing was written since."""
    app = current_app
    store: dict | None = app.extensions.get("rete_memo")
    if store is None:
        return compute()
    from portal.pagecache import current_generation

    generation = current_generation()
    if generation is None:
        return compute()
    now = time.monotonic()
    hit = store.get(key)
    if hit is not None and hit[0] == generation and now < hit[1]:
        return hit[2]
    value = compute()
    if _transaction_wrote():
        return value
    with _lock:
        if len(store) >= MAX_ENTRIES:
            store.clear()
        store[key] = (generation, now + app.config["MEMO_SECONDS"], value)
    return value


def clear(app: Flask) -> None:
    store = app.extensions.get("rete_memo")
    if store is not None:
        store.clear()


def init_app(app: Flask) -> None:
    """On when `MEMO_SECONDS` > 0 (call after portal.pagecache.init_app, which keeps the
    generation the memo depends on)."""
    if float(app.config.get("MEMO_SECONDS", 0) or 0) > 0 and "rete_generation" in app.extensions:
        app.extensions["rete_memo"] = {}
