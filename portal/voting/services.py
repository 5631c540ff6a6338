"""Voting rounds, votes and results.

A vote is one row (round, household, proposal), unique in the database. Casting and
withdrawing run as their own short transaction, serialised per ballot: on PostgreSQL one call
of the function `rete_ballot` (migration 0010) locks the household's row (``FOR UPDATE``),
counts the ballot and writes; on SQLite the transaction starts with ``BEGIN IMMEDIATE`` (one
writer at a time, others wait on the busy timeout) and is retried if SQLite still answers
"database is locked". Inside it the tallies move with atomic ``UPDATE … SET n = n + 1``
statements, so that the counters always equal the rows.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import selectinload

from portal import authz, rawsql
from portal.accounts.models import Household, HouseholdStatus
from portal.authz import Role
from portal.core.services import audit
from portal.db_setup import utcnow
from portal.extensions import db
from portal.proposals.models import Proposal, ProposalState, ProposalSupport
from portal.voting.models import Round, RoundEntry, RoundRule, RoundState, Vote

log = logging.getLogger(__name__)


class VotingError(ValueError):
    """A voting rule was broken; the message is for the user."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class RoundNotFound(VotingError):
    """No such round (the page answers 404)."""


# --------------------------------------------------------------------------- rounds


def round_state(round_: Round, now: datetime | None = None) -> RoundState:
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
    from portal.tables.models import Table

    query = select(Table).order_by(Table.comune_id.is_(None), Table.name)
    if not authz.is_coordinator(user):
        tables = authz.scope_ids(user, Role.TABLE_SECRETARY)
        comuni = authz.scope_ids(user, Role.COMUNE_OFFICER)
        query = query.where(Table.id.in_(tables) | Table.comune_id.in_(comuni))
    return list(db.session.scalars(query))


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
    _set_entries(round_, proposal_ids)
    db.session.flush()
    audit("round.updated", round_, {"rule": rule, "proposals": proposal_ids}, actor=user)
    return round_


def _lock_round(round_: Round) -> None:
    if db.engine.dialect.name == "postgresql":
        db.session.execute(select(Round.id).where(Round.id == round_.id).with_for_update())
    db.session.refresh(round_)


def rounds_for(table_id: int | None = None, limit: int = 100) -> list[Round]:
    query = select(Round).options(selectinload(Round.table)).order_by(
        Round.closes_at.desc(), Round.id.desc()).limit(limit)
    if table_id is not None:
        query = query.where(Round.table_id == table_id)
    return list(db.session.scalars(query))


class RoundView:
    """A round as a proposal's page needs it (read with Core, not the ORM)."""

    def __init__(self, row):
        from types import SimpleNamespace as NS

        self.id, self.title, self.rule = row.id, row.title, row.rule
        self.opens_at, self.closes_at = row.opens_at, row.closes_at
        self.max_supports, self.threshold, self.budget_cents = (row.max_supports, row.threshold,
                                                                row.budget_cents)
        self.table = NS(comune_id=row.table_comune_id)

    @classmethod
    def of(cls, id, title, rule, opens_at, closes_at, max_supports, threshold,  # noqa: A002
           budget_cents, table_comune_id) -> RoundView:
        from types import SimpleNamespace as NS

        return cls(NS(id=id, title=title, rule=rule, opens_at=opens_at, closes_at=closes_at,
                      max_supports=max_supports, threshold=threshold,
                      budget_cents=budget_cents, table_comune_id=table_comune_id))

    def is_open(self, now: datetime) -> bool:
        return self.opens_at <= now < self.closes_at


def latest_entry_for(proposal_id: int):
    """The proposal's most recent round and its entry there: (RoundView, entry) or None."""
    from types import SimpleNamespace as NS

    row = db.session.connection().execute(_latest_statement(), {"pid": proposal_id}).first()
    if row is None:
        return None
    return RoundView(row), NS(round_id=row.id, proposal_id=proposal_id,
                              vote_count=row.vote_count, cost_cents=row.cost_cents,
                              proposal=NS(title=row.proposal_title))


