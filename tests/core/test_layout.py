"""The page chrome (header, footer) and the blank form pages: what changes from page to page
and from visitor to visitor is right on every page."""

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


FORM_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                        r'type="hidden" name="csrf_token" value="([^"]+)"|'
                        r'name="csrf_token" value="([^"]+)"')


def _token(page: str) -> str:
    match = FORM_TOKEN.search(page)
    assert match, "no CSRF field on the page"
    return next(group for group in match.groups() if group)


def test_blank_form_pages_carry_each_visitors_own_working_token(app, factory):
    """Log in, register, forgot password and join: each visitor gets a token of their own
    session, which works for them and for nobody else."""
    user = factory.user()
    visitors = []
    for _ in range(2):
        browser = app.test_client()
        tokens = [_token(browser.get(path).get_data(as_text=True))
                  for path in ("/registrati", "/password-dimenticata", "/aderisci", "/accedi")]
        visitors.append((browser, tokens))
    (first, first_tokens), (second, second_tokens) = visitors
    wrong = {"email": user.email, "password": "non-e-la-password"}
    # Another visitor's token is refused (400), each visitor's own token from any of the pages
    # passes (422: only the password is wrong).
    assert second.post("/accedi", data=dict(wrong, csrf_token=first_tokens[0])).status_code == 400
    for browser, tokens in visitors:
        for token in tokens:
            assert browser.post("/accedi", data=dict(wrong, csrf_token=token)).status_code == 422


def test_a_form_page_with_errors_or_a_message_is_rendered_for_the_visitor(client):
    bad = client.post("/accedi", data={"csrf_token": _token(client.get("/accedi").get_data(
        as_text=True)), "email": "nessuno@example.org", "password": "sbagliata-ma-lunga"})
    assert bad.status_code == 422
    assert "is-invalid" in bad.get_data(as_text=True) or "alert-danger" in bad.get_data(
        as_text=True)
    # The next blank form is clean again.
    assert "alert-danger" not in client.get("/accedi").get_data(as_text=True)


def test_blank_form_pages_answer_head_and_get_alike(client):
    """A HEAD (link checkers, monitors) gets the blank form's status and type, not a form
    with errors: the form is built only for a POST."""
    for path in ("/registrati", "/password-dimenticata", "/aderisci", "/accedi"):
        head, get = client.head(path), client.get(path)
        assert head.status_code == get.status_code == 200, path
        assert head.headers["Content-Type"] == get.headers["Content-Type"]
        assert head.data == b""
        assert "is-invalid" not in get.get_data(as_text=True)


def test_every_choice_field_is_drawn_as_a_dropdown(app):
    """The form macro draws every select, whatever its field class (the proposal form's own
    IntSelectField was once drawn as a text box), as Bootstrap's dropdown with its label."""
    from flask_wtf import FlaskForm
    from wtforms import SelectField, SelectMultipleField

    from portal.proposals.forms import IntSelectField

    class Choices(FlaskForm):
        plain = SelectField("Stato", choices=[("a", "A"), ("b", "B")])
        numbers = IntSelectField("Tavolo", choices=[(1, "Uno"), (2, "Due")])
        several = SelectMultipleField("Temi", choices=[("x", "X")])

    with app.test_request_context():
        form = Choices(meta={"csrf": False})
        macro = app.jinja_env.from_string(
            '{% from "_macros/forms.html" import field %}'
            "{{ field(form.plain) }}{{ field(form.numbers) }}{{ field(form.several) }}")
        html = macro.render(form=form)
    for name in ("plain", "numbers", "several"):
        assert re.search(rf'<label class="form-label fw-semibold" for="{name}">', html), name
        assert re.search(rf'<select class="form-select" id="{name}"', html), name


def test_every_page_has_an_icon(client):
    """The icon is named in the head, and /favicon.ico (asked by browsers anyway) is there."""
    assert 'rel="icon"' in client.get("/").get_data(as_text=True)
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"


def test_staff_see_their_work_before_the_household_offer(app, factory):
    """A moderator without a household opens on the moderation panel; the household offer
    comes after it. A family without a household still starts from it."""
    from portal.authz import Role

    comune = factory.comune("Seveso")
    association = factory.association([comune])
    moderator = factory.user()
    factory.grant(moderator, Role.MODERATOR, association.id)
    browser = app.test_client()
    login(browser, moderator.email)
    page = browser.get("/account").get_data(as_text=True)
    assert page.index("Moderazione delle proposte") < page.index("Crea il nucleo familiare")

    family = app.test_client()
    login(family, factory.user().email)
    page = family.get("/account").get_data(as_text=True)
    assert page.index("Crea il nucleo familiare") < page.index("Il mio account")
