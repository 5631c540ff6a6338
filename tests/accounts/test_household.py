"""Households: creation, members (plain and htmx), invitations, one household per user."""

import re
from datetime import date

import pytest

from portal.accounts.models import Household, HouseholdStatus, User
from tests.conftest import login, page_text

THIS_YEAR = date.today().year


@pytest.fixture
def comune(factory):
    return factory.comune("Seveso", "108040")


def invitation_link(page) -> str:
    return re.search(r"/famiglia/unisciti/[\w-]+", page.get_data(as_text=True)).group(0)


def create(client, comune, **changes):
    data = {"name": "Famiglia Riva", "comune_id": comune.id, "street": "Via Roma",
            "house_number": "12", "birth_year": 1984}
    data.update(changes)
    return client.form("/famiglia/nuova", data)


def test_creating_a_household_needs_a_confirmed_address(client, factory, db, comune):
    user = factory.user(confirmed=False)
    login(client, user.email)
    assert "Conferma prima il tuo indirizzo e-mail" in page_text(client.get("/famiglia/nuova"))
    response = create(client, comune)
    assert response.status_code == 422
    assert "Conferma prima il tuo indirizzo e-mail." in page_text(response)
    assert db.session.scalars(db.select(Household)).all() == []


@pytest.mark.parametrize(("changes", "message"), [
    ({"name": ""}, "Nome del nucleo familiare: Campo obbligatorio."),
    ({"name": "x" * 10_000}, "Deve avere tra 2 e 120 caratteri."),
    ({"comune_id": 0}, "Scegli il Comune di residenza."),
    ({"comune_id": 987654}, "Scegli un Comune della Rete."),
    ({"comune_id": "' OR 1=1 --"}, "Comune di residenza:"),
    ({"birth_year": "abc"}, "Inserisci un numero intero."),
    ({"birth_year": "99999999999999999999"}, f"Indica un anno tra {THIS_YEAR - 120} e"),
    ({"birth_year": 1800}, f"Indica un anno tra {THIS_YEAR - 120} e {THIS_YEAR}."),
    ({"birth_year": ""}, "Il tuo anno di nascita: Campo obbligatorio."),
    ({"street": ""}, "Via o piazza di residenza: Campo obbligatorio."),
    ({"street": "  "}, "Via o piazza di residenza: Campo obbligatorio."),
    ({"street": "x" * 500}, "Deve avere tra 3 e 120 caratteri."),
    ({"street": "12345"}, 'Indica la via o la piazza, per esempio "Via Roma".'),
    ({"street": "Via <b>Roma</b>"}, 'Indica la via o la piazza, per esempio "Via Roma".'),
    ({"house_number": ""}, "Numero civico: Campo obbligatorio."),
    ({"house_number": "dodici"}, 'Indica il numero civico, per esempio "12" o "12/A"'),
    ({"house_number": "١٢"}, 'Indica il numero civico, per esempio "12" o "12/A"'),
    ({"house_number": "1" * 13}, "Numero civico: Può avere al massimo 12 caratteri."),
])
def test_household_form_explains_every_bad_input(client, login_as, db, comune, changes, message):
    login_as()
    response = create(client, comune, **changes)
    assert response.status_code == 422
    assert message in page_text(response)
    assert db.session.scalars(db.select(Household)).all() == []


def test_create_household_then_it_waits_for_verification(client, login_as, db, comune):
    """The creator is its first adult; the Comune has still to verify the residence."""
    user = login_as()
    response = create(client, comune)
    assert response.status_code == 303
    assert response.headers["Location"] == "/famiglia"
    page = page_text(client.get("/famiglia"))
    assert "Famiglia Riva" in page and "Seveso" in page
    assert "In attesa di verifica della residenza da parte del Comune" in page
    db.session.expire_all()
    household = db.session.get(User, user.id).household
    assert household.status == HouseholdStatus.PENDING
    assert [(m.kind, m.birth_year) for m in household.members] == [("adult", 1984)]
    assert (household.street, household.house_number) == ("Via Roma", "12")
    assert "Via Roma 12" in page

    # One user, one household: a second one cannot be created.
    assert client.get("/famiglia/nuova").headers["Location"] == "/famiglia"
    assert create(client, comune, name="Seconda").status_code == 302
    assert db.session.scalar(db.select(db.func.count(Household.id))) == 1


