"""What voting learns from the tables module, which sits above it (tables → voting).

Voting rounds belong to tables, but voting does not import the tables module: the tables
module tells voting, at init_app, how to find a table and which tables a user may open
rounds for (`register_tables`). Until it has, there are none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_TABLES: dict[str, Callable] = {}


def register_tables(get: Callable[[int], Any | None], managed_by: Callable[[Any], list]
                    ) -> None:
    """`get(table_id)`: the table or None; `managed_by(user)`: the tables `user` may open
    rounds for (secretaries of the table, officers of its Comune, coordinators: all). A
    table needs `id`, `name` and `comune_id`."""
    _TABLES.update(get=get, managed_by=managed_by)


def table(table_id: int):
    """The table with this id, or None."""
    get = _TABLES.get("get")
    return get(table_id) if get is not None else None


def managed_tables(user) -> list:
    managed_by = _TABLES.get("managed_by")
    return list(managed_by(user)) if managed_by is not None else []
