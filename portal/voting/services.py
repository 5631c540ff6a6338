"""Voting rounds, votes and results.

A vote is one row (round, household, proposal), unique in the database. Casting and
withdrawing are plain ORM work in the request's transaction (the request commits it): the
household's ballot is locked first, the round's rules are checked against the ballot as it is
under the lock, then the vote and both counters (the round entry's and the proposal's) are
written. The same code runs on SQLite and PostgreSQL; the lock is the one difference
(`_lock_ballot`). The unique constraint stays the last guarantee: an insert it turns away
(`ON CONFLICT DO NOTHING`) is the "already voted" outcome.

Results: a round past its closing time is closed for everyone at once; until `flask voting
close` has stored its results they are computed on demand without writing (`results_of`).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import logging
import secrets
import tempfile
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import delete, exists, func, literal, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from portal import authz
from portal.accounts.models import Household, HouseholdStatus
from portal.authz import Role
from portal.caching import remember
from portal.core.services import audit
from portal.core.texts import text
from portal.db_setup import utcnow
from portal.extensions import db
from portal.i18n import datetime_filter
from portal.proposals import services as proposals
from portal.proposals import themes as proposal_themes
from portal.proposals.models import Proposal, ProposalState, ProposalSupport, ProposalTheme
from portal.voting import hooks
from portal.voting.models import Round, RoundEntry, RoundRule, RoundState, Vote

log = logging.getLogger(__name__)


class VotingError(ValueError):
    """A voting rule was broken; the message is for the user."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class RoundNotFound(VotingError):
    """No such round, or no such proposal (the page answers 404)."""


# --------------------------------------------------------------------------- rounds


def round_state(round_: Round, now: datetime | None = None) -> RoundState:
    """Where the round stands now: from its window alone, so a round past its closing time
    is closed for every reader whether or not `flask voting close` has run."""
    now = now or utcnow()
    if now < round_.opens_at:
        return RoundState.SCHEDULED
    if now < round_.closes_at:
        return RoundState.OPEN
    return RoundState.CLOSED


