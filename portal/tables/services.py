"""Tables: members, meetings, agendas, attendance, minutes, decisions and the projects after."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import case, func, literal, select, tuple_, union_all
from sqlalchemy.orm import contains_eager, joinedload

from portal import authz
from portal.accounts.models import User
from portal.authz import Role, Scope
from portal.caching import remember
from portal.core.services import activity, audit, notify
from portal.core.texts import Text, text
from portal.db_setup import utcnow
from portal.extensions import db
from portal.i18n import ROME
from portal.network.models import Association, Comune, RoleAssignment
from portal.proposals import services as proposals
from portal.proposals.models import Proposal, ProposalState
from portal.tables import documents
from portal.tables.models import (
    APPROVING_OUTCOMES,
    AgendaItem,
    Attendance,
    AttendanceStatus,
    BodyKind,
    Decision,
    Meeting,
    MeetingStatus,
    MemberRole,
    MinuteItem,
    Minutes,
    MinutesComment,
    MinutesRevision,
    MinutesStatus,
    Outcome,
    Project,
    ProjectStatus,
    ProjectUpdate,
    Table,
    TableMember,
)

log = logging.getLogger(__name__)

ROLE_OF_MEMBER = {
    MemberRole.CHAIR: Role.TABLE_CHAIR,
    MemberRole.SECRETARY: Role.TABLE_SECRETARY,
}


class TablesError(ValueError):
    """A rule of the tables was broken; the message is for the user, `field` names the input."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def local(dt: datetime) -> datetime:
    return dt.astimezone(ROME)


def today() -> date:
    return utcnow().astimezone(ROME).date()


# --------------------------------------------------------------------------- tables


def tables_list() -> list[Table]:
    """Every table, the Rete's first, then by Comune."""
    return list(db.session.scalars(
        select(Table).options(joinedload(Table.comune))
        .order_by(Table.comune_id.is_not(None), Table.name)
    ))


def table_by_slug(slug: str) -> Table | None:
    return db.session.scalar(select(Table).options(joinedload(Table.comune))
                             .where(Table.slug == slug))


def table_for_comune(comune_id: int) -> Table | None:
    return db.session.scalar(select(Table).where(Table.comune_id == comune_id))


def members(table: Table, active: bool = True, limit: int | None = None) -> list[TableMember]:
    """The seats of a table: the chair, the secretary, then everyone by name."""
    role_order = case({MemberRole.CHAIR.value: 0, MemberRole.SECRETARY.value: 1},
                      value=TableMember.role, else_=2)
    query = (select(TableMember).join(User, User.id == TableMember.user_id)
             .where(TableMember.table_id == table.id)
             .options(contains_eager(TableMember.user), joinedload(TableMember.comune),
                      joinedload(TableMember.association))
             .order_by(role_order, User.name, TableMember.id))
    if active:
        query = query.where(TableMember.left_on.is_(None))
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query).unique())


@dataclass(frozen=True)
class Seat:
    """A member as the public page shows it: name, role, office and the body represented."""

    name: str
    role: str
    title: str | None
    represents: str


@dataclass(frozen=True, slots=True)
class ComuneRef:
    name: str
    slug: str


@dataclass(frozen=True, slots=True)
class TableInfo:
    """A table as its public pages show it (no ORM entity: read-only, one light query).

    Has what the templates, the breadcrumbs and the table policies read of a `Table`.
    """

    id: int
    name: str
    slug: str
    comune_id: int | None
    constituted_on: date | None
    description: str | None
    comune: ComuneRef | None

    @property
    def is_intercomunale(self) -> bool:
        return self.comune_id is None


#: What a list of meetings shows of each (see templates/tables/_meeting_list.html).
_MEETING_COLUMNS = (Meeting.id, Meeting.title, Meeting.starts_at, Meeting.place, Meeting.status,
                    Meeting.minutes_revision)
#: Meetings shown to everyone: convened or cancelled, not those being prepared.
PUBLIC_MEETING = Meeting.status != MeetingStatus.DRAFT.value


def since_for_upcoming() -> datetime:
    """A meeting counts as upcoming until six hours after it started (it may still run)."""
    return utcnow() - timedelta(hours=6)


def table_info(slug: str) -> TableInfo | None:
    """A table for its public pages, by slug, in one light query (None when unknown)."""
    row = db.session.execute(
        select(Table.id, Table.name, Table.slug, Table.comune_id, Table.constituted_on,
               Table.description, Comune.name.label("comune_name"),
               Comune.slug.label("comune_slug"))
        .outerjoin(Comune, Comune.id == Table.comune_id)
        .where(Table.slug == slug)).first()
    if row is None:
        return None
    return TableInfo(row.id, row.name, row.slug, row.comune_id, row.constituted_on,
                     row.description, ComuneRef(row.comune_name, row.comune_slug)
                     if row.comune_id is not None else None)


def seats(table_id: int, limit: int) -> list[Seat]:
    """The table's present members: the chair, the secretary, then everyone by name."""
    role_order = case({MemberRole.CHAIR.value: 0, MemberRole.SECRETARY.value: 1},
                      value=TableMember.role, else_=2)
    rows = db.session.execute(
        select(User.name, TableMember.role, TableMember.title, TableMember.body_kind,
               Comune.name.label("comune_name"), Association.name.label("association_name"))
        .join(User, User.id == TableMember.user_id)
        .outerjoin(Comune, Comune.id == TableMember.comune_id)
        .outerjoin(Association, Association.id == TableMember.association_id)
        .where(TableMember.table_id == table_id, TableMember.left_on.is_(None))
        .order_by(role_order, User.name, TableMember.id).limit(limit))
    return [Seat(r.name, r.role, r.title,
                 _represents(r.body_kind, r.comune_name, r.association_name)) for r in rows]


def upcoming_lines(table_id: int, limit: int) -> list:
    """The next convened meetings of a table, soonest first (rows of _MEETING_COLUMNS)."""
    return db.session.execute(
        select(*_MEETING_COLUMNS)
        .where(Meeting.table_id == table_id, Meeting.status == MeetingStatus.CONVENED.value,
               Meeting.starts_at >= since_for_upcoming())
        .order_by(Meeting.starts_at, Meeting.id).limit(limit)).all()


def past_lines(table_id: int, limit: int) -> list:
    """The latest public meetings of a table that have begun, newest first."""
    return db.session.execute(
        select(*_MEETING_COLUMNS)
        .where(Meeting.table_id == table_id, PUBLIC_MEETING,
               Meeting.starts_at < since_for_upcoming())
        .order_by(Meeting.starts_at.desc(), Meeting.id.desc()).limit(limit)).all()


def meeting_span(table_id: int) -> tuple[datetime | None, datetime | None]:
    """The start of the table's first and last public meetings (None, None: no meeting)."""
    first, last = db.session.execute(
        select(func.min(Meeting.starts_at), func.max(Meeting.starts_at))
        .where(Meeting.table_id == table_id, PUBLIC_MEETING)).one()
    return first, last


