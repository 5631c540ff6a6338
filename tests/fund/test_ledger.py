"""The ledger: double entry, kept balances, idempotency, never negative, reversals,
immutability in the database itself."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from portal.fund import ledger
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
from portal.fund.models import FundAccount, FundEntry, FundMonthly, FundTransaction


@pytest.fixture
def fund(db, factory):
    comune = factory.comune("Seveso")
    fund = fund_for(comune.id)
    db.session.commit()
    return fund


def _balances(db, fund) -> dict[str, int]:
    return {f"{a.kind}:{a.category}".rstrip(":"): a.balance_cents for a in db.session.scalars(
        select(FundAccount).where(FundAccount.fund_id == fund.id)
        .execution_options(populate_existing=True))}


def test_one_fund_per_comune_and_one_for_the_rete(db, factory, fund):
    """fund_for creates a fund once; None is the Rete's fund."""
    assert fund_for(fund.comune_id).id == fund.id
    rete = fund_for(None)
    assert rete.comune_id is None and rete.scope_id == 0
    assert fund_for(None).id == rete.id
    db.session.commit()
    assert check() == []


def test_contribution_and_grant_move_balances_and_sum_to_zero(db, fund):
    """Money in credits income and debits available; money out the reverse; every
    transaction's entries sum to zero and the kept balances equal the entries."""
    post_contribution(fund, source="card", amount_cents=10_000, key="c1", memo="Acquisti")
    post_contribution(fund, source="donation", amount_cents=2_550, key="c2")
    grant = post_grant(fund, amount_cents=7_000, key="g1", ref="application:1")
    db.session.commit()
    assert _balances(db, fund) == {"available": 5_550, "income:card": -10_000,
                                   "income:donation": -2_550, "expense:support": 7_000}
    assert sum(e.amount_cents for e in grant.entries) == 0
    assert check() == []


def test_same_key_same_content_returns_the_first_transaction(db, fund):
    """A retried write returns what the first wrote and adds no rows."""
    first = post_contribution(fund, source="card", amount_cents=500, key="k", memo="x")
    db.session.commit()
    again = post_contribution(fund, source="card", amount_cents=500, key="k", memo="x")
    assert again.id == first.id
    db.session.commit()
    assert db.session.scalar(select(func.count(FundEntry.id))) == 2
    assert _balances(db, fund)["available"] == 500


def test_same_key_other_content_is_a_conflict(db, fund):
    post_contribution(fund, source="card", amount_cents=500, key="k")
    db.session.commit()
    with pytest.raises(IdempotencyConflict):
        post_contribution(fund, source="card", amount_cents=501, key="k")
    with pytest.raises(IdempotencyConflict):
        post_grant(fund, amount_cents=500, key="k")


def test_grant_beyond_the_available_balance_is_refused(db, fund):
    """The available account never goes negative: the grant is refused, nothing written."""
    post_contribution(fund, source="allocation", amount_cents=1_000, key="a")
    db.session.commit()
    with pytest.raises(InsufficientFunds) as refused:
        post_grant(fund, amount_cents=1_001, key="g")
    assert refused.value.field == "amount_cents"
    db.session.rollback()
    post_grant(fund, amount_cents=1_000, key="g2")
    db.session.commit()
    assert _balances(db, fund)["available"] == 0
    assert check() == []


@pytest.mark.parametrize("amount", [0, -5, 1.5, True, "100", ledger.AMOUNT_MAX + 1])
def test_bad_amounts_are_refused(db, fund, amount):
    with pytest.raises(LedgerError):
        post_contribution(fund, source="card", amount_cents=amount, key="k")


def test_bad_categories_and_keys_are_refused(db, fund):
    with pytest.raises(LedgerError):
        post_contribution(fund, source="Card!", amount_cents=1, key="k")
    with pytest.raises(LedgerError):
        post_contribution(fund, source="card", amount_cents=1, key="")
    with pytest.raises(LedgerError):
        post_contribution(fund, source="card", amount_cents=1, key="k", memo="x" * 301)


def test_reversal_mirrors_and_is_refused_twice(db, fund):
    """A correction is a reversing transaction, at most one per transaction."""
    grant_in = post_contribution(fund, source="card", amount_cents=3_000, key="c")
    grant = post_grant(fund, amount_cents=1_000, key="g")
    undo = reverse(grant, key="r", memo="Errore di importo")
    db.session.commit()
    assert undo.reverses_id == grant.id and undo.kind == "reversal"
    assert _balances(db, fund) == {"available": 3_000, "income:card": -3_000,
                                   "expense:support": 0}
    with pytest.raises(LedgerError):
        reverse(grant, key="r2")
    db.session.rollback()
    assert reverse(grant, key="r", memo="Errore di importo").id == undo.id  # a retry
    # money in that was spent meanwhile cannot be reversed
    post_grant(fund, amount_cents=2_500, key="g2")
    db.session.commit()
    with pytest.raises(InsufficientFunds):
        reverse(grant_in, key="r3")
    db.session.rollback()
    assert check() == []


