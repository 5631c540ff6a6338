"""Registration and confirmation of the e-mail address."""

import pytest

from portal.accounts.models import User
from tests.conftest import PASSWORD, link_in, outbox, page_text

GOOD = {"name": "Maria Colombo", "email": "maria.colombo@example.org", "password": PASSWORD,
        "password_confirm": PASSWORD, "privacy": "y"}


def register(client, **changes):
    data = {k: v for k, v in dict(GOOD, **changes).items() if v is not None}
    return client.form("/registrati", data)


def users(db):
    return db.session.scalars(db.select(User)).all()


@pytest.mark.parametrize(("changes", "message"), [
    ({"name": ""}, "Nome e cognome: Campo obbligatorio."),
    ({"name": "M"}, "Deve avere tra 2 e 120 caratteri."),
    ({"name": "x" * 10_000}, "Deve avere tra 2 e 120 caratteri."),
    ({"name": "Maria\x00Colombo"}, "Il testo contiene caratteri non ammessi."),
    ({"email": ""}, "Indirizzo e-mail: Campo obbligatorio."),
    ({"email": "' OR 1=1 --"},
     "Inserisci un indirizzo e-mail valido, per esempio nome@esempio.it."),
    ({"email": "m" * 250 + "@example.org"}, "Può avere al massimo 254 caratteri."),
    ({"password": "corta-1", "password_confirm": "corta-1"},
     "La password deve avere almeno 10 caratteri."),
    ({"password": "1234567890", "password_confirm": "1234567890"},
     "Questa password è troppo comune o facile da indovinare"),
    ({"password": "aaaaaaaaaaaa", "password_confirm": "aaaaaaaaaaaa"},
     "Questa password è troppo comune o facile da indovinare"),
    ({"password": "maria.colombo-2026", "password_confirm": "maria.colombo-2026"},
     "La password non deve contenere il tuo indirizzo e-mail."),
    ({"password_confirm": "un-altra-password-99"}, "Le due password non coincidono."),
    ({"privacy": None}, "Per registrarti devi prendere visione dell'informativa."),
])
def test_bad_registration_is_refused_with_an_italian_message(client, db, changes, message):
    """Every bad input gets the form again (422) with a clear Italian message; no account."""
    response = register(client, **changes)
    assert response.status_code == 422
    assert message in page_text(response)
    assert 'role="alert"' in response.get_data(as_text=True)  # the summary atop the form
    assert users(db) == []


def test_registration_mails_a_link_that_confirms_only_after_a_click(client, db):
    """The mailed link shows a button (a mail scanner opening it confirms nothing); POST does."""
    response = register(client, email="Maria.Colombo@Example.org")
    assert response.status_code == 303
    assert response.headers["Location"] == "/registrati/controlla-la-posta"
    assert "Controlla la posta" in client.get(response.headers["Location"]).get_data(as_text=True)

    [user] = users(db)
    assert user.email == "maria.colombo@example.org"
    assert user.password_hash.startswith("$argon2id$")
    assert not user.email_confirmed
    [mail] = outbox("maria.colombo@example.org")
    link = link_in(mail, "/conferma-email/")

    page = client.get(link)
    assert page.status_code == 200
    assert "Conferma" in page.get_data(as_text=True)
    db.session.expire_all()
    assert not db.session.get(User, user.id).email_confirmed

    response = client.form(link)
    assert response.status_code == 303
    assert response.headers["Location"] == "/accedi"
    db.session.expire_all()
    assert db.session.get(User, user.id).email_confirmed
    assert "Indirizzo e-mail confermato" in client.get("/accedi").get_data(as_text=True)


def test_tampered_or_expired_confirmation_link_gets_the_400_page(client, db, app, monkeypatch):
    """A forged or stale link is refused at once with an Italian 400 page; nothing is confirmed."""
    register(client)
    link = link_in(outbox(GOOD["email"])[0], "/conferma-email/")
    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    for method in (client.get, client.form):
        response = method(tampered)
        assert response.status_code == 400
        assert "Il link non è valido." in response.get_data(as_text=True)

    monkeypatch.setitem(app.config, "EMAIL_TOKEN_MAX_AGE", -1)
    response = client.get(link)
    assert response.status_code == 400
    assert "Il link è scaduto: richiedine uno nuovo." in response.get_data(as_text=True)
    assert client.form(link).status_code == 400
    db.session.expire_all()
    assert not users(db)[0].email_confirmed


def test_a_taken_address_is_not_revealed_and_its_owner_is_told(client, db, factory):
    """Registering with a taken address looks like success; the owner gets a mail instead."""
    owner = factory.user("anna@example.org", name="Anna Sala")
    response = register(client, email="ANNA@example.org", name="Qualcun Altro")
    assert response.status_code == 303
    assert response.headers["Location"] == "/registrati/controlla-la-posta"
    assert [u.id for u in users(db)] == [owner.id]
    [mail] = outbox("anna@example.org")
    assert mail.subject == "Tentativo di registrazione con il tuo indirizzo"
    assert "/password-dimenticata" in mail.body

    # A weak password gets the same answer whether the address is taken or not.
    taken = register(client, email="anna@example.org", password="1234567890",
                     password_confirm="1234567890")
    free = register(client, email="nessuno@example.org", password="1234567890",
                    password_confirm="1234567890")
    assert taken.status_code == free.status_code == 422
    assert len(outbox("anna@example.org")) == 1


def test_logged_in_user_is_sent_to_the_account_area(client, login_as):
    """Someone already logged in does not see the registration form."""
    login_as()
    response = client.get("/registrati")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"


def test_resend_confirmation_link(client, db, factory):
    """An unconfirmed user can ask for a new link from the account area."""
    from tests.conftest import login

    user = factory.user(confirmed=False)
    login(client, user.email)
    assert "Non hai ancora confermato" in client.get("/account").get_data(as_text=True)
    response = client.form("/account/reinvia-conferma")
    assert response.status_code == 303
    [mail] = outbox(user.email)
    client.form(link_in(mail, "/conferma-email/"))
    db.session.expire_all()
    assert db.session.get(User, user.id).email_confirmed


def test_registration_is_rate_limited(client, db):
    """Each registration mails someone: after five a minute, the Italian 429 page."""
    for i in range(5):
        assert register(client, email=f"persona{i}@example.org").status_code == 303
    response = register(client, email="persona9@example.org")
    assert response.status_code == 429
    assert "Troppi tentativi" in page_text(response)
    assert len(users(db)) == 5