def archive_year(table: TableInfo | Table, year: int | None,
                 limit: int = 200) -> tuple[list[int], int, list]:
    """The years with meetings (newest first), the year shown (the one asked when it has
    meetings, else the latest) and its meetings, newest first."""
    asked = year if year is not None and 1900 < year < 3000 else None
    first, last = meeting_span(table.id)
    if first is None:
        return [], asked if asked is not None else today().year, []
    years = list(range(local(last).year, local(first).year - 1, -1))
    shown = asked if asked in years else years[0]
    start = datetime(shown, 1, 1, tzinfo=ROME)
    meetings = db.session.execute(
        select(*_MEETING_COLUMNS)
        .where(Meeting.table_id == table.id, PUBLIC_MEETING, Meeting.starts_at >= start,
               Meeting.starts_at < start.replace(year=shown + 1))
        .order_by(Meeting.starts_at.desc(), Meeting.id.desc()).limit(limit)).all()
    return years, shown, meetings


def index_rows(after: str | None, size: int) -> list:
    """A page of the Comuni's tables by slug, as light rows (id, name, slug, comune_name),
    `size` + 1 of them (keyset on the unique slug)."""
    return db.session.execute(
        select(Table.id, Table.name, Table.slug, Comune.name.label("comune_name"))
        .join(Comune, Comune.id == Table.comune_id)
        .where(Table.slug > (after or "")).order_by(Table.slug).limit(size + 1)).all()


def rete_table_row():
    """The inter-municipal table as a light row (id, name, slug), or None."""
    return db.session.execute(
        select(Table.id, Table.name, Table.slug).where(Table.comune_id.is_(None)).limit(1)
    ).first()


def next_meetings(table_ids: list[int]) -> dict[int, tuple[int, datetime]]:
    """The next convened meeting of each table: table id -> (meeting id, start)."""
    if not table_ids:
        return {}
    result: dict[int, tuple[int, datetime]] = {}
    for table_id, meeting_id, starts_at in db.session.execute(
            select(Meeting.table_id, Meeting.id, Meeting.starts_at)
            .where(Meeting.table_id.in_(table_ids),
                   Meeting.status == MeetingStatus.CONVENED.value,
                   Meeting.starts_at >= since_for_upcoming())
            .order_by(Meeting.starts_at, Meeting.id).limit(len(table_ids) * 3)):
        result.setdefault(table_id, (meeting_id, starts_at))
    return result


def decision_page(table_id: int, limit: int, before: tuple[date, int] | None = None) -> list:
    """A page of a table's decisions in force as light rows (id, title, decided_on, outcome,
    amount_cents), newest first, those before the (day, id) cursor when given (keyset)."""
    query = (select(Decision.id, Decision.title, Decision.decided_on, Decision.outcome,
                    Decision.amount_cents)
             .join(Minutes, Minutes.current_revision_id == Decision.revision_id)
             .where(Decision.table_id == table_id))
    if before is not None:
        query = query.where(tuple_(Decision.decided_on, Decision.id) < tuple_(*before))
    return db.session.execute(
        query.order_by(Decision.decided_on.desc(), Decision.id.desc()).limit(limit)).all()


def managed_tables(user) -> list[Table]:
    """The tables `user` may open voting rounds for: those whose secretary they are and those
    of the Comuni they are an officer of (a coordinator: every table), the Rete's first."""
    query = select(Table).order_by(Table.comune_id.is_(None), Table.name)
    if not authz.is_coordinator(user):
        tables = authz.scope_ids(user, Role.TABLE_SECRETARY)
        comuni = authz.scope_ids(user, Role.COMUNE_OFFICER)
        query = query.where(Table.id.in_(tables) | Table.comune_id.in_(comuni))
    return list(db.session.scalars(query))


def member_count(table: Table) -> int:
    return db.session.scalar(select(func.count(TableMember.id)).where(
        TableMember.table_id == table.id, TableMember.left_on.is_(None))) or 0


def represents(member: TableMember) -> str:
    """The body a member stands for, as shown publicly."""
    return _represents(member.body_kind, member.comune.name if member.comune else None,
                       member.association.name if member.association else None)


def _represents(body_kind: str, comune_name: str | None, association_name: str | None) -> str:
    if body_kind == BodyKind.COMUNE and comune_name is not None:
        return _("Comune di %(name)s", name=comune_name)
    if body_kind == BodyKind.ASSOCIATION and association_name is not None:
        return association_name
    return _("le famiglie")


def _sync_roles(member: TableMember, granter_id: int | None) -> None:
    """Make the member's scoped roles match the seat: member always, plus chair or secretary."""
    wanted = set()
    if member.active:
        wanted.add(Role.TABLE_MEMBER.value)
        if member.role in ROLE_OF_MEMBER:
            wanted.add(ROLE_OF_MEMBER[MemberRole(member.role)].value)
    table_roles = (Role.TABLE_MEMBER.value, Role.TABLE_CHAIR.value, Role.TABLE_SECRETARY.value)
    existing = db.session.scalars(select(RoleAssignment).where(
        RoleAssignment.user_id == member.user_id, RoleAssignment.scope_type == Scope.TABLE.value,
        RoleAssignment.scope_id == member.table_id, RoleAssignment.role.in_(table_roles))).all()
    have = {r.role: r for r in existing}
    for role in wanted - have.keys():
        db.session.add(RoleAssignment(user_id=member.user_id, role=role,
                                      scope_type=Scope.TABLE.value, scope_id=member.table_id,
                                      granted_by_id=granter_id))
    for role in have.keys() - wanted:
        db.session.delete(have[role])
    if member.user is not None:
        authz.forget_roles(member.user)


def add_member(actor, table: Table, email: str, role: str, body_kind: str,
               comune_id: int | None = None, association_id: int | None = None,
               title: str | None = None, joined_on: date | None = None) -> TableMember:
    """Seat a person at the table and grant the matching scoped roles, in one step."""
    user = db.session.scalar(select(User).where(User.email == (email or "").strip().lower(),
                                                User.deleted_at.is_(None)))
    if user is None:
        raise TablesError(_("Nessun account con questo indirizzo e-mail."), "email")
    if role not in MemberRole._value2member_map_:
        raise TablesError(_("Ruolo non valido."), "role")
    _check_body(body_kind, comune_id, association_id)
    if role in (MemberRole.CHAIR, MemberRole.SECRETARY):
        holder = db.session.scalar(select(TableMember).where(
            TableMember.table_id == table.id, TableMember.role == role,
            TableMember.left_on.is_(None), TableMember.user_id != user.id))
        if holder is not None:
            raise TablesError(_("Il tavolo ha già un presidente.") if role == MemberRole.CHAIR
                              else _("Il tavolo ha già un segretario."), "role")
    member = db.session.scalar(select(TableMember).where(
        TableMember.table_id == table.id, TableMember.user_id == user.id))
    if member is not None and member.active:
        raise TablesError(_("La persona è già componente del tavolo."), "email")
    if member is None:
        member = TableMember(table_id=table.id, user_id=user.id)
        db.session.add(member)
    member.user = user
    member.role = role
    member.body_kind = body_kind
    member.comune_id = comune_id if body_kind == BodyKind.COMUNE else None
    member.association_id = association_id if body_kind == BodyKind.ASSOCIATION else None
    member.title = title or None
    member.joined_on = joined_on or today()
    member.left_on = None
    db.session.flush()
    _sync_roles(member, getattr(actor, "id", None))
    audit("table.member_added", member, {"table": table.id, "user": user.id, "role": role},
          actor=actor)
    return member


