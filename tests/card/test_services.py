"""The card's services: numbers, tokens, eligibility, the till's arithmetic and idempotency."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select

from portal.card import services
from portal.card.models import CardRule, CardStatus, Purchase, RequestStatus
from portal.card.services import CardError, ReceiptConflict
from portal.fund import ledger
from portal.fund.models import FundTransaction


def test_numbers_carry_a_check_digit_that_catches_a_typo():
    for _ in range(200):
        number = services.new_number()
        assert len(number) == 16 and number.isdigit()
        assert services.number_is_valid(number)
        i = random.randrange(16)
        typo = number[:i] + str((int(number[i]) + 1) % 10) + number[i + 1:]
        assert not services.number_is_valid(typo)


def test_random_numbers_are_almost_never_a_card(app, db, cards):
    card = cards.card()
    rng = random.Random(7)
    guesses = [f"{rng.randrange(10**16):016d}" for _ in range(20_000)]
    passing = [g for g in guesses if services.number_is_valid(g)]
    assert len(passing) < 20_000 * 0.02  # the check digits let about one in 97 through
    assert all(not services.check_card(g).valid for g in passing)
    assert services.check_card(card.number).valid


@given(st.integers(min_value=1, max_value=10_000_000), st.integers(0, 10000),
       st.integers(0, 10000))
def test_split_rounds_half_up_to_the_cent(amount, discount_bp, share_bp):
    class Offer:
        pass
    offer = Offer()
    offer.discount_bp, offer.fund_share_bp = discount_bp, share_bp
    discount, share = services.split(amount, offer)
    exact = amount * discount_bp / 10000
    assert discount == int(exact) + (1 if exact - int(exact) >= 0.5 else 0) or \
        abs(discount - exact) <= 0.5
    assert 0 <= discount <= amount and 0 <= share <= amount - discount


def test_rounding_examples():
    assert services.cents_of(1050, 500) == 53  # 52.5 → 53
    assert services.cents_of(1049, 500) == 52  # 52.45 → 52
    assert services.cents_of(3333, 90) == 30  # 29.997 → 30
    assert services.cents_of(5, 1000) == 1  # 0.5 → 1


def test_token_round_trip_tampered_and_expired(app, db, cards):
    card = cards.card()
    token = services.make_token(card)
    assert card.number not in token
    assert services.check_card(token).valid
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert not services.check_card(tampered).valid
    assert services.card_from_token(token, max_age=-1) is None  # expired
    forged = URLSafeTimedSerializer("another-key", salt=services.QR_SALT).dumps([card.id, 1])
    assert not services.check_card(forged).valid


def test_revoked_suspended_and_expired_cards_are_refused(app, db, cards, factory):
    card = cards.card()
    token = services.make_token(card)
    services.set_card_status(None, card, CardStatus.SUSPENDED)
    db.session.commit()
    result = services.check_card(card.number)
    assert not result.valid and result.initials == card.initials
    assert not services.check_card(token).valid  # the old QR stops working too
    services.set_card_status(None, card, CardStatus.REVOKED)
    assert not services.check_card(card.number).valid
    other = cards.card()
    other.expires_on = services.rome_today() - timedelta(days=1)
    db.session.commit()
    assert not services.check_card(other.number).valid
    services.renew_card(other)
    assert services.check_card(other.number).valid


def test_check_shows_initials_and_expiry_only(app, db, cards):
    card = cards.card()
    result = services.check_card(services.format_number(card.number))
    assert result.valid and result.expires_on == card.expires_on
    assert result.initials.endswith(".")


def test_default_rule_one_child_under_26(app, db, factory):
    user = factory.user()
    household = factory.household(user=user, members=1)  # one adult, no children
    request = services.request_card(user, household)
    assert request.status == RequestStatus.REFUSED and services.card_of(household.id) is None
    user2 = factory.user()
    household2 = factory.household(user=user2)
    assert services.request_card(user2, household2).status == RequestStatus.APPROVED
    assert services.card_of(household2.id) is not None
    with pytest.raises(CardError):
        services.request_card(user2, household2)  # one card per household


def test_isee_rule_goes_to_the_officer(app, db, factory):
    comune = factory.comune()
    db.session.add(CardRule(comune_id=comune.id, min_children=1, child_max_age=25,
                            isee_ceiling_cents=30_000_00))
    db.session.commit()
    user = factory.user()
    household = factory.household(user=user, comune=comune)
    with pytest.raises(CardError) as err:
        services.request_card(user, household)
    assert err.value.field == "isee"
    request = services.request_card(user, household, 20_000_00)
    assert request.status == RequestStatus.PENDING
    services.decide_request(user, request, True)
    assert services.card_of(household.id).status == CardStatus.ACTIVE


def test_vat_number_is_checked():
    assert services.clean_vat("IT00743110157") == "00743110157"
    for bad in ("00743110158", "123", "abcdefghijk", "0074311015７"):
        with pytest.raises(CardError):
            services.clean_vat(bad)


def test_same_receipt_twice_is_one_purchase_and_one_transaction(app, db, cards):
    merchant = cards.merchant(discount_bp=1000, share_bp=150)
    card = cards.card()
    first, created = services.record_purchase(None, merchant, card.number, 10_050, "A-1")
    assert created and first.discount_cents == 1005 and first.fund_share_cents == 136
    db.session.commit()
    again, created = services.record_purchase(None, merchant, card.number, 10_050, "A-1")
    db.session.commit()
    assert not created and again.id == first.id
    assert db.session.scalar(select(func.count(Purchase.id))) == 1
    assert db.session.scalar(select(func.count(FundTransaction.id)).where(
        FundTransaction.key == services.purchase_key(merchant.id, "A-1"))) == 1
    with pytest.raises(ReceiptConflict):
        services.record_purchase(None, merchant, card.number, 999, "A-1")
    assert ledger.check() == []


def test_cancel_within_24_hours_reverses_the_share(app, db, cards):
    merchant = cards.merchant()
    card = cards.card()
    purchase, _ = services.record_purchase(None, merchant, card.number, 5_000, "R-9")
    db.session.commit()
    with pytest.raises(CardError):
        services.cancel_purchase(None, purchase, now=purchase.created_at + timedelta(hours=25))
    services.cancel_purchase(None, purchase)
    db.session.commit()
    assert purchase.cancelled_at is not None
    with pytest.raises(CardError):
        services.cancel_purchase(None, purchase)
    fund = ledger.find_fund(merchant.comune_id)
    balance = db.session.scalar(select(func.sum(FundTransaction.amount_cents)).where(
        FundTransaction.fund_id == fund.id))
    assert balance == 2 * purchase.fund_share_cents  # the contribution and its reversal
    assert ledger.check() == []
    assert services.household_totals(card)["month"]["given"] == 0


def test_invalid_card_or_receipt_is_refused(app, db, cards):
    merchant = cards.merchant()
    card = cards.card()
    for value, amount, receipt, field in ((card.number[:-1] + "0", 100, "x1", "card"),
                                          (card.number, 0, "x1", "amount"),
                                          (card.number, 100, "", "receipt"),
                                          (card.number, 100, "a" * 41, "receipt"),
                                          (card.number, 100, "scontrino 1", "receipt")):
        if field == "card" and services.number_is_valid(value):
            continue
        with pytest.raises(CardError) as err:
            services.record_purchase(None, merchant, value, amount, receipt)
        assert err.value.field == field
    assert db.session.scalar(select(func.count(Purchase.id))) == 0
