"""Hostile input on every route of the support applications, sent by the people who get past
the authorization (a fund manager of the Comune, the family): the global walk logs in as the
coordinator, whom these pages refuse, so it never reaches their forms. Never a 500."""

from __future__ import annotations

import pytest

from portal.authz import Role
from portal.fund import ledger
from portal.fund.support_models import Tariff
from tests.conftest import login, page_text
from tests.core.test_hostile_input import FORM_NAMES, KINDS, QUERY_NAMES

FIELDS = ["reason", "amount", "income", "assets", "isee", "righe", "calcola", "note",
          "pact_kind", "pact_description", "pact_hours", "pact_due_on", "hours_done",
          "completed", "double_approval", "purge_after_days", "valid_from", "decision",
          "decision_url", "name", "unit", "min_fee", "max_fee", "threshold_low",
          "threshold_high", "comune", "stato", *[f"age_{i}" for i in (1, 2, 15, 16)],
          "disability_1", "pregnant_2", *FORM_NAMES]


@pytest.fixture
def people(db, factory):
    comune = factory.comune("Seveso")
    ledger.post_contribution(ledger.fund_for(comune.id), source="allocation",
                             amount_cents=100_000, key="seed")
    tariff = Tariff(comune_id=comune.id, name="Nido", min_fee_cents=1, max_fee_cents=2,
                    threshold_low_cents=0, threshold_high_cents=1)
    db.session.add(tariff)
    db.session.commit()
    manager = factory.grant(factory.user(), Role.FUND_MANAGER, comune.id)
    family = factory.user()
    factory.household(user=family, comune=comune)
    return comune, manager, family, tariff


def _urls(app, comune, tariff, application_id):
    values = {"application_id": application_id, "slug": comune.slug, "tariff_id": tariff.id}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("fund_support."):
            yield rule, rule.build({k: v for k, v in values.items() if k in rule.arguments},
                                   append_unknown=False)[1]


def test_every_support_route_survives_hostile_input(app, client, db, people):
    comune, manager, family, tariff = people
    login(client, family.email)
    response = client.form("/fondo/domande/nuova", {
        "reason": "Una spesa imprevista per la casa.", "amount": "100", "age_1": "40",
        "isee": "5.000"})
    assert response.status_code == 303, page_text(response)[:500]
    application_id = int(response.headers["Location"].rsplit("/", 1)[1])
    failures = []
    for who in (family, manager):
        client.form("/esci")
        login(client, who.email)
        token = client.csrf()
        for rule, url in _urls(app, comune, tariff, application_id):
            for kind, value in KINDS.items():
                if "GET" in rule.methods:
                    query = {name: value for name in [*QUERY_NAMES, *FIELDS]}
                    for headers in ({}, {"HX-Request": "true"}):
                        code = client.get(url, query_string=query, headers=headers).status_code
                        if code >= 500:
                            failures.append(f"{who.email} GET {url} [{kind}] {code}")
                if "POST" in rule.methods:
                    data = {name: value for name in FIELDS}
                    data["csrf_token"] = token
                    code = client.post(url, data=data).status_code
                    if code >= 500:
                        failures.append(f"{who.email} POST {url} [{kind}] {code}")
            if "POST" in rule.methods:
                for data in ({name: ["1", "x"] for name in FIELDS}, {}):
                    code = client.post(url, data={**data, "csrf_token": token}).status_code
                    if code >= 500:
                        failures.append(f"{who.email} POST {url} [repeated/empty] {code}")
    assert not failures, "\n".join(failures)
    assert ledger.check() == []
