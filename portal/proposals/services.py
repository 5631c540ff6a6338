"""Proposals: drafting, the state graph, moderation, comments and reports.

The interface other modules use (the tables module above all):

- ``transition(proposal, to_state, actor, note=None, *, authorized=False) -> ProposalEvent``
  moves a proposal along the state graph (``TRANSITIONS``). It raises ``TransitionError`` when
  the graph has no such edge and, unless ``authorized`` is true, ``NotAllowed`` when ``actor``
  does not hold the role the edge needs (``TRANSITION_ROLES``). With ``authorized=True`` the
  caller vouches for the actor (the tables module checks its own roles for
  selected→on_agenda, on_agenda→approved|not_approved|selected, approved→in_progress and
  in_progress→implemented; the voting module for published→selected). It writes the event of
  the public history, the audit log, the activity stream for public milestones, and notifies
  the authors (and, for decisions, the supporters) through ``portal.core.services.notify``.
  It flushes; the caller commits.
- ``selected_for_table(table_id) -> list[Proposal]``: proposals selected by a round (or put
  back from an agenda) that are not on an agenda yet, most supported first.
- ``supporters(proposal) -> list[User]``: the users of every household that voted for it.
- ``authors(proposal) -> list[User]``: the users of the proposing household and of the
  co-proposing households that accepted, plus the facilitator who submitted on their behalf.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from functools import lru_cache

from flask import current_app, has_request_context, url_for
from flask_babel import gettext as _
from markdown_it import MarkdownIt
from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from portal import authz
from portal.accounts.models import Household, User
from portal.core.services import activity, audit, notify
from portal.db_setup import inline_limit, utcnow
from portal.extensions import db
from portal.proposals import policies
from portal.proposals.models import (
    PUBLIC_STATES,
    Comment,
    CoProposer,
    CoProposerStatus,
    EventKind,
    Proposal,
    ProposalEvent,
    ProposalFlags,
    ProposalPartner,
    ProposalState,
    ProposalSupport,
    Report,
)
from portal.proposals.themes import themes as theme_catalogue

log = logging.getLogger(__name__)

S = ProposalState

#: Who moves each edge: author (the proposing household or its facilitator), moderator
#: (of an association active in the proposal's Comune), table (chair or secretary of the
#: addressed table), system (only through ``authorized=True``: a round's results).
TRANSITIONS: dict[ProposalState, dict[ProposalState, str]] = {
    S.DRAFT: {S.SUBMITTED: "author", S.WITHDRAWN: "author"},
    S.SUBMITTED: {S.PUBLISHED: "moderator", S.CHANGES_REQUESTED: "moderator",
                  S.REJECTED: "moderator", S.MERGED: "moderator", S.WITHDRAWN: "author"},
    S.CHANGES_REQUESTED: {S.SUBMITTED: "author", S.WITHDRAWN: "author",
                          S.REJECTED: "moderator"},
    S.PUBLISHED: {S.SELECTED: "system", S.MERGED: "moderator", S.WITHDRAWN: "author"},
    S.SELECTED: {S.ON_AGENDA: "table", S.WITHDRAWN: "author"},
    S.ON_AGENDA: {S.APPROVED: "table", S.NOT_APPROVED: "table", S.SELECTED: "table"},
    S.APPROVED: {S.IN_PROGRESS: "table"},
    S.IN_PROGRESS: {S.IMPLEMENTED: "table"},
}
TRANSITION_ROLES = TRANSITIONS  # the name the docstring uses

#: Changes that supporters hear about too.
DECISIONS = frozenset({S.SELECTED, S.APPROVED, S.NOT_APPROVED, S.IMPLEMENTED})
#: Edges whose note is compulsory (the author must know why).
NOTE_REQUIRED = frozenset({S.CHANGES_REQUESTED, S.REJECTED})

#: days a moderator has to handle a submitted proposal
MODERATION_DEADLINE_DAYS = 7


class ProposalError(ValueError):
    """A rule about proposals was broken; the message is for the user."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class TransitionError(ProposalError):
    """The state graph has no such edge."""


class NotAllowed(ProposalError):
    """The actor does not hold the role this change needs."""


# --------------------------------------------------------------------------- labels


def state_labels() -> dict[str, str]:
    """Every state's label, translated once per request."""
    from flask import g, has_request_context

    if has_request_context():
        labels = g.get("_proposal_state_labels")
        if labels is None:
            labels = g._proposal_state_labels = _state_labels()
        return labels
    return _state_labels()


def _state_labels() -> dict[str, str]:
    return {
        S.DRAFT: _("Bozza"),
        S.SUBMITTED: _("In moderazione"),
        S.CHANGES_REQUESTED: _("Modifiche richieste"),
        S.PUBLISHED: _("Pubblicata"),
        S.SELECTED: _("Selezionata"),
        S.ON_AGENDA: _("All'ordine del giorno"),
        S.APPROVED: _("Approvata"),
        S.NOT_APPROVED: _("Non approvata"),
        S.IN_PROGRESS: _("In realizzazione"),
        S.IMPLEMENTED: _("Realizzata"),
        S.REJECTED: _("Respinta"),
        S.WITHDRAWN: _("Ritirata"),
        S.MERGED: _("Unita a un'altra proposta"),
    }


def state_label(state: str) -> str:
    return state_labels().get(state, state)


# --------------------------------------------------------------------------- rich text

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).disable("image")


def render_markdown(text: str) -> str:
    """Markdown to HTML, sanitised: no raw HTML, no images, links open safely."""
    import nh3

    html = _markdown.render(text or "")
    return nh3.clean(
        html,
        tags={"p", "br", "strong", "em", "ul", "ol", "li", "a", "blockquote", "code", "pre",
              "h3", "h4", "h5", "h6", "hr"},
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow ugc",
    )


# --------------------------------------------------------------------------- queries


def get(proposal_id: int) -> Proposal | None:
    return db.session.get(Proposal, proposal_id)