def can_manage_table(user, table) -> bool:
    """Secretaries of the table and officers of its Comune (coordinators for the Rete's)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if authz.is_coordinator(user) or authz.has_role(user, Role.TABLE_SECRETARY, table.id):
        return True
    return table.comune_id is not None and authz.has_role(user, Role.COMUNE_OFFICER,
                                                          table.comune_id)


def managed_tables(user) -> list:
    """The tables `user` may open rounds for (the tables module answers)."""
    return hooks.managed_tables(user)


def candidates(table_id: int, round_: Round | None = None) -> list[Proposal]:
    """Published, visible proposals of the table that are not in another round still to close."""
    now = utcnow()
    busy = (select(RoundEntry.proposal_id).join(Round, Round.id == RoundEntry.round_id)
            .where(Round.closes_at > now))
    if round_ is not None and round_.id is not None:
        busy = busy.where(Round.id != round_.id)
    return list(db.session.scalars(
        select(Proposal).where(Proposal.table_id == table_id,
                               Proposal.state == ProposalState.PUBLISHED,
                               Proposal.hidden_at.is_(None), Proposal.id.not_in(busy))
        .order_by(Proposal.published_at.desc(), Proposal.id.desc()).limit(500)
    ))


def _check_parameters(rule: str, max_supports, threshold, budget_cents, opens_at, closes_at):
    if rule not in (RoundRule.SUPPORTS, RoundRule.BUDGET):
        raise VotingError(_("Scegli una regola di voto."), field="rule")
    if closes_at <= opens_at:
        raise VotingError(_("La chiusura deve venire dopo l'apertura."), field="closes_at")
    if rule == RoundRule.SUPPORTS:
        if not max_supports or max_supports < 1:
            raise VotingError(_("Indica quante proposte può sostenere ogni famiglia."),
                              field="max_supports")
        if not threshold or threshold < 1:
            raise VotingError(_("Indica la soglia di sostegni per la selezione."),
                              field="threshold")
    elif not budget_cents or budget_cents <= 0:
        raise VotingError(_("Indica il budget disponibile."), field="budget")


def _set_entries(round_: Round, proposal_ids: list[int]) -> None:
    allowed = {p.id: p for p in candidates(round_.table_id, round_)}
    if not proposal_ids:
        raise VotingError(_("Scegli almeno una proposta."), field="proposals")
    unknown = [pid for pid in proposal_ids if pid not in allowed]
    if unknown:
        raise VotingError(_("Una delle proposte scelte non può entrare in questa votazione."),
                          field="proposals")
    if round_.rule == RoundRule.BUDGET:
        missing = [allowed[pid].title for pid in proposal_ids
                   if allowed[pid].estimated_cost_cents is None]
        if missing:
            raise VotingError(_("Nel bilancio partecipativo ogni proposta ha bisogno di un costo "
                                "stimato: manca a «%(title)s».", title=missing[0]),
                              field="proposals")
    keep = set(proposal_ids)
    round_.entries = [e for e in round_.entries if e.proposal_id in keep]
    present = {e.proposal_id for e in round_.entries}
    for pid in proposal_ids:
        if pid not in present:
            round_.entries.append(RoundEntry(proposal_id=pid))
    for entry in round_.entries:
        entry.cost_cents = allowed[entry.proposal_id].estimated_cost_cents


def create_round(user, table, *, title: str, description: str | None, opens_at: datetime,
                 closes_at: datetime, rule: str, max_supports: int | None = None,
                 threshold: int | None = None, budget_cents: int | None = None,
                 proposal_ids: list[int]) -> Round:
    if not can_manage_table(user, table):
        raise VotingError(_("Non puoi aprire votazioni per questo tavolo."))
    if opens_at < utcnow().replace(second=0, microsecond=0):
        raise VotingError(_("L'apertura non può essere nel passato."), field="opens_at")
    _check_parameters(rule, max_supports, threshold, budget_cents, opens_at, closes_at)
    round_ = Round(table_id=table.id, title=title.strip(), description=description or None,
                   opens_at=opens_at, closes_at=closes_at, rule=rule,
                   max_supports=max_supports if rule == RoundRule.SUPPORTS else None,
                   threshold=threshold if rule == RoundRule.SUPPORTS else None,
                   budget_cents=budget_cents if rule == RoundRule.BUDGET else None,
                   salt=secrets.token_hex(32), created_by_id=user.id)
    db.session.add(round_)
    _set_entries(round_, proposal_ids)
    db.session.flush()
    # A proposal's counter shows its current round: it starts again from zero.
    db.session.execute(update(ProposalSupport)
                       .where(ProposalSupport.proposal_id.in_(proposal_ids))
                       .values(support_count=0), execution_options={"synchronize_session": False})
    audit("round.created", round_, {"rule": rule, "proposals": proposal_ids}, actor=user)
    return round_


#: what a round's opening freezes: the fields of its form that then stay as they are
FROZEN_FIELDS = ("opens_at", "closes_at", "rule", "max_supports", "threshold", "budget",
                 "proposals")


def describe_round(round_: Round, user, *, title: str, description: str | None) -> Round:
    """Change the title and description of a round, open or not: they change no vote."""
    if not can_manage_table(user, round_.table):
        raise VotingError(_("Non puoi modificare questa votazione."))
    round_.title = title.strip()
    round_.description = description or None
    audit("round.described", round_, {"title": round_.title}, actor=user)
    return round_


def update_round(round_: Round, user, *, title: str, description: str | None,
                 opens_at: datetime, closes_at: datetime, rule: str,
                 max_supports: int | None = None, threshold: int | None = None,
                 budget_cents: int | None = None, proposal_ids: list[int]) -> Round:
    """Change a round that has not opened yet; once open its rule and window are frozen."""
    if not can_manage_table(user, round_.table):
        raise VotingError(_("Non puoi modificare questa votazione."))
    # Lock the round so that an edit racing the opening time cannot slip through.
    _lock_round(round_)
    if round_state(round_) != RoundState.SCHEDULED:
        raise VotingError(_("La votazione è già aperta: regola, date e proposte non si possono "
                            "più cambiare."))
    if opens_at < utcnow().replace(second=0, microsecond=0):
        raise VotingError(_("L'apertura non può essere nel passato."), field="opens_at")
    _check_parameters(rule, max_supports, threshold, budget_cents, opens_at, closes_at)
    round_.title = title.strip()
    round_.description = description or None
    round_.opens_at, round_.closes_at, round_.rule = opens_at, closes_at, rule
    round_.max_supports = max_supports if rule == RoundRule.SUPPORTS else None
    round_.threshold = threshold if rule == RoundRule.SUPPORTS else None
    round_.budget_cents = budget_cents if rule == RoundRule.BUDGET else None
    before = {entry.proposal_id for entry in round_.entries}
    _set_entries(round_, proposal_ids)
    db.session.flush()
    # A proposal added starts from this round's zero; one taken out goes back to its last.
    refresh_supports(before | set(proposal_ids))
    audit("round.updated", round_, {"rule": rule, "proposals": proposal_ids}, actor=user)
    return round_


def _serialise_writes() -> None:
    """SQLite: take the database's write lock now, before the reads a write depends on.

    pysqlite begins its transaction only at the first INSERT/UPDATE/DELETE, so the reads
    before it would run outside any transaction and another writer could change what they
    saw. BEGIN IMMEDIATE makes the reads and the write one transaction that holds the write
    lock from the start (others wait on the busy timeout). Nothing to do when this
    connection's transaction already wrote (it holds the lock), nor on PostgreSQL, where the
    callers lock rows (`FOR UPDATE`).
    """
    connection = db.session.connection()
    if connection.dialect.name != "sqlite":
        return
    if not connection.connection.dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _lock_round(round_: Round) -> None:
    _serialise_writes()
    db.session.execute(select(Round.id).where(Round.id == round_.id).with_for_update())
    db.session.refresh(round_)


def rounds_for(table_id: int | None = None, limit: int = 100) -> list[Round]:
    query = select(Round).options(selectinload(Round.table)).order_by(
        Round.closes_at.desc(), Round.id.desc()).limit(limit)
    if table_id is not None:
        query = query.where(Round.table_id == table_id)
    return list(db.session.scalars(query))


def open_round_without(proposal) -> Round | None:
    """An open round of the proposal's table that it is not in (it was published after the
    round opened, or left out): its proposals are fixed, so this one waits for the next."""
    now = utcnow()
    return db.session.scalar(
        select(Round).where(Round.table_id == proposal.table_id, Round.opens_at <= now,
                            Round.closes_at > now,
                            ~Round.entries.any(RoundEntry.proposal_id == proposal.id))
        .order_by(Round.closes_at, Round.id).limit(1))


def latest_entry_for(proposal_id: int) -> tuple[Round, RoundEntry] | None:
    """The proposal's most recent round and its entry there, or None."""
    entry = db.session.scalar(
        select(RoundEntry).join(Round, Round.id == RoundEntry.round_id)
        .where(RoundEntry.proposal_id == proposal_id)
        .options(selectinload(RoundEntry.round).selectinload(Round.table),
                 selectinload(RoundEntry.proposal))
        .order_by(Round.opens_at.desc(), Round.id.desc()).limit(1))
    return None if entry is None else (entry.round, entry)


