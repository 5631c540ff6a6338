"""`page_columns`: the labelled columns of the Comune panels written before panels read plain
rows (the catalogue's). New code selects named columns instead."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Date, Integer, Text, cast, func, literal_column, null, type_coerce

from portal.db_setup import UTCDateTime

#: The columns a part may have: (prefix, SQL type, how many).
_SLOTS = (("i", Integer, 3), ("s", Text, 5), ("d", Date, 1), ("t", UTCDateTime, 1))


def page_columns(*, i: Sequence = (), s: Sequence = (), d: Sequence = (), t: Sequence = (),
                 order_by: Sequence = ()) -> list:
    """Columns labelled i1.., s1.., d1, t1 (typed NULLs for those not given) and `o`, the
    row's rank in `order_by`."""
    columns = []
    for prefix, type_, size in _SLOTS:
        given = {"i": i, "s": s, "d": d, "t": t}[prefix]
        if len(given) > size:
            raise ValueError(f"at most {size} {prefix} columns in a part")
        for n in range(size):
            name = f"{prefix}{n + 1}"
            if n < len(given):
                columns.append(given[n].label(name))
            else:
                impl = type_.impl if hasattr(type_, "impl") else type_
                columns.append(type_coerce(cast(null(), impl), type_).label(name))
    rank = func.row_number().over(order_by=list(order_by)) if order_by else literal_column("1")
    columns.append(rank.label("o"))
    return columns
