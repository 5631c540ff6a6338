"""A property of the ledger: whatever is posted, retried or reversed, every invariant holds.

A Hypothesis state machine posts random contributions and grants to two funds, reverses
random movements (reversals too), retries earlier writes with their key (same content: the
first transaction comes back and nothing is written; other content: IdempotencyConflict).
A model in plain Python keeps what each available balance must be. After every step:
`check()` finds nothing (entries sum to zero, kept balances, monthly and campaign totals
equal the entries, reversals mirror), the balances equal the model, no available balance is
negative, and the rows counted are the ones the model expects. Runs on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import itertools
from datetime import date

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from portal.fund.ledger import (
    IdempotencyConflict,
    InsufficientFunds,
    LedgerError,
    check,
    fund_for,
    post_contribution,
    post_grant,
    reverse,
)
from portal.fund.models import Fund, FundAccount, FundCampaign, FundEntry, FundTransaction
from portal.network.models import Comune
from portal.proposals.models import ProposalState
from tests.proposals.helpers import make_proposal

PROPERTY_SETTINGS = settings(max_examples=15, stateful_step_count=15, deadline=None,
                             suppress_health_check=list(HealthCheck))
SOURCES = st.sampled_from(["card", "gaf", "donation", "allocation", "campaign"])
CATEGORIES = st.sampled_from(["support", "project"])
AMOUNTS = st.integers(min_value=1, max_value=50_000)
_example = itertools.count()
_comuni = itertools.count(1)


def _comune(db) -> Comune:
    """A bare Comune (no table, no hooks): the place of a fresh fund."""
    n = next(_comuni)
    comune = Comune(name=f"Comune del fondo {n}", slug=f"comune-del-fondo-{n}",
                    istat_code=f"{800000 + n}", province="Monza e della Brianza",
                    joined_on=date(2015, 11, 12))
    db.session.add(comune)
    db.session.flush()
    return comune


def make_machine(db, factory):
    project = make_proposal(factory, state=ProposalState.APPROVED)
    db.session.commit()

    class Ledger(RuleBasedStateMachine):
        movements = Bundle("movements")

        def __init__(self):
            super().__init__()
            # Every example starts from the same state, two empty funds (one with a
            # campaign): Hypothesis replays a prefix of choices expecting the same outcomes.
            funds = [fund_for(_comune(db).id) for _ in range(2)]
            campaign = FundCampaign(fund_id=funds[0].id, proposal_id=project.id,
                                    title="Ludoteca", target_cents=100_000, raised_cents=0,
                                    donations=0, opens_on=date(2026, 1, 1))
            db.session.add(campaign)
            db.session.commit()
            self.fund_ids = [f.id for f in funds]
            self.campaign_id = campaign.id
            self.n = next(_example)
            self.keys = itertools.count()
            self.available = dict.fromkeys(self.fund_ids, 0)
            self.rows = db.session.scalar(select(func.count(FundTransaction.id)))
            self.reversed: set[int] = set()
            #: tx id -> its move of the available balance
            self.effect: dict[int, int] = {}

        def _key(self) -> str:
            return f"p{self.n}-{next(self.keys)}"

        def _balance(self, fund_id: int) -> int:
            return db.session.scalar(select(FundAccount.balance_cents).where(
                FundAccount.fund_id == fund_id, FundAccount.kind == "available")
                .execution_options(populate_existing=True))

        def _fund(self, i: int):
            return db.session.get(Fund, self.fund_ids[i])

        def _done(self, tx, fund_id: int, effect: int, call) -> tuple:
            db.session.commit()
            self.available[fund_id] += effect
            self.effect[tx.id] = effect
            self.rows += 1
            return tx.id, call

        @rule(target=movements, i=st.integers(0, 1), source=SOURCES, amount=AMOUNTS,
              memo=st.sampled_from(["", "quota acquisti", "dono"]), linked=st.booleans())
        def contribute(self, i, source, amount, memo, linked):
            fund = self._fund(i)
            key = self._key()
            campaign = (db.session.get(FundCampaign, self.campaign_id) if linked and i == 0
                        else None)

            def call(**changes):
                args = dict(source=source, amount_cents=amount, key=key, memo=memo,
                            campaign=campaign)
                args.update(changes)
                return post_contribution(fund, **args)

            return self._done(call(), fund.id, amount, call)

        @rule(target=movements, i=st.integers(0, 1), category=CATEGORIES, amount=AMOUNTS)
        def grant(self, i, category, amount):
            fund = self._fund(i)
            key = self._key()

            def call(**changes):
                args = dict(amount_cents=amount, key=key, category=category,
                            ref=f"application:{key}")
                args.update(changes)
                return post_grant(fund, **args)

            if amount > self.available[fund.id]:
                try:
                    call()
                except InsufficientFunds:
                    db.session.rollback()
                    return multiple()
                raise AssertionError("a grant beyond the balance went through")
            return self._done(call(), fund.id, -amount, call)

        @rule(target=movements, movement=movements)
        def reverse_one(self, movement):
            tx_id, _call = movement
            tx = db.session.get(FundTransaction, tx_id)
            key = self._key()
            effect = -self.effect[tx_id]

            def call(**changes):
                return reverse(db.session.get(FundTransaction, tx_id),
                               **dict(dict(key=key, memo="correzione"), **changes))

            if tx_id in self.reversed:
                try:
                    call()
                except LedgerError:
                    db.session.rollback()
                    return multiple()
                raise AssertionError("a transaction was reversed twice")
            if self.available[tx.fund_id] + effect < 0:
                try:
                    call()
                except InsufficientFunds:
                    db.session.rollback()
                    return multiple()
                raise AssertionError("a reversal overdrew the fund")
            self.reversed.add(tx_id)
            return self._done(call(), tx.fund_id, effect, call)

        @rule(movement=movements)
        def retry_same(self, movement):
            """The same key and content again: the first transaction, nothing written."""
            tx_id, call = movement
            assert call().id == tx_id
            db.session.commit()

        @rule(movement=movements, memo=st.sampled_from(["altro", "diverso"]))
        def retry_other_content(self, movement, memo):
            _tx_id, call = movement
            try:
                call(memo=memo)
            except IdempotencyConflict:
                db.session.rollback()
                return
            raise AssertionError("the same key with other content went through")

        @invariant()
        def ledger_is_sound(self):
            assert check() == []

        @invariant()
        def balances_equal_the_model(self):
            for fund_id in self.fund_ids:
                balance = self._balance(fund_id)
                assert balance == self.available[fund_id]
                assert balance >= 0

        @invariant()
        def nothing_more_was_written(self):
            assert db.session.scalar(select(func.count(FundTransaction.id))) == self.rows
            assert db.session.scalar(select(func.count(FundEntry.id))) == 2 * self.rows

    return Ledger


def test_every_invariant_holds_after_every_step(app, db, factory):
    """Random contributions, grants, reversals and retried keys (SQLite and PostgreSQL)."""
    run_state_machine_as_test(make_machine(db, factory), settings=PROPERTY_SETTINGS)
