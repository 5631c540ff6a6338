"""What the tables add to other pages: a Comune's page and the account area."""

from __future__ import annotations

from flask_login import current_user
from sqlalchemy import select

from portal.extensions import db
from portal.tables import services, when
from portal.tables.models import Table, TableMember


def comune_panel(comune):
    """The Comune's table, its next meeting and its latest decisions (two light queries)."""
    row = services.comune_table_row(comune.id)
    if row is None:
        return None
    table_id, name, slug, meeting_id, starts_at = row
    return ("tables/_comune_panel.html", {
        "table": services.TableRef(table_id, name, slug), "comune": comune,
        "next": (meeting_id, when(starts_at, "medium")) if meeting_id is not None else None,
        "decisions": services.decision_rows(table_id, limit=5),
    })


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
