"""A receipt retried at once from several tills on PostgreSQL: one purchase, one transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.card import services
from portal.card.models import Merchant, Purchase
from portal.fund import ledger
from portal.fund.models import FundTransaction
from tests.fund.test_concurrency import _run_together

THREADS = 10


def test_concurrent_same_receipt_is_one_purchase(app, db, cards):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent inserts under row locks: PostgreSQL")
    merchant_id = cards.merchant().id
    number = cards.card().number

    def till(_i: int):
        merchant = db.session.get(Merchant, merchant_id)
        purchase, _created = services.record_purchase(None, merchant, number, 12_345, "C-77")
        return purchase

    outcomes = _run_together(app, till, THREADS)
    assert all(isinstance(o, int) for o in outcomes), outcomes
    assert len(set(outcomes)) == 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Purchase.id))) == 1
    assert db.session.scalar(select(func.count(FundTransaction.id)).where(
        FundTransaction.key == services.purchase_key(merchant_id, "C-77"))) == 1
    assert ledger.check() == []
