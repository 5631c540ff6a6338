"""The catalogue in a real browser: live search with htmx, the same search without JavaScript,
the practice page, and an officer drafting and publishing; axe-core clean throughout."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from portal.authz import Role
from tests.e2e.conftest import check_a11y, login, screenshot, submit, visit

pytestmark = pytest.mark.e2e


@pytest.fixture
def catalogue(live):
    """Three published practices in two Comuni, one adopted, built through the services."""
    from portal.catalogue import services
    from portal.extensions import db

    seveso = live.factory.comune("Seveso", "108040")
    giussano = live.factory.comune("Giussano", "108024")
    admin = live.factory.grant(live.factory.user(name="Carla Coordinatrice"), Role.COORDINATOR)
    services.ensure_default_themes()
    made = {}
    with live.app.test_request_context("/"):
        for title, summary, themes, comuni, promoters in (
            ("Doposcuola solidale", "Studenti e pensionati aiutano nei compiti i ragazzi "
             "della scuola media.", ["scuola-ed-educazione"], [seveso],
             [("Comune di Seveso", "comune"), ("AFI", "association")]),
            ("Banca del tempo", "Le famiglie si scambiano ore di aiuto e competenze.",
             ["mutuo-aiuto"], [giussano], [("Banca del Tempo", "third_sector")]),
            ("Pedibus casa-scuola", "Bambini a scuola a piedi con i nonni volontari.",
             ["scuola-ed-educazione", "conciliazione-famiglia-lavoro"], [seveso, giussano],
             [("Comune di Giussano", "comune"), ("Cartoleria Riva", "enterprise")]),
        ):
            practice = services.create_draft(admin, {
                "title": title, "summary": summary, "themes": themes, "status": "attiva",
                "comuni": [c.id for c in comuni], "cost_cents": 250000,
                "body": "## Come funziona\n\nOgni **martedì** e giovedì, da ottobre a maggio.",
                "promoters": [{"name": n, "kind": k} for n, k in promoters]})
            services.add_indicator(admin, practice, {"name": "Famiglie coinvolte",
                                                     "value": 42, "unit": "famiglie"})
            services.publish(admin, practice)
            made[title] = practice
        services.declare_adoption(admin, made["Pedibus casa-scuola"], live.factory.comune(
            "Limbiate", "108027"), "avvio", "Due linee in partenza.", None)
        db.session.commit()
    return made


def result_titles(page: Page):
    return page.locator("#results .practice-card h3")


def test_live_search_with_htmx(live, page: Page, catalogue):
    """Typing in the search box updates the results in place (no reload) after a short pause,
    the address follows the search, a facet narrows it, and the address works as a bookmark."""
    visit(page, "/pratiche")
    expect(result_titles(page)).to_have_count(3)
    page.evaluate("window.__stillHere = true")

    page.locator("#q").fill("astronave")
    expect(page.get_by_text("Nessuna buona pratica corrisponde alla ricerca")).to_be_visible()
    # the plural finds "famiglie" / "famiglia" alike, in a summary or a theme's name
    page.locator("#q").fill("famiglie")
    expect(result_titles(page)).to_have_count(2)
    # the address is the search's own, without the empty sort the form also sends
    expect(page).to_have_url(re.compile(r"/pratiche\?q=famiglie$"))
    # the practice with both words first, then the one with "scuola" only
    page.locator("#q").fill("bambini scuola")
    expect(result_titles(page)).to_have_text(["Pedibus casa-scuola", "Doposcuola solidale"])
    assert page.evaluate("window.__stillHere") is True, "the page was reloaded"
    expect(page.locator("#search-status")).to_have_text(re.compile("2 buone pratiche trovate"))
    check_a11y(page, "after a live search")

    page.locator("#q").fill("scuola")
    # the results of "bambini scuola" count 2 as well: wait for those of "scuola"
    expect(page).to_have_url(re.compile(r"/pratiche\?q=scuola$"))
    expect(result_titles(page)).to_have_count(2)
    page.locator("#results").get_by_role("link", name=re.compile("^Giussano")).click()
    expect(result_titles(page)).to_have_text(["Pedibus casa-scuola"])
    expect(page).to_have_url(re.compile(r"/pratiche\?q=scuola&comune=giussano$"))
    assert page.evaluate("window.__stillHere") is True
    check_a11y(page, "after choosing a facet")
    screenshot(page, "live-search")

    bookmark = page.url
    visit(page, bookmark)  # a full load of the same address: the same results
    expect(result_titles(page)).to_have_text(["Pedibus casa-scuola"])
    expect(page.locator("#q")).to_have_value("scuola")


def test_same_search_without_javascript(live, nojs_page: Page, catalogue):
    """Without JavaScript the search form and the facet links are plain GETs giving the same
    results and addresses."""
    page = nojs_page
    visit(page, "/pratiche")
    page.locator("#q").fill("scuola")
    submit(page, "Cerca")
    expect(page).to_have_url(re.compile(r"/pratiche\?q=scuola"))
    expect(result_titles(page)).to_have_count(2)
    check_a11y(page)
    with page.expect_navigation():
        page.locator("#results").get_by_role("link", name=re.compile("^Giussano")).click()
    expect(result_titles(page)).to_have_text(["Pedibus casa-scuola"])
    page.get_by_label("Ordina per").select_option("title")
    submit(page, "Cerca")
    expect(page).to_have_url(re.compile(r"comune=giussano"))
    expect(result_titles(page)).to_have_text(["Pedibus casa-scuola"])
    check_a11y(page)
    screenshot(page, "nojs-search")


def test_practice_page_reads_well_everywhere(live, page: Page, phone_page: Page, catalogue):
    """The practice page shows promoters on the triangle in words, results, adoptions and the
    history; it is accessible on a desktop and on a phone."""
    slug = catalogue["Pedibus casa-scuola"].slug
    visit(page, f"/pratiche/{slug}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pedibus casa-scuola")
    expect(page.get_by_role("img", name="Sussidiarietà circolare")).to_be_visible()
    triangle = page.locator(".triangle-wrap")
    expect(triangle).to_contain_text("Cartoleria Riva")  # profit, named in words
    expect(triangle).to_contain_text("nessun promotore")  # no non-profit partner here
    expect(page.locator("#adozioni")).to_contain_text("Limbiate")
    expect(page.locator("#adozioni")).to_contain_text("In avvio")
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile("Storia delle modifiche")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Storia delle modifiche")
    check_a11y(page)
    visit(phone_page, f"/pratiche/{slug}")
    visit(phone_page, "/pratiche?q=scuola")


def test_officer_drafts_and_publishes(live, page: Page, catalogue):
    """A Comune officer writes a draft in the form, adds a promoter, publishes it and finds it
    in the catalogue."""
    seveso = live.factory.comune("Muggiò", "108034")
    officer = live.factory.user(email="servizi@comune.muggio.example.org", name="Anna Sala")
    live.factory.grant(officer, Role.COMUNE_OFFICER, seveso.id)
    login(page, "servizi@comune.muggio.example.org")
    visit(page, "/pratiche/nuova")
    page.get_by_label("Titolo").fill("Orti condivisi intergenerazionali")
    page.get_by_label("Sintesi").fill("Famiglie giovani e pensionati coltivano insieme.")
    page.locator("label", has_text="Tempo libero e sport").click()
    page.locator("label", has_text="Muggiò").click()
    page.get_by_label("Costo complessivo (euro)").fill("6.000,00")
    submit(page, "Salva la bozza")
    expect(page.get_by_role("heading", level=1)).to_have_text("Modifica la buona pratica")
    check_a11y(page)
    page.get_by_label("Nome del promotore").fill("Legambiente circolo di Muggiò")
    page.get_by_label("Tipo", exact=True).select_option("third_sector")
    submit(page, "Aggiungi il promotore")
    expect(page.locator("#promotori")).to_contain_text("Legambiente circolo di Muggiò")
    submit(page, "Pubblica")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Orti condivisi intergenerazionali")
    check_a11y(page)
    visit(page, "/pratiche?q=orti")
    expect(result_titles(page)).to_have_text(["Orti condivisi intergenerazionali"])


def test_officer_deletes_a_draft_without_javascript(live, nojs_page: Page, catalogue):
    """Without JavaScript an officer deletes a draft from its edit page through the
    confirmation page, and is told so on the list of drafts."""
    page = nojs_page
    besana = live.factory.comune("Besana in Brianza", "108009")
    officer = live.factory.user(email="servizi@comune.besana.example.org", name="Ugo Riva")
    live.factory.grant(officer, Role.COMUNE_OFFICER, besana.id)
    login(page, "servizi@comune.besana.example.org")
    visit(page, "/pratiche/nuova")
    page.get_by_label("Titolo").fill("Cortile aperto del sabato")
    page.get_by_label("Sintesi").fill("Il cortile della scuola aperto alle famiglie.")
    page.locator("label", has_text="Besana in Brianza").click()
    submit(page, "Salva la bozza")
    expect(page.get_by_role("heading", level=1)).to_have_text("Modifica la buona pratica")
    with page.expect_navigation():
        page.locator("#elimina").get_by_role("link", name="Elimina la bozza").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Elimina la bozza")
    expect(page.get_by_role("main")).to_contain_text("non si può annullare")
    check_a11y(page)
    submit(page, "Elimina definitivamente")
    expect(page.get_by_role("heading", level=1)).to_have_text("Bozze di buone pratiche")
    expect(page.get_by_text("Bozza «Cortile aperto del sabato» eliminata.")).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text("Nessuna bozza.")
    check_a11y(page)
    screenshot(page, "draft-deleted")
