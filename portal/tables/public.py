"""The tables' public pages: read in one statement each, their lists written in Python.

A table's page shows the table, its seats, its next and latest meetings, the years of its
archive and its latest decisions: one UNION ALL of same-shaped rows (portal/network/rows.py),
built once, so one round trip instead of four. The meeting, decision and seat lists are
written here (`meeting_list`, `decision_list`, `seat_rows`) rather than by Jinja macros.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import bindparam, case, func, literal_column, select

from portal.accounts.models import User
from portal.db_setup import utcnow
from portal.extensions import db
from portal.i18n import current_locale, formatted
from portal.network.models import Association, Comune
from portal.network.rows import page_columns, parts_statement, rows_by_part, sql_constant
from portal.tables import member_role_label, outcome_label, path_parts
from portal.tables.models import (
    BodyKind,
    Decision,
    Meeting,
    MeetingStatus,
    MemberRole,
    Minutes,
    Table,
    TableMember,
)
from portal.tables.services import (
    ComuneRef,
    DecisionLine,
    MeetingLine,
    Seat,
    TableInfo,
    local,
    today,
)

#: The parts of the table page's statement, in order.
_TABLE, _SEATS, _UPCOMING, _PAST, _OLDEST, _DECISIONS = range(6)


@dataclass(frozen=True)
class TablePage:
    table: TableInfo
    seats: list[Seat]
    upcoming: list[MeetingLine]
    past: list[MeetingLine]
    years: list[int]
    decisions: list[DecisionLine]


@cache
def _table_page_statement():
    by_slug = select(Table.id).where(Table.slug == bindparam("slug")).cte("t")  # looked up once
    table_id = select(by_slug.c.id).scalar_subquery()
    table = (select(*page_columns(
        i=(Table.id, Table.comune_id),
        s=(Table.name, Table.slug, Table.description, Comune.name, Comune.slug),
        d=(Table.constituted_on,)))
        .outerjoin(Comune, Comune.id == Table.comune_id)
        .where(Table.slug == bindparam("slug")))
    # The chair, the secretary, then everyone by name; the body a seat stands for is the
    # Comune's or the association's name (None: the families).
    role, kind = TableMember.role, TableMember.body_kind
    role_order = (case((role == sql_constant(MemberRole.CHAIR.value), literal_column("0")),
                       (role == sql_constant(MemberRole.SECRETARY.value), literal_column("1")),
                       else_=literal_column("2")), User.name, TableMember.id)
    body = case((kind == sql_constant(BodyKind.COMUNE.value), Comune.name),
                (kind == sql_constant(BodyKind.ASSOCIATION.value), Association.name))
    seats = (select(*page_columns(
        s=(User.name, TableMember.role, TableMember.title, TableMember.body_kind, body),
        order_by=role_order))
        .join(User, User.id == TableMember.user_id)
        .outerjoin(Comune, Comune.id == TableMember.comune_id)
        .outerjoin(Association, Association.id == TableMember.association_id)
        .where(TableMember.table_id == table_id, TableMember.left_on.is_(None))
        .order_by(*role_order).limit(bindparam("seats")))

    def meetings(*where, order, limit):
        return (select(*page_columns(i=(Meeting.id, Meeting.minutes_revision),
                                     s=(Meeting.title, Meeting.place, Meeting.status),
                                     t=(Meeting.starts_at,), order_by=order))
                .where(Meeting.table_id == table_id, *where).order_by(*order).limit(limit))

    since = bindparam("since")
    upcoming = meetings(Meeting.status == sql_constant(MeetingStatus.CONVENED.value),
                        Meeting.starts_at >= since, order=(Meeting.starts_at, Meeting.id),
                        limit=bindparam("upcoming"))
    public = Meeting.status != sql_constant(MeetingStatus.DRAFT.value)
    past = meetings(public, Meeting.starts_at < since,
                    order=(Meeting.starts_at.desc(), Meeting.id.desc()), limit=bindparam("past"))
    oldest = (select(*page_columns(t=(func.min(Meeting.starts_at),)))
              .where(Meeting.table_id == table_id, public))
    latest = (Decision.decided_on.desc(), Decision.id.desc())
    decisions = (select(*page_columns(i=(Decision.id,), s=(Decision.title, Decision.outcome),
                                      d=(Decision.decided_on,), order_by=latest))
                 .join(Minutes, Minutes.current_revision_id == Decision.revision_id)
                 .where(Decision.table_id == table_id)
                 .order_by(*latest).limit(bindparam("decisions")))
    return parts_statement([table, seats, upcoming, past, oldest, decisions])


def table_page(slug: str, seats: int, upcoming: int, past: int,
               decisions: int) -> TablePage | None:
    """Everything a table's public page shows, in one query (None when no such table)."""
    rows = rows_by_part(db.session.connection().execute(_table_page_statement(), {
        "slug": slug, "seats": seats, "upcoming": upcoming, "past": past,
        "decisions": decisions, "since": utcnow() - timedelta(hours=6)}), _DECISIONS + 1)
    if not rows[_TABLE]:
        return None
    t = rows[_TABLE][0]
    table = TableInfo(t.i1, t.s1, t.s2, t.i2, t.d1, t.s3,
                      ComuneRef(t.s4, t.s5) if t.i2 is not None else None)
    locale = current_locale()
    families, of_comune = _("le famiglie"), _("Comune di %(name)s")
    seat_lines = []
    for r in rows[_SEATS]:
        name, role, title, kind, body = r.s1, r.s2, r.s3, r.s4, r.s5
        if body and kind == BodyKind.COMUNE:
            body = of_comune % {"name": body}
        elif not (body and kind == BodyKind.ASSOCIATION):
            body = families
        seat_lines.append(Seat(name, role, title, body, member_role_label(role)))
    upcoming_lines, past_lines = (
        [MeetingLine(r.i1, r.s1, r.t1, r.s2, r.s3, r.i2, formatted(r.t1, "medium", locale))
         for r in rows[part]] for part in (_UPCOMING, _PAST))
    oldest = rows[_OLDEST][0].t1 if rows[_OLDEST] else None
    return TablePage(
        table=table, seats=seat_lines, upcoming=upcoming_lines, past=past_lines,
        years=_years(table, upcoming_lines + past_lines, oldest),
        decisions=[DecisionLine(r.i1, r.s1, r.d1, r.s2, formatted(r.d1, "long", locale),
                                outcome_label(r.s2)) for r in rows[_DECISIONS]])


