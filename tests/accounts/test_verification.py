"""The residence verification queue of a Comune officer."""

import pytest

from portal.accounts.models import Household, HouseholdStatus
from portal.authz import Role
from portal.core.models import AuditLog, Notification
from tests.conftest import login, outbox, page_text


@pytest.fixture
def places(factory):
    return factory.comune("Seveso", "108040"), factory.comune("Giussano", "108024")


@pytest.fixture
def family(factory, places):
    user = factory.user(name="Giulia Brambilla")
    household = factory.household(user=user, comune=places[0], verified=False,
                                  name="Famiglia Brambilla")
    return user, household


def test_officer_sees_only_the_pending_households_of_their_comune(client, login_as, factory,
                                                                  places, family):
    seveso, giussano = places
    factory.household(comune=giussano, verified=False, name="Famiglia Meroni")
    factory.household(comune=seveso, verified=True, name="Famiglia Gia Verificata")
    login_as(Role.COMUNE_OFFICER, seveso.id)
    text = page_text(client.get("/comune/verifiche"))
    assert "Famiglia Brambilla" in text
    assert "Giulia Brambilla" in text
    assert "Famiglia Meroni" not in text
    assert "Famiglia Gia Verificata" not in text


def test_the_queue_shows_what_the_anagrafe_is_checked_for(app, client, login_as, factory, db,
                                                         places):
    """The officer reads the address the household declared when it was created and each
    member's name and year of birth; another Comune's officer does not see them."""
    seveso, giussano = places
    user = factory.user(name="Giulia Brambilla")
    family_client = app.test_client()
    login(family_client, user.email)
    response = family_client.form("/famiglia/nuova", {
        "name": "Famiglia Brambilla", "comune_id": seveso.id, "street": "Via  Cavour ",
        "house_number": "7/B", "birth_year": 1986})
    assert response.status_code == 303
    family_client.form("/famiglia/componenti", {"first_name": "Tommaso", "kind": "child",
                                                "birth_year": 2016})
    family_client.form("/famiglia/componenti", {"kind": "child", "birth_year": 2019})

    login_as(Role.COMUNE_OFFICER, seveso.id)
    text = page_text(client.get("/comune/verifiche"))
    assert "Indirizzo dichiarato: Via Cavour 7/B, Seveso" in text
    assert "3 componenti:" in text
    for line in ("Giulia Brambilla, nato/a nel 1986 (adulto)",
                 "Tommaso, nato/a nel 2016 (figlio minore)",
                 "nome non indicato, nato/a nel 2019 (figlio minore)"):
        assert line in text, line

    other = app.test_client()
    login(other, factory.grant(factory.user(), Role.COMUNE_OFFICER, giussano.id).email)
    assert "Via Cavour" not in page_text(other.get("/comune/verifiche"))


def test_a_household_from_before_the_address_says_it_has_none(client, login_as, places, family):
    login_as(Role.COMUNE_OFFICER, places[0].id)
    text = page_text(client.get("/comune/verifiche"))
    assert "Indirizzo dichiarato: non indicato (nucleo creato prima che fosse chiesto)" in text
    assert "2 componenti:" in text


def test_coordinator_sees_every_comune(client, login_as, factory, places, family):
    factory.household(comune=places[1], verified=False, name="Famiglia Meroni")
    login_as(Role.COORDINATOR)
    text = page_text(client.get("/comune/verifiche"))
    assert "Famiglia Brambilla" in text and "Famiglia Meroni" in text


def test_verifying_records_who_and_when_and_tells_the_family(app, client, login_as, db,
                                                              places, family):
    """The household becomes verified, with the officer and time; its members are notified."""
    user, household = family
    officer = login_as(Role.COMUNE_OFFICER, places[0].id)
    response = client.form(f"/comune/verifiche/{household.id}", {"decision": "verify"})
    assert response.status_code == 303
    assert 'Residenza del nucleo "Famiglia Brambilla" verificata.' in page_text(
        client.get("/comune/verifiche"))
    db.session.expire_all()
    household = db.session.get(Household, household.id)
    assert household.status == HouseholdStatus.VERIFIED and household.is_verified
    assert household.verified_by_id == officer.id and household.verified_at is not None
    assert db.session.scalar(db.select(AuditLog.action).where(
        AuditLog.object_type == "household")) == "household.verified"

    [note] = db.session.scalars(db.select(Notification).where(Notification.user_id == user.id))
    assert note.kind == "household.verified" and "Famiglia Brambilla" in note.title
    [mail] = outbox(user.email)
    # the subject names the household; the body says only what it adds
    assert "Famiglia Brambilla" in mail.subject
    assert mail.body.startswith("Ora potete votare") and "Famiglia Brambilla" not in mail.body

    family_client = app.test_client()
    login(family_client, user.email)
    assert "Residenza verificata dal Comune" in page_text(family_client.get("/famiglia"))
    assert "Famiglia Brambilla" in page_text(family_client.get("/account/notifiche"))


