"""The fund's pages: public accounts without names, the managers' forms, who may use them."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal.authz import Role
from portal.core.models import AuditLog
from portal.fund.ledger import check, fund_for, post_contribution, post_grant
from portal.fund.models import FundCampaign, FundDonation, FundTransaction
from portal.proposals.models import ProposalState
from tests.conftest import page_text
from tests.proposals.helpers import make_proposal

KEY_RE = re.compile(r'name="key" type="hidden" value="([^"]+)"|'
                    r'type="hidden" name="key" value="([^"]+)"|id="key" name="key" '
                    r'type="hidden" value="([^"]+)"')


def _key(html: str) -> str:
    match = re.search(r'<input[^>]*name="key"[^>]*>', html)
    assert match, "no idempotency key on the page"
    return re.search(r'value="([^"]+)"', match.group(0)).group(1)


@pytest.fixture
def seveso(factory):
    return factory.comune("Seveso")


@pytest.fixture
def manager(login_as, seveso):
    return login_as(Role.FUND_MANAGER, seveso.id)


def _count(db, model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def test_public_page_shows_balance_totals_and_hides_small_counts_and_names(client, db, seveso):
    fund = fund_for(seveso.id)
    post_contribution(fund, source="card", amount_cents=150_000, key="c1", memo="Acquisti")
    post_grant(fund, amount_cents=20_000, key="g1", memo="Famiglia Rossi", ref="application:1")
    post_grant(fund, amount_cents=10_000, key="g2", memo="Famiglia Bianchi", ref="application:2")
    db.session.commit()
    response = client.get(f"/fondo/{seveso.slug}")
    assert response.status_code == 200
    text = page_text(response)
    assert "1.200,00 €" in text
    assert "meno di 3" in text
    assert "Rossi" not in text and "Bianchi" not in text
    csv_text = client.get(f"/fondo/{seveso.slug}/movimenti.csv").get_data(as_text=True)
    lines = csv_text.strip().splitlines()
    assert lines[0] == "data,tipo,categoria,importo_euro,descrizione"
    assert len(lines) == 4 and "1500.00" in lines[1] and "-200.00" in lines[2]
    assert "Rossi" not in csv_text and "Bianchi" not in csv_text
    post_grant(fund, amount_cents=1_000, key="g3", ref="application:3")
    db.session.commit()
    assert "meno di 3" not in page_text(client.get(f"/fondo/{seveso.slug}"))


def test_index_lists_funds_in_use_and_the_rete(client, db, factory, seveso):
    assert "Nessun Comune ha ancora movimenti" in page_text(client.get("/fondo"))
    post_contribution(fund_for(seveso.id), source="card", amount_cents=4_200, key="c")
    db.session.commit()
    response = client.get("/fondo")
    assert response.status_code == 200
    assert "Seveso 42,00 €" in page_text(response)
    assert client.get("/fondo?pagina=2").status_code == 404
    assert client.get("/fondo?pagina=abc").status_code == 404
    assert client.get("/fondo/rete").status_code == 301
    assert client.get("/fondo/nessuno").status_code == 404
    assert client.get("/fondo/nessuno/movimenti.csv").status_code == 404


def test_manager_records_a_donation_once_even_if_sent_twice(client, db, seveso, manager):
    page = client.get(f"/fondo/{seveso.slug}/gestione")
    assert page.status_code == 200
    key = _key(page.get_data(as_text=True))
    data = {"amount": "250,50", "donor_name": "Maria Verdi", "memo": "Per il doposcuola",
            "key": key}
    first = client.form(f"/fondo/{seveso.slug}/gestione/donazione", data)
    assert first.status_code == 303
    again = client.form(f"/fondo/{seveso.slug}/gestione/donazione", data)
    assert again.status_code == 303
    assert _count(db, FundTransaction) == 1
    assert db.session.scalar(select(FundDonation.donor_name)) == "Maria Verdi"
    assert db.session.scalar(select(func.count(AuditLog.id)).where(
        AuditLog.action == "fund.donation")) == 1
    # the same key with another amount: a conflict, nothing written
    conflict = client.form(f"/fondo/{seveso.slug}/gestione/donazione",
                           dict(data, amount="300"))
    assert conflict.status_code == 409
    assert "già stata registrata con dati diversi" in page_text(conflict)
    assert _count(db, FundTransaction) == 1
    # the donor's name: on the manager's page, never on the public one
    assert "Maria Verdi" in page_text(client.get(f"/fondo/{seveso.slug}/gestione"))
    assert "Maria Verdi" not in client.get(f"/fondo/{seveso.slug}").get_data(as_text=True)
    assert "Maria Verdi" not in client.get(
        f"/fondo/{seveso.slug}/movimenti.csv").get_data(as_text=True)
    assert check() == []


@pytest.mark.parametrize(("data", "message"), [
    ({"amount": ""}, "Indica l'importo in euro."),
    ({"amount": "abc"}, "Scrivi un importo in euro"),
    ({"amount": "0"}, "L'importo deve essere maggiore di zero."),
    ({"amount": "-5"}, "L'importo non può essere negativo."),
    ({"amount": "1e9"}, "Scrivi un importo in euro"),
    ({"amount": "10", "key": "x"}, "Il modulo è scaduto"),
    ({"amount": "10", "campaign": "999"}, "Scegli una raccolta fondi aperta"),
    ({"amount": "10", "memo": "x" * 301}, "al massimo 300 caratteri"),
])
def test_bad_donations_answer_422_in_italian_and_save_nothing(client, db, seveso, manager,
                                                               data, message):
    key = _key(client.get(f"/fondo/{seveso.slug}/gestione").get_data(as_text=True))
    response = client.form(f"/fondo/{seveso.slug}/gestione/donazione",
                           dict({"key": key}, **data))
    assert response.status_code == 422
    assert message in page_text(response)
    assert _count(db, FundTransaction) == 0


def test_allocation_and_reversal_with_a_reason(client, db, seveso, manager):
    key = _key(client.get(f"/fondo/{seveso.slug}/gestione").get_data(as_text=True))
    assert client.form(f"/fondo/{seveso.slug}/gestione/stanziamento",
                       {"amount": "1.000", "memo": "Delibera 12/2026", "key": key}
                       ).status_code == 303
    tx = db.session.scalar(select(FundTransaction))
    url = f"/fondo/{seveso.slug}/gestione/movimenti/{tx.id}"
    page = client.get(url)
    assert page.status_code == 200
    rkey = _key(page.get_data(as_text=True))
    short = client.form(url, {"reason": "no", "key": rkey})
    assert short.status_code == 422
    assert client.form(url, {"reason": "Importo sbagliato", "key": rkey}).status_code == 303
    assert _count(db, FundTransaction) == 2
    assert "è stato stornato" in page_text(client.get(url))
    # a second reversal with a fresh key is refused
    again = client.form(url, {"reason": "Ancora una volta", "key": "a" * 32})
    assert again.status_code == 422
    assert "già stato stornato" in page_text(again)
    assert db.session.scalar(select(func.count(AuditLog.id)).where(
        AuditLog.action == "fund.reversal")) == 1
    assert check() == []


def test_reversing_money_already_spent_is_refused(client, db, seveso, manager):
    fund = fund_for(seveso.id)
    money_in = post_contribution(fund, source="allocation", amount_cents=1_000, key="a")
    post_grant(fund, amount_cents=800, key="g")
    db.session.commit()
    url = f"/fondo/{seveso.slug}/gestione/movimenti/{money_in.id}"
    response = client.form(url, {"reason": "Stanziamento revocato", "key": "b" * 32})
    assert response.status_code == 422
    assert "disponibilità sufficiente" in page_text(response)
    assert _count(db, FundTransaction) == 2


def test_campaign_for_an_approved_project_with_linked_donations(client, db, factory, seveso,
                                                                manager):
    approved = make_proposal(factory, comune=seveso, state=ProposalState.APPROVED,
                             title="Ludoteca di quartiere")
    draft = make_proposal(factory, comune=seveso, title="Bozza")
    page = client.get(f"/fondo/{seveso.slug}/gestione").get_data(as_text=True)
    assert "Ludoteca di quartiere" in page
    refused = client.form(f"/fondo/{seveso.slug}/gestione/raccolta", {
        "proposal_id": str(draft.id), "title": "Raccolta", "target": "5.000",
        "opens_on": "2026-01-01"})
    assert refused.status_code == 422
    assert client.form(f"/fondo/{seveso.slug}/gestione/raccolta", {
        "proposal_id": str(approved.id), "title": "Una ludoteca per tutti", "target": "5.000",
        "opens_on": "01/01/2026"}).status_code == 303
    campaign = db.session.scalar(select(FundCampaign))
    key = _key(client.get(f"/fondo/{seveso.slug}/gestione").get_data(as_text=True))
    assert client.form(f"/fondo/{seveso.slug}/gestione/donazione", {
        "amount": "1.250", "campaign": str(campaign.id), "key": key}).status_code == 303
    db.session.expire_all()
    campaign = db.session.get(FundCampaign, campaign.id)
    assert (campaign.raised_cents, campaign.donations, campaign.percent) == (125_000, 1, 25)
    text = page_text(FundPage(client, seveso))
    assert "Una ludoteca per tutti" in text and "1.250,00 € raccolti su 5.000,00 € (25%)" in text
    assert check() == []


def FundPage(client, comune):  # noqa: N802 - reads like the page it fetches
    return client.get(f"/fondo/{comune.slug}")


@pytest.mark.parametrize("who", ["other_manager", "family", "merchant", "officer", "anonymous"])
def test_others_may_not_manage_the_fund(client, db, factory, login_as, seveso, who):
    """Another Comune's manager, a household, a merchant, an officer: refused."""
    other = factory.comune("Giussano")
    if who == "other_manager":
        login_as(Role.FUND_MANAGER, other.id)
    elif who == "family":
        login_as("family", comune=seveso)
    elif who == "merchant":
        login_as(Role.MERCHANT_OPERATOR, 1)
    elif who == "officer":
        login_as(Role.COMUNE_OFFICER, seveso.id)
    fund = fund_for(seveso.id)
    tx = post_contribution(fund, source="card", amount_cents=500, key="c")
    db.session.commit()
    base = f"/fondo/{seveso.slug}/gestione"
    expected = (302,) if who == "anonymous" else (403,)
    assert client.get(base).status_code in expected
    assert client.get(f"{base}/movimenti/{tx.id}").status_code in expected
    for path, data in [("/donazione", {"amount": "10", "key": "c" * 32}),
                       ("/stanziamento", {"amount": "10", "key": "d" * 32}),
                       (f"/movimenti/{tx.id}", {"reason": "Non autorizzato", "key": "e" * 32})]:
        response = client.form(base + path, data)
        assert response.status_code in (*expected, 400), (path, response.status_code)
    assert _count(db, FundTransaction) == 1
    # and the Rete's fund only for the coordinator
    assert client.get("/fondo/rete/gestione").status_code in expected


