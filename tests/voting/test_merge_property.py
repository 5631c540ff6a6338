"""A property of the whole voting loop: counters equal their rows, published results stand.

A Hypothesis state machine drives the service layer through any sequence of rounds created,
edited, opened, closed and counted, votes cast and withdrawn, proposals published and merged.
After every step: each round entry's counter equals its vote rows, each proposal's supports
counter equals its votes in its current round, no vote is outside a round's list, a round
that has opened keeps the list it opened with, and a counted round's results equal a recount
of its rows and never change once published.

Time passes the way `tests.voting.helpers.close` makes it pass: a round's window is moved
into the past (opens_at for "the round opens", closes_at for "it closes"); rounds are made by
`create_round` a day ahead, and counted by `ensure_results`, what `flask voting close` runs.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from portal.authz import Role
from portal.db_setup import utcnow
from portal.proposals import services as proposals
from portal.proposals.models import Proposal, ProposalState, ProposalSupport
from portal.voting import services as voting
from portal.voting.models import Round, RoundEntry, RoundRule, RoundState, Vote
from tests.proposals.helpers import make_proposal

S = ProposalState
TICK = timedelta(milliseconds=1)

PROPERTY_SETTINGS = settings(max_examples=30, stateful_step_count=20, deadline=None,
                             suppress_health_check=list(HealthCheck))


def make_machine(db, factory):
    # Made once for every example (each example has its own proposals and rounds).
    coordinator = factory.user()
    factory.grant(coordinator, Role.COORDINATOR)
    comune = factory.comune()
    table = factory.table(comune)
    households = [factory.household(user=factory.user(), comune=comune) for _ in range(3)]
    author = factory.user()
    factory.household(user=author, comune=comune)
    db.session.commit()

    class VotingLoop(RuleBasedStateMachine):
        rounds = Bundle("rounds")
        ideas = Bundle("proposals")

        def __init__(self):
            super().__init__()
            self.comune, self.table, self.households = comune, table, households
            self.round_ids: list[int] = []
            self.proposal_ids: list[int] = []
            #: round id -> the proposals it opened with / the results it published
            self.opened_with: dict[int, set[int]] = {}
            self.published: dict[int, dict] = {}

        # ------------------------------------------------------------------ helpers

        def _round(self, round_id: int) -> Round:
            return db.session.get(Round, round_id, populate_existing=True)

        def _settle(self) -> None:
            """Note the list of each round that has opened (time has moved)."""
            now = utcnow()
            for round_id in self.round_ids:
                round_ = self._round(round_id)
                if round_.has_opened(now) and round_id not in self.opened_with:
                    self.opened_with[round_id] = {e.proposal_id for e in round_.entries}

        # ------------------------------------------------------------------ rules

        @initialize(target=ideas, cost=st.sampled_from([None, 100_000, 300_000]))
        def first_proposal(self, cost):
            return self._publish(cost)

        @initialize(target=ideas, cost=st.sampled_from([None, 100_000, 300_000]))
        def second_proposal(self, cost):
            return self._publish(cost)

        @initialize(target=rounds, budget=st.booleans(), ballots=st.lists(
            st.tuples(st.integers(0, 7), st.integers(0, 2), st.just(False)), max_size=6))
        def first_round(self, budget, ballots):
            """A round already open, with every proposal there is, and its first votes."""
            round_id = self.create_round(budget, True, list(range(8)))
            self._ballot(round_id, ballots)
            return round_id

        @rule(target=ideas, cost=st.sampled_from([None, 100_000, 300_000]))
        def publish(self, cost):
            return self._publish(cost)

        def _publish(self, cost):
            proposal = make_proposal(factory, comune=self.comune, table=self.table,
                                     user=author, household=author.household,
                                     state=S.PUBLISHED, cost_cents=cost,
                                     title=f"Proposta {len(self.proposal_ids) + 1}")
            self.proposal_ids.append(proposal.id)
            return proposal.id

        @rule(target=rounds, budget=st.booleans(), opens=st.booleans(), picks=st.lists(
            st.integers(0, 7), min_size=1, max_size=4, unique=True))
        def create_round(self, budget, opens, picks):
            """A round a day ahead; `opens`: and then its day comes."""
            candidates = [p.id for p in voting.candidates(self.table.id)
                          if p.id in self.proposal_ids
                          and (not budget or p.estimated_cost_cents is not None)]
            if not candidates:  # a family publishes a new idea for it
                candidates = [self._publish(100_000)]
            chosen = sorted({candidates[i % len(candidates)] for i in picks})
            now = utcnow()
            try:
                round_ = voting.create_round(
                    coordinator, self.table, title=f"Votazione {len(self.round_ids) + 1}",
                    description=None, opens_at=now + timedelta(days=1),
                    closes_at=now + timedelta(days=2),
                    rule=RoundRule.BUDGET if budget else RoundRule.SUPPORTS,
                    max_supports=2, threshold=3, budget_cents=350_000, proposal_ids=chosen)
            except voting.VotingError:
                db.session.rollback()
                return None
            db.session.commit()
            self.round_ids.append(round_.id)
            if opens:
                self.open_round(round_.id)
            return round_.id

        @rule(round_id=rounds, picks=st.lists(st.integers(0, 7), min_size=1, max_size=4,
                                              unique=True))
        def edit_round(self, round_id, picks):
            if round_id is None:
                return
            round_ = self._round(round_id)
            if voting.round_state(round_) != RoundState.SCHEDULED:
                return
            candidates = [p.id for p in voting.candidates(self.table.id, round_)
                          if p.id in self.proposal_ids]
            chosen = sorted({candidates[i % len(candidates)] for i in picks}) if candidates else []
            try:
                voting.update_round(
                    round_, coordinator, title=round_.title, description=None,
                    opens_at=round_.opens_at, closes_at=round_.closes_at, rule=round_.rule,
                    max_supports=round_.max_supports, threshold=round_.threshold,
                    budget_cents=round_.budget_cents, proposal_ids=chosen)
            except voting.VotingError:
                db.session.rollback()
                return
            db.session.commit()

        @rule(round_id=rounds)
        def open_round(self, round_id):
            if round_id is None:
                return
            round_ = self._round(round_id)
            now = utcnow()
            if not round_.has_opened(now):
                round_.opens_at = now - TICK
                db.session.commit()
            self._settle()

        @rule(round_id=rounds, counted=st.booleans())
        def close_round(self, round_id, counted):
            """The round's time is up; `counted`: and `flask voting close` runs at once."""
            if round_id is None:
                return
            round_ = self._round(round_id)
            now = utcnow()
            if not round_.is_closed(now):
                round_.opens_at = min(round_.opens_at, now - 2 * TICK)
                round_.closes_at = now - TICK
                db.session.commit()
            self._settle()
            if counted:
                self.count_round(round_id)

        @rule(round_id=rounds)
        def count_round(self, round_id):
            """`flask voting close` for this round (nothing before the close, once after)."""
            if round_id is None:
                return
            if voting.ensure_results(self._round(round_id), quiet=True):
                db.session.commit()
                self.published[round_id] = self._round(round_id).results
                event("counted")
            db.session.rollback()

        @rule(round_id=rounds, ballots=st.lists(
            st.tuples(st.integers(0, 7), st.integers(0, 2), st.booleans()),
            min_size=1, max_size=6))
        def ballot(self, round_id, ballots):
            """Households vote for, or withdraw from, the round's proposals (a few at once)."""
            self._ballot(round_id, ballots)

        @rule(round_id=rounds, ballots=st.lists(
            st.tuples(st.integers(0, 7), st.integers(0, 2), st.booleans()),
            min_size=1, max_size=6))
        def another_ballot(self, round_id, ballots):
            """Votes come more often than anything else."""
            self._ballot(round_id, ballots)

        def _ballot(self, round_id, ballots):
            if round_id is None:
                return
            listed = [e.proposal_id for e in self._round(round_id).entries]
            for pick, voter, withdraw in ballots:
                proposal_id = listed[pick % len(listed)] if listed else self.proposal_ids[0]
                household = self.households[voter]
                try:
                    if withdraw:
                        voting.withdraw_vote(round_id, proposal_id, household.id)
                    else:
                        voting.cast_vote(round_id, proposal_id, household.id,
                                         household.users[0].id)
                except voting.VotingError:
                    db.session.rollback()
                    continue
                event("withdrawn" if withdraw else "voted")
                db.session.commit()

        @rule(source=st.integers(0, 15), into=st.integers(0, 15))
        def merge(self, source, into):
            """A moderator merges a published proposal into another one not merged."""
            alive = list(db.session.scalars(
                select(Proposal).where(Proposal.id.in_(self.proposal_ids),
                                       Proposal.merged_into_id.is_(None))
                .order_by(Proposal.id).execution_options(populate_existing=True)))
            published = [p for p in alive if p.state == S.PUBLISHED]
            if not published:
                return
            dup, keep = published[source % len(published)], alive[into % len(alive)]
            blocked = voting.merge_refusal(dup, keep)
            try:
                proposals.merge(dup, keep, None, "doppione", authorized=True)
            except proposals.ProposalError:
                event("merge refused while a round is open or uncounted" if blocked
                      else "merge refused")
                db.session.rollback()
                return
            assert blocked is None, blocked
            event("merged")
            db.session.commit()

        # ------------------------------------------------------------------ invariants

        @invariant()
        def round_counters_equal_their_rows(self):
            if not self.round_ids:
                return
            rows = {(r, p): n for r, p, n in db.session.execute(
                select(Vote.round_id, Vote.proposal_id, func.count(Vote.id))
                .where(Vote.round_id.in_(self.round_ids))
                .group_by(Vote.round_id, Vote.proposal_id))}
            entries = {(e.round_id, e.proposal_id): e.vote_count for e in db.session.scalars(
                select(RoundEntry).where(RoundEntry.round_id.in_(self.round_ids))
                .execution_options(populate_existing=True))}
            assert set(rows) <= set(entries), "a vote outside its round's list"
            assert entries == {key: rows.get(key, 0) for key in entries}

        @invariant()
        def supports_equal_the_current_rounds_rows(self):
            ids = self.proposal_ids
            current: dict[int, tuple] = {}
            for proposal_id, round_id, opens_at in db.session.execute(
                    select(RoundEntry.proposal_id, Round.id, Round.opens_at)
                    .join(Round, Round.id == RoundEntry.round_id)
                    .where(RoundEntry.proposal_id.in_(ids))):
                current[proposal_id] = max(current.get(proposal_id, (opens_at, 0)),
                                           (opens_at, round_id))
            votes = {(p, r): n for p, r, n in db.session.execute(
                select(Vote.proposal_id, Vote.round_id, func.count(Vote.id))
                .where(Vote.proposal_id.in_(ids)).group_by(Vote.proposal_id, Vote.round_id))}
            counters = dict(db.session.execute(
                select(ProposalSupport.proposal_id, ProposalSupport.support_count)
                .where(ProposalSupport.proposal_id.in_(ids))).all())
            expected = {p: votes.get((p, current[p][1]), 0) if p in current else 0 for p in ids}
            assert counters == expected

        @invariant()
        def opened_rounds_keep_their_list(self):
            if not self.opened_with:
                return
            lists: dict[int, set[int]] = {round_id: set() for round_id in self.opened_with}
            for round_id, proposal_id in db.session.execute(
                    select(RoundEntry.round_id, RoundEntry.proposal_id)
                    .where(RoundEntry.round_id.in_(list(self.opened_with)))):
                lists[round_id].add(proposal_id)
            assert lists == self.opened_with

        @invariant()
        def published_results_stand_and_equal_a_recount(self):
            for round_id, published in self.published.items():
                round_ = self._round(round_id)
                assert round_.results == published
                assert voting.compute_results(round_) == published

    return VotingLoop


def test_counters_and_published_results_hold_whatever_happens(app, db, factory):
    """Any sequence of votes, withdrawals, merges and round changes keeps every counter equal
    to its rows and every published result equal to a recount (SQLite and PostgreSQL)."""
    run_state_machine_as_test(make_machine(db, factory), settings=PROPERTY_SETTINGS)
