"""Concurrent grants against one fund on PostgreSQL: never overdrawn, nothing lost.

Each thread is a request of its own (its own app context, session and connection) granting
from the same fund at the same moment; the fund holds less than they ask together. The
available account's row lock makes them take turns: exactly as many pass as the money allows,
the others are refused with InsufficientFunds, the balance is what the model says, and the
ledger checks sound. Threads retrying one key at once write one transaction.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from portal.extensions import db as _db
from portal.fund.ledger import (
    InsufficientFunds,
    check,
    fund_for,
    post_contribution,
    post_grant,
)
from portal.fund.models import FundAccount, FundTransaction

THREADS = 12


def _run_together(app, work, n: int) -> list:
    """Run `work(i)` in `n` threads, each in its own app context, released at once; commit
    what each did. Returns each thread's outcome: the transaction id or the exception."""
    barrier = threading.Barrier(n)
    outcomes: list = [None] * n

    def run(i: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                tx = work(i)
                tx_id = tx.id
                _db.session.commit()
                outcomes[i] = tx_id
            except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
                _db.session.rollback()
                outcomes[i] = exc
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return outcomes


@pytest.fixture
def pg_fund(app, db, factory):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks under concurrent requests: PostgreSQL")
    fund = fund_for(factory.comune().id)
    post_contribution(fund, source="allocation", amount_cents=10_000, key="seed")
    db.session.commit()
    return fund.id


def test_concurrent_grants_never_overdraw_and_lose_nothing(app, db, pg_fund):
    def grant(i: int):
        fund = fund_for(_comune_of(pg_fund))
        return post_grant(fund, amount_cents=1_500, key=f"grant-{i}", ref=f"application:{i}")

    outcomes = _run_together(app, grant, THREADS)
    passed = [o for o in outcomes if isinstance(o, int)]
    refused = [o for o in outcomes if isinstance(o, InsufficientFunds)]
    assert len(passed) == 6, outcomes  # 6 × 15 € fit in 100 €
    assert len(refused) == THREADS - 6, outcomes
    db.session.expire_all()
    balance = db.session.scalar(select(FundAccount.balance_cents).where(
        FundAccount.fund_id == pg_fund, FundAccount.kind == "available"))
    assert balance == 10_000 - 6 * 1_500
    assert db.session.scalar(select(func.count(FundTransaction.id))) == 1 + 6
    assert check() == []


def test_the_same_key_posted_at_once_writes_one_transaction(app, db, pg_fund):
    def retry(_i: int):
        fund = fund_for(_comune_of(pg_fund))
        return post_grant(fund, amount_cents=700, key="one-grant", ref="application:1")

    outcomes = _run_together(app, retry, 6)
    assert all(isinstance(o, int) for o in outcomes), outcomes
    assert len(set(outcomes)) == 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count(FundTransaction.id))) == 2
    assert check() == []


def test_contributions_and_grants_interleaved_keep_every_cent(app, db, pg_fund):
    def work(i: int):
        fund = fund_for(_comune_of(pg_fund))
        if i % 2:
            return post_contribution(fund, source="card", amount_cents=1_000, key=f"in-{i}")
        return post_grant(fund, amount_cents=2_000, key=f"out-{i}")

    outcomes = _run_together(app, work, THREADS)
    db.session.expire_all()
    ins = sum(1 for i, o in enumerate(outcomes) if i % 2 and isinstance(o, int))
    outs = sum(1 for i, o in enumerate(outcomes) if not i % 2 and isinstance(o, int))
    assert ins == THREADS // 2
    assert all(isinstance(o, (int, InsufficientFunds)) for o in outcomes), outcomes
    balance = db.session.scalar(select(FundAccount.balance_cents).where(
        FundAccount.fund_id == pg_fund, FundAccount.kind == "available"))
    assert balance == 10_000 + ins * 1_000 - outs * 2_000 >= 0
    assert check() == []


def _comune_of(fund_id: int) -> int:
    from portal.fund.models import Fund

    return _db.session.get(Fund, fund_id).comune_id
