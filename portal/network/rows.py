"""A whole page in one round trip: a UNION ALL of same-shaped rows.

A public page often shows a record and a few short lists from other tables; reading each with
its own statement costs a round trip apiece (~0.5 ms of CPU on PostgreSQL) and building each
select per request costs more than running it. Instead each list becomes a *part* of one
statement, built once: `page_columns()` puts a part's columns into the common shape, and
`parts_statement()` joins the parts; `rows_by_part()` splits the result again.

Used by the Comune's page (network.services.comune_page, whose panels add their own parts)
and by the tables' pages (portal/tables/public.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    Date,
    Integer,
    Select,
    Text,
    cast,
    func,
    literal_column,
    null,
    select,
    type_coerce,
    union_all,
)

from portal.db_setup import UTCDateTime

#: The slots of a row: (prefix, SQL type, how many).
_SLOTS = (("i", Integer, 3), ("s", Text, 5), ("d", Date, 1), ("t", UTCDateTime, 1))
#: The columns of every part, in order.
_NAMES = (*(f"{p}{n + 1}" for p, _t, size in _SLOTS for n in range(size)), "o", "part")


def page_columns(*, i: Sequence = (), s: Sequence = (), d: Sequence = (), t: Sequence = (),
                 order_by: Sequence = ()) -> list:
    """The columns of one part of a page's statement.

    `i` integers (up to 3), `s` texts (up to 5), `d` one date, `t` one UTC timestamp go into
    the slots i1.., s1.., d1, t1 (typed NULLs fill the others, so that every part has the
    same shape on both databases), and `order_by` gives the part's order as the row's `o`
    (the rows of each part come back in that order). A part with ORDER BY and LIMIT is fine.
    """
    columns = []
    for prefix, type_, size in _SLOTS:
        given = {"i": i, "s": s, "d": d, "t": t}[prefix]
        if len(given) > size:
            raise ValueError(f"at most {size} {prefix} columns in a part")
        for n in range(size):
            name = f"{prefix}{n + 1}"
            if n < len(given):
                columns.append(given[n].label(name))
            elif prefix == "s":  # PostgreSQL reads a bare NULL in a subquery as text
                columns.append(type_coerce(null(), type_).label(name))
            else:  # a NULL typed on the database side (PostgreSQL) and on ours (results)
                impl = type_.impl if hasattr(type_, "impl") else type_
                columns.append(type_coerce(cast(null(), impl), type_).label(name))
    rank = func.row_number().over(order_by=list(order_by)) if order_by else literal_column("1")
    columns.append(rank.label("o"))
    return columns


def sql_constant(value: str):
    """A constant written into the statement (a stored enum value such as 'draft'), not a
    parameter. PostgreSQL plans a prepared statement's generic plan knowing it as well as a
    custom plan does, so it keeps that plan instead of planning the statement again on every
    request (0.5-1 ms for a page's UNION ALL)."""
    if not value.isidentifier():
        raise ValueError(f"not a plain constant: {value!r}")
    return literal_column(f"'{value}'")


def parts_statement(parts: Sequence[Select]):
    """One UNION ALL of `parts` made with `page_columns`: each row says which part it belongs
    to (`part`, the index in `parts`), and the rows come part after part, each part's in its
    own order (`o`). Build it once, at first use, and run it with bound parameters.

    The statement is kept short (psycopg parses a statement of more than 4,096 characters
    again on every execution): a part with ORDER BY or LIMIT is wrapped in a subquery (SQLite
    wants no ORDER BY in a compound's member) and read by bare column names; the first part
    gives the columns their types, so it keeps them.
    """
    selects = []
    for n, part in enumerate(parts):
        part = part.add_columns(literal_column(str(n), Integer).label("part"))
        if part._order_by_clauses or part._limit_clause is not None:
            inner = part.subquery(f"p{n}")
            part = select(*(inner.c if n == 0 else [literal_column(c) for c in _NAMES])
                          ).select_from(inner)
        selects.append(part)
    return union_all(*selects).order_by(literal_column("part"), literal_column("o"))


def rows_by_part(result, count: int) -> list[list]:
    """The rows of a `parts_statement` of `count` parts, as one list per part."""
    rows: list[list] = [[] for _n in range(count)]
    for row in result.all():  # one fetchall: fetching row by row costs ~10 calls a row
        rows[row.part].append(row)
    return rows