@lru_cache(maxsize=1)
def _latest_statement():
    from sqlalchemy import bindparam

    from portal.tables.models import Table

    return (select(Round.id, Round.title, Round.rule, Round.opens_at, Round.closes_at,
                   Round.max_supports, Round.threshold, Round.budget_cents,
                   Table.comune_id.label("table_comune_id"), RoundEntry.vote_count,
                   RoundEntry.cost_cents, Proposal.title.label("proposal_title"))
            .join(RoundEntry, RoundEntry.round_id == Round.id)
            .join(Table, Table.id == Round.table_id)
            .join(Proposal, Proposal.id == RoundEntry.proposal_id)
            .where(RoundEntry.proposal_id == bindparam("pid"))
            .order_by(Round.opens_at.desc(), Round.id.desc()).limit(1))


def entries_of(round_: Round, order: str = "votes") -> list[RoundEntry]:
    query = (select(RoundEntry).where(RoundEntry.round_id == round_.id)
             .options(selectinload(RoundEntry.proposal)))
    if order == "votes":
        query = query.order_by(RoundEntry.vote_count.desc(), RoundEntry.proposal_id)
    else:
        query = query.order_by(RoundEntry.proposal_id)
    return list(db.session.scalars(query))


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


# --------------------------------------------------------------------------- casting


@dataclass
class VoteOutcome:
    changed: bool  # False: the vote was already there (or already absent)
    vote_count: int
    #: what the vote box shows afterwards, read under the ballot's lock (no query needed):
    #: the round (a RoundView), the proposal's title, the supports and cents the
    #: household's ballot uses after the change (None: not read)
    round: RoundView | None = None
    title: str | None = None
    used_supports: int | None = None
    used_cents: int | None = None


class NotSignedIn(Exception):  # noqa: N818 - a state, like RoundNotFound
    """The login session that was to name the voter is no longer valid (logged out elsewhere,
    expired, account deleted): the visitor has to log in again."""


def is_conflict(exc: Exception) -> bool:
    """A transaction that lost a race and can run again: SQLite busy, PostgreSQL deadlock or
    serialization failure (raised by SQLAlchemy, or by the driver on a `rawsql` cursor)."""
    code = getattr(getattr(exc, "orig", exc), "sqlstate", None)
    return code in ("40P01", "40001") or "locked" in str(exc).lower()


# A ballot change runs on the driver's connection (portal/rawsql.py): the vote is the write
# families repeat most, and SQLAlchemy's execution machinery cost more than the SQL. On
# PostgreSQL it is one call of the function `rete_ballot` (migration 0010: lock, count, write,
# in one round trip); on SQLite a few statements under BEGIN IMMEDIATE.


def _ballot_read(by_session: bool):
    """SQLite: everything a vote is checked against, and the household's ballot, in one read.

    The transaction began with BEGIN IMMEDIATE (the whole file is locked), so what the read
    sees stays true until the commit. The voter is the household `:hid` (with the user `:uid`)
    or, `by_session`, the household of the user whose live login session has the hash
    `:token_hash` (created after `:oldest`): the read then also authenticates the request and
    gives `household_id` and `user_id`. used_n, used_cents: the ballot's supports and cents;
    chosen: whether it holds this proposal. PostgreSQL's `rete_ballot` reads the same.
    """
    from sqlalchemy import bindparam, null
    from sqlalchemy.orm import aliased

    from portal.accounts.models import LoginSession, User
    from portal.tables.models import Table

    entry = aliased(RoundEntry)
    query = (
        select(Round.id, Round.title, Round.opens_at, Round.closes_at, Round.rule,
               Round.max_supports, Round.threshold, Round.budget_cents,
               Table.comune_id.label("table_comune_id"),
               entry.cost_cents, entry.proposal_id.label("entry_proposal"),
               entry.vote_count, Proposal.state.label("proposal_state"), Proposal.hidden_at,
               Proposal.title.label("proposal_title"),
               Household.id.label("household_id"),
               Household.status.label("household_status"),
               Household.comune_id.label("household_comune_id"), Household.anonymised_at)
        .select_from(Round)
        .join(Table, Table.id == Round.table_id))
    if by_session:
        query = (query.add_columns(User.id.label("user_id"))
                 .join(LoginSession, (LoginSession.token_hash == bindparam("token_hash"))
                       & (LoginSession.created_at > bindparam("oldest")))
                 .join(User, (User.id == LoginSession.user_id) & User.deleted_at.is_(None))
                 .join(Household, Household.id == User.household_id))
    else:
        query = (query.add_columns(null().label("user_id"))
                 .join(Household, Household.id == bindparam("hid")))
    ballot = (RoundEntry.round_id == Vote.round_id) & (RoundEntry.proposal_id == Vote.proposal_id)
    mine = (Vote.round_id == bindparam("rid")) & (Vote.household_id == Household.id)
    return (query.join(Proposal, Proposal.id == bindparam("pid"))
            .outerjoin(entry, (entry.round_id == Round.id)
                       & (entry.proposal_id == bindparam("pid")))
            .where(Round.id == bindparam("rid"))
            .add_columns(
                select(func.count()).select_from(Vote).join(RoundEntry, ballot).where(mine)
                .scalar_subquery().label("used_n"),
                select(func.coalesce(func.sum(RoundEntry.cost_cents), 0)).select_from(Vote)
                .join(RoundEntry, ballot).where(mine).scalar_subquery().label("used_cents"),
                select(func.count()).select_from(Vote)
                .where(mine & (Vote.proposal_id == bindparam("pid")))
                .scalar_subquery().label("chosen")))