def test_members_are_added_and_removed_as_page_or_htmx_partial(client, login_as, db, comune):
    """Without JavaScript the page reloads (303); with htmx the members partial comes back."""
    user = login_as("family", comune=comune)
    household = db.session.get(User, user.id).household

    response = client.form("/famiglia/componenti", {"first_name": "Pietro", "kind": "child",
                                                   "birth_year": THIS_YEAR - 6})
    assert response.status_code == 303
    assert "Pietro" in page_text(client.get("/famiglia"))

    response = client.form("/famiglia/componenti", {"first_name": "Nonna Rosa", "kind": "adult",
                                                   "birth_year": 1950, "disability": "y"},
                           htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html and 'id="members-section"' in html
    assert "Nonna Rosa" in page_text(response) and "Componente aggiunto." in page_text(response)

    db.session.expire_all()
    household = db.session.get(Household, household.id)
    rosa = next(m for m in household.members if m.first_name == "Nonna Rosa")
    assert rosa.disability
    response = client.form(f"/famiglia/componenti/{rosa.id}/elimina", htmx=True)
    assert response.status_code == 200
    assert "Nonna Rosa" not in page_text(response)
    pietro = next(m for m in household.members if m.first_name == "Pietro")
    response = client.form(f"/famiglia/componenti/{pietro.id}/elimina")
    assert response.status_code == 303
    assert "Componente rimosso." in page_text(client.get("/famiglia"))


@pytest.mark.parametrize(("data", "message"), [
    ({"kind": "child", "birth_year": THIS_YEAR - 30},
     "Un figlio minore deve avere meno di 18 anni."),
    ({"kind": "adult", "birth_year": THIS_YEAR - 5}, "Un adulto deve avere almeno 18 anni."),
    ({"birth_year": 2000}, "Scegli se adulto o figlio minore."),
    ({"kind": "nonno", "birth_year": 1950}, "Tipo di componente:"),
    ({"kind": "child", "birth_year": "dieci"}, "Inserisci un numero intero."),
    ({"kind": "child", "birth_year": 2015, "first_name": "a\x00b"},
     "Il testo contiene caratteri non ammessi."),
])
@pytest.mark.parametrize("htmx", [False, True])
def test_bad_member_gets_422_with_errors(client, login_as, db, comune, data, message, htmx):
    """A bad member comes back as 422: the partial for htmx, the whole page otherwise."""
    login_as("family", comune=comune)
    response = client.form("/famiglia/componenti", data, htmx=htmx)
    assert response.status_code == 422
    assert message in page_text(response)
    assert ("<html" in response.get_data(as_text=True)) is not htmx


def test_the_last_adult_cannot_be_removed(client, login_as, db, comune):
    user = login_as("family", comune=comune)
    household = db.session.get(User, user.id).household
    adult = next(m for m in household.members if m.kind == "adult")
    response = client.form(f"/famiglia/componenti/{adult.id}/elimina", htmx=True)
    assert response.status_code == 422
    assert "Il nucleo deve avere almeno un adulto." in page_text(response)
    response = client.form(f"/famiglia/componenti/{adult.id}/elimina")
    assert response.status_code == 303
    assert "Il nucleo deve avere almeno un adulto." in page_text(client.get("/famiglia"))


def test_members_of_another_household_are_out_of_reach(client, login_as, factory, db, comune):
    other = factory.household(comune=comune)
    login_as("family", comune=comune)
    victim = other.members[1].id
    response = client.form(f"/famiglia/componenti/{victim}/elimina", htmx=True)
    assert response.status_code == 422
    assert "Componente non trovato." in page_text(response)
    db.session.expire_all()
    assert len(db.session.get(Household, other.id).members) == 2


def test_invitation_link_lets_a_relative_join_once(app, client, factory, db, comune):
    """A member makes a link; a relative with an account opens it and joins; it works once."""
    parent = factory.user(name="Luca Riva")
    factory.household(user=parent, comune=comune, name="Famiglia Riva")
    login(client, parent.email)
    page = client.form("/famiglia/invito")
    assert page.status_code == 200
    link = invitation_link(page)

    relative = factory.user(name="Sara Riva")
    browser = app.test_client()
    assert browser.get(link).headers["Location"].startswith("/accedi")
    login(browser, relative.email)
    assert 'Unisciti al nucleo "Famiglia Riva"' in page_text(browser.get(link))
    response = browser.form(link)
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(User, relative.id).household_id == parent.household_id
    assert "Luca Riva" in page_text(browser.get("/famiglia"))

    third = factory.user()
    other = app.test_client()
    login(other, third.email)
    response = other.get(link)
    assert response.status_code == 400
    assert "L'invito non è valido, è scaduto o è già stato usato." in page_text(response)


def test_someone_in_a_household_cannot_join_another(app, client, factory, db, comune):
    parent = factory.user()
    factory.household(user=parent, comune=comune)
    login(client, parent.email)
    link = invitation_link(client.form("/famiglia/invito"))
    busy = factory.user()
    factory.household(user=busy, comune=comune)
    browser = app.test_client()
    login(browser, busy.email)
    assert "Fai già parte di un nucleo" in page_text(browser.get(link))
    browser.form(link)
    assert "Fai già parte di un nucleo familiare" in page_text(browser.get("/famiglia"))
    db.session.expire_all()
    assert db.session.get(User, busy.id).household_id != parent.household_id


def test_the_last_member_leaving_anonymises_the_household(client, factory, db, comune):
    user = factory.user()
    household = factory.household(user=user, comune=comune, name="Famiglia Sironi")
    login(client, user.email)
    response = client.form("/famiglia/esci")
    assert response.status_code == 303
    db.session.expire_all()
    household = db.session.get(Household, household.id)
    assert household.anonymised_at is not None
    assert household.members == [] and "Sironi" not in household.name
    assert client.get("/famiglia").headers["Location"] == "/famiglia/nuova"