def entries_of(round_: Round, order: str = "votes") -> list[RoundEntry]:
    query = (select(RoundEntry).where(RoundEntry.round_id == round_.id)
             .options(selectinload(RoundEntry.proposal)))
    if order == "votes":
        query = query.order_by(RoundEntry.vote_count.desc(), RoundEntry.proposal_id)
    else:
        query = query.order_by(RoundEntry.proposal_id)
    return list(db.session.scalars(query))


# --------------------------------------------------------------------------- the round's list


class RoundFilters:
    """The filters, sort and cursor of a round's list, read from the query string, never
    trusted: `tema` (a theme's slug), `q` (words of the title), `scheda=1` (the proposals in
    the household's ballot), `ordina` ("elenco": the round's own order, "sostegni", or
    "costo" in a budget round), and the cursor `dopo` / `prima` that the previous page
    handed out. While the round is open its own order comes first: a proposal just voted
    stays on the page the family voted it from."""

    SORTS = ("elenco", "sostegni", "costo")

    def __init__(self, args, round_: Round, default: str = "elenco"):
        theme = (args.get("tema") or "").strip()
        self.theme = theme if theme in proposal_themes.all_themes() else None
        text = " ".join(str(args.get("q") or "").split())[:100]
        self.text = text if text.isprintable() else ""
        self.mine = args.get("scheda") == "1"
        sort = args.get("ordina")
        self.default = default
        self.sort = sort if sort in self.SORTS else default
        if self.sort == "costo" and round_.rule != RoundRule.BUDGET:
            self.sort = default  # costs are asked only of the budget's proposals
        self.after = _round_cursor(args.get("dopo"))
        self.before = _round_cursor(args.get("prima")) if self.after is None else None

    def query_args(self, **extra) -> dict:
        args = {"tema": self.theme, "q": self.text, "scheda": "1" if self.mine else None,
                "ordina": self.sort if self.sort != self.default else None}
        args.update(extra)
        return {k: v for k, v in args.items() if v not in (None, "")}

    @property
    def active(self) -> bool:
        return bool(self.theme or self.text or self.mine)


def _round_cursor(value) -> tuple[int, int] | None:
    """'<key>_<proposal id>': the sort key (votes or cost in cents) and id of a row."""
    key, sep, ident = str(value or "").partition("_")
    if not sep:
        return None
    try:
        key_int, ident_int = int(key), int(ident)
    except ValueError:
        return None
    if not (0 <= key_int < 2**62 and 0 < ident_int < 2**31):
        return None
    return key_int, ident_int