def _ballot_function():
    """PostgreSQL: the call of `rete_ballot` (migration 0010), its columns typed as the read's."""
    from sqlalchemy import Boolean, Integer, String, bindparam, column, text

    from portal.db_setup import UTCDateTime

    when, number, word = UTCDateTime(), Integer(), String()
    columns = [("id", number), ("title", word), ("opens_at", when), ("closes_at", when),
               ("rule", word), ("max_supports", number), ("threshold", number),
               ("budget_cents", number), ("table_comune_id", number), ("cost_cents", number),
               ("entry_proposal", number), ("vote_count", number), ("proposal_state", word),
               ("hidden_at", when), ("proposal_title", word), ("household_id", number),
               ("household_status", word), ("household_comune_id", number),
               ("anonymised_at", when), ("user_id", number), ("used_n", number),
               ("used_cents", number), ("chosen", Boolean()), ("changed", Boolean()),
               ("new_count", number)]
    return text(
        "SELECT * FROM rete_ballot(:withdraw, :rid, :pid, :hid, :uid, :token_hash, :oldest, :at)"
    ).bindparams(bindparam("oldest", type_=when), bindparam("at", type_=when)).columns(
        *(column(name, type_) for name, type_ in columns))


@dataclass(frozen=True)
class _Statements:
    """The ballot's statements, compiled once per dialect."""

    # PostgreSQL: the function does it all
    function: rawsql.Prepared | None = None
    # SQLite: the read (by household, by login session) and the steps of the write
    read: rawsql.Prepared | None = None
    read_by_session: rawsql.Prepared | None = None
    insert: rawsql.Prepared | None = None
    delete: rawsql.Prepared | None = None
    bump_entry: rawsql.Prepared | None = None
    bump_proposal: rawsql.Prepared | None = None
    count: rawsql.Prepared | None = None


_compiled: dict[str, _Statements] = {}


def _statements(engine) -> _Statements:
    dialect = engine.dialect
    found = _compiled.get(dialect.name)
    if found is not None:
        return found
    from sqlalchemy import bindparam

    def prepared(statement) -> rawsql.Prepared:
        return rawsql.Prepared(statement, dialect)

    if dialect.name == "postgresql":
        found = _Statements(function=prepared(_ballot_function()))
    else:
        where_vote = ((Vote.round_id == bindparam("rid")) & (Vote.proposal_id == bindparam("pid"))
                      & (Vote.household_id == bindparam("hid")))
        entry = ((RoundEntry.round_id == bindparam("rid"))
                 & (RoundEntry.proposal_id == bindparam("pid")))
        found = _Statements(
            read=prepared(_ballot_read(by_session=False)),
            read_by_session=prepared(_ballot_read(by_session=True)),
            insert=prepared(sqlite.insert(Vote).values(
                round_id=bindparam("rid"), household_id=bindparam("hid"),
                proposal_id=bindparam("pid"), user_id=bindparam("uid"),
                created_at=bindparam("at", type_=Vote.created_at.type),
            ).on_conflict_do_nothing(
                index_elements=["round_id", "household_id", "proposal_id"]).returning(Vote.id)),
            delete=prepared(delete(Vote).where(where_vote).returning(Vote.id)),
            bump_entry=prepared(update(RoundEntry).where(entry).values(
                vote_count=RoundEntry.vote_count + bindparam("delta"))
                .returning(RoundEntry.vote_count)),
            bump_proposal=prepared(update(ProposalSupport)
                                   .where(ProposalSupport.proposal_id == bindparam("pid"))
                                   .values(support_count=ProposalSupport.support_count
                                           + bindparam("delta"))),
            count=prepared(select(RoundEntry.vote_count).where(entry)))
    _compiled[dialect.name] = found
    return found