class ProposalPage(ProposalFlags):
    """A proposal as its public page shows it, read with one Core query.

    It answers to the same attribute names as `Proposal` (and its related objects) that the
    template and the policies read, without the ORM's cost on the busiest page.
    """

    def __init__(self, row):
        from types import SimpleNamespace as NS

        for key in ("id", "title", "summary", "body_html", "state", "comune_id", "table_id",
                    "household_id", "author_id", "estimated_cost_cents", "own_contribution",
                    "published_at", "submitted_at", "support_count", "comment_count",
                    "merged_into_id", "on_behalf_by_id", "on_behalf_consent",
                    "on_behalf_consent_at", "hidden_at", "hidden_reason", "state_changed_at"):
            setattr(self, key, getattr(row, key))
        self.comune = NS(name=row.comune_name)
        self.table = NS(name=row.table_name)
        self.household = NS(name=row.household_name) if row.household_name else None
        self.on_behalf_by = NS(name=row.on_behalf_name) if row.on_behalf_by_id else None
        self.merged_into = NS(title=row.merged_title) if row.merged_into_id else None
        self.hidden_by_association = NS(name=row.hidden_by_name) if row.hidden_by_name else None
        self.themes = (row.themes or "").split()
        self.partners = [NS(association=NS(name=name))
                         for name in _split(row.partner_names)]
        self.co_proposers = []
        for item in _split(row.co_proposers):
            status, household_id, name = item.split(_UNIT, 2)
            self.co_proposers.append(NS(status=status, household_id=int(household_id),
                                        household=NS(name=name)))
        #: the proposal's most recent round and its entry there, read by the same statement
        #: (what voting.services.latest_entry_for answers): (RoundView, entry) or None
        self.latest = None
        if row.round_id is not None:
            from portal.voting.services import RoundView

            self.latest = (
                RoundView.of(row.round_id, row.round_title, row.round_rule, row.round_opens_at,
                             row.round_closes_at, row.round_max_supports, row.round_threshold,
                             row.round_budget_cents, row.round_comune_id),
                NS(round_id=row.round_id, proposal_id=row.id, vote_count=row.round_vote_count,
                   cost_cents=row.round_cost_cents, proposal=NS(title=row.title)))


_RECORD, _UNIT = "\x1e", "\x1f"


def _split(value: str | None) -> list[str]:
    return sorted(value.split(_RECORD)) if value else []


def page(proposal_id: int) -> ProposalPage | None:
    """The proposal's page data: names, themes, partners, co-proposers and its latest round,
    in one query."""
    row = db.session.connection().execute(_page_statement(), {"pid": proposal_id}).first()
    return ProposalPage(row) if row is not None else None


@lru_cache(maxsize=1)
def _page_statement():
    """Built once: constructing this select costs more than running it.

    The names come from scalar subqueries rather than joins: PostgreSQL plans this statement
    afresh on every request (psycopg forgets its prepared statements at each ROLLBACK) and
    searching the order of ten joined tables took ~3.6 ms of planning, the subqueries ~0.5 ms.
    """
    from sqlalchemy import String, bindparam, cast
    from sqlalchemy.orm import aliased

    from portal.network.models import Association, Comune
    from portal.proposals.models import ProposalTheme
    from portal.tables.models import Table
    from portal.voting.models import Round, RoundEntry

    def name_of(column, key):
        return select(column).where(column.table.c.id == key).scalar_subquery()

    merged = aliased(Proposal)
    partner = aliased(Association)
    co_household = aliased(Household)
    themes = (select(func.aggregate_strings(ProposalTheme.theme, " "))
              .where(ProposalTheme.proposal_id == Proposal.id).scalar_subquery())
    partners = (select(func.aggregate_strings(partner.name, _RECORD))
                .join(ProposalPartner, ProposalPartner.association_id == partner.id)
                .where(ProposalPartner.proposal_id == Proposal.id).scalar_subquery())
    co = (select(func.aggregate_strings(
              CoProposer.status + _UNIT + cast(CoProposer.household_id, String) + _UNIT
              + co_household.name, _RECORD))
          .join(co_household, co_household.id == CoProposer.household_id)
          .where(CoProposer.proposal_id == Proposal.id).scalar_subquery())
    # The latest round of the proposal (as voting.services.latest_entry_for orders them),
    # joined by its id with its entry; its table's Comune.
    entry = aliased(RoundEntry)
    round_table = Table.__table__.alias("round_tables")
    latest_round = (select(RoundEntry.round_id)
                    .join(Round, Round.id == RoundEntry.round_id)
                    .where(RoundEntry.proposal_id == Proposal.id)
                    .order_by(Round.opens_at.desc(), Round.id.desc()).limit(1)
                    .scalar_subquery())
    return (
        select(*[getattr(Proposal, c).label(c) for c in (
                   "id", "title", "summary", "body_html", "state", "comune_id", "table_id",
                   "household_id", "author_id", "estimated_cost_cents", "own_contribution",
                   "published_at", "submitted_at", "support_count", "comment_count",
                   "merged_into_id", "on_behalf_by_id", "on_behalf_consent",
                   "on_behalf_consent_at", "hidden_at", "hidden_reason", "state_changed_at")],
               name_of(Comune.__table__.c.name, Proposal.comune_id).label("comune_name"),
               name_of(Table.__table__.c.name, Proposal.table_id).label("table_name"),
               name_of(Household.__table__.c.name, Proposal.household_id
                       ).label("household_name"),
               name_of(User.__table__.c.name, Proposal.on_behalf_by_id
                       ).label("on_behalf_name"),
               select(merged.title).where(merged.id == Proposal.merged_into_id)
               .scalar_subquery().label("merged_title"),
               name_of(Association.__table__.c.name, Proposal.hidden_by_association_id
                       ).label("hidden_by_name"),
               themes.label("themes"), partners.label("partner_names"),
               co.label("co_proposers"),
               Round.id.label("round_id"), Round.title.label("round_title"),
               Round.rule.label("round_rule"), Round.opens_at.label("round_opens_at"),
               Round.closes_at.label("round_closes_at"),
               Round.max_supports.label("round_max_supports"),
               Round.threshold.label("round_threshold"),
               Round.budget_cents.label("round_budget_cents"),
               select(round_table.c.comune_id).where(round_table.c.id == Round.table_id)
               .scalar_subquery().label("round_comune_id"),
               entry.vote_count.label("round_vote_count"),
               entry.cost_cents.label("round_cost_cents"))
        .select_from(Proposal)
        .outerjoin(Round, Round.id == latest_round)
        .outerjoin(entry, (entry.round_id == Round.id) & (entry.proposal_id == Proposal.id))
        .where(Proposal.id == bindparam("pid")))


class EventView:
    """One line of the public history, as read by `page_rows()`."""

    __slots__ = ("at", "kind", "from_state", "to_state", "note", "details", "association",
                 "table")

    def __init__(self, row):
        from types import SimpleNamespace as NS

        self.at, self.kind, self.from_state, self.to_state = (row.at, row.kind, row.from_state,
                                                               row.to_state)
        self.note, self.details = row.text, row.details
        self.association = NS(name=row.name1) if row.name1 else None
        self.table = NS(name=row.name2) if row.name2 else None


class CommentView:
    """A comment as its thread shows it; the comment policies read the same attributes."""

    def __init__(self, row):
        from types import SimpleNamespace as NS

        self.id, self.parent_id, self.author_id = row.id, row.parent_id, row.author_id
        self.body, self.created_at, self.edited_at = row.text, row.at, row.edited_at
        self.hidden_at, self.hidden_reason = row.hidden_at, row.hidden_reason
        self.author = (NS(name=row.name1, deleted_at=row.deleted_at)
                       if row.author_id else None)
        self.hidden_by_association = NS(name=row.name2) if row.name2 else None

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None