def _check_body(body_kind: str, comune_id: int | None, association_id: int | None) -> None:
    if body_kind not in BodyKind._value2member_map_:
        raise TablesError(_("Indica chi rappresenta."), "body_kind")
    if body_kind == BodyKind.COMUNE and (
            comune_id is None or db.session.get(Comune, comune_id) is None):
        raise TablesError(_("Scegli il Comune rappresentato."), "comune_id")
    if body_kind == BodyKind.ASSOCIATION and (
            association_id is None or db.session.get(Association, association_id) is None):
        raise TablesError(_("Scegli l'associazione rappresentata."), "association_id")


def remove_member(actor, member: TableMember) -> None:
    """End a seat (its attendance history stays) and revoke the table roles."""
    if not member.active:
        raise TablesError(_("La persona non fa più parte del tavolo."))
    member.left_on = today()
    _sync_roles(member, getattr(actor, "id", None))
    audit("table.member_removed", member, {"table": member.table_id, "user": member.user_id},
          actor=actor)


def member_of(user, table_id: int) -> TableMember | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(select(TableMember).where(
        TableMember.table_id == table_id, TableMember.user_id == user.id,
        TableMember.left_on.is_(None)))


# --------------------------------------------------------------------------- meetings


@dataclass(frozen=True, slots=True)
class TableRef:
    id: int
    name: str
    slug: str


@dataclass(frozen=True, slots=True)
class RevisionRef:
    """The current revision of a meeting's minutes, without its content (read only when its
    rendering is not cached yet)."""

    id: int
    number: int
    reason: str | None
    published_at: datetime
    content_hash: str

    @property
    def content(self) -> str:
        return db.session.scalar(select(MinutesRevision.content)
                                 .where(MinutesRevision.id == self.id))


@dataclass(frozen=True, slots=True)
class AgendaLine:
    position: int
    title: str
    proposal_id: int | None
    description: str | None


@dataclass(slots=True)
class MeetingPage:
    """A meeting as its public page shows it, with its table and current revision: one light
    query (the agenda is read only for meetings without published minutes)."""

    id: int
    table_id: int
    title: str
    starts_at: datetime
    ends_at: datetime | None
    place: str | None
    online_url: str | None
    notes: str | None
    status: str
    minutes_revision: int
    table: TableRef
    minutes_id: int | None
    revision: RevisionRef | None
    items: list[AgendaLine] = field(default_factory=list)
    #: entered once it had been held (see Meeting.recorded_afterwards)
    recorded_afterwards: bool = False


def meeting_page(meeting_id: int) -> MeetingPage | None:
    """A meeting for its public page (None when unknown); its agenda only when no minutes are
    published (the minutes then show the items)."""
    row = db.session.execute(
        select(Meeting.id, Meeting.table_id, Meeting.title, Meeting.starts_at,
               Meeting.ends_at, Meeting.place, Meeting.online_url, Meeting.notes,
               Meeting.status, Meeting.minutes_revision, Meeting.convened_at,
               Table.name.label("table_name"),
               Table.slug.label("table_slug"), Minutes.id.label("minutes_id"),
               MinutesRevision.id.label("revision_id"), MinutesRevision.number,
               MinutesRevision.reason, MinutesRevision.published_at,
               MinutesRevision.content_hash)
        .join(Table, Table.id == Meeting.table_id)
        .outerjoin(Minutes, Minutes.meeting_id == Meeting.id)
        .outerjoin(MinutesRevision, MinutesRevision.id == Minutes.current_revision_id)
        .where(Meeting.id == meeting_id)).first()
    if row is None:
        return None
    revision_ = (RevisionRef(row.revision_id, row.number, row.reason, row.published_at,
                             row.content_hash) if row.revision_id is not None else None)
    page = MeetingPage(row.id, row.table_id, row.title, row.starts_at, row.ends_at, row.place,
                       row.online_url, row.notes, row.status, row.minutes_revision,
                       TableRef(row.table_id, row.table_name, row.table_slug), row.minutes_id,
                       revision_, recorded_afterwards=row.convened_at is not None
                       and row.convened_at >= row.starts_at)
    if revision_ is None:
        page.items = [AgendaLine(*r) for r in db.session.execute(
            select(AgendaItem.position, AgendaItem.title, AgendaItem.proposal_id,
                   AgendaItem.description)
            .where(AgendaItem.meeting_id == row.id)
            .order_by(AgendaItem.position, AgendaItem.id))]
    return page


def upcoming_meetings(table_ids: list[int], limit: int = 5) -> list[Meeting]:
    return list(db.session.scalars(
        select(Meeting).where(Meeting.table_id.in_(table_ids),
                              Meeting.status == MeetingStatus.CONVENED,
                              Meeting.starts_at >= utcnow() - timedelta(hours=6))
        .order_by(Meeting.starts_at, Meeting.id).limit(limit)))


def draft_meetings(table: Table) -> list[Meeting]:
    return list(db.session.scalars(
        select(Meeting).where(Meeting.table_id == table.id, Meeting.status == MeetingStatus.DRAFT)
        .order_by(Meeting.starts_at)))


def create_meeting(actor, table: Table, data: dict) -> Meeting:
    _check_meeting_data(data)
    meeting = Meeting(table_id=table.id, title=data["title"], starts_at=data["starts_at"],
                      ends_at=data.get("ends_at"), place=data.get("place") or None,
                      online_url=data.get("online_url") or None, notes=data.get("notes") or None,
                      created_by_id=getattr(actor, "id", None))
    db.session.add(meeting)
    db.session.flush()
    audit("meeting.created", meeting, {"table": table.id}, actor=actor)
    return meeting


def update_meeting(actor, meeting: Meeting, data: dict) -> Meeting:
    if meeting.status == MeetingStatus.CANCELLED:
        raise TablesError(_("La seduta è stata annullata."))
    if meeting.minutes_revision:
        raise TablesError(_("Il verbale della seduta è pubblicato: la seduta non si modifica."))
    _check_meeting_data(data)
    if meeting.minutes is not None and data["starts_at"] > utcnow():
        raise TablesError(_("Il verbale è aperto: la seduta non si sposta nel futuro."),
                          "day")
    meeting.title, meeting.starts_at = data["title"], data["starts_at"]
    for key in ("ends_at", "place", "online_url", "notes"):
        setattr(meeting, key, data.get(key) or None)
    audit("meeting.updated", meeting, {}, actor=actor)
    return meeting


