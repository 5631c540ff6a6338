"""Builders for the card tests: an approved merchant with an offer, a household's card."""

from __future__ import annotations

from datetime import date

import pytest

from portal.card import services
from portal.card.models import Merchant, MerchantStatus, Offer
from portal.extensions import db as _db


class CardFactory:
    def __init__(self, factory):
        self.factory = factory

    def merchant(self, comune=None, discount_bp: int = 1000, share_bp: int = 150,
                 name: str = "Bottega"):
        comune = comune or self.factory.comune()
        merchant = Merchant(name=name, comune_id=comune.id, address="Via Roma 1",
                            category="Alimentari", status=MerchantStatus.APPROVED)
        _db.session.add(merchant)
        _db.session.flush()
        _db.session.add(Offer(merchant_id=merchant.id, title="Sconto famiglie",
                              discount_bp=discount_bp, fund_share_bp=share_bp,
                              valid_from=date(2020, 1, 1)))
        _db.session.commit()
        return merchant

    def card(self, user=None, comune=None):
        household = self.factory.household(user=user, comune=comune)
        card = services.issue_card(household)
        _db.session.commit()
        return card


@pytest.fixture
def cards(factory) -> CardFactory:
    return CardFactory(factory)