def page_rows(proposal_id: int, with_comments: bool = True
              ) -> tuple[list[EventView], list[tuple[CommentView, list[CommentView]]]]:
    """The public history and the comments as threads (comment, replies), oldest first:
    one statement (a UNION ALL of same-shaped rows) instead of one for each."""
    events: list[EventView] = []
    threads: dict[int, tuple[CommentView, list[CommentView]]] = {}
    for row in db.session.connection().execute(_rows_statement(), {"pid": proposal_id}):
        if row.src == 0:
            events.append(EventView(row))
        elif with_comments:
            comment = CommentView(row)
            if comment.parent_id is None:
                threads[comment.id] = (comment, [])
            elif comment.parent_id in threads:
                threads[comment.parent_id][1].append(comment)
    return events, list(threads.values())


def history_rows(proposal_id: int) -> list[EventView]:
    return page_rows(proposal_id, with_comments=False)[0]


def comment_threads(proposal_id: int) -> list[tuple[CommentView, list[CommentView]]]:
    return page_rows(proposal_id)[1]


@lru_cache(maxsize=1)
def _rows_statement():
    """Built once. Columns: src (0 event, 1 comment), id, at, kind, from_state, to_state,
    text (note or body), details, parent_id, author_id, edited_at, hidden_at, hidden_reason,
    name1 (moderators' association or author), name2 (table or hiding association),
    deleted_at (the author's). The first part's types read both parts' values."""
    from sqlalchemy import Integer, String, Text, bindparam, literal_column, null, type_coerce

    from portal.db_setup import UTCDateTime
    from portal.network.models import Association
    from portal.tables.models import Table

    def none(type_):
        return type_coerce(null(), type_)

    events = (
        select(literal_column("0", Integer).label("src"), ProposalEvent.id,
               ProposalEvent.at.label("at"), ProposalEvent.kind, ProposalEvent.from_state,
               ProposalEvent.to_state, ProposalEvent.note.label("text"), ProposalEvent.details,
               none(Integer).label("parent_id"), none(Integer).label("author_id"),
               none(UTCDateTime()).label("edited_at"), none(UTCDateTime()).label("hidden_at"),
               none(String()).label("hidden_reason"), Association.name.label("name1"),
               Table.name.label("name2"), none(UTCDateTime()).label("deleted_at"))
        .outerjoin(Association, Association.id == ProposalEvent.association_id)
        .outerjoin(Table, Table.id == ProposalEvent.table_id)
        .where(ProposalEvent.proposal_id == bindparam("pid")))
    hider = Association.__table__.alias("hiders")
    comments = (
        select(literal_column("1", Integer), Comment.id, Comment.created_at, none(String()),
               none(String()), none(String()), type_coerce(Comment.body, Text()),
               none(ProposalEvent.details.type), Comment.parent_id, Comment.author_id,
               Comment.edited_at, Comment.hidden_at, Comment.hidden_reason, User.name,
               hider.c.name, User.deleted_at)
        .outerjoin(User, User.id == Comment.author_id)
        .outerjoin(hider, hider.c.id == Comment.hidden_by_association_id)
        .where(Comment.proposal_id == bindparam("pid")))
    union = events.union_all(comments).subquery()
    return select(union).order_by(union.c.src, union.c.id)


def selected_for_table(table_id: int) -> list[Proposal]:
    """Proposals of the table selected by a round and not yet on an agenda."""
    return list(db.session.scalars(
        select(Proposal).where(Proposal.table_id == table_id, Proposal.state == S.SELECTED)
        .order_by(Proposal.support_count.desc(), Proposal.state_changed_at, Proposal.id)
    ))


def supporters(proposal: Proposal) -> list[User]:
    """The users of the households that voted for the proposal, in any round."""
    from portal.voting.models import Vote

    households = select(Vote.household_id).where(Vote.proposal_id == proposal.id)
    return list(db.session.scalars(
        select(User).where(User.household_id.in_(households), User.deleted_at.is_(None))
        .order_by(User.id)
    ))


def authors(proposal: Proposal) -> list[User]:
    """The users of the proposing and co-proposing households, and the facilitator."""
    household_ids = [proposal.household_id] if proposal.household_id else []
    household_ids += [c.household_id for c in proposal.co_proposers
                      if c.status == CoProposerStatus.ACCEPTED]
    users: list[User] = []
    if household_ids:
        users = list(db.session.scalars(
            select(User).where(User.household_id.in_(household_ids), User.deleted_at.is_(None))
            .order_by(User.id)
        ))
    for extra in (proposal.author, proposal.on_behalf_by):
        if extra is not None and extra.deleted_at is None and extra not in users:
            users.append(extra)
    return users


def moderators(proposal: Proposal) -> list[User]:
    """The moderators of the associations active in the proposal's Comune."""
    from portal.authz import Role, Scope
    from portal.network.models import RoleAssignment, association_comuni

    associations = select(association_comuni.c.association_id).where(
        association_comuni.c.comune_id == proposal.comune_id)
    return list(db.session.scalars(
        select(User).join(RoleAssignment, RoleAssignment.user_id == User.id).where(
            RoleAssignment.role == Role.MODERATOR, RoleAssignment.scope_type == Scope.ASSOCIATION,
            RoleAssignment.scope_id.in_(associations), User.deleted_at.is_(None),
        ).distinct().order_by(User.id)
    ))


def allowed_targets(proposal: Proposal) -> dict[ProposalState, str]:
    return TRANSITIONS.get(ProposalState(proposal.state), {})


def history(proposal: Proposal) -> list[ProposalEvent]:
    from sqlalchemy.orm import joinedload

    return list(db.session.scalars(
        select(ProposalEvent).where(ProposalEvent.proposal_id == proposal.id)
        .options(joinedload(ProposalEvent.association), joinedload(ProposalEvent.table))
        .order_by(ProposalEvent.id)
    ))


def moderation_deadline(proposal: Proposal):
    start = proposal.submitted_at or proposal.state_changed_at
    return start + timedelta(days=MODERATION_DEADLINE_DAYS)


# --------------------------------------------------------------------------- the state graph


def _role_ok(kind: str, actor, proposal: Proposal) -> bool:
    if actor is None:
        return False
    if kind == "author":
        return policies.is_author(actor, proposal)
    if kind == "moderator":
        return policies.is_moderator_for(actor, proposal)
    if kind == "table":
        return policies.is_table_officer(actor, proposal)
    return False  # "system" edges need authorized=True


def can_transition(proposal: Proposal, to_state: str, actor) -> bool:
    kind = allowed_targets(proposal).get(ProposalState(to_state))
    return kind is not None and _role_ok(kind, actor, proposal)