def _check_meeting_data(data: dict) -> None:
    if not data.get("place") and not data.get("online_url"):
        raise TablesError(_("Indica il luogo o il collegamento online."), "place")
    url = data.get("online_url")
    if url and not url.startswith("https://"):
        raise TablesError(_("Il collegamento deve iniziare con https://."), "online_url")
    if data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
        raise TablesError(_("La fine deve venire dopo l'inizio."), "ends_time")


def _editable_agenda(meeting: Meeting) -> None:
    if meeting.status == MeetingStatus.CANCELLED:
        raise TablesError(_("La seduta è stata annullata."))
    if meeting.minutes is not None:
        raise TablesError(_("Il verbale è già in preparazione: l'ordine del giorno è chiuso."))


def offered_proposals(meeting: Meeting) -> list:
    """Proposals that can go on the agenda: selected by a round first, then postponed ones."""
    on_this = {i.proposal_id for i in meeting.items if i.proposal_id}
    selected = list(proposals.selected_for_table(meeting.table_id))
    waiting = db.session.scalars(
        select(Proposal).where(Proposal.table_id == meeting.table_id,
                               Proposal.state == ProposalState.ON_AGENDA)
        .order_by(Proposal.support_count.desc(), Proposal.id).limit(50)).all()
    seen: set[int] = set()
    offered = []
    for p in [*selected, *waiting]:
        if p.id in on_this or p.id in seen:
            continue
        if p.state not in (ProposalState.SELECTED, ProposalState.ON_AGENDA):
            continue
        seen.add(p.id)
        offered.append(p)
    return offered


def add_agenda_item(actor, meeting: Meeting, title: str | None, description: str | None,
                    proposal_id: int | None = None) -> AgendaItem:
    _editable_agenda(meeting)
    proposal = None
    if proposal_id:
        proposal = next((p for p in offered_proposals(meeting) if p.id == proposal_id), None)
        if proposal is None:
            raise TablesError(_("Questa proposta non può andare all'ordine del giorno."),
                              "proposal_id")
        title = title or proposal.title
    if not title:
        raise TablesError(_("Campo obbligatorio."), "title")
    position = 1 + max((i.position for i in meeting.items), default=0)
    item = AgendaItem(meeting=meeting, position=position, title=title,
                      description=description or None,
                      proposal_id=proposal.id if proposal else None)
    db.session.add(item)
    db.session.flush()
    if proposal is not None and meeting.status == MeetingStatus.CONVENED:
        _put_on_agenda(actor, meeting, proposal)
        _notify_convocation(meeting, users=_authors(proposal))
    audit("meeting.item_added", meeting, {"item": item.id, "proposal": item.proposal_id},
          actor=actor)
    return item


def remove_agenda_item(actor, item: AgendaItem) -> None:
    meeting = item.meeting
    _editable_agenda(meeting)
    if meeting.status == MeetingStatus.CONVENED and item.proposal_id:
        raise TablesError(_("La seduta è convocata: una proposta all'ordine del giorno si "
                            "decide, eventualmente con un rinvio."))
    meeting.items.remove(item)
    for position, other in enumerate(meeting.items, start=1):
        other.position = position
    audit("meeting.item_removed", meeting, {"title": item.title}, actor=actor)


def move_agenda_item(actor, item: AgendaItem, direction: str) -> None:
    meeting = item.meeting
    _editable_agenda(meeting)
    items = list(meeting.items)
    index = items.index(item)
    other = index - 1 if direction == "up" else index + 1
    if other < 0 or other >= len(items):
        return
    items[index].position, items[other].position = items[other].position, items[index].position
    meeting.items.sort(key=lambda i: i.position)


def convene(actor, meeting: Meeting) -> None:
    """Publish the convocation: proposals go on the agenda; members and authors are told.

    A meeting whose start has passed was already held: it is recorded afterwards (made
    public, its attendance and minutes to be entered), with no convocation sent, and it says
    so (`Meeting.recorded_afterwards`)."""
    if meeting.status != MeetingStatus.DRAFT:
        raise TablesError(_("La seduta è già stata convocata o annullata."))
    if not meeting.items:
        raise TablesError(_("L'ordine del giorno è vuoto."))
    now = utcnow()
    held = meeting.has_started(now)
    meeting.status = MeetingStatus.CONVENED
    meeting.convened_at = now
    authors = []
    for item in meeting.items:
        if item.proposal is not None:
            _put_on_agenda(actor, meeting, item.proposal)
            authors.extend(_authors(item.proposal))
    if not held:
        _notify_convocation(meeting, [m.user for m in members(meeting.table)] + authors)
    link = url_for("tables.meeting", meeting_id=meeting.id)
    activity("meeting.convened",
             text("meeting.recorded" if held else "meeting.convened",
                  table=meeting.table.name, when=local(meeting.starts_at).date()),
             link, meeting.table.comune_id)
    audit("meeting.convened", meeting, {"items": len(meeting.items),
                                        "recorded_afterwards": held}, actor=actor)
    log.info("meeting %s convened by %s", meeting.id, getattr(actor, "id", None))


def _authors(proposal) -> list:
    return list(proposals.authors(proposal))


def _supporters(proposal) -> list:
    return list(proposals.supporters(proposal))


def _put_on_agenda(actor, meeting: Meeting, proposal) -> None:
    if proposal.state == ProposalState.SELECTED:
        _transition(proposal, ProposalState.ON_AGENDA, actor,
                    text("history.on_agenda", when=local(meeting.starts_at).date()))


def _transition(proposal, state, actor, note: str | Text | None,
                details: dict | None = None) -> None:
    proposals.transition(proposal, state, actor, note, authorized=True, details=details)


def _notify_convocation(meeting: Meeting, users) -> None:
    when = local(meeting.starts_at)
    title = _("Convocazione: %(table)s, %(day)s alle %(time)s", table=meeting.table.name,
              day=when.strftime("%d/%m/%Y"), time=when.strftime("%H:%M"))
    agenda = "\n".join(f"{i.position}. {i.title}" for i in meeting.items)
    body = _("Sei invitato alla seduta «%(title)s».\nLuogo: %(place)s\n\nOrdine del giorno:\n"
             "%(agenda)s", title=meeting.title,
             place=meeting.place or meeting.online_url or "-", agenda=agenda)
    notify(users, "meeting.convened", title, url_for("tables.meeting", meeting_id=meeting.id),
           body)


def cancel_meeting(actor, meeting: Meeting, reason: str) -> None:
    if meeting.status == MeetingStatus.CANCELLED:
        raise TablesError(_("La seduta è già annullata."))
    if meeting.minutes is not None:
        raise TablesError(_("La seduta ha un verbale: non si annulla."))
    was_convened = meeting.status == MeetingStatus.CONVENED
    meeting.status = MeetingStatus.CANCELLED
    meeting.notes = ((meeting.notes or "") + "\n\n" + _("Seduta annullata: %(r)s", r=reason)
                     ).strip()
    if was_convened:
        users = [m.user for m in members(meeting.table)]
        notify(users, "meeting.cancelled",
               _("Seduta annullata: %(table)s", table=meeting.table.name),
               url_for("tables.meeting", meeting_id=meeting.id), reason)
    audit("meeting.cancelled", meeting, {"reason": reason}, actor=actor)


