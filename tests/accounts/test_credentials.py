"""Forgotten password, change of password and change of e-mail address."""

import json

from itsdangerous import URLSafeTimedSerializer

from portal.accounts.models import User
from portal.accounts.services import hash_password
from tests.conftest import PASSWORD, link_in, login, outbox, page_text

NEW = "una-nuova-password-77"


def test_reset_link_works_once_and_ends_every_session(app, client, factory, db):
    """The mailed reset link sets a new password, logs out every device, and then stops working."""
    user = factory.user()
    other_device = app.test_client()
    login(other_device, user.email)

    response = client.form("/password-dimenticata", {"email": user.email.upper()})
    assert response.status_code == 303
    assert "Se l'indirizzo ha un account" in page_text(client.get("/accedi"))
    link = link_in(outbox(user.email)[-1], "/reimposta-password/")
    assert client.get(link).status_code == 200

    weak = client.form(link, {"password": "0123456789", "password_confirm": "0123456789"})
    assert weak.status_code == 422
    assert "troppo comune" in page_text(weak)

    response = client.form(link, {"password": NEW, "password_confirm": NEW})
    assert response.status_code == 303
    assert response.headers["Location"] == "/accedi"
    assert other_device.get("/account").status_code == 302
    login(client, user.email, NEW)
    client.form("/esci")
    assert client.form("/accedi", {"email": user.email, "password": PASSWORD}).status_code == 422

    again = client.get(link)
    assert again.status_code == 400
    assert "Il link non è valido o è già stato usato." in page_text(again)
    assert client.form(link, {"password": "ancora-un-altra-9", "password_confirm":
                              "ancora-un-altra-9"}).status_code == 400


def test_a_reset_link_shows_nothing_of_the_password_hash(app, client, factory, db):
    """The link's payload is readable by anyone holding it: no piece of the hash is in it."""
    user = factory.user()
    client.form("/password-dimenticata", {"email": user.email})
    token = link_in(outbox(user.email)[-1], "/reimposta-password/").rsplit("/", 1)[1]
    payload = URLSafeTimedSerializer("any", salt="reset-password").loads_unsafe(token)[1]
    readable = json.dumps(payload)
    hash_ = user.password_hash
    assert not any(hash_[i:i + 8] in readable for i in range(len(hash_) - 7))

    # Once the password changes, whichever way, the link stops working.
    user.password_hash = hash_password("una-terza-password-55")
    db.session.commit()
    assert client.get(link_in(outbox(user.email)[-1], "/reimposta-password/")).status_code == 400


def test_reset_does_not_reveal_unknown_addresses(client, db):
    response = client.form("/password-dimenticata", {"email": "nessuno@example.org"})
    assert response.status_code == 303
    assert outbox() == []


def test_reset_is_rate_limited(client, factory):
    """Five requests a minute; the sixth gets the Italian 429 page."""
    user = factory.user()
    for _ in range(5):
        assert client.form("/password-dimenticata", {"email": user.email}).status_code == 303
    response = client.form("/password-dimenticata", {"email": user.email})
    assert response.status_code == 429
    assert "Troppi tentativi" in page_text(response)
    assert len(outbox(user.email)) == 5


def test_forged_reset_link_gets_400(client):
    response = client.get("/reimposta-password/not-a-real-token")
    assert response.status_code == 400
    assert "Il link non è valido." in page_text(response)


def test_change_password_ends_the_other_sessions(app, client, factory, db):
    """Changing the password keeps this device logged in and logs out every other one."""
    user = factory.user()
    login(client, user.email)
    phone = app.test_client()
    login(phone, user.email)

    wrong = client.form("/account/password", {"current": "non-e-questa", "password": NEW,
                                              "password_confirm": NEW})
    assert wrong.status_code == 422
    assert "La password attuale non è corretta." in page_text(wrong)
    short = client.form("/account/password", {"current": PASSWORD, "password": "breve",
                                              "password_confirm": "breve"})
    assert short.status_code == 422
    assert "La password deve avere almeno 10 caratteri." in page_text(short)
    assert phone.get("/account").status_code == 200

    response = client.form("/account/password", {"current": PASSWORD, "password": NEW,
                                                 "password_confirm": NEW})
    assert response.status_code == 303
    assert client.get("/account").status_code == 200
    assert phone.get("/account").status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash.startswith("$argon2id$")


def test_change_email_takes_effect_once_the_new_address_is_confirmed(app, client, factory, db):
    """The new address gets a link, the old one a warning; only the link changes the address."""
    user = factory.user("vecchio@example.org")
    taken = factory.user("preso@example.org")
    login(client, user.email)

    response = client.form("/account/email", {"email": "nuovo@example.org",
                                              "password": "sbagliata-000"})
    assert response.status_code == 422
    assert "La password non è corretta." in page_text(response)
    response = client.form("/account/email", {"email": taken.email, "password": PASSWORD})
    assert response.status_code == 422
    assert "Questo indirizzo è già usato da un altro account." in page_text(response)

    response = client.form("/account/email", {"email": "Nuovo@Example.org", "password": PASSWORD})
    assert response.status_code == 303
    [warning] = outbox("vecchio@example.org")
    assert "nuovo@example.org" in warning.body
    link = link_in(outbox("nuovo@example.org")[0], "/account/email/conferma/")
    db.session.expire_all()
    assert db.session.get(User, user.id).email == "vecchio@example.org"

    anonymous = app.test_client()
    assert anonymous.get(link).status_code == 200
    response = anonymous.form(link)
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(User, user.id).email == "nuovo@example.org"
    client.form("/esci")
    login(client, "nuovo@example.org")
    assert anonymous.form(link).status_code == 400  # used: the old address no longer matches
    assert anonymous.get(link[:-4] + "XXXX").status_code == 400