def _link(proposal: Proposal) -> str:
    with _request_context():
        return url_for("proposals.detail", proposal_id=proposal.id)


class _request_context:
    """A request context for url_for/notify when called from a CLI command or the seed."""

    def __enter__(self):
        self._ctx = None
        if not has_request_context():
            self._ctx = current_app.test_request_context("/")
            self._ctx.__enter__()

    def __exit__(self, *exc):
        if self._ctx is not None:
            self._ctx.__exit__(*exc)


def transition(proposal: Proposal, to_state: str, actor, note: str | None = None, *,
               authorized: bool = False, details: dict | None = None,
               quiet: bool = False) -> ProposalEvent:
    """Move `proposal` to `to_state`; log, audit and notify. See the module docstring.

    `details` is stored on the event (e.g. the round that selected it, the meeting);
    `quiet` skips notifications (demo data).
    """
    try:
        target = ProposalState(to_state)
        current = ProposalState(proposal.state)
    except ValueError as exc:
        raise TransitionError(_("Stato sconosciuto.")) from exc
    kind = TRANSITIONS.get(current, {}).get(target)
    if kind is None:
        raise TransitionError(_("Una proposta «%(from)s» non può diventare «%(to)s».",
                                **{"from": state_label(current), "to": state_label(target)}))
    if not authorized and not _role_ok(kind, actor, proposal):
        raise NotAllowed(_("Non hai il ruolo necessario per questa operazione."))
    note = (note or "").strip() or None
    if target in NOTE_REQUIRED and not note:
        raise ProposalError(_("Scrivi il motivo: l'autore lo leggerà."), field="note")
    if target == S.MERGED and proposal.merged_into_id is None:
        raise TransitionError(_("Per unire due proposte usa l'azione «Unisci»."))

    now = utcnow()
    association_id = None
    table_id = None
    if kind == "moderator" and actor is not None:
        ids = policies.moderating_associations(actor, proposal.comune_id)
        association_id = ids[0] if ids else None
    elif kind == "table":
        table_id = proposal.table_id
    proposal.state = target
    proposal.state_changed_at = now
    if target == S.SUBMITTED:
        proposal.submitted_at = now
    if target == S.PUBLISHED and proposal.published_at is None:
        proposal.published_at = now
    event = ProposalEvent(proposal=proposal, at=now, kind=EventKind.STATE,
                          from_state=current, to_state=target,
                          actor_id=getattr(actor, "id", None), association_id=association_id,
                          table_id=table_id, note=note, details=details)
    db.session.add(event)
    audit(f"proposal.{target.value}", proposal,
          {"from": current.value, "note": note, **(details or {})}, actor=actor)
    db.session.flush()
    log.info("proposal %s: %s -> %s by %s", proposal.id, current, target,
             getattr(actor, "id", None))

    link = _link(proposal)
    if target == S.PUBLISHED:
        activity("proposal.published", _("Nuova proposta: %(title)s", title=proposal.title),
                 link, proposal.comune_id)
    elif target in (S.APPROVED, S.IMPLEMENTED):
        label = (_("Proposta approvata: %(title)s", title=proposal.title) if target == S.APPROVED
                 else _("Proposta realizzata: %(title)s", title=proposal.title))
        activity(f"proposal.{target.value}", label, link, proposal.comune_id)
    if not quiet:
        _notify_change(proposal, current, target, actor, note, link)
    return event


def _notify_change(proposal: Proposal, current: ProposalState, target: ProposalState, actor,
                   note: str | None, link: str) -> None:
    with _request_context():
        title = _("La proposta «%(title)s» è ora: %(state)s", title=proposal.title,
                  state=state_label(target))
        body = title + (f"\n\n{note}" if note else "")
        recipients = [u for u in authors(proposal) if actor is None or u.id != actor.id]
        notify(recipients, f"proposal.{target.value}", title, link, body)
        if target in DECISIONS:
            author_ids = {u.id for u in authors(proposal)}
            notify([u for u in supporters(proposal) if u.id not in author_ids],
                   f"proposal.{target.value}", title, link, body)
        if target == S.SUBMITTED:
            key = "proposal.resubmitted" if current == S.CHANGES_REQUESTED else "proposal.submitted"
            notify(moderators(proposal), key,
                   _("Da moderare: «%(title)s»", title=proposal.title),
                   url_for("proposals.queue"),
                   _("Una proposta attende la moderazione entro %(days)d giorni.",
                     days=MODERATION_DEADLINE_DAYS))


# --------------------------------------------------------------------------- drafting


def _clean_themes(values: Iterable[str]) -> list[str]:
    known = theme_catalogue()
    chosen = []
    for value in values:
        if value not in known:
            raise ProposalError(_("Tema sconosciuto."), field="themes")
        if value not in chosen:
            chosen.append(value)
    return chosen


def table_choices(household_comune_id: int):
    """The tables a household of `household_comune_id` can address: its own and the Rete's."""
    from portal.tables.models import Table

    return list(db.session.scalars(
        select(Table).where((Table.comune_id == household_comune_id) | Table.comune_id.is_(None))
        .order_by(Table.comune_id.is_(None), Table.name)
    ))


def _check_table(table_id: int, comune_id: int):
    if table_id not in {t.id for t in table_choices(comune_id)}:
        raise ProposalError(_("Scegli il tavolo del tuo Comune o il tavolo intercomunale."),
                            field="table_id")


def create_draft(author: User, household: Household, *, title: str, summary: str, body: str,
                 table_id: int, themes: Iterable[str] = (),
                 estimated_cost_cents: int | None = None, own_contribution: str | None = None,
                 partner_ids: Iterable[int] = (), on_behalf_consent: str | None = None
                 ) -> Proposal:
    """A new draft of `household`; written by `author` (a member, or a facilitator)."""
    on_behalf = author.household_id != household.id
    if on_behalf and not policies.is_facilitator_for(author, household.comune_id):
        raise NotAllowed(_("Puoi proporre solo per il tuo nucleo familiare."))
    if on_behalf and not (on_behalf_consent or "").strip():
        raise ProposalError(_("Indica come la famiglia ha dato il consenso."),
                            field="on_behalf_consent")
    _check_table(table_id, household.comune_id)
    now = utcnow()
    proposal = Proposal(
        comune_id=household.comune_id, table_id=table_id, household_id=household.id,
        author_id=author.id, state=S.DRAFT, created_at=now, updated_at=now,
        state_changed_at=now,
    )
    if on_behalf:
        proposal.on_behalf_by_id = author.id
        proposal.on_behalf_consent = on_behalf_consent.strip()
        proposal.on_behalf_consent_at = now
    _fill(proposal, title=title, summary=summary, body=body, themes=themes,
          estimated_cost_cents=estimated_cost_cents, own_contribution=own_contribution,
          partner_ids=partner_ids)
    db.session.add(proposal)
    db.session.flush()
    audit("proposal.created", proposal, {"on_behalf": on_behalf}, actor=author)
    return proposal


