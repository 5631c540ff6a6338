"""The session cookie and the CSRF check keep Flask's and Flask-WTF's formats and rules while
their serialisers are kept (portal/signing.py): cookies and tokens signed by the stock code
are read, ours are read by it, and nothing signed with another secret passes."""

from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from tests.conftest import login

COOKIE = "rete_session"


def _signed_in(client) -> bool:
    response = client.get("/account")
    return response.status_code == 200


def _stock(app) -> URLSafeTimedSerializer:
    """Flask's own session serialiser, as built on every request without the portal's."""
    return SecureCookieSessionInterface().get_signing_serializer(app)


def test_the_session_cookie_is_flasks_own_both_ways(app, client, factory):
    user = factory.user()
    login(client, user.email)
    client.csrf()  # a page with a form puts the CSRF secret in the session
    ours = client.get_cookie(COOKIE).value
    data = _stock(app).loads(ours)  # Flask reads the portal's cookie
    assert data["csrf_token"]

    # A cookie Flask signed with the same content opens the same session here.
    other = app.test_client()
    other.set_cookie(COOKIE, _stock(app).dumps(data))
    assert _signed_in(other)


def test_a_cookie_altered_or_signed_with_another_secret_is_no_session(app, client, factory):
    user = factory.user()
    login(client, user.email)
    data = _stock(app).loads(client.get_cookie(COOKIE).value)
    forged = URLSafeTimedSerializer("un-altro-segreto", salt="cookie-session",
                                    signer_kwargs={"key_derivation": "hmac"})
    for value in (forged.dumps(data), client.get_cookie(COOKIE).value[:-2] + "xx"):
        visitor = app.test_client()
        visitor.set_cookie(COOKIE, value)
        assert not _signed_in(visitor)
    assert _signed_in(client)


def test_after_a_key_rotation_the_old_cookies_open_only_where_the_old_key_is_a_fallback(
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


def test_a_csrf_token_is_checked_as_flask_wtf_checks_it(app, client, factory):
    """Tokens signed as Flask-WTF signs them pass; one of another secret, of another session or
    altered is refused with the portal's 400 page, and nothing is done."""
    user = factory.user()
    login(client, user.email)
    client.csrf()
    raw = _stock(app).loads(client.get_cookie(COOKIE).value)["csrf_token"]
    good = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)
    refused = [
        URLSafeTimedSerializer("un-altro-segreto", salt="wtf-csrf-token").dumps(raw),
        URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps("a" * 40),
        good[:-3] + "abc",
        "",
    ]
    for token in refused:
        response = client.post("/account/notifiche/lette", headers={"X-CSRFToken": token})
        assert response.status_code == 400, token
        assert "Richiesta non valida" in response.get_data(as_text=True)
    accepted = client.post("/account/notifiche/lette", data={"csrf_token": good})
    assert accepted.status_code == 303
    # and the page's own token (made by Flask-WTF) passes as before
    assert client.form("/account/notifiche/lette").status_code == 303


def test_the_session_json_is_flasks_byte_for_byte(app):
    """The portal's session JSON skips Flask's tags for plain values and gives the same text
    for everything a session holds (flashes are tuples, Markup, bytes, dates, nested data,
    and a dict whose only key looks like a tag)."""
    import uuid
    from datetime import UTC, datetime

    from flask.json.tag import TaggedJSONSerializer
    from markupsafe import Markup

    from portal.signing import SessionJSON

    session = {
        "_user_id": "42", "csrf_token": "a" * 40, "n": 3, "x": 1.5, "ok": True, "none": None,
        "_flashes": [("success", "Voto registrato."), ("error", Markup("<b>no</b>"))],
        "raw": b"\x00\x01", "when": datetime(2026, 12, 6, 16, 30, tzinfo=UTC),
        "id": uuid.UUID(int=7), "nested": {"list": [1, "due", (3, "quattro")]},
        "tricky": {" t": ["non", "una", "tupla"]},
    }
    with app.app_context():
        ours, stock = SessionJSON().dumps(session), TaggedJSONSerializer().dumps(session)
        assert ours == stock
        assert SessionJSON().loads(ours) == session
