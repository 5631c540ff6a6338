"""What the tables add to the modules below them, registered at init_app: a section of each
Comune's page, the table every new Comune gets, tables as scopes of roles, the member's
tables in the account area, the tables proposals are addressed to and a proposal's meetings
and decision, and the tables voting rounds belong to."""

from __future__ import annotations

from flask_login import current_user
from sqlalchemy import select

from portal.authz import Scope
from portal.core.services import register_dashboard_panel
from portal.extensions import db
from portal.network import services as network
from portal.proposals import services as proposals
from portal.tables import services
from portal.tables.models import Meeting, MeetingStatus, Table, TableMember
from portal.voting import register_tables as register_voting_tables

#: Latest decisions on a Comune's page.
COMUNE_DECISIONS = 5


def comune_panel(comune) -> tuple[str, dict] | None:
    """The Comune's table on its page: its next convened meeting and latest decisions."""
    table = db.session.execute(select(Table.id, Table.name, Table.slug)
                               .where(Table.comune_id == comune.id)).first()
    if table is None:
        return None
    next_meeting = db.session.execute(
        select(Meeting.id, Meeting.starts_at)
        .where(Meeting.table_id == table.id, Meeting.status == MeetingStatus.CONVENED.value,
               Meeting.starts_at >= services.since_for_upcoming())
        .order_by(Meeting.starts_at, Meeting.id).limit(1)).first()
    return "tables/_comune_panel.html", {
        "table": table, "comune": comune, "next": next_meeting,
        "decisions": services.decision_page(table.id, COMUNE_DECISIONS)}


def open_table(comune, **_extra) -> None:
    """Every Comune that joins the Rete gets its municipal table."""
    db.session.add(Table(
        # content, not interface: stored in Italian whatever the officer's language
        name=f"Tavolo delle famiglie in rete di {comune.name}",
        slug=f"tavolo-{comune.slug}", comune_id=comune.id, constituted_on=comune.joined_on,
    ))


def table_scopes(comune_ids: set[int] | None) -> list[tuple[int, str]]:
    """Tables as scopes of roles: those of the given Comuni, or every one (None)."""
    query = select(Table.id, Table.name).order_by(Table.name)
    if comune_ids is not None:
        query = query.where(Table.comune_id.in_(comune_ids))
    return [(row.id, row.name) for row in db.session.execute(query)]


def table(table_id: int) -> Table | None:
    return db.session.get(Table, table_id)


def proposal_tables(comune_id: int) -> list[Table]:
    """The tables a household of the Comune may address: its own first, then the Rete's."""
    return list(db.session.scalars(
        select(Table).where((Table.comune_id == comune_id) | Table.comune_id.is_(None))
        .order_by(Table.comune_id.is_(None), Table.name)))


def proposal_panel(proposal) -> tuple[str, dict] | None:
    """The proposal's meetings, decision and project, below its text (None: none yet)."""
    links = services.proposal_links(proposal.id)
    if not (links["meetings"] or links["decision"]):
        return None
    return "tables/_proposal_links.html", links


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


def register() -> None:
    network.register_comune_panel(comune_panel)
    network.register_scope(Scope.TABLE.value, table_scopes)
    network.comune_created.connect(open_table)
    register_dashboard_panel("tables/_dashboard_panel.html", has_seat)
    proposals.register_tables(get=table, choices=proposal_tables)
    proposals.register_proposal_panel(proposal_panel, place="main")
    register_voting_tables(get=table, managed_by=services.managed_tables)