def update_draft(proposal: Proposal, editor: User, *, title: str, summary: str, body: str,
                 table_id: int, themes: Iterable[str] = (),
                 estimated_cost_cents: int | None = None, own_contribution: str | None = None,
                 partner_ids: Iterable[int] = ()) -> Proposal:
    if not policies.edit_proposal(editor, proposal):
        raise NotAllowed(_("Questa proposta non si può più modificare."))
    _check_table(table_id, proposal.comune_id)
    proposal.table_id = table_id
    _fill(proposal, title=title, summary=summary, body=body, themes=themes,
          estimated_cost_cents=estimated_cost_cents, own_contribution=own_contribution,
          partner_ids=partner_ids)
    proposal.updated_at = utcnow()
    db.session.flush()
    return proposal


def _fill(proposal: Proposal, *, title, summary, body, themes, estimated_cost_cents,
          own_contribution, partner_ids) -> None:
    from portal.network.models import Association

    if estimated_cost_cents is not None and estimated_cost_cents < 0:
        raise ProposalError(_("Il costo non può essere negativo."), field="estimated_cost")
    proposal.title = title.strip()
    proposal.summary = summary.strip()
    proposal.body = body or ""
    proposal.body_html = render_markdown(proposal.body)
    proposal.themes = _clean_themes(themes)
    proposal.estimated_cost_cents = estimated_cost_cents
    proposal.own_contribution = (own_contribution or "").strip() or None
    wanted = set(partner_ids)
    if wanted:
        found = set(db.session.scalars(select(Association.id).where(Association.id.in_(wanted))))
        if found != wanted:
            raise ProposalError(_("Associazione sconosciuta."), field="partners")
    current = {p.association_id for p in proposal.partners}
    proposal.partners = [p for p in proposal.partners if p.association_id in wanted] + [
        ProposalPartner(association_id=a) for a in sorted(wanted - current)]


def submit(proposal: Proposal, actor: User) -> ProposalEvent:
    """Send a draft (or a proposal edited after a request for changes) to the moderators."""
    was = proposal.state
    event = transition(proposal, S.SUBMITTED, actor)
    if was == S.CHANGES_REQUESTED:
        event.details = {"resubmitted": True}
    return event


def delete_draft(proposal: Proposal, actor: User) -> None:
    if proposal.state != S.DRAFT or not policies.is_author(actor, proposal):
        raise NotAllowed(_("Si possono eliminare solo le bozze."))
    db.session.delete(proposal)
    db.session.flush()


# --------------------------------------------------------------------------- co-proposers


def invite_co_proposer(proposal: Proposal, actor: User, household: Household) -> CoProposer:
    if household.id == proposal.household_id:
        raise ProposalError(_("È già la famiglia che propone."), field="household")
    if any(c.household_id == household.id for c in proposal.co_proposers):
        raise ProposalError(_("Questa famiglia è già stata invitata."), field="household")
    invitation = CoProposer(proposal=proposal, household_id=household.id, invited_by_id=actor.id)
    db.session.add(invitation)
    db.session.flush()
    with _request_context():
        users = db.session.scalars(select(User).where(User.household_id == household.id))
        notify(users, "proposal.co_proposer_invited",
               _("Invito a proporre insieme: «%(title)s»", title=proposal.title),
               url_for("proposals.mine"),
               _("La famiglia che propone vi invita come co-proponenti. Rispondete dalla "
                 "pagina «Le mie proposte»."))
    audit("proposal.co_proposer_invited", proposal, {"household_id": household.id}, actor=actor)
    return invitation


def answer_invitation(invitation: CoProposer, actor: User, accept: bool) -> None:
    invitation.status = CoProposerStatus.ACCEPTED if accept else CoProposerStatus.DECLINED
    invitation.answered_at = utcnow()
    audit("proposal.co_proposer_" + ("accepted" if accept else "declined"),
          invitation.proposal, {"household_id": invitation.household_id}, actor=actor)
    db.session.flush()


# --------------------------------------------------------------------------- moderation


def merge(proposal: Proposal, into: Proposal, actor, note: str | None = None, *,
          authorized: bool = False) -> ProposalEvent:
    """Merge a duplicate into `into`: its supports move, no household is counted twice.

    Both proposals are locked first, in id order, and read again (see `lock_for_merge`).
    """
    if into.id != proposal.id:
        lock_for_merge(proposal, into)
    if into.id == proposal.id or into.merged_into_id is not None:
        raise ProposalError(_("Scegli un'altra proposta, non unita a sua volta."), field="into")
    if into.state not in (S.SUBMITTED, *PUBLIC_STATES) or into.table_id != proposal.table_id:
        raise ProposalError(_("Si può unire solo a una proposta pubblicata dello stesso tavolo."),
                            field="into")
    if not authorized and not policies.is_moderator_for(actor, proposal):
        raise NotAllowed(_("Non hai il ruolo necessario per questa operazione."))
    proposal.merged_into_id = into.id
    from portal.voting import services as voting

    moved = voting.move_votes(proposal, into)
    event = transition(proposal, S.MERGED, actor, note, authorized=authorized,
                       details={"merged_into": into.id, "votes_moved": moved})
    db.session.add(ProposalEvent(
        proposal_id=into.id, kind=EventKind.EDITED, actor_id=getattr(actor, "id", None),
        association_id=event.association_id, note=note,
        details={"absorbed": proposal.id, "votes_moved": moved}))
    return event


def lock_for_merge(proposal: Proposal, into: Proposal) -> None:
    """Take the write locks of a merge before anything else, and read both proposals again.

    PostgreSQL: both rows FOR UPDATE in id order. A vote holds its proposal FOR KEY SHARE from
    its first read (the function `rete_ballot`, migration 0010), so a merge waits for the votes
    in flight and the votes that come during the merge wait for it, then find the proposal
    merged: one lock order, no deadlock. SQLite: the database's write lock (BEGIN IMMEDIATE),
    as a ballot transaction takes it.
    """
    ids = sorted({proposal.id, into.id})
    if db.engine.dialect.name == "sqlite":
        connection = db.session.connection()
        if not connection.connection.dbapi_connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        query = select(Proposal).where(Proposal.id.in_(ids))
    else:
        query = (select(Proposal).where(Proposal.id.in_(ids)).order_by(Proposal.id)
                 .with_for_update())
    db.session.scalars(query.execution_options(populate_existing=True)).all()


