"""Site-wide pages, headers, errors and language."""

from tests.conftest import outbox  # noqa: F401


def test_home_shows_the_rete_and_its_comuni(client, factory):
    """The home page names the Rete and links every Comune."""
    factory.comune("Seveso", "108040")
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Rete dei Comuni Amici della Famiglia" in html
    assert 'href="/comuni/seveso"' in html
    assert '<html lang="it">' in html


def test_security_headers_on_every_response(client):
    """CSP without inline scripts, nosniff, frame-ancestors and referrer policy are set."""
    for path in ("/", "/nessuna-pagina"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_not_found_is_an_italian_page(client):
    response = client.get("/nessuna-pagina")
    assert response.status_code == 404
    assert "Pagina non trovata" in response.get_data(as_text=True)


def test_post_without_csrf_token_is_refused(client):
    """A state change without the CSRF token gets 400 and changes nothing."""
    response = client.post("/registrati", data={"name": "Mario Rossi", "email": "m@example.org",
                                                "password": "abc", "password_confirm": "abc"})
    assert response.status_code == 400
    assert "Richiesta non valida" in response.get_data(as_text=True)


def test_language_switch_to_english(client):
    """The language link remembers English and the page says so in <html lang>."""
    response = client.get("/lingua/en?next=/privacy")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/privacy")
    assert '<html lang="en">' in client.get("/privacy").get_data(as_text=True)


def test_language_switch_refuses_foreign_redirects(client):
    response = client.get("/lingua/en?next=https://evil.example/")
    assert response.headers["Location"] == "/"
