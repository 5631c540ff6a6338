"""Builders for the GAF tests: a group with its coordinator household, suppliers, products
and an open round, made through the services and committed so that requests see them."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from portal.db_setup import utcnow
from portal.extensions import db as _db


class Gaf:
    def __init__(self, app, factory):
        self.app = app
        self.factory = factory

    def group(self, comune=None, share_bp: int = 200, name: str = "GAF Seveso"):
        from portal.gaf import services
        from portal.gaf.models import GafGroup

        comune = comune or self.factory.comune("Seveso", "108040")
        coordinator = self.factory.user(name="Carla Coordinatrice")
        household = self.factory.household(user=coordinator, comune=comune,
                                           name="Famiglia Coordinatori")
        group = GafGroup(comune_id=comune.id, name=name, coordinator_household_id=household.id,
                         collection_point="Oratorio San Carlo, via Roma 3",
                         opening_times="Sabato 9-12", fund_share_bp=share_bp)
        _db.session.add(group)
        _db.session.flush()
        services.join(group, household, 20_000)
        bread = services.save_supplier(group, None, name="Forno Brianza", town="Seveso",
                                       patto="Farine locali, prezzi fissi per un anno.")
        cheese = services.save_supplier(group, None, name="Caseificio del Lambro",
                                        town="Carate Brianza", patto="Latte di stalle vicine.")
        loaf = services.save_product(bread, None, name="Pane integrale", unit="pagnotta",
                                     price_cents=350, min_qty=1, multiple=1, max_qty=10)
        eggs = services.save_product(bread, None, name="Uova", unit="uovo", price_cents=45,
                                     min_qty=6, multiple=6, max_qty=60)
        taleggio = services.save_product(cheese, None, name="Taleggio", unit="etto",
                                         price_cents=199, min_qty=2, multiple=1, max_qty=20)
        now = utcnow()
        round_ = services.create_round(group, now - timedelta(days=1), now + timedelta(days=3),
                                       (now + timedelta(days=6)).date())
        _db.session.commit()
        return SimpleNamespace(comune=comune, group=group, coordinator=coordinator,
                               household=household, bread=bread, cheese=cheese, loaf=loaf,
                               eggs=eggs, taleggio=taleggio, round=round_)

    def member(self, group, comune, commitment: int = 10_000, name: str | None = None,
               users: int = 1):
        from portal.gaf import services

        first = self.factory.user()
        household = self.factory.household(user=first, comune=comune, name=name)
        others = []
        for _i in range(users - 1):
            user = self.factory.user()
            user.household_id = household.id
            others.append(user)
        services.join(group, household, commitment)
        _db.session.commit()
        return SimpleNamespace(household=household, user=first, users=[first, *others])


@pytest.fixture
def gaf(app, factory):
    return Gaf(app, factory)


@pytest.fixture
def g(gaf):
    """A group in Seveso, two suppliers, three products, an open round."""
    return gaf.group()