def moderation_queue(user, limit: int = 200) -> list[Proposal]:
    """Submitted proposals in the Comuni `user` moderates, oldest first."""
    query = (select(Proposal).where(Proposal.state == S.SUBMITTED)
             .options(selectinload(Proposal.comune), selectinload(Proposal.table))
             .order_by(Proposal.submitted_at, Proposal.id).limit(limit))
    if not authz.is_coordinator(user):
        comuni = policies.moderated_comune_ids(user)
        if not comuni:
            return []
        query = query.where(Proposal.comune_id.in_(comuni))
    return list(db.session.scalars(query))


def open_reports(user, limit: int = 200) -> list[Report]:
    query = (select(Report).join(Proposal, Proposal.id == Report.proposal_id)
             .where(Report.resolved_at.is_(None))
             .options(selectinload(Report.proposal), selectinload(Report.comment))
             .order_by(Report.created_at, Report.id).limit(limit))
    if not authz.is_coordinator(user):
        comuni = policies.moderated_comune_ids(user)
        if not comuni:
            return []
        query = query.where(Proposal.comune_id.in_(comuni))
    return list(db.session.scalars(query))


def _acting_association(actor, proposal: Proposal) -> int | None:
    ids = policies.moderating_associations(actor, proposal.comune_id)
    return ids[0] if ids else None


def _resolve_reports(proposal_id: int, comment_id: int | None, actor, resolution: str) -> None:
    query = update(Report).where(Report.proposal_id == proposal_id,
                                 Report.resolved_at.is_(None))
    query = query.where(Report.comment_id == comment_id if comment_id is not None
                        else Report.comment_id.is_(None))
    db.session.execute(query.values(resolved_at=utcnow(), resolved_by_id=actor.id,
                                    resolution=resolution))


def hide_proposal(proposal: Proposal, actor, reason: str) -> ProposalEvent:
    if not policies.is_moderator_for(actor, proposal):
        raise NotAllowed(_("Non hai il ruolo necessario per questa operazione."))
    if proposal.is_hidden:
        raise ProposalError(_("La proposta è già nascosta."))
    reason = (reason or "").strip()
    if not reason:
        raise ProposalError(_("Scrivi il motivo: sarà pubblico."), field="reason")
    association_id = _acting_association(actor, proposal)
    proposal.hidden_at = utcnow()
    proposal.hidden_reason = reason
    proposal.hidden_by_association_id = association_id
    event = ProposalEvent(proposal=proposal, kind=EventKind.HIDDEN, actor_id=actor.id,
                          association_id=association_id, note=reason)
    db.session.add(event)
    _resolve_reports(proposal.id, None, actor, "hidden")
    audit("proposal.hidden", proposal, {"reason": reason}, actor=actor)
    db.session.flush()
    with _request_context():
        notify(authors(proposal), "proposal.hidden",
               _("La proposta «%(title)s» è stata nascosta", title=proposal.title),
               _link(proposal), reason)
    return event


def unhide_proposal(proposal: Proposal, actor, note: str | None = None) -> ProposalEvent:
    if not policies.is_moderator_for(actor, proposal):
        raise NotAllowed(_("Non hai il ruolo necessario per questa operazione."))
    if not proposal.is_hidden:
        raise ProposalError(_("La proposta non è nascosta."))
    proposal.hidden_at = None
    proposal.hidden_reason = None
    proposal.hidden_by_association_id = None
    event = ProposalEvent(proposal=proposal, kind=EventKind.UNHIDDEN, actor_id=actor.id,
                          association_id=_acting_association(actor, proposal),
                          note=(note or "").strip() or None)
    db.session.add(event)
    audit("proposal.unhidden", proposal, {}, actor=actor)
    db.session.flush()
    with _request_context():
        notify(authors(proposal), "proposal.unhidden",
               _("La proposta «%(title)s» è di nuovo visibile", title=proposal.title),
               _link(proposal))
    return event


def report(user: User, proposal: Proposal, reason: str, comment: Comment | None = None
           ) -> Report:
    """Flag a proposal or a comment for the moderators (once per user and item)."""
    reason = (reason or "").strip()
    if not reason:
        raise ProposalError(_("Spiega che cosa non va."), field="reason")
    existing = db.session.scalar(select(Report).where(
        Report.reporter_id == user.id, Report.proposal_id == proposal.id,
        Report.comment_id == comment.id if comment else Report.comment_id.is_(None),
        Report.resolved_at.is_(None)))
    if existing is not None:
        return existing
    entry = Report(proposal_id=proposal.id, comment_id=comment.id if comment else None,
                   reporter_id=user.id, reason=reason)
    db.session.add(entry)
    db.session.flush()
    with _request_context():
        notify(moderators(proposal), "proposal.reported",
               _("Segnalazione su «%(title)s»", title=proposal.title),
               url_for("proposals.queue"), reason)
    return entry


def dismiss_report(entry: Report, actor) -> None:
    if not policies.is_moderator_for(actor, entry.proposal):
        raise NotAllowed(_("Non hai il ruolo necessario per questa operazione."))
    entry.resolved_at = utcnow()
    entry.resolved_by_id = actor.id
    entry.resolution = "dismissed"
    audit("proposal.report_dismissed", entry.proposal, {"report": entry.id}, actor=actor)
    db.session.flush()


# --------------------------------------------------------------------------- comments


def add_comment(proposal: Proposal, author: User, body: str, parent: Comment | None = None
                ) -> Comment:
    if not policies.comment_proposal(author, proposal):
        raise NotAllowed(_("Si può commentare solo una proposta pubblicata."))
    body = (body or "").strip()
    if not body:
        raise ProposalError(_("Il commento è vuoto."), field="body")
    if parent is not None:
        if parent.proposal_id != proposal.id:
            raise ProposalError(_("Commento non trovato."), field="parent_id")
        # one level of replies: a reply to a reply joins the same thread
        if parent.parent_id is not None:
            parent = db.session.get(Comment, parent.parent_id)
    comment = Comment(proposal_id=proposal.id, parent_id=parent.id if parent else None,
                      author_id=author.id, body=body)
    db.session.add(comment)
    db.session.execute(update(Proposal).where(Proposal.id == proposal.id)
                       .values(comment_count=Proposal.comment_count + 1))
    db.session.flush()
    recipients = [u for u in authors(proposal) if u.id != author.id]
    if parent is not None and parent.author is not None and parent.author_id != author.id:
        recipients.append(parent.author)
    with _request_context():
        notify(recipients, "proposal.commented",
               _("Nuovo commento su «%(title)s»", title=proposal.title),
               _link(proposal) + f"#commento-{comment.id}", body[:500], mail=False)
    return comment


def edit_comment(comment: Comment, editor: User, body: str) -> Comment:
    if not policies.edit_comment(editor, comment):
        raise NotAllowed(_("Il commento si può modificare solo entro 15 minuti."))
    body = (body or "").strip()
    if not body:
        raise ProposalError(_("Il commento è vuoto."), field="body")
    comment.body = body
    comment.edited_at = utcnow()
    db.session.flush()
    return comment


