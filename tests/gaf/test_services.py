"""The GAF's rules: quantities, totals and the fund's share to the cent, no change after the
close, settlement posting once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal.db_setup import utcnow
from portal.fund.ledger import check, find_fund
from portal.fund.models import FundTransaction
from portal.gaf import services
from portal.gaf.models import GafOrderLine, RoundState
from portal.gaf.services import GafError, fund_share


def test_share_is_rounded_half_up_to_the_cent():
    """2% of 123,45 € is 2,469 € → 2,47 €; of 123,25 € exactly 2,465 € → 2,47 €; of
    123,24 € 2,4648 € → 2,46 €; nothing of nothing."""
    assert fund_share(12_345, 200) == 247
    assert fund_share(12_325, 200) == 247
    assert fund_share(12_324, 200) == 246
    assert fund_share(0, 200) == 0
    assert fund_share(24, 200) == 0  # 0,48 cents
    assert fund_share(25, 200) == 1  # 0,5 cents: half up
    assert fund_share(10_000, 250) == 250


@given(st.integers(0, 10**11), st.integers(0, 10_000))
@settings(max_examples=300)
def test_share_is_the_nearest_cent_with_halves_up(total, bp):
    """The share is never more than half a cent from the exact value, halves going up."""
    share = fund_share(total, bp)
    exact_twice = 2 * total * bp  # 2 × exact share in 1/10000 of a cent
    assert 2 * share * 10_000 - exact_twice <= 10_000
    assert exact_twice - 2 * share * 10_000 < 10_000


def test_quantity_rules(db, g, gaf):
    family = gaf.member(g.group, g.comune)
    r, h = g.round.id, family.household.id
    for bad, words in ((1, "minimo"), (7, "multipli"), (66, "massimo"), (-1, "intera"),
                       ("3", "intera"), (True, "intera")):
        with pytest.raises(GafError, match=words) as exc:
            services.set_quantity(r, h, g.eggs.id, bad)
        assert exc.value.field == "quantity"
    g.taleggio.available = False
    db.session.flush()
    with pytest.raises(GafError, match="non è disponibile"):
        services.set_quantity(r, h, g.taleggio.id, 2)
    order = services.set_quantity(r, h, g.eggs.id, 12)
    assert order.total_cents == 12 * 45
    order = services.set_quantity(r, h, g.loaf.id, 3)
    assert order.total_cents == 12 * 45 + 3 * 350
    order = services.set_quantity(r, h, g.eggs.id, 0)  # 0 removes the line
    assert order.total_cents == 3 * 350
    assert services.quantities(order) == {g.loaf.id: 3}


def test_only_members_order_and_only_the_groups_products(db, g, gaf, factory):
    outsider = factory.household(comune=g.comune)
    with pytest.raises(GafError, match="non fa parte"):
        services.set_quantity(g.round.id, outsider.id, g.loaf.id, 1)
    other = gaf.group(comune=factory.comune(), name="GAF Altrove")
    family = gaf.member(g.group, g.comune)
    with pytest.raises(GafError, match="non è in vendita"):
        services.set_quantity(g.round.id, family.household.id, other.loaf.id, 1)


def test_no_order_change_after_the_close_nor_after_the_closing_time(db, g, gaf):
    family = gaf.member(g.group, g.comune)
    r, h = g.round.id, family.household.id
    services.set_quantity(r, h, g.loaf.id, 2)
    later = g.round.closes_at + timedelta(seconds=1)
    with pytest.raises(GafError, match="chiuso"):
        services.set_quantity(r, h, g.loaf.id, 3, now=later)  # time passed, state still open
    services.close(g.round)
    db.session.commit()
    with pytest.raises(GafError, match="chiuso"):
        services.set_quantity(r, h, g.loaf.id, 4)
    with pytest.raises(GafError, match="chiuso"):
        services.set_quantity(r, h, g.loaf.id, 0)
    assert services.quantities(services.order_of(r, h)) == {g.loaf.id: 2}
    assert g.round.total_cents == 700


def test_totals_aggregate_and_share_to_the_cent_and_settling_twice_posts_once(db, g, gaf):
    a = gaf.member(g.group, g.comune, name="Famiglia Rossi")
    b = gaf.member(g.group, g.comune, name="Famiglia Bianchi")
    r = g.round.id
    services.set_quantity(r, a.household.id, g.loaf.id, 3)        # 10,50
    services.set_quantity(r, a.household.id, g.taleggio.id, 5)    # 9,95
    services.set_quantity(r, b.household.id, g.eggs.id, 18)       # 8,10
    services.set_quantity(r, b.household.id, g.taleggio.id, 3)    # 5,97
    db.session.commit()
    services.close(g.round)
    assert g.round.total_cents == 1050 + 995 + 810 + 597 == 3452
    agg = {s.supplier.name: s for s in services.aggregate(g.round)}
    assert agg["Forno Brianza"].total_cents == 1050 + 810
    assert [(p.name, q, c) for p, q, c in agg["Caseificio del Lambro"].lines] == [
        ("Taleggio", 8, 1592)]
    bills = {o.household.name: o.total_cents for o in services.bills(g.round)}
    assert bills == {"Famiglia Rossi": 2045, "Famiglia Bianchi": 1407}
    with pytest.raises(GafError, match="dopo la consegna"):
        services.settle(g.round)
    services.deliver(g.round)
    services.settle(g.round)
    services.settle(g.round)
    db.session.commit()
    assert g.round.state == RoundState.SETTLED
    assert g.round.fund_share_cents == 69  # 2% of 34,52 € = 0,6904 € → 0,69 €
    fund = find_fund(g.comune.id)
    txs = db.session.scalars(select(FundTransaction).where(FundTransaction.fund_id == fund.id)
                             ).all()
    assert [(t.category, t.amount_cents, t.key) for t in txs] == [
        ("gaf", 69, f"gaf-round:{r}:settlement")]
    db.session.refresh(g.group)
    assert g.group.given_cents == 69
    assert check() == []


def test_a_second_settlement_in_another_session_posts_nothing_more(db, g, gaf):
    """A stale page settling again: the round is read under its lock, already settled."""
    a = gaf.member(g.group, g.comune)
    services.set_quantity(g.round.id, a.household.id, g.loaf.id, 10)
    services.close(g.round)
    services.deliver(g.round)
    db.session.commit()
    stale = g.round
    services.settle(stale)
    db.session.commit()
    db.session.expire_all()
    services.settle(stale)
    db.session.commit()
    count = db.session.scalar(select(func.count()).select_from(FundTransaction))
    assert count == 1 and stale.fund_share_cents == 70


def test_ticks_and_round_states(db, g, gaf):
    a = gaf.member(g.group, g.comune)
    order = services.set_quantity(g.round.id, a.household.id, g.loaf.id, 1)
    with pytest.raises(GafError):
        services.tick(g.round, order, True)  # still open
    with pytest.raises(GafError):
        services.deliver(g.round)
    services.close(g.round)
    with pytest.raises(GafError):
        services.close(g.round)
    services.tick(g.round, order, True)
    assert order.delivered_at is not None
    services.deliver(g.round)
    services.tick(g.round, order, False)
    assert order.delivered_at is None


def test_membership_commitment_and_what_was_ordered(db, g, gaf, factory):
    elsewhere = factory.household(comune=factory.comune())
    with pytest.raises(GafError, match="altro Comune"):
        services.join(g.group, elsewhere)
    a = gaf.member(g.group, g.comune, commitment=15_000)
    with pytest.raises(GafError, match="già parte"):
        services.join(g.group, a.household)
    with pytest.raises(GafError, match="1.000 euro"):
        services.set_commitment(services.membership(g.group.id, a.household.id), 100_001)
    services.set_quantity(g.round.id, a.household.id, g.loaf.id, 4)
    month = g.round.delivery_on
    assert services.ordered_in_month(a.household.id, g.group.id, month) == 1400
    db.session.refresh(g.group)
    assert g.group.members_count == 2
    with pytest.raises(GafError, match="coordina"):
        services.leave(g.group, g.household)
    services.leave(g.group, a.household)
    db.session.refresh(g.group)
    assert g.group.members_count == 1


def test_order_lines_are_unique_per_product(db, g, gaf):
    a = gaf.member(g.group, g.comune)
    for q in (1, 2, 3):
        services.set_quantity(g.round.id, a.household.id, g.loaf.id, q)
    assert db.session.scalar(select(func.count()).select_from(GafOrderLine)) == 1


def test_round_dates_are_checked(db, g):
    now = utcnow()
    with pytest.raises(GafError) as exc:
        services.create_round(g.group, now, now - timedelta(hours=1), now.date())
    assert exc.value.field == "closes_at"
    with pytest.raises(GafError) as exc:
        services.create_round(g.group, now, now + timedelta(days=3), now.date())
    assert exc.value.field == "delivery_on"