def _check(state, now: datetime) -> None:
    """Refuse the vote described by the one-row read `state` (see `_ballot_read`; the function
    `rete_ballot` of migration 0010 applies the same rules, in SQL, before it writes)."""
    if state.entry_proposal is None:
        raise VotingError(_("Questa proposta non partecipa alla votazione."))
    if not (state.opens_at <= now < state.closes_at):
        raise VotingError(_("La votazione non è aperta: si vota dal %(opens)s al %(closes)s.",
                            opens=_fmt(state.opens_at), closes=_fmt(state.closes_at)))
    if state.household_status != HouseholdStatus.VERIFIED or state.anonymised_at is not None:
        raise VotingError(_("Può votare solo un nucleo familiare con la residenza verificata "
                            "dal Comune."))
    if state.table_comune_id is not None and state.household_comune_id != state.table_comune_id:
        raise VotingError(_("Votano le famiglie residenti nel Comune del tavolo."))
    if state.proposal_state != ProposalState.PUBLISHED or state.hidden_at is not None:
        raise VotingError(_("Questa proposta non si può più votare."))


def _refusal(state, used: int, cents: int) -> str | None:
    """Why the ballot has no room for this proposal (None: it has)."""
    if state.rule == RoundRule.SUPPORTS and used >= state.max_supports:
        return ngettext(
            "Hai già usato il tuo sostegno: ritiralo per sostenere questa proposta.",
            "Hai già usato tutti i tuoi %(num)d sostegni: ritirane uno per sostenere "
            "questa proposta.", state.max_supports)
    if state.rule == RoundRule.BUDGET and cents + (state.cost_cents or 0) > state.budget_cents:
        return _("Questa proposta non entra nel budget della tua scheda: togline un'altra per "
                 "sceglierla.")
    return None


def _no_household() -> VotingError:
    return VotingError(_("Per votare serve un nucleo familiare con la residenza verificata."))


def _closed() -> VotingError:
    return VotingError(_("La votazione è chiusa: il voto non si può più cambiare."))


def _run_ballot(withdraw: bool, round_id: int, proposal_id: int, voter: dict) -> VoteOutcome:
    """Cast (or, `withdraw`, remove) a vote in a short transaction of its own, run again if
    SQLite is still busy after its timeout or PostgreSQL chose it as a deadlock's victim.

    Whatever the request's ORM session holds is committed first: the ballot runs on another
    pooled connection and must see it (and, on SQLite, must not wait for its lock).
    """
    session = db.session
    if session.registry.has() and session().in_transaction():
        session.commit()
    engine = db.engine
    statements = _statements(engine)
    now = utcnow()
    conflict_errors = engine.dialect.loaded_dbapi.OperationalError
    for attempt in range(6):
        try:
            if statements.function is not None:
                with rawsql.transaction(engine, autocommit=True) as tx:
                    state = tx.first(statements.function, {
                        "withdraw": withdraw, "rid": round_id, "pid": proposal_id,
                        "hid": voter.get("hid"), "uid": voter.get("uid"),
                        "token_hash": voter.get("token_hash"), "oldest": voter.get("oldest"),
                        "at": now})
                    if state is not None and state.changed:
                        tx.wrote()
                if state is not None:
                    changed, count = state.changed, state.new_count
            else:
                with rawsql.transaction(engine, "BEGIN IMMEDIATE") as tx:
                    state = tx.first(statements.read_by_session if "token_hash" in voter
                                     else statements.read, {
                                         "rid": round_id, "pid": proposal_id, **voter})
                    if state is not None:
                        params = {"rid": round_id, "pid": proposal_id, "uid": state.user_id,
                                  **voter, "hid": state.household_id, "at": now}
                        changed, count = (_sqlite_withdraw if withdraw else _sqlite_vote)(
                            tx, statements, state, params)
            if state is not None:
                return (_withdrawn if withdraw else _voted)(state, now, changed, count)
        except conflict_errors as exc:
            if not is_conflict(exc) or attempt == 5:
                raise
            log.warning("ballot transaction retried (%s): %s", attempt + 1, exc)
            time.sleep(0.05 * (attempt + 1))
            continue
        break
    # No row: no such round or proposal or, by session, no valid session or no household.
    if "token_hash" in voter:
        from portal.accounts.services import load_user_by_hash

        user = load_user_by_hash(voter["token_hash"], voter["oldest"])
        if user is None:
            raise NotSignedIn
        if user.household_id is None:
            raise _no_household()
    raise RoundNotFound(_("Votazione non trovata."))