@dataclass
class RoundPage:
    """One page of a round's list: the entries (each with its proposal), the cursors of the
    pages around it, and how many entries match the filters."""

    entries: list[RoundEntry]
    next_cursor: str | None
    prev_cursor: str | None
    total: int


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def round_page(round_: Round, filters: RoundFilters, household_id: int | None,
               per_page: int = 20) -> RoundPage:
    """One page of the round's proposals (keyset: the cursor is the sort key and proposal id
    of the row next to it), along the round's primary key or its (round, vote_count,
    proposal) and (round, cost, proposal) indexes. Two statements, whatever its size."""
    if filters.mine and household_id is None:
        return RoundPage([], None, None, 0)
    if filters.sort == "costo":
        # cheapest first; a budget round's proposals all have a cost (_set_entries)
        key, ident, ascending = RoundEntry.cost_cents, RoundEntry.proposal_id, True
    elif filters.sort == "elenco":
        key, ident, ascending = RoundEntry.proposal_id, RoundEntry.proposal_id, True
    else:
        key, ident, ascending = RoundEntry.vote_count, RoundEntry.proposal_id, False
    conditions = [RoundEntry.round_id == round_.id]
    if filters.theme:
        conditions.append(exists().where(ProposalTheme.proposal_id == RoundEntry.proposal_id,
                                         ProposalTheme.theme == filters.theme))
    if filters.text:
        conditions.append(func.lower(Proposal.title).like(_like_pattern(filters.text),
                                                          escape="\\"))
    if filters.mine:
        conditions.append(exists().where(Vote.round_id == RoundEntry.round_id,
                                         Vote.household_id == household_id,
                                         Vote.proposal_id == RoundEntry.proposal_id))
    total = db.session.scalar(
        select(func.count()).select_from(RoundEntry)
        .join(Proposal, Proposal.id == RoundEntry.proposal_id).where(*conditions)) or 0
    backwards = filters.before is not None
    cursor = filters.after if filters.after is not None else filters.before
    query = (select(RoundEntry).join(Proposal, Proposal.id == RoundEntry.proposal_id)
             .options(contains_eager(RoundEntry.proposal)).where(*conditions))
    if cursor is not None:
        row, at = tuple_(key, ident), tuple_(literal(cursor[0], key.type),
                                             literal(cursor[1], ident.type))
        # forwards along the sort order, or backwards from the first row of the page after
        query = query.where(row > at if ascending != backwards else row < at)
    forwards_order = (key.asc(), ident.asc()) if ascending else (key.desc(), ident.desc())
    backwards_order = (key.desc(), ident.desc()) if ascending else (key.asc(), ident.asc())
    rows = list(db.session.scalars(
        query.order_by(*(backwards_order if backwards else forwards_order))
        .limit(per_page + 1)))
    more = len(rows) > per_page
    rows = rows[:per_page]
    if backwards:
        rows.reverse()

    def cursor_of(entry: RoundEntry) -> str:
        value = {"costo": entry.cost_cents, "elenco": entry.proposal_id}.get(
            filters.sort, entry.vote_count)
        return f"{value or 0}_{entry.proposal_id}"

    next_cursor = prev_cursor = None
    if rows and backwards:
        next_cursor = cursor_of(rows[-1])
        prev_cursor = cursor_of(rows[0]) if more else None
    elif rows:
        next_cursor = cursor_of(rows[-1]) if more else None
        prev_cursor = cursor_of(rows[0]) if filters.after is not None else None
    return RoundPage(rows, next_cursor, prev_cursor, total)


def round_options(limit: int = 30) -> list[tuple[int, str]]:
    """(id, title) of the latest rounds, newest first (the proposals list's round filter):
    the same for every visitor, read once until the next write."""
    return remember(("voting.round_options", limit), lambda: [
        tuple(row) for row in db.session.execute(
            select(Round.id, Round.title).order_by(Round.closes_at.desc(), Round.id.desc())
            .limit(limit))])


def round_proposal_ids(round_id: int):
    """A SELECT of the ids of the proposals in a round (the proposals list's round filter)."""
    return select(RoundEntry.proposal_id).where(RoundEntry.round_id == round_id)


def supporter_households(proposal_id: int):
    """A SELECT of the households that voted for the proposal, in any round, or for a
    proposal merged into it (a merge leaves votes where they were cast; the supporters
    follow the idea)."""
    absorbed = select(Proposal.id).where(Proposal.merged_into_id == proposal_id)
    return select(Vote.household_id).where(
        (Vote.proposal_id == proposal_id) | Vote.proposal_id.in_(absorbed))


# --------------------------------------------------------------------------- eligibility


def eligibility_problem(round_: Round, household: Household | None) -> str | None:
    """Why `household` cannot vote in `round_` (None: it can)."""
    if household is None:
        return _("Per votare serve un nucleo familiare con la residenza verificata.")
    if household.status != HouseholdStatus.VERIFIED or household.anonymised_at is not None:
        return _("Può votare solo un nucleo familiare con la residenza verificata dal Comune.")
    table = round_.table
    if table.comune_id is not None and household.comune_id != table.comune_id:
        return _("Votano le famiglie residenti nel Comune del tavolo.")
    return None


@dataclass
class Ballot:
    """What one household has chosen in a round."""

    proposal_ids: set[int]
    used_supports: int
    used_cents: int

    def has(self, proposal_id: int) -> bool:
        return proposal_id in self.proposal_ids


def ballot(round_: Round, household_id: int | None) -> Ballot:
    if household_id is None:
        return Ballot(set(), 0, 0)
    rows = db.session.execute(
        select(Vote.proposal_id, RoundEntry.cost_cents)
        .join(RoundEntry, (RoundEntry.round_id == Vote.round_id)
              & (RoundEntry.proposal_id == Vote.proposal_id))
        .where(Vote.round_id == round_.id, Vote.household_id == household_id)
    ).all()
    return Ballot({r[0] for r in rows}, len(rows), sum(r[1] or 0 for r in rows))


def _refusal(round_: Round, entry: RoundEntry, ballot_: Ballot) -> str | None:
    """Why the ballot has no room for this proposal (None: it has)."""
    if round_.rule == RoundRule.SUPPORTS and ballot_.used_supports >= round_.max_supports:
        return ngettext(
            "Hai già usato il tuo sostegno: ritiralo per sostenere questa proposta.",
            "Hai già usato tutti i tuoi %(num)d sostegni: ritirane uno per sostenere "
            "questa proposta.", round_.max_supports)
    if (round_.rule == RoundRule.BUDGET
            and ballot_.used_cents + (entry.cost_cents or 0) > round_.budget_cents):
        return _("Questa proposta non entra nel budget della tua scheda: togline un'altra per "
                 "sceglierla.")
    return None


