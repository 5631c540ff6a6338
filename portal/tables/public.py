"""A table's public page: the table, its seats, its next and latest meetings, the years of its
archive and its latest decisions (the lists are rendered by the templates' partials)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from portal.tables.services import (
    Seat,
    TableInfo,
    decision_page,
    local,
    meeting_span,
    past_lines,
    seats,
    table_info,
    today,
    upcoming_lines,
)


@dataclass(frozen=True)
class TablePage:
    table: TableInfo
    seats: list[Seat]
    upcoming: list
    past: list
    years: list[int]
    decisions: list


def table_page(slug: str, seats_shown: int, upcoming: int, past: int,
               decisions: int) -> TablePage | None:
    """Everything a table's public page shows (None when no such table)."""
    table = table_info(slug)
    if table is None:
        return None
    upcoming_rows = upcoming_lines(table.id, upcoming)
    past_rows = past_lines(table.id, past)
    first, _last = meeting_span(table.id)
    return TablePage(
        table=table, seats=seats(table.id, seats_shown), upcoming=upcoming_rows,
        past=past_rows, years=_years(table, [*upcoming_rows, *past_rows], first),
        decisions=decision_page(table.id, decisions))


def _years(table: TableInfo, shown: list, oldest: datetime | None) -> list[int]:
    """The years of the archive, newest first: from the latest meeting shown or this year back
    to the constitution or the oldest meeting, whichever is earlier."""
    starts = [local(m.starts_at).year for m in shown]
    if oldest is not None:
        starts.append(local(oldest).year)
    if table.constituted_on is not None:
        first = min([table.constituted_on.year, *starts])
        newest = max([today().year, *starts])
    elif starts:
        first, newest = min(starts), max(starts)
    else:
        return []
    return list(range(newest, first - 1, -1))