# --------------------------------------------------------------------------- attendance


@dataclass
class Quorum:
    present: int
    members: int

    @property
    def needed(self) -> int:
        """More than half of the members."""
        return self.members // 2 + 1

    @property
    def reached(self) -> bool:
        return self.members > 0 and self.present >= self.needed


def attendance(meeting: Meeting) -> list[Attendance]:
    return list(db.session.scalars(
        select(Attendance).where(Attendance.meeting_id == meeting.id)
        .options(joinedload(Attendance.member).joinedload(TableMember.user),
                 joinedload(Attendance.member).joinedload(TableMember.comune),
                 joinedload(Attendance.member).joinedload(TableMember.association))))


def quorum(meeting: Meeting) -> Quorum:
    rows = db.session.execute(
        select(Attendance.status, func.count()).where(Attendance.meeting_id == meeting.id)
        .group_by(Attendance.status)).all()
    counts = dict(rows)
    present = counts.get(AttendanceStatus.PRESENT, 0) + counts.get(AttendanceStatus.DELEGATED, 0)
    return Quorum(present=present, members=sum(counts.values()))


def record_attendance(actor, meeting: Meeting, marks: dict[int, tuple[str, str | None]]) -> Quorum:
    """Record who attended; `marks` maps every active member's seat id to (status, delegate)."""
    if meeting.status != MeetingStatus.CONVENED:
        raise TablesError(_("Le presenze si registrano per le sedute convocate."))
    if meeting.minutes is not None and meeting.minutes.status != MinutesStatus.DRAFT:
        raise TablesError(_("Il verbale è approvato o pubblicato: le presenze non cambiano."))
    seats = {m.id: m for m in members(meeting.table)}
    existing = {a.member_id: a for a in attendance(meeting)}
    for member_id, (status, delegate) in marks.items():
        if member_id not in seats and member_id not in existing:
            raise TablesError(_("Componente sconosciuto."))
        if status not in AttendanceStatus._value2member_map_:
            raise TablesError(_("Scelta non valida."))
        if status == AttendanceStatus.DELEGATED and not delegate:
            raise TablesError(_("Indica chi ha ricevuto la delega."), f"delegate_{member_id}")
        row = existing.get(member_id)
        if row is None:
            row = Attendance(meeting_id=meeting.id, member_id=member_id)
            db.session.add(row)
        row.status = status
        row.delegate = delegate if status == AttendanceStatus.DELEGATED else None
    db.session.flush()
    result = quorum(meeting)
    audit("meeting.attendance", meeting, {"present": result.present, "members": result.members},
          actor=actor)
    return result


# --------------------------------------------------------------------------- minutes


def minutes_for(meeting: Meeting, create: bool = False) -> Minutes | None:
    minutes = meeting.minutes
    if minutes is None and create:
        if meeting.status != MeetingStatus.CONVENED:
            raise TablesError(_("Il verbale si scrive per una seduta convocata."))
        _require_started(meeting)
        minutes = Minutes(meeting=meeting, intro="")
        db.session.add(minutes)
        for item in meeting.items:
            minutes.items.append(MinuteItem(agenda_item=item, discussion=""))
        db.session.flush()
    return minutes


def _require_started(meeting: Meeting) -> None:
    """Minutes and decisions belong to a meeting that has taken place (or is under way)."""
    if not meeting.has_started(utcnow()):
        raise TablesError(_("Il verbale si apre quando la seduta è iniziata."))


def _editable(minutes: Minutes) -> None:
    if minutes.status == MinutesStatus.PUBLISHED:
        raise TablesError(_("Il verbale pubblicato non si modifica: apri una correzione, che "
                            "diventerà una nuova revisione."))
    if minutes.status == MinutesStatus.APPROVED:
        # A change after the chair's approval needs a new approval.
        minutes.status = MinutesStatus.DRAFT
        minutes.approved_by_id = None
        minutes.approved_at = None


def save_intro(actor, minutes: Minutes, intro: str) -> None:
    _editable(minutes)
    minutes.intro = intro or ""
    minutes.updated_at = utcnow()


def item_of(minutes: Minutes, agenda_item_id: int) -> MinuteItem | None:
    return next((i for i in minutes.items if i.agenda_item_id == agenda_item_id), None)


def save_item(actor, minutes: Minutes, item: MinuteItem, data: dict) -> None:
    """Save the text and the decision of one agenda item, checking votes and the quorum."""
    _editable(minutes)
    outcome = data.get("outcome") or None
    if outcome is not None and outcome not in Outcome._value2member_map_:
        raise TablesError(_("Esito non valido."), "outcome")
    votes = [data.get("votes_for"), data.get("votes_against"), data.get("votes_abstained")]
    given = [v for v in votes if v is not None]
    if given and len(given) != 3:
        raise TablesError(_("Indica favorevoli, contrari e astenuti (anche zero)."), "votes_for")
    if any(v < 0 for v in given):
        raise TablesError(_("I voti non possono essere negativi."), "votes_for")
    q = quorum(minutes.meeting)
    if given and sum(given) > q.present:
        raise TablesError(
            _("I voti (%(v)d) superano i componenti presenti (%(p)d).", v=sum(given),
              p=q.present), "votes_for")
    if outcome and outcome != Outcome.POSTPONED:
        if not q.reached:
            raise TablesError(_("Manca il numero legale (%(p)d presenti su %(m)d, ne servono "
                                "%(n)d): l'unico esito possibile è il rinvio.",
                                p=q.present, m=q.members, n=q.needed), "outcome")
        if not given:
            raise TablesError(_("Indica i voti della deliberazione."), "votes_for")
        if outcome in APPROVING_OUTCOMES and given[0] <= given[1]:
            raise TablesError(_("Con questi voti la proposta non è approvata."), "outcome")
        if outcome == Outcome.REJECTED and given[0] > given[1]:
            raise TablesError(_("Con questi voti la proposta è approvata."), "outcome")
    proposal_item = item.agenda_item.proposal_id is not None
    if proposal_item and outcome in APPROVING_OUTCOMES:
        if not data.get("responsible"):
            raise TablesError(_("Indica chi è responsabile della realizzazione."), "responsible")
        if not data.get("deadline"):
            raise TablesError(_("Indica la scadenza della realizzazione."), "deadline")
    if outcome == Outcome.REJECTED and proposal_item and not data.get("motivation"):
        raise TablesError(_("Motiva la decisione: le famiglie proponenti la leggeranno."),
                          "motivation")
    if data.get("amount_cents") and not data.get("funding_source"):
        raise TablesError(_("Indica la fonte del finanziamento."), "funding_source")
    item.discussion = data.get("discussion") or ""
    item.outcome = outcome
    item.votes_for, item.votes_against, item.votes_abstained = (votes if given
                                                                else (None, None, None))
    item.amount_cents = data.get("amount_cents") or None
    item.funding_source = data.get("funding_source") or None
    item.responsible = data.get("responsible") or None
    item.deadline = data.get("deadline")
    item.motivation = data.get("motivation") or None
    minutes.updated_at = utcnow()