def _voted(state, now: datetime, changed: bool, count: int | None) -> VoteOutcome:
    """What a vote came to, from the ballot as read (`state`), whether the vote went in and
    the proposal's count afterwards: the same on both databases (PostgreSQL: what
    `rete_ballot` read and did; SQLite: `_sqlite_vote`). A vote that did not go in is
    explained: the window, the household, the proposal, the ballot's rule, or the unique
    constraint (the same vote is already there)."""
    cost, view = state.cost_cents or 0, RoundView(state)
    if changed:
        return VoteOutcome(True, count or 0, view, state.proposal_title, state.used_n + 1,
                           state.used_cents + cost)
    _check(state, now)
    if state.chosen:
        return VoteOutcome(False, count or 0, view, state.proposal_title, state.used_n,
                           state.used_cents)
    refusal = _refusal(state, state.used_n, state.used_cents)
    if refusal:
        raise VotingError(refusal)
    return VoteOutcome(False, count or 0, view, state.proposal_title, state.used_n + 1,
                       state.used_cents + cost)


def _withdrawn(state, now: datetime, changed: bool, count: int | None) -> VoteOutcome:
    """What a withdrawal came to (see `_voted`); refused once the round is closed."""
    if not changed and not (state.opens_at <= now < state.closes_at):
        raise _closed()
    used, cents = state.used_n, state.used_cents
    if changed:
        used, cents = used - 1, cents - (state.cost_cents or 0)
    return VoteOutcome(changed, count or 0, RoundView(state), state.proposal_title, used, cents)


def _sqlite_vote(tx: rawsql.Transaction, statements: _Statements, state, params: dict
                 ) -> tuple[bool, int | None]:
    """SQLite: write the vote and both counters when every rule holds; whether it went in
    and the proposal's count (`_voted` explains the rest)."""
    _check(state, params["at"])
    if state.chosen or _refusal(state, state.used_n, state.used_cents):
        return False, state.vote_count
    if tx.first(statements.insert, params) is None:  # the unique constraint had the last word
        return False, tx.first(statements.count, params).vote_count
    tx.wrote()
    count = tx.first(statements.bump_entry, {**params, "delta": 1}).vote_count
    tx.run(statements.bump_proposal, {**params, "delta": 1})
    return True, count


def _sqlite_withdraw(tx: rawsql.Transaction, statements: _Statements, state, params: dict
                     ) -> tuple[bool, int | None]:
    """SQLite: remove the vote and move both counters while the round is open; whether it
    was removed and the proposal's count (`_withdrawn` explains the rest)."""
    if not (state.opens_at <= params["at"] < state.closes_at):
        return False, state.vote_count
    if tx.first(statements.delete, params) is None:
        return False, state.vote_count
    tx.wrote()
    count = tx.first(statements.bump_entry, {**params, "delta": -1}).vote_count
    tx.run(statements.bump_proposal, {**params, "delta": -1})
    return True, count


def cast_vote(round_id: int, proposal_id: int, household_id: int | None, user_id: int
              ) -> VoteOutcome:
    """Add the household's vote for the proposal; repeating it changes nothing. Commits.

    The ballot is read, checked and locked, then the vote and both counters written, in one
    transaction (PostgreSQL: one call of `rete_ballot`). The outcome carries what the vote box
    shows afterwards.
    """
    if household_id is None:
        raise _no_household()
    return _run_ballot(False, round_id, proposal_id, {"hid": household_id, "uid": user_id})