def test_reversing_a_reversal_applies_the_original_again(db, fund):
    post_contribution(fund, source="card", amount_cents=3_000, key="c")
    grant = post_grant(fund, amount_cents=1_000, key="g")
    undo = reverse(grant, key="r")
    redo = reverse(undo, key="rr")
    db.session.commit()
    assert redo.reverses_id == undo.id
    assert _balances(db, fund)["available"] == 2_000
    assert check() == []


def test_monthly_totals_are_kept_in_the_month_of_each_movement(db, fund):
    march = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)  # 1 April in Rome
    post_contribution(fund, source="card", amount_cents=700, key="c1", at=march)
    post_contribution(fund, source="card", amount_cents=300, key="c2",
                      at=datetime(2026, 4, 10, tzinfo=UTC))
    grant = post_grant(fund, amount_cents=200, key="g", at=datetime(2026, 4, 11, tzinfo=UTC))
    reverse(grant, key="r", at=datetime(2026, 5, 2, tzinfo=UTC))
    db.session.commit()
    rows = {(m.month.isoformat(), m.direction, m.category): (m.amount_cents, m.movements)
            for m in db.session.scalars(select(FundMonthly))}
    assert rows == {("2026-04-01", "in", "card"): (1_000, 2),
                    ("2026-04-01", "out", "support"): (200, 1),
                    ("2026-05-01", "out", "support"): (-200, -1)}
    assert check() == []


def test_the_orm_refuses_to_change_or_delete_ledger_rows(db, fund):
    tx = post_contribution(fund, source="card", amount_cents=100, key="c")
    db.session.commit()
    tx.memo = "altro"
    with pytest.raises(LedgerError):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(FundEntry, tx.entries[0].id))
    with pytest.raises(LedgerError):
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize("statement", [
    "UPDATE fund_entries SET amount_cents = amount_cents + 1",
    "DELETE FROM fund_entries",
    "UPDATE fund_transactions SET memo = 'altro'",
    "DELETE FROM fund_transactions",
])
def test_the_database_refuses_to_change_or_delete_ledger_rows(db, fund, statement):
    """Triggers make entries and transactions append-only on both databases."""
    post_contribution(fund, source="card", amount_cents=100, key="c")
    db.session.commit()
    with pytest.raises(DBAPIError):
        db.session.execute(text(statement))
        db.session.commit()
    db.session.rollback()
    assert check() == []


def test_postgresql_refuses_an_unbalanced_transaction_at_commit(db, fund):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("a deferred constraint trigger: PostgreSQL only")
    tx = post_contribution(fund, source="card", amount_cents=100, key="c")
    db.session.commit()
    account = db.session.scalar(select(FundAccount.id).where(FundAccount.kind == "available"))
    db.session.add(FundEntry(transaction_id=tx.id, account_id=account, amount_cents=5))
    with pytest.raises(DBAPIError):
        db.session.commit()
    db.session.rollback()


def test_check_reports_a_corrupted_balance_and_an_unbalanced_entry(db, fund):
    post_contribution(fund, source="card", amount_cents=100, key="c")
    db.session.commit()
    db.session.execute(text("UPDATE fund_accounts SET balance_cents = balance_cents + 7 "
                            "WHERE kind = 'available'"))
    db.session.commit()
    problems = check()
    assert any("saldo 107" in p for p in problems), problems


def test_entries_are_stored_for_each_transaction(db, fund):
    post_contribution(fund, source="card", amount_cents=100, key="c")
    db.session.commit()
    assert db.session.scalar(select(func.count(FundTransaction.id))) == 1


def test_flask_fund_check_exits_zero_when_sound_and_one_on_a_violation(app, db, fund):
    """`flask fund check` prints each violation and exits non-zero."""
    post_contribution(fund, source="card", amount_cents=100, key="c")
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["fund", "check"])
    assert result.exit_code == 0, result.output
    db.session.execute(text("UPDATE fund_monthly SET amount_cents = 99"))
    db.session.commit()
    result = runner.invoke(args=["fund", "check"])
    assert result.exit_code == 1
    assert "totale mensile 99" in result.output