def comments(minutes: Minutes) -> list[MinutesComment]:
    return list(db.session.scalars(
        select(MinutesComment).where(MinutesComment.minutes_id == minutes.id)
        .options(joinedload(MinutesComment.user)).order_by(MinutesComment.id)))


def add_comment(actor, minutes: Minutes, body: str) -> MinutesComment:
    if minutes.status == MinutesStatus.PUBLISHED:
        raise TablesError(_("Il verbale è pubblicato: i commenti sono chiusi."), "body")
    comment = MinutesComment(minutes_id=minutes.id, user_id=actor.id, body=body,
                             for_revision=minutes.meeting.minutes_revision + 1)
    db.session.add(comment)
    db.session.flush()
    table = minutes.meeting.table
    writers = [m.user for m in members(table)
               if m.role in (MemberRole.CHAIR, MemberRole.SECRETARY) and m.user_id != actor.id]
    notify(writers, "minutes.comment",
           _("Nuovo commento alla bozza del verbale: %(table)s", table=table.name),
           url_for("tables.minutes_draft", meeting_id=minutes.meeting_id), body, mail=False)
    return comment


def approve(actor, minutes: Minutes) -> None:
    if minutes.status != MinutesStatus.DRAFT:
        raise TablesError(_("Il verbale non è una bozza da approvare."))
    _require_started(minutes.meeting)
    missing = [i.agenda_item.position for i in minutes.items if not i.outcome]
    if missing:
        raise TablesError(_("Manca l'esito dei punti %(p)s.",
                            p=", ".join(str(n) for n in sorted(missing))))
    minutes.status = MinutesStatus.APPROVED
    minutes.approved_by_id = actor.id
    minutes.approved_at = utcnow()
    audit("minutes.approved", minutes, {"meeting": minutes.meeting_id}, actor=actor)


def open_correction(actor, minutes: Minutes, reason: str) -> None:
    if minutes.status != MinutesStatus.PUBLISHED:
        raise TablesError(_("Si corregge solo un verbale pubblicato."))
    if not reason:
        raise TablesError(_("Indica il motivo della correzione."), "reason")
    minutes.status = MinutesStatus.DRAFT
    minutes.correction_reason = reason
    minutes.approved_by_id = None
    minutes.approved_at = None
    audit("minutes.correction_opened", minutes, {"reason": reason}, actor=actor)


def build_content(minutes: Minutes, number: int, published_by: str, published_at: datetime,
                  previous_hash: str | None) -> dict:
    """Everything a revision publishes, as plain JSON values."""
    meeting = minutes.meeting
    when = local(meeting.starts_at)
    q = quorum(meeting)
    people = sorted(attendance(meeting), key=lambda a: (a.member.user.name, a.member_id))
    items = []
    by_agenda = {i.agenda_item_id: i for i in minutes.items}
    for agenda in meeting.items:
        entry = by_agenda[agenda.id]
        items.append({
            "agenda_item_id": agenda.id,
            "position": agenda.position,
            "title": agenda.title,
            "proposal_id": agenda.proposal_id,
            "discussion": entry.discussion or "",
            "decision": {
                "outcome": entry.outcome,
                "votes_for": entry.votes_for,
                "votes_against": entry.votes_against,
                "votes_abstained": entry.votes_abstained,
                "amount_cents": entry.amount_cents,
                "funding_source": entry.funding_source,
                "responsible": entry.responsible,
                "deadline": entry.deadline.isoformat() if entry.deadline else None,
                "motivation": entry.motivation,
            },
        })
    return {
        "format": 1,
        "table": {"id": meeting.table_id, "name": meeting.table.name},
        "meeting": {
            "id": meeting.id, "title": meeting.title,
            "starts_at": meeting.starts_at.isoformat(),
            "local_date": when.strftime("%d/%m/%Y"), "local_time": when.strftime("%H:%M"),
            "place": meeting.place, "online_url": meeting.online_url,
        },
        "revision": number,
        "reason": minutes.correction_reason if number > 1 else None,
        "previous_hash": previous_hash,
        "quorum": {"present": q.present, "members": q.members, "reached": q.reached},
        "attendance": [{"name": a.member.user.name, "role": a.member.role,
                        "represents": represents(a.member), "status": a.status,
                        "delegate": a.delegate} for a in people],
        "intro": minutes.intro or "",
        "items": items,
        "approved_by": minutes.approved_by.name if minutes.approved_by else None,
        "published_by": published_by,
        "published_at": published_at.isoformat(),
    }


def publish(actor, minutes: Minutes, at: datetime | None = None) -> MinutesRevision:
    """Publish the approved minutes as a new immutable revision, with its decisions.

    `at` backdates the publication (demo data and imports of paper minutes only).
    """
    if minutes.status != MinutesStatus.APPROVED:
        raise TablesError(_("Il verbale va prima approvato dal presidente."))
    _require_started(minutes.meeting)
    meeting = minutes.meeting
    previous = minutes.current_revision
    number = (previous.number if previous else 0) + 1
    now = at or utcnow()
    content = build_content(minutes, number, actor.name, now,
                            previous.content_hash if previous else None)
    serialised = documents.canonical_json(content)
    revision = MinutesRevision(
        meeting_id=meeting.id, number=number, published_at=now,
        reason=content["reason"], content=serialised,
        content_hash=documents.content_hash(serialised), published_by=actor.name,
        approved_by=content["approved_by"])
    db.session.add(revision)
    db.session.flush()
    decided_on = local(meeting.starts_at).date()
    decisions = []
    for item in content["items"]:
        d = item["decision"]
        decision = Decision(
            revision_id=revision.id, meeting_id=meeting.id, table_id=meeting.table_id,
            agenda_item_id=item["agenda_item_id"], proposal_id=item["proposal_id"],
            revision_number=number, position=item["position"], title=item["title"],
            outcome=d["outcome"], votes_for=d["votes_for"], votes_against=d["votes_against"],
            votes_abstained=d["votes_abstained"], amount_cents=d["amount_cents"],
            funding_source=d["funding_source"], responsible=d["responsible"],
            deadline=date.fromisoformat(d["deadline"]) if d["deadline"] else None,
            motivation=d["motivation"], decided_on=decided_on, published_at=now)
        db.session.add(decision)
        decisions.append(decision)
    db.session.flush()
    minutes.current_revision = revision
    minutes.status = MinutesStatus.PUBLISHED
    minutes.correction_reason = None
    meeting.minutes_revision = number
    for decision in decisions:
        if decision.proposal_id:
            close_loop(actor, decision)
    link = url_for("tables.meeting", meeting_id=meeting.id)
    if number == 1:
        activity("minutes.published", text("minutes.published", table=meeting.table.name,
                                           day=local(meeting.starts_at).date()),
                 link, meeting.table.comune_id, at=now)
    else:
        activity("minutes.corrected", text("minutes.corrected", table=meeting.table.name,
                                           day=local(meeting.starts_at).date(), n=number),
                 link, meeting.table.comune_id, at=now)
    audit("minutes.published", revision, {"meeting": meeting.id, "number": number,
                                          "hash": revision.content_hash}, actor=actor)
    log.info("minutes of meeting %s published as revision %s by %s", meeting.id, number,
             actor.id)
    return revision


