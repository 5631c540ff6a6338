"""Logging in and out: messages, session rotation, server-side logout, rate limits."""

from portal.accounts.models import LoginSession, User
from tests.conftest import PASSWORD, login, page_text

COOKIE = "rete_session"


def cookie(client) -> str | None:
    found = client.get_cookie(COOKIE)
    return found.value if found else None


def test_wrong_password_or_unknown_address_get_the_same_italian_message(client, factory):
    """Neither a wrong password nor an unknown address reveals which one was wrong."""
    user = factory.user()
    for email, password in ((user.email, "password-sbagliata"), ("nessuno@example.org", PASSWORD)):
        response = client.form("/accedi", {"email": email, "password": password})
        assert response.status_code == 422
        assert "E-mail o password non corretti." in page_text(response)
    assert client.get("/account").status_code == 302


def test_empty_login_form_names_the_missing_fields(client):
    response = client.form("/accedi", {"email": "", "password": ""})
    assert response.status_code == 422
    text = page_text(response)
    assert "Indirizzo e-mail: Campo obbligatorio." in text
    assert "Password: Campo obbligatorio." in text


def test_login_rotates_the_session_and_follows_a_local_next(client, factory, db):
    """Nothing of the anonymous session survives the login; `next` is followed when local."""
    user = factory.user(email="Giulia@Example.org")
    client.get("/accedi")
    before = cookie(client)
    assert before
    response = client.form("/accedi?next=/famiglia", {"email": "giulia@example.org",
                                                      "password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["Location"] == "/famiglia"
    after = cookie(client)
    assert after and after != before
    assert "Benvenuto, " in page_text(client.get("/account"))
    assert db.session.scalar(db.select(db.func.count(LoginSession.id)).where(
        LoginSession.user_id == user.id)) == 1

    client.form("/esci")
    response = client.form("/accedi?next=https://evil.example/", {"email": user.email,
                                                                 "password": PASSWORD})
    assert response.headers["Location"] == "/account"


def test_logout_ends_the_session_on_the_server(client, factory, db):
    """After logging out, replaying the old session cookie gives an anonymous visitor."""
    user = factory.user()
    login(client, user.email)
    stolen = cookie(client)
    assert client.get("/account").status_code == 200
    response = client.form("/esci")
    assert response.status_code == 303
    assert "Sei uscito dal portale." in page_text(client.get("/"))
    assert db.session.scalar(db.select(db.func.count(LoginSession.id))) == 0

    client.set_cookie(COOKIE, stolen)
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/accedi")


def test_passwords_are_stored_as_argon2id(factory, db):
    user = factory.user()
    stored = db.session.get(User, user.id).password_hash
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_login_is_rate_limited_with_an_italian_429_page(client, factory):
    """After ten attempts in a minute the eleventh gets 429 and a clear Italian page."""
    user = factory.user()
    for _ in range(10):
        response = client.form("/accedi", {"email": user.email, "password": "sbagliata-123"})
        assert response.status_code == 422
    response = client.form("/accedi", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 429
    text = page_text(response)
    assert "Troppi tentativi" in text
    assert "Attendi qualche minuto e riprova." in text
    assert client.get("/accedi").status_code == 200  # reading the form is not limited


def test_failures_on_one_account_from_many_addresses_are_limited(client, factory):
    """Eleven wrong passwords for one account, each from another address: the next try is
    refused even with the right password; another account is not touched."""
    target, bystander = factory.user(), factory.user()
    for n in range(11):
        client.form("/accedi", {"email": target.email, "password": "sbagliata-123"},
                    environ_base={"REMOTE_ADDR": f"203.0.113.{n}"})
    right = client.form("/accedi", {"email": target.email.upper(), "password": PASSWORD},
                        environ_base={"REMOTE_ADDR": "198.51.100.1"})
    assert right.status_code == 429
    assert "Troppi tentativi" in page_text(right)
    other = client.form("/accedi", {"email": bystander.email, "password": PASSWORD},
                        environ_base={"REMOTE_ADDR": "198.51.100.2"})
    assert other.status_code == 303


def test_successful_logins_do_not_count_against_the_account(app, factory):
    user = factory.user()
    for n in range(12):
        device = app.test_client()
        response = device.form("/accedi", {"email": user.email, "password": PASSWORD},
                               environ_base={"REMOTE_ADDR": f"203.0.113.{n}"})
        assert response.status_code == 303


def test_deleted_or_unconfirmed_accounts(client, factory, db):
    """An unconfirmed user may log in (and is asked to confirm); a deleted one may not."""
    from portal.db_setup import utcnow

    fresh = factory.user(confirmed=False)
    login(client, fresh.email)
    assert "Non hai ancora confermato" in page_text(client.get("/account"))
    client.form("/esci")

    gone = factory.user()
    gone.deleted_at = utcnow()
    db.session.commit()
    response = client.form("/accedi", {"email": gone.email, "password": PASSWORD})
    assert response.status_code == 422


def test_a_login_expires_after_login_session_days(client, factory, db):
    """A device stays logged in for LOGIN_SESSION_DAYS; then it must log in again."""
    from datetime import timedelta

    from portal.db_setup import utcnow

    user = factory.user()
    login(client, user.email)
    assert client.get("/account").status_code == 200
    db.session.execute(db.update(LoginSession).values(created_at=utcnow() - timedelta(days=31)))
    db.session.commit()
    assert client.get("/account").status_code == 302


def test_the_limiter_works_only_where_a_limit_applies(client, factory):
    """A login attempt counts and says how many are left; reading the page or posting to
    an endpoint without a limit does not touch the limiter at all."""
    user = factory.user()
    attempt = client.form("/accedi", {"email": user.email, "password": "sbagliata-123"})
    assert attempt.status_code == 422
    assert attempt.headers["X-RateLimit-Remaining"] == "9"
    again = client.form("/accedi", {"email": user.email, "password": "sbagliata-123"})
    assert again.headers["X-RateLimit-Remaining"] == "8"
    page = client.get("/accedi")
    assert page.status_code == 200 and "X-RateLimit-Limit" not in page.headers
    unlimited = client.form("/esci", {})
    assert "X-RateLimit-Limit" not in unlimited.headers
