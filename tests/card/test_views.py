"""The card's pages: Family Pay, the request, the directory, the application, the officer's
queue and the till (check, rate limit, purchase, cancel, statements, authorization)."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.authz import Role
from portal.card import services
from portal.card.models import Merchant, MerchantStatus, Purchase
from portal.fund import ledger
from portal.network.models import RoleAssignment
from tests.conftest import login


def _till_user(login_as, merchant):
    return login_as(Role.MERCHANT_OPERATOR, merchant.id)


def test_family_pay_shows_the_card_qr_offers_and_totals(app, db, client, factory, cards):
    user = factory.user()
    card = cards.card(user=user)
    merchant = cards.merchant(comune=card.comune, name="Forno Buono")
    login(client, user.email)
    page = client.get("/family-pay").get_data(as_text=True)
    assert "data:image/svg+xml" in page and services.format_number(card.number) in page
    assert "Forno Buono" in page and 'rel="manifest"' in page
    assert card.number not in page.split("data:image/svg+xml", 1)[1].split('"', 1)[0]
    assert client.get("/family-pay/manifest.webmanifest").status_code == 200
    sw = client.get("/familypay-sw.js")
    assert sw.status_code == 200 and "caches" in sw.get_data(as_text=True)
    assert merchant.id


def test_request_page_issues_a_card(app, db, client, login_as, factory):
    user = login_as("family")
    assert client.get("/family-card/richiesta").status_code == 200
    response = client.form("/family-card/richiesta", {})
    assert response.status_code == 303
    assert services.card_of(user.household_id) is not None
    again = client.form("/family-card/richiesta", {})
    assert again.status_code == 422 and "già una Family Card" in again.get_data(as_text=True)


def test_till_checks_and_records_once(app, db, client, login_as, cards):
    merchant = cards.merchant(discount_bp=1000, share_bp=200)
    card = cards.card()
    _till_user(login_as, merchant)
    ok = client.form(f"/cassa/{merchant.id}/verifica", {"card": card.number})
    body = ok.get_data(as_text=True)
    assert ok.status_code == 200 and "Carta valida" in body and card.initials in body
    assert card.household.name not in body
    bad = client.form(f"/cassa/{merchant.id}/verifica", {"card": "1234 5678 9012 3456"})
    assert bad.status_code == 422 and "Carta non valida" in bad.get_data(as_text=True)
    token = services.make_token(card)
    assert "Carta valida" in client.form(f"/cassa/{merchant.id}/verifica",
                                         {"card": token}).get_data(as_text=True)
    data = {"card": card.number, "amount": "25,00", "receipt": "S-100"}
    assert client.form(f"/cassa/{merchant.id}/acquisto", data).status_code == 303
    assert client.form(f"/cassa/{merchant.id}/acquisto", data).status_code == 303
    assert db.session.scalar(select(func.count(Purchase.id))) == 1
    purchase = db.session.scalars(select(Purchase)).one()
    assert (purchase.discount_cents, purchase.fund_share_cents) == (250, 45)
    conflict = client.form(f"/cassa/{merchant.id}/acquisto", dict(data, amount="30"))
    assert conflict.status_code == 409
    fund = ledger.find_fund(merchant.comune_id)
    assert fund is not None and ledger.check() == []
    assert client.form(f"/cassa/{merchant.id}/acquisti/{purchase.id}/annulla",
                       {}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Purchase, purchase.id).cancelled_at is not None
    csv = client.get(f"/cassa/{merchant.id}/estratto?formato=csv")
    assert csv.status_code == 200 and "S-100" in csv.get_data(as_text=True)
    assert client.get(f"/cassa/{merchant.id}/estratto?mese=2026-13").status_code == 400


def test_bad_purchase_input_is_422_in_italian_and_saves_nothing(app, db, client, login_as,
                                                                 cards):
    merchant = cards.merchant()
    card = cards.card()
    _till_user(login_as, merchant)
    for data, message in (({"card": card.number, "amount": "", "receipt": "1"},
                           "importo in euro"),
                          ({"card": card.number, "amount": "abc", "receipt": "1"}, ""),
                          ({"card": card.number, "amount": "10", "receipt": ""},
                           "numero dello scontrino"),
                          ({"card": card.number, "amount": "10", "receipt": "a b"},
                           "scontrino ha lettere"),
                          ({"card": "0000000000000000", "amount": "10", "receipt": "1"},
                           "carta non è valida")):
        response = client.form(f"/cassa/{merchant.id}/acquisto", data)
        assert response.status_code == 422, data
        assert message in response.get_data(as_text=True), data
    assert db.session.scalar(select(func.count(Purchase.id))) == 0


def test_the_check_is_rate_limited_per_operator(app, db, client, login_as, cards):
    merchant = cards.merchant()
    _till_user(login_as, merchant)
    codes = [client.form(f"/cassa/{merchant.id}/verifica", {"card": "1"}).status_code
             for _ in range(31)]
    assert codes[:30] == [422] * 30 and codes[30] == 429


def test_a_merchant_sees_only_its_own_till(app, db, client, login_as, cards):
    mine, theirs = cards.merchant(name="Mio"), cards.merchant(name="Altro")
    card = cards.card()
    services.record_purchase(None, theirs, card.number, 1000, "ALTRO-1")
    db.session.commit()
    _till_user(login_as, mine)
    assert client.get(f"/cassa/{theirs.id}").status_code == 403
    assert client.form(f"/cassa/{theirs.id}/verifica", {"card": card.number}).status_code == 403
    purchase = db.session.scalars(select(Purchase)).one()
    assert client.form(f"/cassa/{mine.id}/acquisti/{purchase.id}/annulla", {}).status_code == 404
    page = client.get(f"/cassa/{mine.id}").get_data(as_text=True)
    assert "ALTRO-1" not in page
    assert "ALTRO-1" not in client.get(f"/cassa/{mine.id}/estratto").get_data(as_text=True)


def test_plain_users_and_families_are_refused_at_the_till(app, db, client, login_as, cards):
    merchant = cards.merchant()
    login_as("family")
    assert client.get("/cassa").status_code == 403
    assert client.get(f"/cassa/{merchant.id}").status_code == 403
    assert client.get("/family-card/ufficio").status_code == 403


def test_directory_filters_and_bad_arguments(app, db, client, cards, factory):
    comune = factory.comune(name="Seveso")
    cards.merchant(comune=comune, name="Forno Buono", discount_bp=2000)
    cards.merchant(name="Bottega Lontana", discount_bp=300)
    page = client.get(f"/esercenti?comune={comune.id}").get_data(as_text=True)
    assert "Forno Buono" in page and "Bottega Lontana" not in page
    assert "Sostenitore della famiglia" in page
    page = client.get("/esercenti?sconto=5").get_data(as_text=True)
    assert "Forno Buono" in page and "Bottega Lontana" not in page
    for bad in ("sconto=abc", "sconto=500", "categoria=nulla", "comune=x", "pagina=-1"):
        assert client.get(f"/esercenti?{bad}").status_code in (400, 404), bad
    merchant = db.session.scalar(select(Merchant).where(Merchant.name == "Forno Buono"))
    assert "Forno Buono" in client.get(f"/esercenti/{merchant.id}").get_data(as_text=True)


def test_a_shop_applies_and_the_officer_approves(app, db, client, login_as, factory):
    comune = factory.comune()
    applicant = login_as()
    data = {"name": "Cartoleria Rossi", "vat_number": "00743110158", "address": "Via Roma 3",
            "category": "Libri e cartoleria", "comune_id": str(comune.id),
            "contact_email": "rossi@example.org"}
    bad = client.form("/esercenti/aderisci", data)
    assert bad.status_code == 422 and "partita IVA non è valida" in bad.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Merchant.id))) == 0
    assert client.form("/esercenti/aderisci", dict(data, comune_id="99999")).status_code == 422
    assert client.form("/esercenti/aderisci",
                       dict(data, vat_number="00743110157")).status_code == 303
    merchant = db.session.scalars(select(Merchant)).one()
    assert merchant.status == MerchantStatus.APPLIED
    assert client.get(f"/esercenti/{merchant.id}").status_code == 404  # not yet public
    client.post("/esci", data={"csrf_token": client.csrf()})
    other = factory.comune()
    login_as(Role.COMUNE_OFFICER, other.id)
    assert client.form(f"/esercenti/{merchant.id}/decisione",
                       {"decision": "approve"}).status_code == 403
    client.post("/esci", data={"csrf_token": client.csrf()})
    login_as(Role.COMUNE_OFFICER, comune.id)
    assert "Cartoleria Rossi" in client.get("/family-card/ufficio").get_data(as_text=True)
    assert client.form(f"/esercenti/{merchant.id}/decisione",
                       {"decision": "approve"}).status_code == 303
    assert db.session.scalar(select(RoleAssignment.id).where(
        RoleAssignment.user_id == applicant.id,
        RoleAssignment.role == Role.MERCHANT_OPERATOR,
        RoleAssignment.scope_id == merchant.id)) is not None


def test_household_statement_is_the_familys_own(app, db, client, factory, cards):
    user = factory.user()
    card = cards.card(user=user)
    merchant = cards.merchant()
    services.record_purchase(None, merchant, card.number, 2000, "F-1")
    db.session.commit()
    login(client, user.email)
    assert "F-1" in client.get("/family-pay/estratto?formato=csv").get_data(as_text=True)
    client.post("/esci", data={"csrf_token": client.csrf()})
    other = factory.user()
    cards.card(user=other)
    login(client, other.email)
    assert "F-1" not in client.get("/family-pay/estratto").get_data(as_text=True)


def test_officer_sets_the_rule_and_suspends_a_card(app, db, client, login_as, factory, cards):
    comune = factory.comune()
    card = cards.card(comune=comune)
    login_as(Role.COMUNE_OFFICER, comune.id)
    page = client.get("/family-card/ufficio").get_data(as_text=True)
    assert "Regola della carta" in page
    bad = client.form(f"/family-card/ufficio/regola/{comune.id}",
                      {"min_children": "x", "child_max_age": "25"})
    assert bad.status_code == 422 and "numero intero" in bad.get_data(as_text=True)
    assert client.form(f"/family-card/ufficio/regola/{comune.id}",
                       {"min_children": "3", "child_max_age": "25",
                        "isee_ceiling": "30.000"}).status_code == 303
    rule = services.rule_for(comune.id)
    assert (rule.min_children, rule.isee_ceiling_cents) == (3, 3_000_000)
    assert client.get(f"/family-card/ufficio/carta?numero={card.number}").status_code == 200
    assert client.form(f"/family-card/carte/{card.id}/stato",
                       {"status": "suspended"}).status_code == 303
    db.session.expire_all()
    assert not services.check_card(card.number).valid
    other = factory.comune()
    stranger = cards.card(comune=other)
    assert client.get(f"/family-card/ufficio/carta?numero={stranger.number}").status_code == 404
    assert client.form(f"/family-card/carte/{stranger.id}/stato",
                       {"status": "revoked"}).status_code == 403
    assert client.form(f"/family-card/ufficio/regola/{other.id}",
                       {"min_children": "1", "child_max_age": "25"}).status_code == 403