def withdraw_vote(round_id: int, proposal_id: int, household_id: int | None) -> VoteOutcome:
    """Remove the household's vote while the round is open; repeating it changes nothing.

    The outcome carries what the vote box shows afterwards (the ballot's supports and cents).
    """
    if household_id is None:
        raise _no_household()
    return _run_ballot(True, round_id, proposal_id, {"hid": household_id})


def cast_vote_in_session(round_id: int, proposal_id: int, token: str) -> VoteOutcome:
    """`cast_vote` for the household of the user whose login session `token` names: the
    ballot's own read authenticates the request (one statement less than loading the user
    first). Raises NotSignedIn when the session is no longer valid."""
    from portal.accounts.services import session_lookup

    return _run_ballot(False, round_id, proposal_id, session_lookup(token))


def withdraw_vote_in_session(round_id: int, proposal_id: int, token: str) -> VoteOutcome:
    """`withdraw_vote` for the household of the user whose login session `token` names."""
    from portal.accounts.services import session_lookup

    return _run_ballot(True, round_id, proposal_id, session_lookup(token))


def _fmt(value: datetime) -> str:
    from portal.i18n import datetime_filter

    return datetime_filter(value, "d MMM y HH:mm")


# --------------------------------------------------------------------------- results


def household_hash(round_: Round, household_id: int) -> str:
    """The pseudonym of a household in one round: stable there, unlinkable across rounds."""
    digest = hmac.new(round_.salt.encode(), f"{round_.id}:{household_id}".encode(),
                      hashlib.sha256).hexdigest()
    return digest[:16]


def ensure_results(round_: Round) -> bool:
    """Compute the results of a closed round once (safe to call twice or on two nodes).

    Returns True when this call computed them. Commits.
    """
    if round_.results_at is not None or round_state(round_) != RoundState.CLOSED:
        return False
    if db.engine.dialect.name == "sqlite":
        db.session.commit()
        connection = db.session.connection()
        if not connection.connection.dbapi_connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        db.session.execute(select(Round.id).where(Round.id == round_.id).with_for_update())
    db.session.refresh(round_)
    if round_.results_at is not None:
        db.session.commit()
        return False
    try:
        _compute(round_)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return True


def _compute(round_: Round, quiet: bool = False) -> None:
    from portal.proposals import services as proposals

    # The vote rows are the truth: recount from them (the counters should already agree).
    counts = dict(db.session.execute(
        select(Vote.proposal_id, func.count(Vote.id)).where(Vote.round_id == round_.id)
        .group_by(Vote.proposal_id)).all())
    entries = entries_of(round_, order="id")
    for entry in entries:
        actual = counts.get(entry.proposal_id, 0)
        if entry.vote_count != actual:
            log.error("round %s proposal %s: counter %s, rows %s (fixed)", round_.id,
                      entry.proposal_id, entry.vote_count, actual)
            entry.vote_count = actual
    ballots = db.session.scalar(select(func.count(func.distinct(Vote.household_id)))
                                .where(Vote.round_id == round_.id)) or 0
    ranked = sorted(entries, key=lambda e: (-e.vote_count, e.cost_cents or 0, e.proposal_id))
    steps = []
    if round_.rule == RoundRule.SUPPORTS:
        for entry in ranked:
            entry.selected = entry.vote_count >= round_.threshold
            steps.append({"proposal": entry.proposal_id, "title": entry.proposal.title,
                          "votes": entry.vote_count, "selected": entry.selected,
                          "reason": "threshold" if entry.selected else "below_threshold"})
    else:
        remaining = round_.budget_cents
        for entry in ranked:
            cost = entry.cost_cents or 0
            if entry.vote_count == 0:
                entry.selected, reason = False, "no_votes"
            elif cost <= remaining:
                entry.selected, reason = True, "fits"
                remaining -= cost
            else:
                entry.selected, reason = False, "over_budget"
            steps.append({"proposal": entry.proposal_id, "title": entry.proposal.title,
                          "votes": entry.vote_count, "cost_cents": cost,
                          "selected": entry.selected, "reason": reason,
                          "remaining_cents": remaining})
    round_.ballot_count = ballots
    round_.results = {"rule": round_.rule, "threshold": round_.threshold,
                      "max_supports": round_.max_supports, "budget_cents": round_.budget_cents,
                      "ballots": ballots, "votes": sum(counts.values()), "steps": steps}
    round_.results_at = utcnow()
    db.session.flush()
    for entry in ranked:
        proposal = entry.proposal
        if entry.selected and proposal.state == ProposalState.PUBLISHED:
            proposals.transition(proposal, ProposalState.SELECTED, None, authorized=True,
                                 note=_("Selezionata dalla votazione «%(title)s».",
                                        title=round_.title),
                                 details={"round": round_.id, "votes": entry.vote_count},
                                 quiet=quiet)
    audit("round.results", round_, {"ballots": ballots, "selected": [
        e.proposal_id for e in entries if e.selected]})
    log.info("round %s results: %s ballots", round_.id, ballots)


