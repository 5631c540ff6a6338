"""The page chrome (header, footer) is rendered once per worker (portal/layout.py): what changes
from page to page and from visitor to visitor must still be right on every page."""

import re

from tests.conftest import login

LANG_LINK = re.compile(r'href="(/lingua/en\?next=[^"]*)"')
LOGOUT_TOKEN = re.compile(r'action="/esci".*?name="csrf_token" value="([^"]+)"', re.S)
META_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def test_the_language_link_comes_back_to_the_page_being_read(client, factory):
    factory.comune(name="Seveso")
    for path in ("/privacy", "/comuni?provincia=Monza+e+della+Brianza", "/accessibilita"):
        page = client.get(path).get_data(as_text=True)
        link = LANG_LINK.search(page).group(1)
        back = client.get(link.replace("&amp;", "&"))
        assert back.status_code == 303
        assert back.headers["Location"].endswith(path), (path, link)
        client.get("/lingua/it?next=/")


def test_the_main_navigation_marks_the_section_being_visited(client):
    def current(path):
        page = client.get(path).get_data(as_text=True)
        return re.findall(r'class="nav-link active" href="([^"]+)"', page)

    assert current("/") == ["/"]
    assert current("/comuni") == ["/comuni"]
    assert current("/pratiche") == ["/pratiche"]
    assert current("/accessibilita") == []


def test_each_signed_in_visitor_gets_a_logout_form_with_their_own_token(app, factory):
    tokens = []
    for _ in range(2):
        browser = app.test_client()
        user = factory.user()
        login(browser, user.email)
        page = browser.get("/comuni").get_data(as_text=True)
        form_token = LOGOUT_TOKEN.search(page).group(1)
        assert form_token == META_TOKEN.search(page).group(1)
        tokens.append(form_token)
        # The form works: the visitor is signed out.
        out = browser.post("/esci", data={"csrf_token": form_token})
        assert out.status_code in (302, 303)
        assert "Accedi" in browser.get("/").get_data(as_text=True)
    assert tokens[0] != tokens[1]


def test_the_header_follows_the_language_and_the_login_state(client, factory):
    assert "Accedi" in client.get("/comuni").get_data(as_text=True)
    client.get("/lingua/en?next=/")
    english = client.get("/comuni").get_data(as_text=True)
    assert "Log in" in english and "Accedi" not in english
    user = factory.user()
    login(client, user.email)
    signed_in = client.get("/comuni").get_data(as_text=True)
    assert "Log out" in signed_in and "Log in" not in signed_in