def close_loop(actor, decision: Decision) -> None:
    """Move the decided proposal on; the proposals service notifies authors and supporters."""
    proposal = decision.proposal
    if proposal is None or proposal.state != ProposalState.ON_AGENDA:
        return  # already moved by an earlier revision, or decided elsewhere
    day = decision.decided_on
    details = {"meeting": decision.meeting_id, "decision": decision.id}
    if decision.outcome in APPROVING_OUTCOMES:
        _transition(proposal, ProposalState.APPROVED, actor,
                    text("history.approved", table=decision.table.name, day=day), details)
        project = Project(proposal_id=proposal.id, decision_id=decision.id,
                          table_id=decision.table_id, comune_id=decision.table.comune_id,
                          title=proposal.title, responsible=decision.responsible or "-",
                          deadline=decision.deadline, amount_cents=decision.amount_cents,
                          started_on=decision.decided_on)
        db.session.add(project)
        db.session.flush()
        _transition(proposal, ProposalState.IN_PROGRESS, actor,
                    text("history.in_progress", who=decision.responsible or "-",
                         when=decision.deadline or "-"),
                    {**details, "project": project.id})
    elif decision.outcome == Outcome.REJECTED:
        _transition(proposal, ProposalState.NOT_APPROVED, actor,
                    text("history.not_approved", table=decision.table.name, day=day,
                         why=decision.motivation or "-"), details)
    else:
        notify([*_authors(proposal), *_supporters(proposal)], "proposal.postponed",
               _("La decisione sulla proposta «%(t)s» è rinviata", t=proposal.title),
               url_for("tables.decision", decision_id=decision.id))


# --------------------------------------------------------------------------- revisions


def revisions(meeting: Meeting) -> list[MinutesRevision]:
    return list(db.session.scalars(
        select(MinutesRevision).where(MinutesRevision.meeting_id == meeting.id)
        .order_by(MinutesRevision.number)))


def revision(meeting: Meeting, number: int) -> MinutesRevision | None:
    return db.session.scalar(select(MinutesRevision).where(
        MinutesRevision.meeting_id == meeting.id, MinutesRevision.number == number))


def content_of(revision_: MinutesRevision | RevisionRef) -> dict:
    """The revision's content with its Markdown rendered, kept by content hash (published
    content never changes, and rendering Markdown is the costly part of the page)."""
    return remember(("tables.minutes", revision_.content_hash),
                    lambda: documents.rendered(revision_.content))


def verify(revision_: MinutesRevision) -> bool:
    """Does the stored hash still match the stored content?"""
    return documents.content_hash(revision_.content) == revision_.content_hash


def revision_diff(meeting: Meeting, number: int) -> list[documents.DiffLine]:
    current = revision(meeting, number)
    previous = revision(meeting, number - 1) if number > 1 else None
    return documents.diff(json.loads(previous.content) if previous else None,
                          json.loads(current.content))


# --------------------------------------------------------------------------- decisions


def current_decisions():
    """Decisions of the current revision of each minutes (a select to narrow)."""
    return (select(Decision)
            .join(Minutes, Minutes.current_revision_id == Decision.revision_id))


def latest_decisions(table_ids: list[int] | None, limit: int = 10,
                     before: tuple[date, int] | None = None) -> list[Decision]:
    query = current_decisions()
    if table_ids is not None:
        query = query.where(Decision.table_id.in_(table_ids))
    if before is not None:
        day, ident = before
        query = query.where(tuple_(Decision.decided_on, Decision.id) < tuple_(day, ident))
    return list(db.session.scalars(
        query.order_by(Decision.decided_on.desc(), Decision.id.desc()).limit(limit)))


def is_current(decision: Decision) -> bool:
    return db.session.scalar(select(Minutes.current_revision_id).where(
        Minutes.meeting_id == decision.meeting_id)) == decision.revision_id


def current_version(decision: Decision) -> Decision | None:
    return db.session.scalar(current_decisions().where(
        Decision.meeting_id == decision.meeting_id,
        Decision.agenda_item_id == decision.agenda_item_id))


def proposal_links(proposal_id: int) -> dict:
    """What the tables know of a proposal, for its page: the public meetings that had it on
    their agenda, its latest decision in force and the project that decision started."""
    meetings = [(url_for("tables.meeting", meeting_id=m.id), m.starts_at)
                for m in db.session.execute(
                    select(Meeting.id, Meeting.starts_at)
                    .join(AgendaItem, AgendaItem.meeting_id == Meeting.id)
                    .where(AgendaItem.proposal_id == proposal_id, PUBLIC_MEETING)
                    .order_by(Meeting.starts_at, Meeting.id))]
    decision = db.session.execute(
        select(Decision.id, Decision.outcome)
        .join(Minutes, Minutes.current_revision_id == Decision.revision_id)
        .where(Decision.proposal_id == proposal_id)
        .order_by(Decision.decided_on.desc(), Decision.id.desc()).limit(1)).first()
    project = None
    if decision is not None:  # a project is shown with its decision only
        project = db.session.execute(
            select(Project.id, Project.progress).where(Project.proposal_id == proposal_id)
        ).first()
    return {
        "meetings": meetings,
        "decision": decision,
        "decision_url": url_for("tables.decision", decision_id=decision.id)
        if decision else None,
        "project": project,
        "project_url": url_for("tables.project", project_id=project.id) if project else None,
    }


# --------------------------------------------------------------------------- projects


@dataclass(frozen=True, slots=True)
class ProjectLine:
    """A project in the accountability lists (no ORM entity: the lists are read-only)."""

    id: int
    title: str
    status: str
    deadline: date | None
    progress: int
    responsible: str
    comune_name: str | None

    def is_overdue(self, today_: date) -> bool:
        return (self.status == ProjectStatus.IN_PROGRESS and self.deadline is not None
                and self.deadline < today_)


@dataclass(frozen=True)
class ProjectSections:
    """The accountability lists: overdue, in progress and implemented projects (the first
    `limit` of each) and how many each section holds in all."""

    overdue: list[ProjectLine]
    in_progress: list[ProjectLine]
    implemented: list[ProjectLine]
    totals: tuple[int, int, int]


#: the sections of the accountability pages by the key of their URL (?sezione=): the parts
#: each is read from, in order (their status, deadline condition and order)
SECTION_OVERDUE, SECTION_RUNNING, SECTION_DONE = "in-ritardo", "in-corso", "realizzati"
PROJECT_SECTIONS = (SECTION_OVERDUE, SECTION_RUNNING, SECTION_DONE)


