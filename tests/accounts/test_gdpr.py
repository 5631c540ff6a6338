"""GDPR: a user downloads their data and deletes their account."""

import json

from portal.accounts.models import Household, User
from portal.core.models import AuditLog
from tests.conftest import PASSWORD, login, page_text


def test_export_is_a_json_download_of_everything_about_me(client, factory, db):
    user = factory.user("laura@example.org", name="Laura Mauri")
    household = factory.household(user=user, name="Famiglia Mauri", members=3)
    household.street, household.house_number = "Via Cavour", "7/B"
    db.session.commit()
    login(client, user.email)
    response = client.get("/account/dati.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.get_data(as_text=True))
    assert data["account"]["email"] == "laura@example.org"
    assert data["account"]["name"] == "Laura Mauri"
    assert data["household"]["name"] == "Famiglia Mauri"
    assert len(data["household"]["members"]) == 3
    assert (data["household"]["street"], data["household"]["house_number"]) == ("Via Cavour",
                                                                               "7/B")
    assert len(data["sessions"]) == 1


def test_delete_needs_the_password_and_the_checkbox(client, factory, db):
    user = factory.user()
    login(client, user.email)
    response = client.form("/account/elimina", {"password": "sbagliata-12", "confirm": "y"})
    assert response.status_code == 422
    assert "La password non è corretta." in page_text(response)
    response = client.form("/account/elimina", {"password": PASSWORD})
    assert response.status_code == 422
    assert "Conferma di voler cancellare l'account." in page_text(response)
    db.session.expire_all()
    assert db.session.get(User, user.id).deleted_at is None


def test_deleted_account_is_anonymised_and_cannot_log_in(app, client, factory, db):
    """Name and address go; the last member leaving anonymises the household; login fails."""
    user = factory.user("paolo@example.org", name="Paolo Crippa")
    household = factory.household(user=user, name="Famiglia Crippa")
    household.street, household.house_number = "Via Cavour", "7/B"
    db.session.commit()
    login(client, user.email)
    response = client.form("/account/elimina", {"password": PASSWORD, "confirm": "y"})
    assert response.status_code == 303
    assert "Il tuo account è stato cancellato." in page_text(client.get("/"))
    assert client.get("/account").status_code == 302

    db.session.expire_all()
    gone = db.session.get(User, user.id)
    assert gone.deleted_at is not None
    assert "paolo" not in gone.email and "Crippa" not in gone.name
    household = db.session.get(Household, household.id)
    assert household.anonymised_at is not None and "Crippa" not in household.name
    assert household.street is None and household.house_number is None
    assert household.members == []
    assert db.session.scalar(db.select(AuditLog.id).where(AuditLog.action == "user.deleted"))

    response = app.test_client().form("/accedi", {"email": "paolo@example.org",
                                                  "password": PASSWORD})
    assert response.status_code == 422


def test_household_stays_while_another_member_remains(app, client, factory, db):
    first, second = factory.user(), factory.user()
    household = factory.household(user=first, name="Famiglia Motta")
    second.household_id = household.id
    db.session.commit()
    login(client, first.email)
    client.form("/account/elimina", {"password": PASSWORD, "confirm": "y"})
    db.session.expire_all()
    household = db.session.get(Household, household.id)
    assert household.anonymised_at is None and household.name == "Famiglia Motta"
    assert [u.id for u in household.users] == [second.id]