# --------------------------------------------------------------------------- casting


@dataclass
class VoteOutcome:
    #: False: the vote was already there (or already absent)
    changed: bool
    #: the proposal's votes in the round afterwards
    vote_count: int
    #: what the change was checked against, as read under the lock, and the household's
    #: ballot afterwards: the vote box answered to htmx shows them without reading them again
    #: (the session's identity map does not keep rows nobody refers to)
    round: Round | None = None
    entry: RoundEntry | None = None
    proposal: Proposal | None = None
    household: Household | None = None
    ballot: Ballot | None = None


def _lock_ballot(round_id: int, proposal_id: int, household_id: int | None
                 ) -> tuple[Round, RoundEntry | None, Proposal, Household]:
    """Lock the household's ballot until the request's transaction ends and read what a
    vote is checked against, as it is under the lock.

    One ballot change at a time per household: on PostgreSQL the household's row is locked
    FOR UPDATE and the proposal's FOR KEY SHARE (a merge, which locks it FOR UPDATE, waits for
    the votes in progress and they for it); on SQLite the write lock is taken first (SQLite
    ignores FOR UPDATE). Raises RoundNotFound when the round or the proposal does not exist.
    """
    if household_id is None:
        raise VotingError(_("Per votare serve un nucleo familiare con la residenza verificata."))
    _serialise_writes()
    household = db.session.scalars(
        select(Household).where(Household.id == household_id).with_for_update()
        .execution_options(populate_existing=True)).one()
    proposal = db.session.scalars(
        select(Proposal).where(Proposal.id == proposal_id)
        .with_for_update(read=True, key_share=True)
        .execution_options(populate_existing=True)).one_or_none()
    # (with its table: eligibility_problem() reads the table's Comune)
    round_ = db.session.get(Round, round_id, options=[joinedload(Round.table)])
    if round_ is None or proposal is None:
        raise RoundNotFound(_("Votazione non trovata."))
    entry = db.session.get(RoundEntry, (round_id, proposal_id), populate_existing=True)
    return round_, entry, proposal, household


def _not_open(round_: Round) -> VotingError:
    return VotingError(_("La votazione non è aperta: si vota dal %(opens)s al %(closes)s.",
                         opens=datetime_filter(round_.opens_at),
                         closes=datetime_filter(round_.closes_at)))


def _move_counters(round_id: int, proposal_id: int, delta: int) -> int:
    """Move the entry's and the proposal's counters by `delta`; the entry's new count."""
    count = db.session.execute(
        update(RoundEntry)
        .where(RoundEntry.round_id == round_id, RoundEntry.proposal_id == proposal_id)
        .values(vote_count=RoundEntry.vote_count + delta)
        .returning(RoundEntry.vote_count)).scalar_one()
    db.session.execute(
        update(ProposalSupport).where(ProposalSupport.proposal_id == proposal_id)
        .values(support_count=ProposalSupport.support_count + delta))
    return count


def _insert_vote(values: dict):
    """INSERT … ON CONFLICT DO NOTHING RETURNING id, in the dialect of the session."""
    dialect = db.session.connection().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (insert(Vote).values(**values)
            .on_conflict_do_nothing(index_elements=["round_id", "household_id", "proposal_id"])
            .returning(Vote.id))


def cast_vote(round_id: int, proposal_id: int, household_id: int | None, user_id: int | None
              ) -> VoteOutcome:
    """Add the household's vote for the proposal; repeating it changes nothing. Flushes.

    Refused (VotingError, nothing written) when the proposal is not in the round, the round
    is not open, the household may not vote there, the proposal can no longer be voted, or
    the ballot has no room for it.
    """
    round_, entry, proposal, household = _lock_ballot(round_id, proposal_id, household_id)
    if entry is None:
        raise VotingError(_("Questa proposta non partecipa alla votazione."))
    now = utcnow()
    if not round_.is_open(now):
        raise _not_open(round_)
    problem = eligibility_problem(round_, household)
    if problem:
        raise VotingError(problem)
    if proposal.state != ProposalState.PUBLISHED or proposal.hidden_at is not None:
        raise VotingError(_("Questa proposta non si può più votare."))
    ballot_ = ballot(round_, household.id)
    read = dict(round=round_, entry=entry, proposal=proposal, household=household)
    if ballot_.has(proposal_id):
        return VoteOutcome(False, entry.vote_count, ballot=ballot_, **read)
    refusal = _refusal(round_, entry, ballot_)
    if refusal:
        raise VotingError(refusal)
    inserted = db.session.execute(_insert_vote(dict(
        round_id=round_id, household_id=household.id, proposal_id=proposal_id,
        user_id=user_id, created_at=now))).first()
    if inserted is None:  # the unique constraint had the last word: already voted
        return VoteOutcome(False, entry.vote_count, **read)
    after = Ballot(ballot_.proposal_ids | {proposal_id}, ballot_.used_supports + 1,
                   ballot_.used_cents + (entry.cost_cents or 0))
    return VoteOutcome(True, _move_counters(round_id, proposal_id, +1), ballot=after, **read)


