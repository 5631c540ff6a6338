"""A short-lived per-process memo for reference data read on every page (themes, rounds).

Each worker keeps its own copy for a few seconds; nothing here is needed by another worker
and a stale copy only delays a new theme or round in a filter menu. Off while testing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import current_app

_MEMO: dict[tuple[str, str], tuple[float, Any]] = {}
#: beyond this many entries the memo starts again (keys come partly from query strings)
MAX_ENTRIES = 512


def memo(key: str, compute: Callable[[], Any], seconds: float | None = None) -> Any:
    app = current_app
    ttl = app.config.get("PROPOSALS_MEMO_SECONDS", 30) if seconds is None else seconds
    if app.testing or not ttl:
        return compute()
    full_key = (app.config["SQLALCHEMY_DATABASE_URI"], key)
    now = time.monotonic()
    hit = _MEMO.get(full_key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = compute()
    if len(_MEMO) >= MAX_ENTRIES:
        _MEMO.clear()
    _MEMO[full_key] = (now + ttl, value)
    return value
