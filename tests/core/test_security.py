"""Security baseline: error pages, limits, cookies, headers, CSRF, the append-only audit log."""

import re

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from portal import authz, create_app
from portal.config import DEV_SECRET
from portal.core.models import AuditLog
from portal.core.services import audit
from portal.extensions import db as _db
from tests.conftest import login, outbox, page_text

ERROR_PAGES = {
    400: "Richiesta non valida",
    403: "Accesso non consentito",
    404: "Pagina non trovata",
    405: "Operazione non consentita",
    413: "File o modulo troppo grande",
    429: "Troppi tentativi",
    500: "Errore del portale",
}


def assert_italian_error(response, code: int) -> None:
    assert response.status_code == code
    text = page_text(response)
    assert ERROR_PAGES[code] in text and f"Errore {code}" in text
    html = response.get_data(as_text=True)
    assert '<html lang="it">' in html
    assert "Traceback" not in html and "File \"" not in html


def test_italian_error_pages(client, login_as):
    """400 (no CSRF token), 403, 404 and 405 are Italian pages of the portal."""
    assert_italian_error(client.post("/aderisci", data={"comune_name": "Meda"}), 400)
    assert_italian_error(client.get("/questa-pagina-non-esiste"), 404)
    assert_italian_error(client.get("/esci"), 405)
    login_as()
    assert_italian_error(client.get("/rete/adesioni"), 403)


def test_oversized_request_gets_413(client):
    """A body over 10 MB, or a form field over 1 MB, gets the Italian 413 page."""
    body = b"message=" + b"x" * (10 * 1024 * 1024 + 1)
    too_big = client.post("/aderisci", data=body,
                          content_type="application/x-www-form-urlencoded")
    assert_italian_error(too_big, 413)
    big_field = client.form("/aderisci", {"message": "x" * (1024 * 1024 + 10)},
                            content_type="multipart/form-data")
    assert_italian_error(big_field, 413)


def test_rate_limit_page(client, factory):
    user = factory.user()
    for _ in range(10):
        client.form("/accedi", {"email": user.email, "password": "sbagliata-1234"})
    response = client.form("/accedi", {"email": user.email, "password": "sbagliata-1234"})
    assert_italian_error(response, 429)


def test_unexpected_error_is_a_500_page_without_traceback(fresh_app):
    """A crash in a view gives the Italian 500 page: no trace, no exception text."""
    fresh = fresh_app(TESTING=False)

    @fresh.get("/esplode")
    @authz.public
    def explode():
        raise RuntimeError("segreto interno: password=hunter2")

    response = fresh.test_client().get("/esplode")
    assert_italian_error(response, 500)
    assert "hunter2" not in response.get_data(as_text=True)
    assert "RuntimeError" not in response.get_data(as_text=True)


def test_500_survives_a_broken_error_page(fresh_app, monkeypatch):
    """Even when the error page cannot be rendered, the answer is a plain page, not a trace."""
    fresh = fresh_app(TESTING=False)

    @fresh.get("/esplode")
    @authz.public
    def explode():
        raise RuntimeError("segreto")

    def broken(*args, **kwargs):
        raise RuntimeError("template rotto")

    monkeypatch.setattr("portal.security.render_template", broken)
    response = fresh.test_client().get("/esplode")
    assert response.status_code == 500
    assert "Errore del portale" in response.get_data(as_text=True)
    assert "template rotto" not in response.get_data(as_text=True)


def closed(app):
    """Close an app's database connections (the test is done with it)."""
    with app.app_context():
        _db.engine.dispose()
    return app


def test_the_development_secret_is_refused_outside_debug(backend):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": backend.url, "SECRET_KEY": DEV_SECRET,
                    "DEBUG": False, "TESTING": False})
    assert closed(create_app({"SQLALCHEMY_DATABASE_URI": backend.url, "SECRET_KEY": DEV_SECRET,
                              "DEBUG": True})).debug


def test_production_sends_hsts_and_secure_cookies(backend, monkeypatch):
    """Outside debug: HSTS on every answer and the session cookie only over HTTPS."""
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.delenv("PORTAL_INSECURE_COOKIES", raising=False)
    production = create_app({"SQLALCHEMY_DATABASE_URI": backend.url, "SECRET_KEY": "s3cret",
                             "BASE_URL": "https://localhost"})
    assert not production.debug and not production.testing
    response = production.test_client().get("/accedi", base_url="https://localhost")
    closed(production)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie

    monkeypatch.setenv("FLASK_DEBUG", "1")
    debug = create_app({"SQLALCHEMY_DATABASE_URI": backend.url})
    response = debug.test_client().get("/accedi")
    closed(debug)
    assert "Strict-Transport-Security" not in response.headers
    assert "Secure" not in response.headers["Set-Cookie"]