def withdraw_vote(round_id: int, proposal_id: int, household_id: int | None) -> VoteOutcome:
    """Remove the household's vote while the round is open; repeating it changes nothing."""
    round_, entry, proposal, household = _lock_ballot(round_id, proposal_id, household_id)
    if entry is None:
        raise VotingError(_("Questa proposta non partecipa alla votazione."))
    if not round_.is_open(utcnow()):
        raise VotingError(_("La votazione è chiusa: il voto non si può più cambiare."))
    removed = db.session.execute(
        delete(Vote).where(Vote.round_id == round_id, Vote.proposal_id == proposal_id,
                           Vote.household_id == household.id).returning(Vote.id)).first()
    read = dict(round=round_, entry=entry, proposal=proposal, household=household)
    if removed is None:
        return VoteOutcome(False, entry.vote_count, **read)
    return VoteOutcome(True, _move_counters(round_id, proposal_id, -1), **read)


# --------------------------------------------------------------------------- results


def household_hash(round_: Round, household_id: int) -> str:
    """The pseudonym of a household in one round: stable there, unlinkable across rounds."""
    digest = hmac.new(round_.salt.encode(), f"{round_.id}:{household_id}".encode(),
                      hashlib.sha256).hexdigest()
    return digest[:16]


def compute_results(round_: Round) -> dict:
    """The results of a round from its vote rows (the truth: the counters should agree),
    without writing anything: the totals and, step by step, each proposal's outcome."""
    counts = dict(db.session.execute(
        select(Vote.proposal_id, func.count(Vote.id)).where(Vote.round_id == round_.id)
        .group_by(Vote.proposal_id)).all())
    ballots = db.session.scalar(select(func.count(func.distinct(Vote.household_id)))
                                .where(Vote.round_id == round_.id)) or 0
    entries = entries_of(round_, order="id")
    ranked = sorted(entries, key=lambda e: (-counts.get(e.proposal_id, 0), e.cost_cents or 0,
                                            e.proposal_id))
    steps = []
    remaining = round_.budget_cents
    for entry in ranked:
        votes = counts.get(entry.proposal_id, 0)
        step = {"proposal": entry.proposal_id, "title": entry.proposal.title, "votes": votes}
        if round_.rule == RoundRule.SUPPORTS:
            selected = votes >= round_.threshold
            step.update(selected=selected, reason="threshold" if selected else "below_threshold")
        else:
            cost = entry.cost_cents or 0
            if votes == 0:
                selected, reason = False, "no_votes"
            elif cost <= remaining:
                selected, reason = True, "fits"
                remaining -= cost
            else:
                selected, reason = False, "over_budget"
            step.update(cost_cents=cost, selected=selected, reason=reason,
                        remaining_cents=remaining)
        steps.append(step)
    return {"rule": round_.rule, "threshold": round_.threshold,
            "max_supports": round_.max_supports, "budget_cents": round_.budget_cents,
            "ballots": ballots, "votes": sum(counts.values()), "steps": steps}


def results_of(round_: Round) -> dict | None:
    """What a reader sees of a round's results: None before the close; the stored results
    once `flask voting close` has run; until then the same computation, made now and not
    stored (a GET never writes)."""
    if round_state(round_) != RoundState.CLOSED:
        return None
    if round_.results_at is not None:
        return round_.results
    # The same for every reader, and the votes no longer move: computed once until a write.
    return remember(("voting.results", round_.id, round_.closes_at.isoformat()),
                    lambda: compute_results(round_))


def selected_ids(results: dict | None) -> set[int]:
    return {step["proposal"] for step in (results or {}).get("steps", []) if step["selected"]}


def due_rounds() -> list[int]:
    """The rounds closed and not yet counted (what `flask voting close` works through)."""
    return list(db.session.scalars(select(Round.id).where(
        Round.closes_at <= utcnow(), Round.results_at.is_(None)).order_by(Round.id)))


def ensure_results(round_: Round, quiet: bool = False) -> bool:
    """Store the results of a closed round and move its selected proposals on, once: the
    round is locked and read again, so two runs (or two nodes) never count it twice.

    Returns True when this call stored them. Flushes; the caller commits.
    """
    if round_state(round_) != RoundState.CLOSED:
        return False
    _lock_round(round_)
    if round_.results_at is not None:
        return False
    results = compute_results(round_)
    by_proposal = {step["proposal"]: step for step in results["steps"]}
    entries = entries_of(round_, order="id")
    for entry in entries:
        step = by_proposal[entry.proposal_id]
        if entry.vote_count != step["votes"]:
            log.error("round %s proposal %s: counter %s, rows %s (fixed)", round_.id,
                      entry.proposal_id, entry.vote_count, step["votes"])
            entry.vote_count = step["votes"]
        entry.selected = step["selected"]
    round_.ballot_count = results["ballots"]
    round_.results = results
    round_.results_at = utcnow()
    db.session.flush()
    for step in results["steps"]:
        entry = next(e for e in entries if e.proposal_id == step["proposal"])
        if step["selected"] and entry.proposal.state == ProposalState.PUBLISHED:
            proposals.transition(entry.proposal, ProposalState.SELECTED, None, authorized=True,
                                 note=text("history.selected", title=round_.title),
                                 details={"round": round_.id, "votes": step["votes"]},
                                 quiet=quiet)
    audit("round.results", round_, {"ballots": results["ballots"],
                                    "selected": sorted(selected_ids(results))})
    log.info("round %s results: %s ballots", round_.id, results["ballots"])
    return True


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


