"""Proposals: drafting, the state graph, moderation, comments and reports.

The interface other modules use (the tables module above all):

- ``transition(proposal, to_state, actor, note=None, *, authorized=False) -> ProposalEvent``
  moves a proposal along the state graph (``TRANSITIONS``). It raises ``TransitionError`` when
  the graph has no such edge and, unless ``authorized`` is true, ``NotAllowed`` when ``actor``
  does not hold the role the edge needs (the graph's value for that edge). With
  ``authorized=True`` the caller vouches for the actor (the tables module checks its own roles for
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

What the modules above register here, at their init_app (proposals imports none of them):
``register_proposal_panel`` (sections of a proposal's page), ``register_supporters``,
``register_round_filter``, ``register_tables``; and the signals a merge sends,
``merge_blocked`` (may refuse it) and ``proposal_merged``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import nh3
from blinker import Namespace
from flask import current_app, has_request_context, url_for
from flask_babel import gettext as _
from markdown_it import MarkdownIt
from sqlalchemy import Select, exists, func, literal, or_, select, tuple_, union, update
from sqlalchemy.orm import joinedload, selectinload

from portal import authz
from portal.accounts.models import Household, HouseholdStatus, User
from portal.accounts.services import find_user_by_email
from portal.authz import Role, Scope
from portal.core.services import activity, audit, notify
from portal.core.texts import Text, text
from portal.db_setup import utcnow
from portal.extensions import db
from portal.network.models import Association, Comune, RoleAssignment, association_comuni
from portal.network.services import slugify
from portal.proposals import policies
from portal.proposals.models import (
    PUBLIC_STATES,
    TRANSITIONS,
    Comment,
    CoProposer,
    CoProposerStatus,
    EventKind,
    Proposal,
    ProposalEvent,
    ProposalPartner,
    ProposalState,
    ProposalSupport,
    ProposalTheme,
    Report,
)
from portal.proposals.themes import themes as theme_catalogue
from portal.web import parse_id, parse_int

log = logging.getLogger(__name__)

S = ProposalState


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
    """Every state's label, in the request's language."""
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
    html = _markdown.render(text or "")
    return nh3.clean(
        html,
        tags={"p", "br", "strong", "em", "ul", "ol", "li", "a", "blockquote", "code", "pre",
              "h3", "h4", "h5", "h6", "hr"},
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow ugc",
    )


# --------------------------------------------------------------------------- the modules above
#
# Voting and tables sit above proposals: proposals imports neither. What a proposal's pages
# need from them they register here from their init_app (portal/voting/__init__.py and
# portal/tables/panels.py), and what they must hear of travels as a blinker signal.

signals = Namespace()
#: Sent by merge() under its locks, before it writes anything: sender = the duplicate,
#: `into` = the proposal that would absorb it. A receiver (voting) returns why the merge must
#: wait (a message for the moderator, shown on the form's "into" field) or None.
merge_blocked = signals.signal("proposal-merge-blocked")
#: Sent by merge() after the duplicate's merged_into_id is set and before its MERGED
#: transition, in the same transaction: sender = the duplicate, `into` = the proposal that
#: absorbs it. Receivers (voting) move what they hold of the duplicate and return a dict of
#: what they changed (added to the event's details and to the audit log), or None.
proposal_merged = signals.signal("proposal-merged")

#: (place, provider): provider(proposal) -> (template, context) or None, a section of a
#: proposal's page shown at `place` ("aside": beside the text; "main": below it)
_PROPOSAL_PANELS: list[tuple[str, Callable[[Any], tuple[str, Any] | None]]] = []
#: provider(proposal_id) -> a SELECT of the ids of households that supported it
_SUPPORTERS: list[Callable[[int], Select]] = []
#: (options() -> [(round id, title)], proposal_ids(round_id) -> SELECT of proposal ids)
_ROUND_FILTER: list[tuple[Callable[[], list[tuple[int, str]]], Callable[[int], Select]]] = []
#: (get(table_id) -> table or None, choices(comune_id) -> tables a household there addresses)
_TABLES: list[tuple[Callable[[int], Any], Callable[[int], list]]] = []


def register_proposal_panel(provider, place: str = "aside") -> None:
    """Add a section to a proposal's page: provider(proposal) -> (template, context) or None.
    The template reads the context as `panel` (and the page's `proposal`). `place`: "aside"
    (the column beside the proposal's text, under its summary) or "main" (below the text)."""
    if (place, provider) not in _PROPOSAL_PANELS:
        _PROPOSAL_PANELS.append((place, provider))


def proposal_panels(proposal, place: str = "aside") -> list[tuple[str, Any]]:
    """The sections registered for `place` that have something to show for `proposal`."""
    return [found for found in (provider(proposal) for where, provider in _PROPOSAL_PANELS
                                if where == place) if found is not None]


def register_supporters(provider) -> None:
    """provider(proposal_id) -> a SELECT of the household ids that supported the proposal."""
    if provider not in _SUPPORTERS:
        _SUPPORTERS.append(provider)


def register_round_filter(options, proposal_ids) -> None:
    """The list's filter by voting round: options() -> [(id, title)] of recent rounds,
    proposal_ids(round_id) -> a SELECT of the proposal ids in that round."""
    _ROUND_FILTER[:] = [(options, proposal_ids)]


def register_tables(get, choices) -> None:
    """The tables proposals are addressed to: get(table_id) -> the table (`.id`, `.name`,
    `.comune_id`) or None; choices(comune_id) -> the tables a household of that Comune may
    address (its Comune's and the Rete's), in the order the form lists them."""
    _TABLES[:] = [(get, choices)]


def round_options() -> list[tuple[int, str]]:
    return _ROUND_FILTER[0][0]() if _ROUND_FILTER else []


def table_named(table_id: int):
    """The table with this id (for its name), or None."""
    return _TABLES[0][0](table_id) if _TABLES else None


# --------------------------------------------------------------------------- queries


def get(proposal_id: int) -> Proposal | None:
    return db.session.get(Proposal, proposal_id)


def page(proposal_id: int) -> Proposal | None:
    """A proposal with what its page shows (names, themes, partners, co-proposers) loaded
    by one statement, or None."""
    return db.session.scalars(
        select(Proposal).where(Proposal.id == proposal_id).options(
            joinedload(Proposal.comune), joinedload(Proposal.table),
            joinedload(Proposal.household), joinedload(Proposal.on_behalf_by),
            joinedload(Proposal.merged_into), joinedload(Proposal.hidden_by_association),
            joinedload(Proposal.theme_rows),
            joinedload(Proposal.partners).joinedload(ProposalPartner.association),
            joinedload(Proposal.co_proposers).joinedload(CoProposer.household))
    ).unique().first()


def history(proposal: Proposal | int) -> list[ProposalEvent]:
    """The public history, oldest first, with the names it shows."""
    proposal_id = proposal if isinstance(proposal, int) else proposal.id
    return list(db.session.scalars(
        select(ProposalEvent).where(ProposalEvent.proposal_id == proposal_id)
        .options(joinedload(ProposalEvent.association), joinedload(ProposalEvent.table))
        .order_by(ProposalEvent.id)))


def _comments() -> Select:
    return (select(Comment)
            .options(joinedload(Comment.author), joinedload(Comment.hidden_by_association))
            .order_by(Comment.id))


def comment_threads(proposal_id: int) -> list[tuple[Comment, list[Comment]]]:
    """The comments as threads (comment, replies), oldest first, with their authors and the
    association that hid them: one query, however many comments."""
    threads: dict[int, tuple[Comment, list[Comment]]] = {}
    for comment in db.session.scalars(_comments().where(Comment.proposal_id == proposal_id)):
        if comment.parent_id is None:
            threads[comment.id] = (comment, [])
        elif comment.parent_id in threads:
            threads[comment.parent_id][1].append(comment)
    return list(threads.values())


def comments(ids: Iterable[int]) -> dict[int, Comment]:
    """Comments by id, with what their cards show."""
    return {c.id: c for c in db.session.scalars(_comments().where(Comment.id.in_(list(ids))))}


def selected_for_table(table_id: int) -> list[Proposal]:
    """Proposals of the table selected by a round and not yet on an agenda."""
    return list(db.session.scalars(
        select(Proposal).where(Proposal.table_id == table_id, Proposal.state == S.SELECTED)
        .order_by(Proposal.support_count.desc(), Proposal.state_changed_at, Proposal.id)
    ))


def supporters(proposal: Proposal) -> list[User]:
    """The users of the households that supported the proposal (as the voting module
    counts them), without the deleted ones."""
    if not _SUPPORTERS:
        return []
    households = union(*(provider(proposal.id) for provider in _SUPPORTERS))
    return list(db.session.scalars(
        select(User).where(User.household_id.in_(select(households.subquery())),
                           User.deleted_at.is_(None))
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


def transition(proposal: Proposal, to_state: str, actor, note: str | Text | None = None, *,
               authorized: bool = False, details: dict | None = None,
               quiet: bool = False) -> ProposalEvent:
    """Move `proposal` to `to_state`; log, audit and notify. See the module docstring.

    `note` is what a person wrote, or a `Text` the portal writes (portal.core.texts), shown
    in each reader's language; `details` is stored on the event (e.g. the round that selected
    it, the meeting); `quiet` skips notifications (demo data).
    """
    message = params = None
    notice = note  # the notice is written in the request's language, as its title
    if isinstance(note, Text):
        message, params, note, notice = note.key, note.params, note.italian(), str(note)
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
                          table_id=table_id, note=note, message=message, params=params,
                          details=details)
    db.session.add(event)
    audit(f"proposal.{target.value}", proposal,
          {"from": current.value, "note": note, **(details or {})}, actor=actor)
    db.session.flush()
    log.info("proposal %s: %s -> %s by %s", proposal.id, current, target,
             getattr(actor, "id", None))

    link = _link(proposal)
    if target in (S.PUBLISHED, S.APPROVED, S.IMPLEMENTED):
        activity(f"proposal.{target.value}", text(f"proposal.{target.value}",
                                                  title=proposal.title),
                 link, proposal.comune_id)
    if not quiet:
        _notify_change(proposal, current, target, actor, (notice or "").strip() or None, link)
    return event


def _notify_change(proposal: Proposal, current: ProposalState, target: ProposalState, actor,
                   note: str | None, link: str) -> None:
    with _request_context():
        title = _("La proposta «%(title)s» è ora: %(state)s", title=proposal.title,
                  state=state_label(target))
        body = note or None  # the title says the change; the body only what it adds
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


def table_choices(household_comune_id: int) -> list:
    """The tables a household of `household_comune_id` can address: its own and the Rete's
    (as the tables module lists them)."""
    return list(_TABLES[0][1](household_comune_id)) if _TABLES else []


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


def shown_title(proposal: Proposal) -> str:
    """The title the current visitor may read: a hidden proposal's own title only for its
    authors and moderators, a neutral placeholder for everyone else (page title, heading,
    breadcrumbs, lists)."""
    if authz.can("proposal.read_content", proposal):
        return proposal.title
    return _("Proposta nascosta dai moderatori")


def delete_draft(proposal: Proposal, actor: User) -> None:
    if proposal.state != S.DRAFT or not policies.is_author(actor, proposal):
        raise NotAllowed(_("Si possono eliminare solo le bozze."))
    db.session.delete(proposal)
    db.session.flush()


# --------------------------------------------------------------------------- co-proposers


def invite_co_proposer(proposal: Proposal, actor: User, email: str) -> CoProposer | None:
    """Invite the household of the account with this e-mail, if there is one to invite.

    The inviter learns nothing about the address: whether it belongs to no one, to a
    household already invited or to the proposing one, the answer is the same (None here,
    one message in the view), and no household's name is ever returned."""
    user = find_user_by_email(email)
    household = user.household if user is not None else None
    if (household is None or household.status == HouseholdStatus.REJECTED
            or household.id == proposal.household_id
            or any(c.household_id == household.id for c in proposal.co_proposers)):
        return None
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
    """Merge a duplicate into `into`. Votes and published results never move.

    Both proposals are locked first, in id order, and read again (see `lock_for_merge`);
    then the modules above may refuse (`merge_blocked`: voting refuses while either proposal
    is in a round that has opened and is not counted yet) before anything is written. What
    they hold of the duplicate follows it through `proposal_merged`. The merge is in the
    audit log twice: the duplicate's transition ("proposal.merged") and the target's
    "proposal.absorbed", each with what the modules above changed.
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
    for _receiver, problem in merge_blocked.send(proposal, into=into):
        if problem:
            raise ProposalError(problem, field="into")
    proposal.merged_into_id = into.id
    changed: dict = {}
    for _receiver, result in proposal_merged.send(proposal, into=into):
        changed.update(result or {})
    event = transition(proposal, S.MERGED, actor, note, authorized=authorized,
                       details={"merged_into": into.id, **changed})
    db.session.add(ProposalEvent(
        proposal_id=into.id, kind=EventKind.EDITED, actor_id=getattr(actor, "id", None),
        association_id=event.association_id, note=note,
        details={"absorbed": proposal.id, **changed}))
    audit("proposal.absorbed", into, {"absorbed": proposal.id, "note": note, **changed},
          actor=actor)
    return event


def lock_for_merge(proposal: Proposal, into: Proposal) -> None:
    """Take the write locks of a merge before anything else, and read both proposals again.

    PostgreSQL: both rows FOR UPDATE in id order; a vote locks its proposal's row first too,
    so a merge waits for the votes in flight and the votes that come during the merge wait for
    it, then find the proposal merged: one lock order, no deadlock. SQLite: the database's
    write lock (BEGIN IMMEDIATE), as a ballot transaction takes it.
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
        """Turn a typed Comune name into its id, or an id into its name for the form."""
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
            self.comune_label = db.session.scalar(select(Comune.name)
                                                  .where(Comune.id == self.comune))
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
    return parse_id(str(value).strip()) if value is not None else None


def _cursor(value, sort: str):
    """'<key>_<id>' where key is an epoch in microseconds (date) or a count (supports)."""
    if not value or "_" not in value:
        return None
    key, _sep, ident = value.partition("_")
    key_int, ident_int = parse_int(key, 0, 2**62 - 1), parse_id(ident)
    if key_int is None or ident_int is None:
        return None
    if sort != "recenti" and key_int >= 2**31:
        return None
    if sort == "recenti":
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
    def __init__(self, rows: list[Proposal], next_cursor: str | None,
                 prev_cursor: str | None):
        self.rows = rows
        self.next_cursor = next_cursor
        self.prev_cursor = prev_cursor


def search(filters: ListFilters, per_page: int = 20) -> ListPage:
    """One page of the public list (keyset pagination: the cursor is the sort key and id of
    the last row shown), with each proposal's Comune, table and themes."""
    if filters.comune_unknown:
        return ListPage([], None, None)
    backwards = filters.before is not None
    cursor = filters.after if filters.after is not None else filters.before
    query = (select(Proposal)
             .options(joinedload(Proposal.comune), joinedload(Proposal.table),
                      selectinload(Proposal.theme_rows))
             .where(Proposal.listed.is_(True)))
    if filters.sort == "recenti":
        # along the proposals' (…, listed, published_at, id) indexes
        key, ident = Proposal.published_at, Proposal.id
    else:
        # along the counters' index (support_count, proposal_id)
        query = query.join(ProposalSupport, ProposalSupport.proposal_id == Proposal.id)
        key, ident = ProposalSupport.support_count, ProposalSupport.proposal_id
    if filters.state:
        query = query.where(Proposal.state == filters.state)
    if filters.level == "intercomunale":
        query = query.where(Proposal.table.has(comune_id=None))
    elif filters.level:
        query = query.where(~Proposal.table.has(comune_id=None))
    if filters.comune:
        query = query.where(Proposal.comune_id == filters.comune)
    if filters.table:
        query = query.where(Proposal.table_id == filters.table)
    if filters.theme:
        query = query.where(exists().where(ProposalTheme.proposal_id == Proposal.id,
                                           ProposalTheme.theme == filters.theme))
    if filters.round:
        if not _ROUND_FILTER:
            return ListPage([], None, None)
        query = query.where(Proposal.id.in_(_ROUND_FILTER[0][1](filters.round)))
    if cursor is not None:
        # a row comparison: both databases start the index scan at the cursor
        row, at = tuple_(key, ident), tuple_(literal(cursor[0], key.type),
                                             literal(cursor[1], ident.type))
        query = query.where(row > at if backwards else row < at)
    order = (key.asc(), ident.asc()) if backwards else (key.desc(), ident.desc())
    rows = list(db.session.scalars(query.order_by(*order).limit(per_page + 1)).unique())
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
