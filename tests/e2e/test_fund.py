"""The fondo solidale in Chromium: a family computes its Fattore Famiglia and applies, two
fund managers approve with a Patto Gener-Attivo, the payment shows in the public accounts
without the family's name. Every page passes axe-core; desktop and phone screenshots."""

from __future__ import annotations

import re

import pytest

from portal.authz import Role
from tests.e2e.conftest import check_a11y, expect, login, logout, screenshot, submit, visit

pytestmark = pytest.mark.e2e


def _setup(live):
    from portal.fund import ledger
    from portal.fund.support_models import FattoreProfile, SupportSettings, Tariff

    f = live.factory
    seveso = f.comune("Seveso", "108040")
    family = f.user("brambilla@example.org", "Giulia Brambilla")
    f.household(family, seveso, name="Famiglia Brambilla")
    for email, name in (("fondo1@example.org", "Roberto Ufficio"),
                        ("fondo2@example.org", "Franca Fondo")):
        f.grant(f.user(email, name), Role.FUND_MANAGER, seveso.id)
    db = live.db
    db.session.add_all([
        SupportSettings(comune_id=seveso.id, double_approval_cents=30_000),
        FattoreProfile(comune_id=seveso.id, valid_from=seveso.joined_on,
                       decision="Delibera G.C. n. 45 del 2025", w_child_0_2=15,
                       w_child_3_5=10, w_child_6_13=10, w_single_parent=20),
        Tariff(comune_id=seveso.id, name="Asilo nido", unit="al mese", min_fee_cents=10_000,
               max_fee_cents=50_000, threshold_low_cents=500_000,
               threshold_high_cents=3_000_000),
    ])
    ledger.post_contribution(ledger.fund_for(seveso.id), source="allocation",
                             amount_cents=200_000, key="e2e:allocation")
    db.session.commit()
    return seveso


def test_family_applies_two_managers_approve_payment_is_public_and_anonymous(live, page,
                                                                            phone_page):
    seveso = _setup(live)

    # 1. The family computes its Fattore Famiglia on the public page (htmx swaps the result).
    login(page, "brambilla@example.org")
    # The screenshot comes after the swap: Playwright's marks an input with style="", which
    # htmx's settle would copy onto the new input, a CSP violation no visitor would meet.
    visit(page, "/fondo/fattore-famiglia?comune=seveso", shot=False)
    for i, age in enumerate(("40", "38", "6"), 1):
        page.get_by_label(f"Età del componente {i}").fill(age)
    page.get_by_label("Reddito annuo del nucleo (euro)").fill("12.000")
    page.get_by_label("Patrimonio del nucleo (euro)").fill("5.000")
    page.get_by_role("button", name="Calcola il Fattore Famiglia").click()
    # 3 members 2.04 + child 6–13 0.10 = 2.14; 13,000 / 2.14 = 6,074.77 €
    expect(page.locator("#fattore-valore")).to_have_text("6.074,77 €")
    expect(page.locator("#fattore-risultato")).to_contain_text("117,20 €")
    check_a11y(page)
    screenshot(page, "calcolatore-risultato")

    # 2. It applies.
    visit(page, "/fondo/domande/nuova")
    page.get_by_label("Perché chiedete un sostegno").fill(
        "Abbiamo perso il lavoro e non riusciamo a pagare l'affitto di dicembre.")
    page.get_by_label("Importo richiesto (euro)").fill("400")
    for i, age in enumerate(("40", "38", "6"), 1):
        page.get_by_label(f"Età del componente {i}").fill(age)
    page.get_by_label("Reddito annuo del nucleo (euro)").fill("12.000")
    page.get_by_label("Patrimonio del nucleo (euro)").fill("5.000")
    submit(page, "Invia la domanda")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Domanda di sostegno n.")
    expect(page.locator("main")).to_contain_text("6.074,77 €")
    application_path = re.search(r"/fondo/domande/\d+", page.url).group(0)
    visit(page, application_path)
    logout(page)

    # 3. The first manager approves 400 € and proposes the pact: above 300 €, one is not enough.
    login(page, "fondo1@example.org")
    visit(page, "/fondo/gestione/domande")
    page.get_by_role("link", name=re.compile(r"^n\. \d+")).first.click()
    page.get_by_label("Cosa restituisce la famiglia").select_option("lab_hours")
    page.get_by_label("Il patto in breve").fill("4 ore al mese al laboratorio di comunità.")
    page.get_by_label("Ore previste (facoltativo)").fill("12")
    submit(page, "Approva")
    expect(page.locator("#flash-messages")).to_contain_text("un altro responsabile")
    visit(page, application_path)
    logout(page)

    # 4. A second, different manager confirms: the pact is agreed, the fund pays.
    login(page, "fondo2@example.org")
    visit(page, application_path)
    submit(page, "Conferma l'approvazione")
    expect(page.locator("#flash-messages")).to_contain_text("sostegno erogato")
    expect(page.locator("main")).to_contain_text("Erogata, patto in corso")
    visit(page, application_path)
    logout(page)

    # 5. Everyone reads the fund's accounts: the support is there, the family is not.
    visit(page, f"/fondo/{seveso.slug}")
    main = page.locator("main")
    expect(main).to_contain_text("Sostegno alle famiglie")
    expect(main).to_contain_text("400,00 €")
    expect(page.get_by_test_id("available")).to_have_text("1.600,00 €")
    content = page.content()
    assert "Brambilla" not in content and "laboratorio" not in content
    csv = page.request.get(f"/fondo/{seveso.slug}/movimenti.csv").text()
    assert "Brambilla" not in csv and "affitto" not in csv

    # 6. On the phone, the family follows its application and its pact.
    login(phone_page, "brambilla@example.org")
    visit(phone_page, "/fondo/domande")
    visit(phone_page, application_path)
    expect(phone_page.locator("main")).to_contain_text("Patto Gener-Attivo")
    expect(phone_page.locator("main")).to_contain_text("400,00 €")


def test_the_calculator_works_without_javascript_on_a_phone(live, nojs_phone_page):
    """No account, no JavaScript, a 390 px screen: the GET form computes and adds rows."""
    _setup(live)
    page = nojs_phone_page
    visit(page, "/fondo/fattore-famiglia?comune=seveso")
    page.get_by_label("Età del componente 1").fill("30")
    page.get_by_label("Età del componente 2").fill("4")
    submit(page, "Aggiungi righe per altri componenti")
    expect(page.get_by_label("Età del componente 8")).to_be_visible()
    expect(page.get_by_label("Età del componente 1")).to_have_value("30")
    page.get_by_label("Oppure: ISEE in corso di validità (euro)").fill("9.000")
    submit(page, "Calcola il Fattore Famiglia")
    # 1.57 + child 3–5 0.10 + single parent 0.20 = 1.87; 9,000 × 1.57 / 1.87 = 7,556.15 €
    expect(page.locator("#fattore-valore")).to_have_text("7.556,15 €")
    visit(page, page.url)
    page.get_by_label("Età del componente 1").fill("300")
    submit(page, "Calcola il Fattore Famiglia")
    expect(page.locator("#form-errors")).to_contain_text("L'età va da 0 a 120 anni.")
    visit(page, page.url, status=422)