def test_coordinator_manages_the_rete_fund_and_a_manager_sees_the_panel(client, db, login_as,
                                                                         seveso, factory):
    login_as(Role.COORDINATOR, 0)
    page = client.get("/fondo/rete/gestione")
    assert page.status_code == 200
    key = _key(page.get_data(as_text=True))
    assert client.form("/fondo/rete/gestione/donazione", {"amount": "50", "key": key}
                       ).status_code == 303
    assert fund_for(None).id == db.session.scalar(select(FundTransaction.fund_id))


def test_a_movement_of_another_fund_is_404(client, db, factory, seveso, manager):
    other = fund_for(factory.comune("Giussano").id)
    tx = post_contribution(other, source="card", amount_cents=500, key="c")
    db.session.commit()
    assert client.get(f"/fondo/{seveso.slug}/gestione/movimenti/{tx.id}").status_code == 404


def test_a_manager_finds_the_fund_on_the_dashboard_and_the_comune_page(client, db, seveso,
                                                                        manager):
    text = page_text(client.get("/account"))
    assert "Fondi solidali che gestisco" in text and "Fondo di Seveso" in text
    post_contribution(fund_for(seveso.id), source="card", amount_cents=1_000, key="c")
    db.session.commit()
    comune_page = page_text(client.get(f"/comuni/{seveso.slug}"))
    assert "Il fondo solidale" in comune_page and "Disponibile: 10,00 €" in comune_page
