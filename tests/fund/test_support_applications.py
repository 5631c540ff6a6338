"""Support applications: who applies, who sees them, the ranking, the two-manager rule, the
pact, the payment through the ledger (once), a fund without money, the purge."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from portal.authz import Role
from portal.core.models import AuditLog
from portal.db_setup import utcnow
from portal.fund import ledger
from portal.fund import support_services as services
from portal.fund.models import FundTransaction
from portal.fund.support_models import (
    ApplicationApproval,
    Pact,
    SupportApplication,
    SupportSettings,
)
from tests.conftest import PASSWORD, page_text
from tests.conftest import login as _login

APPLY = "/fondo/domande/nuova"
FORM = {"reason": "Abbiamo perso il lavoro e non riusciamo a pagare l'affitto.",
        "amount": "400", "age_1": "40", "age_2": "38", "age_3": "6", "income": "12.000",
        "assets": "5.000"}
PACT = {"amount": "400", "pact_kind": "lab_hours",
        "pact_description": "4 ore al mese al laboratorio di comunità", "pact_hours": "12"}


@pytest.fixture
def place(db, factory):
    """Seveso with a fund of 2,000 €, two fund managers; a family applying."""
    comune = factory.comune("Seveso")
    fund = ledger.fund_for(comune.id)
    ledger.post_contribution(fund, source="allocation", amount_cents=200_000, key="seed:1")
    db.session.commit()
    managers = [factory.grant(factory.user(name=f"Responsabile {i}"), Role.FUND_MANAGER,
                              comune.id) for i in (1, 2)]
    family = factory.user(name="Giulia Brambilla")
    factory.household(user=family, comune=comune, name="Famiglia Brambilla")
    return {"comune": comune, "fund": fund, "managers": managers, "family": family}


def _apply(client, place, **changes):
    login(client, place["family"].email)
    response = client.form(APPLY, {**FORM, **changes})
    assert response.status_code == 303, page_text(response)[:2000]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def login(client, email):
    """Log in as `email`, whoever was logged in before."""
    client.form("/esci")
    _login(client, email)


def _count(db, model=SupportApplication):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


# --------------------------------------------------------------------------- applying


def test_a_verified_family_applies_and_sees_its_fattore(client, db, place):
    app_id = _apply(client, place)
    db.session.expire_all()
    item = db.session.get(SupportApplication, app_id)
    assert item.status == "submitted" and item.amount_requested_cents == 40_000
    # 3 members 2.04, no weights: (12,000 + 1,000) / 2.04 = 6,372.549 → 6,372.55 €
    assert item.indicator_cents == 637_255 and item.scale_hundredths == 204
    login(client, place["family"].email)
    text = page_text(client.get(f"/fondo/domande/{app_id}"))
    assert "6.372,55 €" in text and "Abbiamo perso il lavoro" in text
    assert db.session.scalar(select(AuditLog.id).where(
        AuditLog.action == "fund.application_submitted", AuditLog.object_id == app_id))


def test_an_unverified_household_cannot_apply(client, db, factory, place):
    user = factory.user()
    factory.household(user=user, comune=place["comune"], verified=False)
    login(client, user.email)
    response = client.form(APPLY, FORM)
    assert response.status_code == 303 and _count(db) == 0
    assert "verificare la residenza" in page_text(client.get("/fondo/domande"))


def test_a_user_without_household_cannot_apply(client, db, login_as, place):
    login_as()
    assert client.form(APPLY, FORM).status_code == 303
    assert _count(db) == 0


def test_an_unconfirmed_address_cannot_apply(client, db, factory, place):
    user = factory.user(confirmed=False)
    factory.household(user=user, comune=place["comune"])
    login(client, user.email)
    assert client.form(APPLY, FORM).status_code == 403
    assert _count(db) == 0


@pytest.mark.parametrize(("changes", "message"), [
    ({"reason": ""}, "Campo obbligatorio."),
    ({"reason": "x" * 4001}, "tra 10 e 4000 caratteri"),
    ({"amount": ""}, "Campo obbligatorio."),
    ({"amount": "0"}, "maggiore di zero"),
    ({"amount": "20.000"}, "troppo alto"),
    ({"amount": "12,345"}, "Al massimo due cifre decimali"),
    ({"age_1": "", "age_2": "", "age_3": ""}, "Indica almeno un componente"),
    ({"age_2": "abc"}, "Inserisci un numero intero."),
    ({"age_2": "999"}, "L'età va da 0 a 120 anni."),
    ({"income": "", "assets": ""}, "oppure l'ISEE"),
    ({"isee": "9.000"}, "non entrambi"),
    ({"pregnant_7": "y"}, "Indica l'età di questo componente."),
])
def test_bad_input_on_the_application_is_a_422_and_saves_nothing(client, db, place, changes,
                                                                  message):
    login(client, place["family"].email)
    response = client.form(APPLY, {**FORM, **changes})
    assert response.status_code == 422
    assert message in page_text(response)
    assert _count(db) == 0


def test_htmx_and_plain_get_of_the_form(client, place):
    login(client, place["family"].email)
    response = client.get(APPLY)
    assert response.status_code == 200 and 'name="age_5"' in response.get_data(as_text=True)
    assert 'name="age_15"' in client.get(APPLY + "?righe=15").get_data(as_text=True)


# --------------------------------------------------------------------------- who sees it


def test_only_the_household_and_its_comune_managers_see_an_application(
        client, db, factory, place):
    app_id = _apply(client, place)
    url = f"/fondo/domande/{app_id}"
    other_comune = factory.comune("Giussano")
    refused = {
        "another household": factory.household(user=factory.user(), comune=place["comune"]),
        "another Comune's manager": factory.grant(factory.user(), Role.FUND_MANAGER,
                                                  other_comune.id),
        "a merchant operator": factory.grant(factory.user(), Role.MERCHANT_OPERATOR, 1),
        "the Comune's officer": factory.grant(factory.user(), Role.COMUNE_OFFICER,
                                              place["comune"].id),
        "the coordinator": factory.grant(factory.user(), Role.COORDINATOR, 0),
        "a plain user": factory.user(),
    }
    for who, thing in refused.items():
        user = thing.users[0] if hasattr(thing, "users") else thing
        login(client, user.email)
        assert client.get(url).status_code in (403, 404), who
        assert client.form(f"{url}/approva", PACT).status_code in (403, 404), who
        assert "Abbiamo perso" not in page_text(client.get("/fondo/gestione/domande")), who
    client.form("/esci")
    assert client.get(url).status_code in (302, 303)  # anonymous: to the login page
    # a member of the same household, and a manager of its Comune, do see it
    member = factory.user()
    member.household_id = place["family"].household_id
    db.session.commit()
    for user in (member, place["managers"][0]):
        login(client, user.email)
        assert "Abbiamo perso il lavoro" in page_text(client.get(url))


def test_managers_see_the_applications_ranked_by_fattore(client, db, factory, place):
    richer = _apply(client, place, income="60.000")
    poorer_user = factory.user()
    factory.household(user=poorer_user, comune=place["comune"])
    login(client, poorer_user.email)
    poorer = int(client.form(APPLY, {**FORM, "income": "3.000", "assets": "0"})
                 .headers["Location"].rsplit("/", 1)[1])
    login(client, place["managers"][0].email)
    body = client.get("/fondo/gestione/domande").get_data(as_text=True)
    assert body.index(f"/fondo/domande/{poorer}\"") < body.index(f"/fondo/domande/{richer}\"")


# --------------------------------------------------------------------------- deciding


def _approve(client, manager, app_id, data=None):
    login(client, manager.email)
    return client.form(f"/fondo/domande/{app_id}/approva", data if data is not None else PACT)


def test_below_the_threshold_one_manager_approves_and_the_payment_is_posted(client, db,
                                                                          place):
    app_id = _apply(client, place)
    response = _approve(client, place["managers"][0], app_id)
    assert response.status_code == 303
    db.session.expire_all()
    item = db.session.get(SupportApplication, app_id)
    assert item.status == "paid" and item.amount_granted_cents == 40_000
    assert item.pact.status == "agreed" and item.pact.hours == 12
    tx = db.session.get(FundTransaction, item.payment_transaction_id)
    assert tx.key == f"application:{app_id}:payment" and tx.amount_cents == 40_000
    assert "Brambilla" not in tx.memo and "Brambilla" not in (tx.ref or "")
    assert ledger.check() == []


def test_above_the_threshold_two_different_managers_must_approve(client, db, place):
    db.session.add(SupportSettings(comune_id=place["comune"].id, double_approval_cents=30_000))
    db.session.commit()
    app_id = _apply(client, place)
    first, second = place["managers"]
    assert _approve(client, first, app_id).status_code == 303
    db.session.expire_all()
    item = db.session.get(SupportApplication, app_id)
    assert item.status == "under_review" and item.pact.status == "proposed"
    assert item.payment_transaction_id is None
    # the same manager again is refused, nothing changes
    response = _approve(client, first, app_id, {})
    assert response.status_code == 422
    assert "altro responsabile" in page_text(response)
    assert _count(db, ApplicationApproval) == 1
    # a different manager confirms: approved, pact agreed, paid
    assert _approve(client, second, app_id, {}).status_code == 303
    db.session.expire_all()
    item = db.session.get(SupportApplication, app_id)
    assert item.status == "paid" and item.pact.status == "agreed"
    assert {a.manager_id for a in item.approvals} == {first.id, second.id}


def test_the_payment_is_posted_once_however_often_it_is_asked(client, db, place):
    app_id = _apply(client, place)
    _approve(client, place["managers"][0], app_id)
    for manager in place["managers"]:
        login(client, manager.email)
        client.form(f"/fondo/domande/{app_id}/eroga")
        client.form(f"/fondo/domande/{app_id}/approva", PACT)
    db.session.expire_all()
    item = db.session.get(SupportApplication, app_id)
    assert services.pay(item, place["managers"][0]).id == item.payment_transaction_id
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(FundTransaction).where(
        FundTransaction.ref == f"application:{app_id}")) == 1
    assert db.session.scalar(select(func.count()).select_from(ApplicationApproval)) == 1
    assert ledger.check() == []


def test_a_fund_without_money_leaves_the_application_approved_unpaid(client, db, place):
    app_id = _apply(client, place, amount="3.000")
    db.session.add(SupportSettings(comune_id=place["comune"].id, double_approval_cents=500_000))
    db.session.commit()
    response = _approve(client, place["managers"][0], app_id, {**PACT, "amount": "3.000"})
    assert response.status_code == 303
    text = page_text(client.get(response.headers["Location"]))
    assert "non ha abbastanza disponibilità" in text
    db.session.expire_all()
    item = db.session.get(SupportApplication, app_id)
    assert item.status == "approved" and item.payment_transaction_id is None
    # paying again is refused with the same message, the application unchanged
    response = client.form(f"/fondo/domande/{app_id}/eroga")
    assert response.status_code == 422 and "non ha abbastanza disponibilità" in page_text(
        response)
    # once money comes in, the manager pays
    ledger.post_contribution(place["fund"], source="donation", amount_cents=200_000,
                             key="seed:2")
    db.session.commit()
    assert client.form(f"/fondo/domande/{app_id}/eroga").status_code == 303
    db.session.expire_all()
    assert db.session.get(SupportApplication, app_id).status == "paid"
    assert ledger.check() == []


@pytest.mark.parametrize(("data", "message"), [
    ({**PACT, "amount": ""}, "Campo obbligatorio."),
    ({**PACT, "amount": "500"}, "quanto chiesto"),
    ({**PACT, "amount": "-1"}, "negativo"),
    ({**PACT, "pact_kind": "soldi"}, "Scelta non valida."),
    ({**PACT, "pact_description": ""}, "Campo obbligatorio."),
    ({**PACT, "pact_hours": "5000"}, "tra 1 e 1000"),
    ({**PACT, "pact_due_on": "31/02/2026"}, "data valida"),
])
def test_bad_approvals_are_a_422_and_save_nothing(client, db, place, data, message):
    app_id = _apply(client, place)
    response = _approve(client, place["managers"][0], app_id, data)
    assert response.status_code == 422
    assert message in page_text(response)
    db.session.expire_all()
    assert db.session.get(SupportApplication, app_id).status == "submitted"
    assert _count(db, ApplicationApproval) == 0 and _count(db, Pact) == 0


def test_rejection_needs_a_reason_and_tells_the_family(client, db, place):
    app_id = _apply(client, place)
    login(client, place["managers"][0].email)
    response = client.form(f"/fondo/domande/{app_id}/respingi", {"note": ""})
    assert response.status_code == 422 and "Campo obbligatorio." in page_text(response)
    assert client.form(f"/fondo/domande/{app_id}/respingi",
                       {"note": "Il fondo sostiene solo spese per i figli."}).status_code == 303
    db.session.expire_all()
    assert db.session.get(SupportApplication, app_id).status == "rejected"
    login(client, place["family"].email)
    assert "solo spese per i figli" in page_text(client.get(f"/fondo/domande/{app_id}"))


def test_the_pact_is_tracked_to_completion(client, db, place):
    app_id = _apply(client, place)
    _approve(client, place["managers"][0], app_id)
    url = f"/fondo/domande/{app_id}/patto"
    assert client.form(url, {"hours_done": "2000"}).status_code == 422
    assert client.form(url, {"hours_done": "6"}).status_code == 303
    assert client.form(url, {"hours_done": "12", "completed": "y"}).status_code == 303
    db.session.expire_all()
    item = db.session.get(SupportApplication, app_id)
    assert item.status == "closed" and item.pact.status == "completed"
    assert item.pact.hours_done == 12 and item.closed_at is not None
    assert client.form(url, {"hours_done": "1"}).status_code == 422


# --------------------------------------------------------------------------- privacy


def test_purge_drops_personal_data_of_ended_applications_and_keeps_the_accounts(
        app, client, db, place):
    closed = _apply(client, place)
    _approve(client, place["managers"][0], closed)
    login(client, place["managers"][0].email)
    client.form(f"/fondo/domande/{closed}/patto", {"hours_done": "12", "completed": "y"})
    open_one = _apply(client, place)
    db.session.add(SupportSettings(comune_id=place["comune"].id, purge_after_days=30))
    db.session.commit()

    assert services.purge_applications() == 0  # closed today: kept for 30 days
    later = utcnow() + timedelta(days=31)
    assert services.purge_applications(later) == 1
    assert services.purge_applications(later) == 0  # twice: nothing more
    db.session.commit()
    db.session.expire_all()
    item = db.session.get(SupportApplication, closed)
    assert item.reason is None and item.members is None and item.income_cents is None
    assert item.indicator_cents is None and item.pact.description is None
    assert item.amount_granted_cents == 40_000 and item.paid_at is not None
    assert item.purged_at is not None
    assert db.session.get(SupportApplication, open_one).reason is not None
    login(client, place["family"].email)
    text = page_text(client.get(f"/fondo/domande/{closed}"))
    assert "sono stati cancellati" in text and "Abbiamo perso" not in text


def test_the_purge_command_is_safe_to_run_twice(app, db, place):
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["fund", "purge-applications"])
        assert result.exit_code == 0, result.output
        assert "0 domande" in result.output
    assert isinstance(runner, CliRunner)


def test_the_family_exports_and_deleting_the_last_account_erases_its_data(client, db, place):
    app_id = _apply(client, place)
    login(client, place["family"].email)
    data = json.loads(client.get("/account/dati.json").get_data(as_text=True))
    assert data["support_applications"][0]["reason"].startswith("Abbiamo perso")
    assert data["support_applications"][0]["members"][2]["age"] == 6
    assert client.form("/account/elimina", {"password": PASSWORD,
                                            "confirm": "y"}).status_code == 303
    db.session.expire_all()
    item = db.session.get(SupportApplication, app_id)
    assert item.household_id is None and item.applicant_id is None
    assert item.reason is None and item.members is None and item.status == "rejected"
    assert item.amount_requested_cents == 40_000


def test_two_managers_approving_at_once_pay_once(app, client, db, place):
    """On PostgreSQL two managers pressing Approva together are served one after the other:
    one approval, one payment, the other told the application has moved on; never a 500."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises whole writes")
    from concurrent.futures import ThreadPoolExecutor

    app_id = _apply(client, place)
    clients = []
    for manager in place["managers"]:
        other = app.test_client()
        _login(other, manager.email)
        clients.append((other, other.csrf()))

    def press(pair):
        other, token = pair
        return other.post(f"/fondo/domande/{app_id}/approva",
                          data={**PACT, "csrf_token": token}).status_code

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(press, clients))
    assert codes == [303, 422]
    db.session.expire_all()
    assert _count(db, ApplicationApproval) == 1
    assert db.session.scalar(select(func.count()).select_from(FundTransaction).where(
        FundTransaction.ref == f"application:{app_id}")) == 1
    assert ledger.check() == []