#: rows of the results CSV written per chunk of the stream
RESULTS_CSV_CHUNK = 200


def results_csv(round_: Round, results: dict, office: bool = False):
    """The results as CSV, in the order of the computation (most voted first): an iterator
    of text chunks, every row of the round, streamed (it reads only `results`, plain data).

    `office`: what Excel in Italian opens in columns (a BOM, semicolons, decimal comma);
    otherwise comma-separated with a decimal point, for programs."""
    budget = round_.rule == RoundRule.BUDGET
    steps = results["steps"]

    def chunks():
        out = io.StringIO()
        if office:
            out.write("\ufeff")
        writer = csv.writer(out, delimiter=";" if office else ",")
        writer.writerow(["proposta_id", "titolo", "voti"] + (["costo_euro"] if budget else [])
                        + ["selezionata"])
        for number, step in enumerate(steps, start=1):
            row = [step["proposal"], _cell(step["title"]), step["votes"]]
            if budget:
                cost = f"{(step['cost_cents'] or 0) / 100:.2f}"
                row.append(cost.replace(".", ",") if office else cost)
            row.append("sì" if step["selected"] else "no")
            writer.writerow(row)
            if number % RESULTS_CSV_CHUNK == 0:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()

    return chunks()


#: the votes CSV is sorted in this many buckets (by the hash's first two hex digits), each
#: spilled to a temporary file beyond a small size: memory stays bounded whatever the round
VOTE_BUCKETS = 256
VOTE_BUCKET_MEMORY = 64 * 1024
VOTES_CSV_HEADER = "famiglia_pseudonimo,proposta_id\r\n"


def votes_csv(round_: Round):
    """The pseudonymous list of votes (household hash, proposal), sorted by hash, as an
    iterator of text chunks: the header, then the sorted lines bucket by bucket.

    The votes are read here (inside the request, in batches) and written to per-bucket
    spooled files; what is returned reads only those files, so it can be streamed after the
    request's database session is gone. Cells are lowercase hex digits and numbers (nothing a
    spreadsheet would run), lines end in CRLF as `csv.writer` writes them.
    """
    base = hmac.new(round_.salt.encode(), digestmod=hashlib.sha256)
    prefix = f"{round_.id}:"
    buckets: dict[int, tempfile.SpooledTemporaryFile] = {}
    rows = db.session.execute(
        select(Vote.household_id, Vote.proposal_id).where(Vote.round_id == round_.id),
        execution_options={"yield_per": 10_000})
    for partition in rows.partitions():
        for household_id, proposal_id in partition:
            digest = base.copy()
            digest.update(f"{prefix}{household_id}".encode())
            pseudonym = digest.hexdigest()[:16]
            bucket = int(pseudonym[:2], 16)
            spool = buckets.get(bucket)
            if spool is None:
                spool = buckets[bucket] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
                    max_size=VOTE_BUCKET_MEMORY, mode="w+", encoding="ascii", newline="")
            spool.write(f"{pseudonym},{proposal_id}\n")
    return _sorted_votes(buckets)


def _sorted_votes(buckets):
    try:
        yield VOTES_CSV_HEADER
        for key in sorted(buckets):
            spool = buckets[key]
            spool.seek(0)
            lines = [line.rstrip("\n").split(",") for line in spool]
            lines.sort(key=lambda item: (item[0], int(item[1])))
            yield "".join(f"{pseudonym},{proposal_id}\r\n" for pseudonym, proposal_id in lines)
    finally:
        for spool in buckets.values():
            spool.close()


# --------------------------------------------------------------------------- merges


#
# A merge never changes a round that has opened. The votes cast in a round are that round's,
# and a closed round's results stand as published: the stored results, the results CSV, the
# votes CSV and a recount of the rows agree for ever. So a proposal in a round that has opened
# and is not counted yet cannot be merged (`merge_refusal`), and a merge changes only rounds
# that have not opened (`move_votes`).


