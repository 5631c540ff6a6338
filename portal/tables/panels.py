"""What the tables add to other pages: a Comune's page and the account area."""

from __future__ import annotations

from flask_login import current_user
from sqlalchemy import select

from portal.extensions import db
from portal.tables import services
from portal.tables.models import Table, TableMember


def comune_panel(comune):
    """The Comune's table, its next meeting and its latest decisions."""
    table = services.table_for_comune(comune.id)
    if table is None:
        return None
    upcoming = services.upcoming_meetings([table.id], limit=1)
    return ("tables/_comune_panel.html", {
        "table": table, "comune": comune, "next": upcoming[0] if upcoming else None,
        "decisions": services.latest_decisions([table.id], limit=5),
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
