"""A Comune's fund managers set its rules, add versions of its profile and its tariffs;
no one else may, and bad input is a 422 that saves nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.authz import Role
from portal.fund.support_models import FattoreProfile, SupportSettings, Tariff
from tests.conftest import page_text


@pytest.fixture
def comune(factory):
    return factory.comune("Seveso")


def _count(db, model):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


PROFILE = {"valid_from": "2026-01-01", "decision": "Delibera G.C. n. 7 del 2026",
           "decision_url": "https://www.comune.seveso.mb.it/delibere/7", "w_child_0_2": "20",
           "w_single_parent": "25"}
TARIFF = {"name": "Asilo nido", "unit": "al mese", "min_fee": "100", "max_fee": "500",
          "threshold_low": "5.000", "threshold_high": "30.000"}


def test_a_manager_configures_the_comune(client, db, login_as, comune):
    login_as(Role.FUND_MANAGER, comune.id)
    base = f"/fondo/gestione/{comune.slug}"
    assert client.get(f"{base}/regole").status_code == 200
    assert client.form(f"{base}/regole", {"double_approval": "800",
                                          "purge_after_days": "180"}).status_code == 303
    assert client.form(f"{base}/profili", PROFILE).status_code == 303
    assert client.form(f"{base}/tariffe", TARIFF).status_code == 303
    db.session.expire_all()
    settings = db.session.get(SupportSettings, comune.id)
    assert settings.double_approval_cents == 80_000 and settings.purge_after_days == 180
    profile = db.session.scalars(select(FattoreProfile)).one()
    assert profile.w_child_0_2 == 20 and profile.w_single_parent == 25
    assert profile.w_pregnancy == 0
    tariff = db.session.scalars(select(Tariff)).one()
    assert (tariff.min_fee_cents, tariff.threshold_high_cents) == (10_000, 3_000_000)
    text = page_text(client.get(f"/fondo/fattore-famiglia?comune={comune.slug}"))
    assert "Delibera G.C. n. 7 del 2026" in text and "Asilo nido" in text
    # the same day twice: refused; tariffs can be removed
    response = client.form(f"{base}/profili", PROFILE)
    assert response.status_code == 422 and "Esiste già un profilo" in page_text(response)
    assert client.form(f"{base}/tariffe/{tariff.id}/elimina").status_code == 303
    assert _count(db, Tariff) == 0


@pytest.mark.parametrize(("path", "data", "message"), [
    ("regole", {"double_approval": "-1", "purge_after_days": "30"}, "negativo"),
    ("regole", {"double_approval": "500", "purge_after_days": "0"}, "tra 1 e 3650"),
    ("regole", {"double_approval": "500", "purge_after_days": "x"}, "numero intero"),
    ("profili", {**PROFILE, "valid_from": "2026-02-30"}, "data valida"),
    ("profili", {**PROFILE, "decision": ""}, "Campo obbligatorio."),
    ("profili", {**PROFILE, "decision_url": "javascript:alert(1)"}, "https://"),
    ("profili", {**PROFILE, "w_child_0_2": "301"}, "da 0 a 300"),
    ("profili", {**PROFILE, "w_pregnancy": "-4"}, "da 0 a 300"),
    ("tariffe", {**TARIFF, "max_fee": "50"}, "minore della minima"),
    ("tariffe", {**TARIFF, "threshold_high": "5.000"}, "superare la soglia bassa"),
    ("tariffe", {**TARIFF, "name": ""}, "Campo obbligatorio."),
    ("tariffe", {**TARIFF, "min_fee": "1e3"}, "Scrivi un importo"),
])
def test_bad_settings_are_a_422_and_save_nothing(client, db, login_as, comune, path, data,
                                                 message):
    login_as(Role.FUND_MANAGER, comune.id)
    response = client.form(f"/fondo/gestione/{comune.slug}/{path}", data)
    assert response.status_code == 422
    assert message in page_text(response)
    assert _count(db, SupportSettings) == _count(db, FattoreProfile) == _count(db, Tariff) == 0


def test_only_the_comune_managers_configure_it(client, db, factory, login_as, comune):
    other = factory.comune("Giussano")
    for role, scope in ((Role.FUND_MANAGER, other.id), (Role.COMUNE_OFFICER, comune.id),
                        (Role.MERCHANT_OPERATOR, 1), (None, 0)):
        client.form("/esci")
        login_as(role, scope)
        base = f"/fondo/gestione/{comune.slug}"
        assert client.get(f"{base}/regole").status_code == 403
        assert client.form(f"{base}/tariffe", TARIFF).status_code == 403
    assert _count(db, Tariff) == 0