def merge_refusal(proposal: Proposal, into: Proposal, **_extra) -> str | None:
    """Receiver of the proposals' `merge_blocked` signal: why the merge must wait, or None.

    It waits while either proposal is in a round that has opened and whose results are not
    stored yet: open (its votes are being cast under the rules and the list it opened with;
    moving votes or adding the target there would get round the frozen rules), or closed and
    not yet counted by `flask voting close` (the count is still to select its proposals).
    Read under the merge's locks on both proposals, which every vote for them waits for.
    """
    now = utcnow()
    row = db.session.execute(
        select(Round, Proposal.title)
        .join(RoundEntry, RoundEntry.round_id == Round.id)
        .join(Proposal, Proposal.id == RoundEntry.proposal_id)
        .where(RoundEntry.proposal_id.in_([proposal.id, into.id]), Round.opens_at <= now,
               (Round.closes_at > now) | Round.results_at.is_(None))
        .order_by(Round.closes_at.desc(), Round.id).limit(1)).first()
    if row is None:
        return None
    round_, title = row
    if round_.is_open(now):
        return _("«%(title)s» è nella votazione «%(round)s», aperta fino al %(closes)s: i voti "
                 "di una votazione aperta non si spostano. Si potrà unire dopo la chiusura.",
                 title=title, round=round_.title, closes=datetime_filter(round_.closes_at))
    return _("«%(title)s» è nella votazione «%(round)s», appena chiusa: si potrà unire quando "
             "i risultati saranno pubblicati.", title=title, round=round_.title)


def refresh_supports(proposal_ids) -> None:
    """Set each proposal's supports counter from the vote rows: its votes in its current
    round (the latest to open; a proposal is in one round still to close at most), 0 when it
    is in no round. Same transaction as the change that called it."""
    ids = sorted(set(proposal_ids))
    if not ids:
        return
    current = (select(RoundEntry.round_id).join(Round, Round.id == RoundEntry.round_id)
               .where(RoundEntry.proposal_id == ProposalSupport.proposal_id)
               .order_by(Round.opens_at.desc(), Round.id.desc()).limit(1)
               .correlate(ProposalSupport).scalar_subquery())
    votes = (select(func.count(Vote.id))
             .where(Vote.proposal_id == ProposalSupport.proposal_id, Vote.round_id == current)
             .correlate(ProposalSupport).scalar_subquery())
    db.session.execute(update(ProposalSupport).where(ProposalSupport.proposal_id.in_(ids))
                       .values(support_count=votes),
                       execution_options={"synchronize_session": False})


def _can_join(round_: Round, proposal: Proposal, now: datetime) -> bool:
    """Whether the round's manager could add `proposal` to this round that has not opened
    (as `candidates` decides): published, visible, with a cost in a budget round, and in no
    round still to close (this one included: then it is there already)."""
    if proposal.state != ProposalState.PUBLISHED or proposal.hidden_at is not None:
        return False
    if round_.rule == RoundRule.BUDGET and proposal.estimated_cost_cents is None:
        return False
    busy = db.session.scalar(
        select(RoundEntry.round_id).join(Round, Round.id == RoundEntry.round_id)
        .where(RoundEntry.proposal_id == proposal.id, Round.closes_at > now).limit(1))
    return busy is None


def move_votes(proposal: Proposal, into: Proposal) -> dict:
    """What a merge changes in the rounds: the duplicate leaves the rounds that have not
    opened yet, and `into` takes its place there where the round's manager could have put it
    (`_can_join`; else the round goes on without the duplicate). Each such round is locked
    and read again first: one that opened since `merge_refusal` looked refuses the merge
    (the request rolls back; the round keeps the list it opened with). Returns what
    changed, for the proposals' event and the audit log.

    Nothing else moves, by design:
    - a round that has opened is never changed: `merge_refusal` keeps merges away from open
      and uncounted rounds, and a closed round's votes and results stay as published (the
      duplicate's history keeps them; its supporters hear of `into`'s decisions through
      `supporter_households`);
    - a round that has not opened has no votes (votes are cast only while a round is open),
      so no vote moves;
    - there are no supports outside rounds: a support is a vote in a round, and the supports
      counter is the count of the current round's votes, set again from the rows for both
      proposals (`refresh_supports`).
    """
    now = utcnow()
    entries = list(db.session.scalars(
        select(RoundEntry).join(Round, Round.id == RoundEntry.round_id)
        .where(RoundEntry.proposal_id == proposal.id, Round.closes_at > now)
        .order_by(RoundEntry.round_id)))
    left, joined = [], []
    for entry in entries:
        round_ = db.session.get(Round, entry.round_id)
        _lock_round(round_)  # as update_round: an edit of the round waits for the merge
        if round_state(round_) != RoundState.SCHEDULED:
            raise proposals.ProposalError(
                _("La votazione «%(round)s» si è appena aperta: si potrà unire dopo la "
                  "chiusura.", round=round_.title), field="into")
        db.session.delete(entry)
        left.append(round_.id)
        if _can_join(round_, into, now):
            db.session.add(RoundEntry(round_id=round_.id, proposal_id=into.id,
                                      cost_cents=into.estimated_cost_cents))
            joined.append(round_.id)
    db.session.flush()
    refresh_supports([proposal.id, into.id])
    db.session.expire(proposal, ["support_count"])
    db.session.expire(into, ["support_count"])
    return {"rounds_left": left, "rounds_joined": joined} if left else {}


def on_merge(proposal: Proposal, into: Proposal, **_extra) -> dict:
    """Receiver of the proposals' merge signal (looks `move_votes` up by name at each merge,
    so that tests can pause it)."""
    return move_votes(proposal, into)