def _section_parts(section: str, today_: date) -> list[tuple]:
    """(condition on status and deadline, order) of each part of a section, in order: a part
    is one range of an index on (status, deadline), in the part's order."""
    in_progress = Project.status == ProjectStatus.IN_PROGRESS.value
    implemented = Project.status == ProjectStatus.IMPLEMENTED.value
    by_deadline = (Project.deadline, Project.id)
    return {
        SECTION_OVERDUE: [((in_progress, Project.deadline < today_), by_deadline)],
        SECTION_RUNNING: [((in_progress, Project.deadline >= today_), by_deadline),
                          ((in_progress, Project.deadline.is_(None)), (Project.id,))],
        SECTION_DONE: [((implemented, Project.deadline.is_not(None)), by_deadline),
                       ((implemented, Project.deadline.is_(None)), (Project.id,))],
    }[section]


def _scope(comune_id: int | None) -> tuple:
    """The projects of one Comune, or (None) of the whole Rete."""
    return () if comune_id is None else (Project.comune_id == comune_id,)


def _part(comune_id: int | None, where, order, limit: int, offset: int = 0):
    """The projects of a part, in its order, `limit` of them after the first `offset`; with
    an offset, the ids are read along the index alone (ix_projects_status_deadline or
    ix_projects_comune_status end with the id), so that a deep page reads only its rows."""
    query = (select(Project.id, Project.title, Project.status, Project.deadline,
                    Project.progress, Project.responsible, Comune.name.label("comune_name"))
             .outerjoin(Comune, Comune.id == Project.comune_id))
    if offset:
        ids = (select(Project.id).where(*_scope(comune_id), *where).order_by(*order)
               .limit(limit).offset(offset))
        return query.where(Project.id.in_(ids.scalar_subquery())).order_by(*order)
    return query.where(*_scope(comune_id), *where).order_by(*order).limit(limit)


def _counts(comune_id: int | None, section: str, today_: date) -> tuple[int, ...]:
    """How many projects each part of a section holds (index-only range counts), kept until
    the next write: counting thousands of projects is most of the page's work."""
    def count() -> tuple[int, ...]:
        return tuple(db.session.execute(select(*[
            select(func.count()).select_from(Project).where(*_scope(comune_id), *where)
            .scalar_subquery() for where, _order in _section_parts(section, today_)])).one())

    return remember(("tables.project_counts", section, comune_id, today_.isoformat()), count)


def project_sections(comune_id: int | None, rete: bool = False,
                     limit: int = 50) -> ProjectSections:
    """Approved projects of a Comune (or, `rete`, of every table): overdue first, then in
    progress, then implemented, each by deadline; at most `limit` of each, whatever their
    number (one query for the rows, along the projects' indexes, and the counts)."""
    scope = None if rete else comune_id
    today_ = today()
    parts = [(section, where, order) for section in PROJECT_SECTIONS
             for where, order in _section_parts(section, today_)]
    # The parts in one round trip: the same named columns in each, and the part's number.
    statement = union_all(*[
        select(_part(scope, where, order, limit).add_columns(
            literal(n).label("part")).subquery())
        for n, (_section, where, order) in enumerate(parts)])
    by_section: dict[str, list] = {section: [] for section in PROJECT_SECTIONS}
    union = statement.subquery()
    for row in db.session.execute(select(union).order_by(union.c.part, union.c.deadline,
                                                         union.c.id)):
        by_section[parts[row.part][0]].append(row)
    lines = {section: _lines(rows, limit) for section, rows in by_section.items()}
    return ProjectSections(
        lines[SECTION_OVERDUE], lines[SECTION_RUNNING], lines[SECTION_DONE],
        tuple(sum(_counts(scope, section, today_)) for section in PROJECT_SECTIONS))


def _lines(rows, limit: int) -> list[ProjectLine]:
    return [ProjectLine(r.id, r.title, r.status, r.deadline, r.progress, r.responsible,
                        r.comune_name) for r in rows[:limit]]


@dataclass
class SectionPage:
    """A page of one section of the accountability list."""

    section: str
    lines: list[ProjectLine]
    total: int
    page: int
    pages: int


def project_section_page(section: str, comune_id: int | None, rete: bool = False,
                         page: int = 1, per_page: int = 50) -> SectionPage | None:
    """Page `page` of one section (PROJECT_SECTIONS), in the order of the overview; None when
    there is no such page. The parts are counted first, so that each page reads only the
    parts it shows (an offset along one index range: as deep as the projects are many)."""
    scope = None if rete else comune_id
    today_ = today()
    sizes = _counts(scope, section, today_)
    total = sum(sizes)
    pages = max(1, -(-total // per_page))
    if not 1 <= page <= pages:
        return None
    offset, found = (page - 1) * per_page, []
    for (where, order), size in zip(_section_parts(section, today_), sizes, strict=True):
        if offset >= size:
            offset -= size
            continue
        found += db.session.execute(
            _part(scope, where, order, per_page - len(found), offset)).all()
        offset = 0
        if len(found) >= per_page:
            break
    return SectionPage(section, _lines(found, per_page), total, page, pages)


def project_for_proposal(proposal_id: int) -> Project | None:
    return db.session.scalar(select(Project).where(Project.proposal_id == proposal_id))


def post_update(actor, project: Project, percent: int, note: str) -> ProjectUpdate:
    if project.status != ProjectStatus.IN_PROGRESS:
        raise TablesError(_("Il progetto è già realizzato."), "percent")
    if percent is None or not 0 <= percent <= 100:
        raise TablesError(_("La percentuale va da 0 a 100."), "percent")
    update = ProjectUpdate(project_id=project.id, percent=percent, note=note,
                           posted_by_id=actor.id, posted_by_name=actor.name)
    db.session.add(update)
    project.progress = percent
    project.updated_at = utcnow()
    db.session.flush()
    proposal = project.proposal
    notify([*_authors(proposal), *_supporters(proposal)], "project.progress",
           _("«%(t)s»: avanzamento al %(p)d%%", t=project.title, p=percent),
           url_for("tables.project", project_id=project.id), note)
    audit("project.progress", project, {"percent": percent}, actor=actor)
    return update


def mark_implemented(actor, project: Project, note: str) -> None:
    if project.status != ProjectStatus.IN_PROGRESS:
        raise TablesError(_("Il progetto è già realizzato."))
    project.status = ProjectStatus.IMPLEMENTED
    project.progress = 100
    project.implemented_on = today()
    project.updated_at = utcnow()
    db.session.add(ProjectUpdate(project_id=project.id, percent=100, note=note,
                                 posted_by_id=actor.id, posted_by_name=actor.name))
    if project.proposal.state == ProposalState.IN_PROGRESS:
        _transition(project.proposal, ProposalState.IMPLEMENTED, actor, note)
    audit("project.implemented", project, {}, actor=actor)
