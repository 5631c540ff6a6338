"""Two members of one household editing its order at the same moment lose nothing
(PostgreSQL, one thread per request): each changes its own line, the order is created once,
and its total is the sum of the lines."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from portal.extensions import db as _db
from portal.gaf import services
from portal.gaf.models import GafOrder, GafOrderLine

THREADS = 6


def _run_together(app, work, n: int) -> list:
    barrier = threading.Barrier(n)
    outcomes: list = [None] * n

    def run(i: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                work(i)
                _db.session.commit()
                outcomes[i] = "ok"
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
def pg(db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks under concurrent requests: PostgreSQL")


def test_members_of_one_household_editing_at_once_lose_nothing(app, db, pg, g, gaf):
    from portal.gaf.models import GafProduct

    family = gaf.member(g.group, g.comune, users=2)
    products = [g.loaf, g.taleggio] + [
        services.save_product(g.bread, None, name=f"Biscotti {i}", unit="sacchetto",
                              price_cents=100 + i, min_qty=1, multiple=1, max_qty=10)
        for i in range(THREADS - 2)]
    db.session.commit()
    ids = [(p.id, p.min_qty + 1) for p in products]
    round_id, household_id = g.round.id, family.household.id

    outcomes = _run_together(
        app, lambda i: services.set_quantity(round_id, household_id, *ids[i]), THREADS)
    assert outcomes == ["ok"] * THREADS
    db.session.expire_all()
    orders = db.session.scalars(select(GafOrder).where(GafOrder.round_id == round_id)).all()
    assert len(orders) == 1
    lines = dict(db.session.execute(select(GafOrderLine.product_id, GafOrderLine.quantity)
                                    .where(GafOrderLine.order_id == orders[0].id)).all())
    assert lines == dict(ids)
    prices = {p.id: p.price_cents for p in db.session.scalars(select(GafProduct))}
    assert orders[0].total_cents == sum(prices[p] * q for p, q in ids)


def test_a_close_racing_edits_leaves_the_total_equal_to_the_orders(app, db, pg, g, gaf):
    """Edits and the close at once: whatever passed before the close is in its total, and
    nothing changes after it."""
    families = [gaf.member(g.group, g.comune) for _i in range(THREADS - 1)]
    round_id, loaf_id = g.round.id, g.loaf.id
    hh = [f.household.id for f in families]

    def work(i: int):
        if i == THREADS - 1:
            from portal.gaf.models import GafRound

            services.close(_db.session.get(GafRound, round_id))
        else:
            services.set_quantity(round_id, hh[i], loaf_id, 2)

    outcomes = _run_together(app, work, THREADS)
    assert outcomes[-1] == "ok"
    db.session.expire_all()
    from portal.gaf.models import GafRound

    round_ = db.session.get(GafRound, round_id)
    total = db.session.scalar(select(func.coalesce(func.sum(GafOrder.total_cents), 0))
                              .where(GafOrder.round_id == round_id))
    assert round_.total_cents == int(total)
    passed = sum(1 for o in outcomes[:-1] if o == "ok")
    assert round_.total_cents == passed * 700
