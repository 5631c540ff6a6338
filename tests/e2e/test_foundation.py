"""The foundation in a real browser: a family joins the Rete and the Comune verifies it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from portal.authz import Role
from tests.e2e.conftest import check_a11y, login, mail_link, screenshot, submit, tick, visit

pytestmark = pytest.mark.e2e

FAMILY_PASSWORD = "girasole-di-seveso-2026"


@pytest.fixture
def seveso(live):
    """Seveso with its Comune officer (password: PASSWORD)."""
    comune = live.factory.comune("Seveso", "108040")
    officer = live.factory.user(email="anagrafe@comune.seveso.example.org", name="Paola Meroni")
    live.factory.grant(officer, Role.COMUNE_OFFICER, comune.id)
    return comune


def register(page: Page, name: str, email: str) -> None:
    """Fill the registration form from the header link, as a visitor would."""
    visit(page, "/")
    with page.expect_navigation():
        page.locator("header").get_by_role("link", name="Registrati").click()
    check_a11y(page)
    page.get_by_label("Nome e cognome").fill(name)
    page.get_by_label("Indirizzo e-mail").fill(email)
    page.get_by_label("Password", exact=True).fill(FAMILY_PASSWORD)
    page.get_by_label("Ripeti la password").fill(FAMILY_PASSWORD)
    tick(page.get_by_label("Ho letto l'informativa sulla privacy"))
    submit(page, "Crea l'account")
    expect(page.get_by_role("heading", level=1)).to_have_text("Controlla la posta")
    check_a11y(page)
    screenshot(page, "registered")


def confirm_by_mail(page: Page, email: str) -> None:
    """Open the link in the confirmation mail and press the button."""
    visit(page, mail_link(email, "/conferma-email/"))
    submit(page, "Conferma")
    confirmed = page.get_by_role("status").filter(has_text="Indirizzo e-mail confermato")
    expect(confirmed).to_be_visible()
    check_a11y(page)


def create_household(page: Page, name: str, comune: str) -> None:
    visit(page, "/famiglia/nuova")
    page.get_by_label("Nome del nucleo familiare").fill(name)
    page.get_by_label("Comune di residenza").select_option(label=comune)
    page.get_by_label("Via o piazza di residenza").fill("Via Roma")
    page.get_by_label("Numero civico").fill("12/A")
    page.get_by_label("Il tuo anno di nascita").fill("1986")
    submit(page, "Crea il nucleo")
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.get_by_text("In attesa di verifica della residenza")).to_be_visible()
    check_a11y(page)
    screenshot(page, "household-pending")


def test_family_joins_and_the_comune_verifies_it(live, page, new_page, seveso):
    """Register, confirm by mail, log in, create a household; the officer verifies it with htmx."""
    register(page, "Giulia Brambilla", "giulia.brambilla@example.org")
    confirm_by_mail(page, "giulia.brambilla@example.org")
    login(page, "giulia.brambilla@example.org", FAMILY_PASSWORD)
    expect(page).to_have_url(re.compile(r"/account$"))
    check_a11y(page)
    create_household(page, "Famiglia Brambilla", "Seveso")

    officer = new_page()
    login(officer, "anagrafe@comune.seveso.example.org")
    visit(officer, "/comune/verifiche")
    row = officer.locator("#queue li").filter(has_text="Famiglia Brambilla")
    expect(row).to_contain_text("giulia.brambilla@example.org")
    expect(row).to_contain_text("Via Roma 12/A, Seveso")  # what the anagrafe is checked for
    expect(row).to_contain_text("Giulia Brambilla, nato/a nel 1986")
    screenshot(officer, "queue")
    tick(row.get_by_label("Residenza verificata", exact=True))
    queue_url = officer.url
    with officer.expect_response(
        lambda r: "/comune/verifiche/" in r.url and r.request.headers.get("hx-request") == "true"
    ) as answer:
        row.get_by_role("button", name="Registra l'esito").click()
    assert answer.value.status == 200
    expect(row.get_by_role("status")).to_contain_text("verificata")
    assert officer.url == queue_url, "htmx swapped the row in place, without a page load"
    check_a11y(officer, "the verification queue after the htmx swap")
    screenshot(officer, "queue-after-verify")

    visit(page, "/famiglia")
    expect(page.get_by_text("Residenza verificata dal Comune")).to_be_visible()
    screenshot(page, "household-verified")

    live.refresh()
    from portal.accounts.models import Household

    household = live.db.session.scalar(live.db.select(Household))
    assert household.is_verified and household.verified_by_id is not None


def test_registration_and_household_work_without_javascript(live, nojs_page, seveso):
    """With JavaScript off the whole path works as plain HTML forms and redirects."""
    page = nojs_page
    register(page, "Marco Sala", "marco.sala@example.org")
    confirm_by_mail(page, "marco.sala@example.org")
    login(page, "marco.sala@example.org", FAMILY_PASSWORD)
    create_household(page, "Famiglia Sala", "Seveso")

    # The officer's queue too: the form posts and the page comes back with a message.
    page.context.clear_cookies()
    login(page, "anagrafe@comune.seveso.example.org")
    visit(page, "/comune/verifiche")
    row = page.locator("#queue li").filter(has_text="Famiglia Sala")
    tick(row.get_by_label("Residenza verificata", exact=True))
    with page.expect_navigation():
        row.get_by_role("button", name="Registra l'esito").click()
    message = page.get_by_role("status").filter(has_text="Famiglia Sala")
    expect(message).to_contain_text("verificata")
    expect(page.get_by_text("Nessun nucleo in attesa di verifica.")).to_be_visible()
    check_a11y(page)


def test_invalid_registration_shows_errors_accessibly(live, page):
    """A bad form comes back (422) with a summary linking to each field, still axe-clean."""
    visit(page, "/registrati")
    page.get_by_label("Nome e cognome").fill("G")
    page.get_by_label("Indirizzo e-mail").fill("non-una-mail")
    page.get_by_label("Password", exact=True).fill("corta")
    page.get_by_label("Ripeti la password").fill("diversa")
    with page.expect_navigation() as nav:
        page.get_by_role("button", name="Crea l'account").click()
    assert nav.value.status == 422
    summary = page.locator("#form-errors")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("link", name="Indirizzo e-mail")).to_be_visible()
    expect(page.get_by_label("Indirizzo e-mail")).to_have_attribute("aria-invalid", "true")
    check_a11y(page)
    screenshot(page, "register-errors")


def test_home_on_a_phone_has_a_usable_menu(live, phone_page):
    """On a phone the main navigation is behind a menu button that opens and leads somewhere
    (visit() checks that the page fits the screen)."""
    live.factory.comune("Seveso", "108040")
    page = phone_page
    visit(page, "/")
    menu_button = page.get_by_role("button", name="Mostra o nascondi il menu")
    expect(menu_button).to_be_visible()
    comuni_link = page.locator("#main-nav").get_by_role("link", name="Comuni")
    expect(comuni_link).not_to_be_visible()
    menu_button.click()
    expect(comuni_link).to_be_visible()
    expect(menu_button).to_have_attribute("aria-expanded", "true")
    screenshot(page, "phone-menu-open", full_page=False)
    with page.expect_navigation():
        comuni_link.click()
    expect(page).to_have_url(re.compile(r"/comuni$"))
    check_a11y(page)
    screenshot(page, "phone-comuni")


def test_language_switch_to_english(live, page):
    """The language switch turns the interface to English and back, and says so in <html lang>."""
    visit(page, "/")
    expect(page.locator("html")).to_have_attribute("lang", "it")
    with page.expect_navigation():
        page.get_by_role("navigation", name="Lingua").get_by_role("link", name="English").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".nav-languages [aria-current='true']")).to_have_text("EN")
    expect(page.locator("header").get_by_role("link", name="Log in")).to_be_visible()
    expect(page.get_by_role("navigation", name="Language")).to_be_visible()
    check_a11y(page)
    screenshot(page, "home-english")
    with page.expect_navigation():
        page.locator(".nav-languages").get_by_role("link", name="Italiano").click()
    expect(page.locator("html")).to_have_attribute("lang", "it")
    expect(page.locator("header").get_by_role("link", name="Accedi")).to_be_visible()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_the_accessibility_check_catches_a_violation(live, new_page, javascript):
    """The axe check is not a rubber stamp: an unlabelled field fails it, with or without JS."""
    page = new_page(java_script_enabled=javascript)
    visit(page, "/privacy", shot=False)
    page.evaluate("""() => {
        const input = document.createElement('input');
        input.id = 'unlabelled';
        document.querySelector('main').append(input);
    }""")
    with pytest.raises(pytest.fail.Exception, match=r"(?s)critical.*label.*#unlabelled"):
        check_a11y(page)


def test_phone_menu_without_javascript_is_a_list_of_links(live, nojs_phone_page):
    """Without JavaScript on a phone the menu is a row of readable links under the brand, not
    a button that cannot open (visit() checks that nothing in the header overlaps)."""
    live.factory.comune("Seveso", "108040")
    page = nojs_phone_page
    visit(page, "/")
    expect(page.get_by_role("button", name="Mostra o nascondi il menu")).not_to_be_visible()
    nav = page.get_by_role("navigation", name="Navigazione principale")
    for name in ("Home", "Comuni", "Buone pratiche", "Proposte", "Tavoli"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(page.locator("header").get_by_role("link", name="Registrati")).to_be_visible()
    heading = page.get_by_role("heading", level=1).bounding_box()
    tavoli = nav.get_by_role("link", name="Tavoli").bounding_box()
    assert tavoli["y"] + tavoli["height"] <= heading["y"], "the menu runs over the heading"
    with page.expect_navigation():
        nav.get_by_role("link", name="Comuni").click()
    expect(page).to_have_url(re.compile(r"/comuni$"))
