"""What the tables add to other pages: a Comune's page and the account area."""

from __future__ import annotations

from datetime import timedelta

from flask_login import current_user
from sqlalchemy import bindparam, select

from portal.db_setup import utcnow
from portal.extensions import db
from portal.network.rows import page_columns
from portal.network.services import ComunePanel
from portal.tables import day, outcome_label, path_to, when
from portal.tables.models import Decision, Meeting, MeetingStatus, Minutes, Table, TableMember
from portal.tables.public import decision_list
from portal.tables.services import DecisionLine

#: Latest decisions on a Comune's page.
COMUNE_DECISIONS = 5


def _comune_parts(comune_id) -> list:
    """The Comune's table with its next convened meeting, and its latest decisions in force
    (read in the Comune page's one statement)."""
    next_id = (select(Meeting.id)
               .where(Meeting.table_id == Table.id,
                      Meeting.status == MeetingStatus.CONVENED.value,
                      Meeting.starts_at >= bindparam("tables_since"))
               .order_by(Meeting.starts_at, Meeting.id).limit(1)
               .correlate(Table).scalar_subquery())
    table = (select(*page_columns(i=(Table.id, Meeting.id), s=(Table.name, Table.slug),
                                  t=(Meeting.starts_at,)))
             .outerjoin(Meeting, Meeting.id == next_id)
             .where(Table.comune_id == comune_id))
    table_id = select(Table.id).where(Table.comune_id == comune_id).scalar_subquery()
    latest = (Decision.decided_on.desc(), Decision.id.desc())
    decisions = (select(*page_columns(i=(Decision.id,), s=(Decision.title, Decision.outcome),
                                      d=(Decision.decided_on,), order_by=latest))
                 .join(Minutes, Minutes.current_revision_id == Decision.revision_id)
                 .where(Decision.table_id == table_id)
                 .order_by(*latest).limit(COMUNE_DECISIONS))
    return [table, decisions]


def _comune_params() -> dict:
    return {"tables_since": utcnow() - timedelta(hours=6)}


def _comune_context(comune, rows) -> dict | None:
    tables, decisions = rows
    if not tables:
        return None
    t = tables[0]
    return {
        "name": t.s1,
        "url": path_to("tables.table", "slug", t.s2),
        "next": (path_to("tables.meeting", "meeting_id", t.i2), when(t.t1, "medium"))
        if t.i2 is not None else None,
        "ics_url": path_to("tables.comune_ics", "slug", comune.slug),
        "projects_url": path_to("tables.comune_projects", "slug", comune.slug),
        "decisions": decision_list([
            DecisionLine(d.i1, d.s1, d.d1, d.s2, day(d.d1), outcome_label(d.s2))
            for d in decisions]) if decisions else None,
    }


#: The Comune's table on its page, its rows read with the page's (see network.services).
comune_panel = ComunePanel("tables/_comune_panel.html", _comune_parts, _comune_context,
                           _comune_params)


def my_tables(user=None) -> list[tuple[Table, TableMember]]:
    user = user or current_user
    if not getattr(user, "is_authenticated", False):
        return []
    return list(db.session.execute(
        select(Table, TableMember).join(TableMember, TableMember.table_id == Table.id)
        .where(TableMember.user_id == user.id, TableMember.left_on.is_(None))
        .order_by(Table.name)).all())


def has_seat(user) -> bool:
    return bool(my_tables(user))