def _years(table: TableInfo, shown: list[MeetingLine], oldest) -> list[int]:
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


# --------------------------------------------------------------------------- lists as HTML
#
# The lists of the tables' pages written here rather than through Jinja macros (a macro costs
# ten times more per row, and importing one ~260 calls). Every value from the database is
# escaped (`_HTML`: the entities markupsafe writes); translated strings are our catalogue's,
# trusted as the templates' `_()` trusts them.

_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"})


def meeting_list(meetings: list[MeetingLine], empty: str) -> Markup:
    """The meetings (title, when, where, cancelled or minutes published), or `empty`."""
    if not meetings:
        return Markup(f"<p>{empty}</p>")  # noqa: S704 - a translated string of ours
    before, after = path_parts("tables.meeting", "meeting_id")
    # (outside the f-strings: the extraction of the messages does not look inside them)
    cancelled, published = _("annullata"), _("verbale pubblicato")
    cancelled = f" · <strong>{cancelled}</strong>"
    published = f" · {published}"
    revised = _("revisione %(n)d")
    out = ['<ul class="list-unstyled meeting-list">']
    for m in meetings:
        place = f" · {m.place.translate(_HTML)}" if m.place else ""
        if m.status == MeetingStatus.CANCELLED:
            state = cancelled
        elif m.minutes_revision:
            state = published + (f" ({revised % {'n': m.minutes_revision}})"
                                 if m.minutes_revision > 1 else "")
        else:
            state = ""
        out.append(
            f'  <li class="mb-2">\n'
            f'    <a href="{before}{m.id}{after}">{m.title.translate(_HTML)}</a>\n'
            f'    <span class="d-block small">{m.when.translate(_HTML)}{place}\n'
            f"    {state}</span>\n  </li>")
    out.append("</ul>")
    return Markup("\n".join(out))  # noqa: S704 - every value above is escaped


def decision_list(decisions: list[DecisionLine]) -> Markup:
    """The decisions in force (title, day, outcome), or a line saying there are none."""
    if not decisions:
        return Markup("<p>%s</p>") % _("Ancora nessuna delibera.")
    before, after = path_parts("tables.decision", "decision_id")
    out = ['<ul class="list-unstyled">']
    for d in decisions:
        out.append(
            f'  <li class="mb-2"><a href="{before}{d.id}{after}">{d.title.translate(_HTML)}</a>\n'
            f'    <span class="d-block small">{d.day.translate(_HTML)} · <span class="badge '
            f'outcome-{d.outcome.translate(_HTML)}">{d.label.translate(_HTML)}</span></span></li>')
    out.append("</ul>")
    return Markup("\n".join(out))  # noqa: S704 - every value above is escaped


def seat_rows(seats: list[Seat]) -> Markup:
    """The rows of the members' table: name, role, what they stand for, their office."""
    return Markup("".join(  # noqa: S704 - every value is escaped
        f'<tr><th scope="row">{s.name.translate(_HTML)}</th>'
        f"<td>{s.role_label.translate(_HTML)}</td>"
        f"<td>{s.represents.translate(_HTML)}</td>"
        f"<td>{(s.title or '').translate(_HTML)}</td></tr>" for s in seats))


def project_rows(rows: list, overdue: bool = False) -> Markup:
    """The rows of an accountability table: title (late ones marked), where, who answers for
    it, the deadline and the progress."""
    before, after = path_parts("tables.project", "project_id")
    late = _("in ritardo").translate(_HTML)
    late = f' <span class="badge bg-danger">{late}</span>' if overdue else ""
    row_open = '<tr class="overdue">' if overdue else "<tr>"
    rete = _("Rete").translate(_HTML)
    progress = _("Avanzamento").translate(_HTML)
    return Markup("\n".join(  # noqa: S704 - every value is escaped
        f'{row_open}<th scope="row"><a href="{before}{p.id}{after}">'
        f"{p.title.translate(_HTML)}</a>{late}</th>"
        f"<td>{(p.comune_name or '').translate(_HTML) or rete}</td>"
        f"<td>{(p.responsible or '').translate(_HTML)}</td>"
        f"<td>{p.deadline_text.translate(_HTML)}</td>"
        f'<td class="text-end"><progress max="100" value="{int(p.progress)}" '
        f'aria-label="{progress}"></progress> {int(p.progress)}%</td></tr>' for p in rows))