def test_session_cookie_is_httponly_and_samesite_lax(client, factory):
    user = factory.user()
    response = client.form("/accedi", {"email": user.email, "password": "una-password-sicura-42"})
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("rete_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_csrf_token_is_required_and_accepted_from_the_htmx_header(client, factory):
    """A POST without token gets 400; htmx sends it as X-CSRFToken and is accepted."""
    user = factory.user()
    login(client, user.email)
    refused = client.post("/account/notifiche/lette", headers={"HX-Request": "true"})
    assert_italian_error(refused, 400)
    accepted = client.form("/account/notifiche/lette", htmx=True)
    assert accepted.status_code == 303
    wrong = client.post("/account/notifiche/lette", headers={"X-CSRFToken": "falso"})
    assert wrong.status_code == 400


def test_every_answer_has_the_security_headers_and_vary(client):
    for path in ("/", "/comuni", "/nessuna-pagina", "/static/js/portal.js"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "HX-Request" in response.headers["Vary"]


@pytest.mark.parametrize("before", [None, "Accept-Language", "Cookie, hx-request"])
def test_vary_names_htmx_once_beside_what_the_view_set(fresh_app, before):
    app = fresh_app()

    @app.get("/varia")
    @authz.public
    def varies():
        return "ok", 200, ({"Vary": before} if before else {})

    vary = ", ".join(app.test_client().get("/varia").headers.getlist("Vary"))
    names = [name.strip().lower() for name in vary.split(",")]
    assert names.count("hx-request") == 1
    assert {name.strip().lower() for name in (before or "").split(",") if name} <= set(names)


def test_a_signed_in_answer_varies_on_htmx_and_the_cookie(client, factory):
    login(client, factory.user().email)
    vary = client.get("/account").headers["Vary"]
    # Accept-Encoding: answers are compressed (portal/assets.py)
    assert sorted(name.strip() for name in vary.split(",")) == [
        "Accept-Encoding", "Cookie", "HX-Request"]


@pytest.mark.parametrize("path", ["/comuni/%00", "/comuni?provincia=%00", "/?q=a%00b",
                                  "/lingua/%00"])
def test_nul_bytes_in_urls_are_a_400(client, path):
    assert_italian_error(client.get(path), 400)


def test_audit_log_is_append_only_in_the_database(app, db, factory):
    """Raw SQL cannot rewrite or delete the audit log: the database itself refuses."""
    someone, other = factory.user(), factory.user()
    audit("test.action", someone, {"n": 1}, actor=someone)
    db.session.commit()
    entry_id = db.session.scalar(db.select(AuditLog.id))
    for statement in (
        "UPDATE audit_log SET action = 'riscritto'",
        "UPDATE audit_log SET details = '{}'",
        f"UPDATE audit_log SET actor_id = {int(other.id)}",  # noqa: S608
        "DELETE FROM audit_log",
    ):
        with pytest.raises(DBAPIError):
            with db.engine.begin() as conn:
                conn.execute(text(statement))
    # The one change the database makes itself: the actor's reference may become NULL.
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor_id = NULL"))
    db.session.expire_all()
    entry = db.session.get(AuditLog, entry_id)
    assert (entry.action, entry.details, entry.actor_id) == ("test.action", {"n": 1}, None)

    entry.action = "via ORM"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()


def test_outside_debug_the_app_refuses_to_start_without_base_url(backend, monkeypatch):
    monkeypatch.delenv("BASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="BASE_URL"):
        create_app({"SQLALCHEMY_DATABASE_URI": backend.url, "SECRET_KEY": "s3cret",
                    "DEBUG": False, "TESTING": False})
    with pytest.raises(RuntimeError, match="BASE_URL"):  # a scheme and a host, nothing else
        create_app({"SQLALCHEMY_DATABASE_URI": backend.url, "SECRET_KEY": "s3cret",
                    "BASE_URL": "rete.example.it/portale"})
    monkeypatch.delenv("PORT", raising=False)
    debug = closed(create_app({"SQLALCHEMY_DATABASE_URI": backend.url, "DEBUG": True}))
    assert debug.config["BASE_URL"] == "http://127.0.0.1:5000"
    assert set(debug.config["TRUSTED_HOSTS"]) == {"127.0.0.1", "localhost"}


def test_a_request_naming_another_host_is_refused(fresh_app):
    production = fresh_app(TESTING=False, BASE_URL="https://rete.example.it")
    client = production.test_client()
    assert client.get("/accedi", base_url="https://rete.example.it").status_code == 200
    assert client.get("/accedi", base_url="https://evil.example").status_code == 400


RESET_LINK = re.compile(r"https?://([^/\s]+)/reimposta-password/\S+")


@pytest.mark.parametrize("headers", [{"Host": "evil.example"},
                                     {"X-Forwarded-Host": "evil.example"}])
def test_a_reset_link_is_on_base_url_whatever_host_the_request_names(fresh_app, factory, db,
                                                                      headers):
    """A reset asked for through another host never mails a link to that host: the host is
    refused, or ignored (X-Forwarded-Host is not trusted by default)."""
    portal = fresh_app(BASE_URL="https://rete.example.it", PROXY_COUNT=1,
                       TRUSTED_HOSTS=["localhost", "rete.example.it"])
    user = factory.user()
    response = portal.test_client().form("/password-dimenticata", {"email": user.email},
                                         headers=headers)
    assert response.status_code in (303, 400)
    db.session.expire_all()
    hosts = [m.group(1) for m in map(RESET_LINK.search, (m.body for m in outbox(user.email)))
             if m]
    assert "evil.example" not in " ".join(m.body for m in outbox(user.email))
    assert hosts == ([] if "Host" in headers else ["rete.example.it"])


def test_x_forwarded_host_is_trusted_only_when_configured(fresh_app, factory):
    user = factory.user()
    trusting = fresh_app(PROXY_COUNT=1, PROXY_TRUST_HOST=True)
    response = trusting.test_client().form("/password-dimenticata", {"email": user.email},
                                           headers={"X-Forwarded-Host": "evil.example"})
    assert response.status_code == 400  # read, then refused: not a trusted host
    assert outbox(user.email) == []


def test_behind_a_proxy_the_visitor_address_is_logged(fresh_app, factory, db):
    """With PROXY_COUNT set, the audit log records X-Forwarded-For, not the proxy's address."""
    behind = fresh_app(PROXY_COUNT=1)
    user = factory.user()
    client = behind.test_client()
    response = client.form("/accedi", {"email": user.email, "password": "una-password-sicura-42"},
                           headers={"X-Forwarded-For": "203.0.113.7"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.scalar(db.select(AuditLog.ip).where(AuditLog.action == "user.login")) \
        == "203.0.113.7"


# --------------------------------------------------------------------------- session and CSRF

COOKIE = "rete_session"


def _signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def test_a_session_cookie_altered_or_signed_with_another_secret_is_no_session(app, client,
                                                                               factory):
    from flask.sessions import SecureCookieSessionInterface
    from itsdangerous import URLSafeTimedSerializer

    login(client, factory.user().email)
    cookie = client.get_cookie(COOKIE).value
    data = SecureCookieSessionInterface().get_signing_serializer(app).loads(cookie)
    forged = URLSafeTimedSerializer("un-altro-segreto", salt="cookie-session",
                                    signer_kwargs={"key_derivation": "hmac"})
    for value in (forged.dumps(data), cookie[:-2] + "xx"):
        visitor = app.test_client()
        visitor.set_cookie(COOKIE, value)
        assert not _signed_in(visitor)
    assert _signed_in(client)


def test_after_a_key_rotation_old_cookies_open_only_where_the_old_key_is_a_fallback(
        fresh_app, factory):
    before = fresh_app(SECRET_KEY="il-segreto-di-prima")
    client = before.test_client()
    with before.app_context():
        email = factory.user().email
    login(client, email)
    cookie = client.get_cookie(COOKIE).value
    rotated = fresh_app(SECRET_KEY="il-segreto-di-adesso",
                        SECRET_KEY_FALLBACKS=["il-segreto-di-prima"])
    replaced = fresh_app(SECRET_KEY="il-segreto-di-adesso")
    for app, opens in ((rotated, True), (replaced, False)):
        visitor = app.test_client()
        visitor.set_cookie(COOKIE, cookie)
        assert _signed_in(visitor) is opens


def test_a_forged_csrf_token_is_refused(app, client, factory):
    """A token of another secret, of another session or altered gets the portal's 400 page;
    the page's own token passes."""
    from itsdangerous import URLSafeTimedSerializer

    login(client, factory.user().email)
    good = client.csrf()
    refused = [
        URLSafeTimedSerializer("un-altro-segreto", salt="wtf-csrf-token").dumps("a" * 40),
        URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps("a" * 40),
        good[:-3] + ("abc" if not good.endswith("abc") else "xyz"),
        "",
    ]
    for token in refused:
        response = client.post("/account/notifiche/lette", headers={"X-CSRFToken": token})
        assert_italian_error(response, 400)
    assert client.post("/account/notifiche/lette", data={"csrf_token": good}).status_code == 303