def close_due_rounds() -> int:
    """Compute the results of every round closed and not yet counted; returns how many."""
    now = utcnow()
    ids = list(db.session.scalars(select(Round.id).where(Round.closes_at <= now,
                                                         Round.results_at.is_(None))))
    done = 0
    for round_id in ids:
        round_ = db.session.get(Round, round_id)
        if round_ is not None and ensure_results(round_):
            done += 1
    return done


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def results_csv(round_: Round) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    budget = round_.rule == RoundRule.BUDGET
    writer.writerow(["proposta_id", "titolo", "voti"] + (["costo_euro"] if budget else [])
                    + ["selezionata"])
    for entry in entries_of(round_):
        row = [entry.proposal_id, _cell(entry.proposal.title), entry.vote_count]
        if budget:
            row.append(f"{(entry.cost_cents or 0) / 100:.2f}")
        row.append("sì" if entry.selected else "no")
        writer.writerow(row)
    return out.getvalue()


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
    import tempfile

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


def recount(proposal_ids) -> None:
    """Set each entry's and proposal's tally from the vote rows (same transaction)."""
    ids = list(proposal_ids)
    if not ids:
        return
    counts = (select(func.count(Vote.id)).where(Vote.round_id == RoundEntry.round_id,
                                                Vote.proposal_id == RoundEntry.proposal_id)
              .scalar_subquery())
    db.session.execute(update(RoundEntry).where(RoundEntry.proposal_id.in_(ids))
                       .values(vote_count=counts), execution_options={"synchronize_session": False})
    latest = (select(RoundEntry.vote_count)
              .where(RoundEntry.proposal_id == ProposalSupport.proposal_id)
              .order_by(RoundEntry.round_id.desc()).limit(1).scalar_subquery())
    db.session.execute(update(ProposalSupport).where(ProposalSupport.proposal_id.in_(ids))
                       .values(support_count=func.coalesce(latest, 0)),
                       execution_options={"synchronize_session": False})


def move_votes(proposal: Proposal, into: Proposal) -> int:
    """Move the votes of `proposal` to `into`, round by round; a household counts once.

    Returns the number of votes moved (the duplicates are dropped).
    """
    rounds = list(db.session.scalars(select(RoundEntry.round_id).where(
        RoundEntry.proposal_id == proposal.id)))
    moved = 0
    for round_id in rounds:
        if db.session.get(RoundEntry, (round_id, into.id)) is None:
            db.session.add(RoundEntry(round_id=round_id, proposal_id=into.id,
                                      cost_cents=into.estimated_cost_cents))
            db.session.flush()
        already = select(Vote.household_id).where(Vote.round_id == round_id,
                                                  Vote.proposal_id == into.id)
        db.session.execute(delete(Vote).where(
            Vote.round_id == round_id, Vote.proposal_id == proposal.id,
            Vote.household_id.in_(already)), execution_options={"synchronize_session": False})
        moved += len(db.session.execute(update(Vote).where(
            Vote.round_id == round_id, Vote.proposal_id == proposal.id
        ).values(proposal_id=into.id).returning(Vote.id),
            execution_options={"synchronize_session": False}).all())
    recount([proposal.id, into.id])
    db.session.expire(proposal, ["support_count"])
    db.session.expire(into, ["support_count"])
    return moved