def test_rejecting_needs_a_reason_that_the_family_reads(app, client, login_as, db, places, family):
    user, household = family
    login_as(Role.COMUNE_OFFICER, places[0].id)
    response = client.form(f"/comune/verifiche/{household.id}", {"decision": "reject"})
    assert response.status_code == 422
    assert "Indica il motivo per cui la residenza non è verificata." in page_text(response)
    response = client.form(f"/comune/verifiche/{household.id}", {"decision": "boh"})
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(Household, household.id).status == HouseholdStatus.PENDING

    response = client.form(f"/comune/verifiche/{household.id}", {
        "decision": "reject", "note": "Non risulta residente all'anagrafe di Seveso."})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Household, household.id).status == HouseholdStatus.REJECTED
    assert "Non risulta residente" in outbox(user.email)[0].body
    family_client = app.test_client()
    login(family_client, user.email)
    text = page_text(family_client.get("/famiglia"))
    assert "Residenza non verificata" in text and "Non risulta residente" in text


def test_review_by_htmx_returns_the_row(client, login_as, places, family):
    _user, household = family
    login_as(Role.COMUNE_OFFICER, places[0].id)
    response = client.form(f"/comune/verifiche/{household.id}", {"decision": "reject"}, htmx=True)
    assert response.status_code == 422
    assert "<html" not in response.get_data(as_text=True)
    assert "Indica il motivo" in page_text(response)
    response = client.form(f"/comune/verifiche/{household.id}", {"decision": "verify"}, htmx=True)
    assert response.status_code == 200
    assert 'Residenza del nucleo "Famiglia Brambilla" verificata.' in page_text(response)


def test_officer_of_another_comune_gets_403(client, login_as, db, places, family):
    _user, household = family
    login_as(Role.COMUNE_OFFICER, places[1].id)
    response = client.form(f"/comune/verifiche/{household.id}", {"decision": "verify"})
    assert response.status_code == 403
    assert "Accesso non consentito" in page_text(response)
    db.session.expire_all()
    assert db.session.get(Household, household.id).status == HouseholdStatus.PENDING


def test_people_without_the_role_cannot_see_the_queue(client, login_as, places, family):
    login_as("family", comune=places[0])
    assert client.get("/comune/verifiche").status_code == 403
    assert client.form(f"/comune/verifiche/{family[1].id}", {"decision": "verify"}
                       ).status_code == 403


def test_unknown_household_is_404(client, login_as, places):
    login_as(Role.COMUNE_OFFICER, places[0].id)
    assert client.form("/comune/verifiche/999999", {"decision": "verify"}).status_code == 404


def test_a_household_declares_or_corrects_its_address_until_it_is_verified(
        app, client, login_as, factory, db, places, family):
    """A household created before the address was asked declares it; one the Comune could not
    verify corrects it and goes back to the queue; a verified residence stays as checked."""
    user, household = family
    login(client, user.email)
    assert "Registra l'indirizzo" in page_text(client.get("/famiglia"))
    response = client.form("/famiglia/indirizzo", {"street": "Via Cavour", "house_number": "x"})
    assert response.status_code == 422
    assert 'Indica il numero civico, per esempio "12" o "12/A"' in page_text(response)
    db.session.expire_all()
    assert db.session.get(Household, household.id).street is None

    household = db.session.get(Household, household.id)
    household.status = HouseholdStatus.REJECTED
    household.review_note = "Numero civico inesistente."
    db.session.commit()
    response = client.form("/famiglia/indirizzo", {"street": "Via Cavour", "house_number": "7"})
    assert response.status_code == 303
    assert "Indirizzo registrato" in page_text(client.get("/famiglia"))
    db.session.expire_all()
    household = db.session.get(Household, household.id)
    assert (household.street, household.house_number, household.status) == (
        "Via Cavour", "7", HouseholdStatus.PENDING)

    household.status = HouseholdStatus.VERIFIED
    db.session.commit()
    assert "Registra l'indirizzo" not in page_text(client.get("/famiglia"))
    response = client.form("/famiglia/indirizzo", {"street": "Via Roma", "house_number": "1"})
    assert response.status_code == 422
    assert "La residenza è già verificata" in page_text(response)
    db.session.expire_all()
    assert db.session.get(Household, household.id).street == "Via Cavour"


def test_only_a_member_declares_the_address(client, login_as, family):
    login_as()  # no household
    assert client.form("/famiglia/indirizzo", {"street": "Via Roma",
                                               "house_number": "1"}).status_code == 404
