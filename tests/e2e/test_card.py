"""Family Card in Chromium on a phone (390×844): the family opens Family Pay, the merchant
checks the card at the till and records a purchase, the fund's public total grows. Every page
passes axe-core."""

from __future__ import annotations

from datetime import date

import pytest

from portal.authz import Role
from tests.e2e.conftest import expect, login, logout, submit, visit

pytestmark = pytest.mark.e2e


def _setup(live):
    from portal.card import services
    from portal.card.models import Merchant, MerchantStatus, Offer

    f = live.factory
    seveso = f.comune("Seveso", "108040")
    family = f.user("brambilla@example.org", "Giulia Brambilla")
    household = f.household(family, seveso, name="Famiglia Brambilla")
    db = live.db
    merchant = Merchant(name="Panificio Il Chicco", comune_id=seveso.id, address="Via Manzoni 12",
                        category="Alimentari", status=MerchantStatus.APPROVED)
    db.session.add(merchant)
    db.session.flush()
    db.session.add(Offer(merchant_id=merchant.id, title="Sconto per le famiglie",
                         discount_bp=1000, fund_share_bp=150, valid_from=date(2020, 1, 1)))
    card = services.issue_card(household)
    db.session.commit()
    f.grant(f.user("esercente@example.org", "Elisa Esercente"), Role.MERCHANT_OPERATOR,
            merchant.id)
    return seveso, card.number, merchant.id


def test_family_shows_the_card_merchant_records_fund_grows(live, phone_page):
    seveso, number, merchant_id = _setup(live)
    page = phone_page

    login(page, "brambilla@example.org")
    visit(page, "/family-pay")
    expect(page.get_by_role("img", name="Codice QR della Family Card")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Panificio Il Chicco")
    logout(page)

    login(page, "esercente@example.org")
    visit(page, "/cassa")
    page.get_by_label("Numero della carta o codice QR").fill(number)
    submit(page, "Verifica")
    expect(page.locator("#check-result")).to_contain_text("Carta valida")
    page.get_by_label("Importo dello scontrino (prima dello sconto)").fill("25,00")
    page.get_by_label("Numero dello scontrino").fill("E2E-1")
    submit(page, "Registra l'acquisto")
    expect(page.locator("main")).to_contain_text("E2E-1")
    visit(page, f"/cassa/{merchant_id}")
    logout(page)

    # 25,00 € less 10% is 22,50 €; 1.5% of it is 0,3375 €, rounded half up: 0,34 €
    visit(page, f"/fondo/{seveso.slug}")
    expect(page.locator("main")).to_contain_text("0,34")