def hide_comment(comment: Comment, actor, reason: str) -> ProposalEvent:
    if not policies.is_moderator_for(actor, comment.proposal):
        raise NotAllowed(_("Non hai il ruolo necessario per questa operazione."))
    if comment.is_hidden:
        raise ProposalError(_("Il commento è già nascosto."))
    reason = (reason or "").strip()
    if not reason:
        raise ProposalError(_("Scrivi il motivo: sarà pubblico."), field="reason")
    association_id = _acting_association(actor, comment.proposal)
    comment.hidden_at = utcnow()
    comment.hidden_reason = reason
    comment.hidden_by_association_id = association_id
    event = ProposalEvent(proposal_id=comment.proposal_id, kind=EventKind.COMMENT_HIDDEN,
                          actor_id=actor.id, association_id=association_id, note=reason,
                          details={"comment": comment.id})
    db.session.add(event)
    _resolve_reports(comment.proposal_id, comment.id, actor, "hidden")
    audit("comment.hidden", comment, {"reason": reason, "proposal": comment.proposal_id},
          actor=actor)
    db.session.flush()
    if comment.author is not None:
        with _request_context():
            notify([comment.author], "comment.hidden",
                   _("Un tuo commento è stato nascosto"), _link(comment.proposal), reason)
    return event


def unhide_comment(comment: Comment, actor) -> ProposalEvent:
    if not policies.is_moderator_for(actor, comment.proposal):
        raise NotAllowed(_("Non hai il ruolo necessario per questa operazione."))
    if not comment.is_hidden:
        raise ProposalError(_("Il commento non è nascosto."))
    comment.hidden_at = None
    comment.hidden_reason = None
    comment.hidden_by_association_id = None
    event = ProposalEvent(proposal_id=comment.proposal_id, kind=EventKind.COMMENT_UNHIDDEN,
                          actor_id=actor.id,
                          association_id=_acting_association(actor, comment.proposal),
                          details={"comment": comment.id})
    db.session.add(event)
    audit("comment.unhidden", comment, {"proposal": comment.proposal_id}, actor=actor)
    db.session.flush()
    return event


# --------------------------------------------------------------------------- the account area


def mine(user: User) -> list[Proposal]:
    """Proposals of the user's household (as proposer or co-proposer) or written by the user."""
    conditions = [Proposal.author_id == user.id]
    if user.household_id is not None:
        co = select(CoProposer.proposal_id).where(
            CoProposer.household_id == user.household_id,
            CoProposer.status == CoProposerStatus.ACCEPTED)
        conditions += [Proposal.household_id == user.household_id, Proposal.id.in_(co)]
    from sqlalchemy import or_

    return list(db.session.scalars(
        select(Proposal).where(or_(*conditions)).options(selectinload(Proposal.table))
        .order_by(Proposal.updated_at.desc(), Proposal.id.desc()).limit(200)
    ))


def invitations_for(user: User) -> list[CoProposer]:
    if user.household_id is None:
        return []
    return list(db.session.scalars(
        select(CoProposer).where(CoProposer.household_id == user.household_id,
                                 CoProposer.status == CoProposerStatus.INVITED)
        .options(selectinload(CoProposer.proposal)).order_by(CoProposer.id)
    ))


def count_submitted_for(user) -> int:
    query = select(func.count(Proposal.id)).where(Proposal.state == S.SUBMITTED)
    if not authz.is_coordinator(user):
        comuni = policies.moderated_comune_ids(user)
        if not comuni:
            return 0
        query = query.where(Proposal.comune_id.in_(comuni))
    return db.session.scalar(query) or 0


# --------------------------------------------------------------------------- the public list


class ListFilters:
    """The filters and sort order of /proposte, read from the query string, never trusted.

    `comune` is a Comune's id or its name as typed; `tavolo` a table's id, "intercomunale"
    (the Rete's table) or "comunali" (the tables of the Comuni).
    """

    SORTS = ("recenti", "sostegni")
    LEVELS = ("intercomunale", "comunali")

    def __init__(self, args):
        raw_comune = " ".join(str(args.get("comune") or "").split())[:120]
        self.comune = _int(raw_comune)
        self.comune_name = None if self.comune or not raw_comune else (
            raw_comune if raw_comune.isprintable() else None)
        raw_table = (args.get("tavolo") or "").strip()
        self.level = raw_table if raw_table in self.LEVELS else None
        self.table = None if self.level else _int(raw_table)
        theme = (args.get("tema") or "").strip()
        self.theme = theme if theme in theme_catalogue() else None
        state = (args.get("stato") or "").strip()
        self.state = state if state in {s.value for s in PUBLIC_STATES} else None
        self.round = _int(args.get("votazione"))
        sort = args.get("ordina")
        self.sort = sort if sort in self.SORTS else "recenti"
        self.after = _cursor(args.get("dopo"), self.sort)
        self.before = _cursor(args.get("prima"), self.sort) if self.after is None else None
        #: set by resolve(): the Comune's name to show in the form, or a "not found" flag
        self.comune_label: str | None = None
        self.comune_unknown = False

    def resolve(self) -> None:
        """Turn a typed Comune name into its id (one query, only when a name was typed)."""
        from portal.network.models import Comune
        from portal.network.services import slugify

        if self.comune_name:
            row = db.session.execute(
                select(Comune.id, Comune.name).where(
                    (Comune.slug == slugify(self.comune_name))
                    | (func.lower(Comune.name) == self.comune_name.lower())).limit(1)).first()
            if row is None:
                self.comune_unknown = True
                self.comune_label = self.comune_name
            else:
                self.comune, self.comune_label = row.id, row.name
        elif self.comune:
            from portal.memo import memo

            self.comune_label = memo(
                f"proposals.comune-name:{self.comune}",
                lambda: db.session.scalar(select(Comune.name).where(Comune.id == self.comune)))
            self.comune_unknown = self.comune_label is None

    def query_args(self, **extra) -> dict:
        args = {"comune": self.comune or self.comune_name, "tavolo": self.level or self.table,
                "tema": self.theme, "stato": self.state, "votazione": self.round,
                "ordina": self.sort if self.sort != "recenti" else None}
        args.update(extra)
        return {k: v for k, v in args.items() if v not in (None, "")}

    @property
    def active(self) -> bool:
        return any((self.comune, self.comune_name, self.table, self.level, self.theme,
                    self.state, self.round))


def _int(value) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**31 else None


def _cursor(value, sort: str):
    """'<key>_<id>' where key is an epoch in microseconds (date) or a count (supports)."""
    if not value or "_" not in value:
        return None
    key, _sep, ident = value.partition("_")
    try:
        key_int, ident_int = int(key), int(ident)
    except ValueError:
        return None
    if not (0 <= key_int < 2**62 and 0 < ident_int < 2**31):
        return None
    if sort != "recenti" and key_int >= 2**31:
        return None
    if sort == "recenti":
        from datetime import UTC, datetime

        try:
            return datetime.fromtimestamp(key_int / 1_000_000, UTC), ident_int
        except (OverflowError, OSError, ValueError):
            return None
    return key_int, ident_int


def cursor_of(row, sort: str) -> str:
    if sort == "recenti":
        key = int(row.published_at.timestamp() * 1_000_000)
    else:
        key = row.support_count
    return f"{key}_{row.id}"


class ListPage:
    def __init__(self, rows, next_cursor, prev_cursor):
        self.rows = rows
        self.next_cursor = next_cursor
        self.prev_cursor = prev_cursor


def search(filters: ListFilters, per_page: int = 20) -> ListPage:
    """One page of the public list: one query (keyset pagination, themes aggregated).

    The statement is built once per shape of the filters (which ones are set, sort and
    direction) and then only executed with new values.
    """
    if filters.comune_unknown:
        return ListPage([], None, None)
    backwards = filters.before is not None
    cursor = filters.after if filters.after is not None else filters.before
    statement = _search_statement(
        db.session.get_bind().dialect.name, filters.sort, filters.level, bool(filters.state),
        bool(filters.comune), bool(filters.table), bool(filters.theme), bool(filters.round),
        "after" if filters.after is not None else "before" if backwards else None)
    params = {"state": filters.state, "comune": filters.comune, "table": filters.table,
              "theme": filters.theme, "round": filters.round, "limit": per_page + 1}
    if cursor is not None:
        params["key"], params["ident"] = cursor
    rows = list(db.session.connection().execute(statement, params))
    more = len(rows) > per_page
    rows = rows[:per_page]
    if backwards:
        rows.reverse()
    next_cursor = prev_cursor = None
    if rows and backwards:
        next_cursor = cursor_of(rows[-1], filters.sort)
        prev_cursor = cursor_of(rows[0], filters.sort) if more else None
    elif rows:
        next_cursor = cursor_of(rows[-1], filters.sort) if more else None
        prev_cursor = cursor_of(rows[0], filters.sort) if filters.after is not None else None
    return ListPage(rows, next_cursor, prev_cursor)


@lru_cache(maxsize=256)
def _search_statement(dialect: str, sort: str, level: str | None, state: bool, comune: bool,
                      table: bool, theme: bool, round_: bool, direction: str | None):
    """The list's query for one shape of filters, with bound parameters for the values."""
    from sqlalchemy import bindparam, exists, tuple_

    from portal.network.models import Comune
    from portal.proposals.models import ProposalTheme
    from portal.tables.models import Table
    from portal.voting.models import RoundEntry

    # Newest first: along the proposals' indexes, each page's counters read by id. Most
    # supported first: along the counters' own index (support_count, proposal_id), each
    # proposal read by its id. (A join only where it orders: each one more relation costs
    # PostgreSQL planning time on the filtered lists, planned for each value.)
    if sort == "recenti":
        key, ident = Proposal.published_at, Proposal.id
        supports = Proposal.support_count.expression.label("support_count")
    else:
        key, ident = ProposalSupport.support_count, ProposalSupport.proposal_id
        supports = ProposalSupport.support_count
    themes = (select(func.aggregate_strings(ProposalTheme.theme, " "))
              .where(ProposalTheme.proposal_id == Proposal.id).scalar_subquery())

    # SQLite, most supported first, would start from the Comuni (by name, along
    # ix_comuni_name) and sort every listed proposal: 80 ms at 100,000. Adding 0 (or '') keeps
    # the proposals' own indexes out of the Comune's and the table's joins, so it walks the
    # counters' index in order and stops at the page (0.03 ms). PostgreSQL plans the plain
    # join well and worse with it (hash joins over both tables).
    steer = dialect == "sqlite" and sort != "recenti"

    def by_id(column):
        return column + 0 if steer else column

    def by_value(column):
        return column + "" if steer else column

    query = select(Proposal.id, Proposal.title, Proposal.summary, Proposal.state, supports,
                   Proposal.comment_count, Proposal.published_at, Proposal.estimated_cost_cents,
                   Comune.name.label("comune_name"), Table.name.label("table_name"),
                   themes.label("themes")).select_from(Proposal)
    if sort != "recenti":
        query = query.join(ProposalSupport, ProposalSupport.proposal_id == Proposal.id)
    query = (query
             .join(Comune, Comune.id == by_id(Proposal.comune_id))
             .join(Table, Table.id == by_id(Proposal.table_id))
             .where(Proposal.listed.is_(True)))
    if state:
        # (SQLite, most supported first, would read every proposal in the state and sort them:
        # a state is common, and the counters' index finds a page of them sooner.)
        query = query.where(by_value(Proposal.state) == bindparam("state"))
    if level == "intercomunale":
        rete = select(Table.id).where(Table.comune_id.is_(None)).scalar_subquery()
        query = query.where(Proposal.table_id == rete)
    elif level:
        query = query.where(Table.comune_id.is_not(None))
    if comune:
        query = query.where(Proposal.comune_id == bindparam("comune"))
    if table:
        query = query.where(Proposal.table_id == bindparam("table"))
    if theme:
        query = query.where(exists().where(ProposalTheme.proposal_id == Proposal.id,
                                           ProposalTheme.theme == bindparam("theme")))
    if round_ and dialect == "sqlite":
        # A join: SQLite starts from the round's few entries (with EXISTS, most supported
        # first, it walked the counters' index past most proposals: 80 ms).
        query = query.join(RoundEntry, (RoundEntry.proposal_id == Proposal.id)
                           & (RoundEntry.round_id == bindparam("round")))
    elif round_:
        # (PostgreSQL plans this faster than the join: one relation fewer to order.)
        query = query.where(exists().where(RoundEntry.proposal_id == Proposal.id,
                                           RoundEntry.round_id == bindparam("round")))
    if direction is not None:
        # A row comparison: both databases start the index scan at the cursor (PostgreSQL
        # takes it as the index condition, SQLite as a range on the key), and PostgreSQL
        # keeps one plan for every cursor; the same test written with OR was planned afresh
        # on every page (0.8 ms a page against 0.36 in all).
        cursor = tuple_(bindparam("key", type_=key.type),
                        bindparam("ident", type_=ident.type))
        row = tuple_(key, ident)
        query = query.where(row < cursor if direction == "after" else row > cursor)
    order = ((key.asc(), ident.asc()) if direction == "before"
             else (key.desc(), ident.desc()))
    # Without a filter on a value, one plan fits every page: the LIMIT is written into the
    # SQL so that PostgreSQL keeps it (db_setup.inline_limit); with one, planned per value.
    filtered = state or comune or table or theme or round_
    return query.order_by(*order).limit(bindparam("limit") if filtered else inline_limit())
