"""The GAF's pages: the public list and group page, a household's order (htmx and plain),
the coordinator's round, aggregate, CSV, ticks and settlement, who may do what, and every
form's bad input answered 422 in Italian."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.authz import Role
from portal.fund.models import FundTransaction
from portal.gaf import services
from portal.gaf.models import GafOrder, GafProduct, GafSupplier
from tests.conftest import login, page_text


@pytest.fixture
def family(g, gaf, client):
    member = gaf.member(g.group, g.comune, commitment=12_000, name="Famiglia Rossi", users=2)
    login(client, member.user.email)
    return member


def test_public_list_and_group_page(client, g):
    text = page_text(client.get("/gaf"))
    assert "Seveso" in text and "GAF Seveso" in text
    response = client.get(f"/gaf/{g.group.id}")
    assert response.status_code == 200
    text = page_text(response)
    assert "Oratorio San Carlo" in text and "Forno Brianza" in text
    assert "Farine locali" in text and "2% di ogni giro" in text
    assert client.get("/gaf/999999").status_code == 404


def test_a_family_orders_with_htmx_and_without(client, db, g, family):
    url = f"/gaf/giri/{g.round.id}/ordine"
    page = client.get(url)
    assert page.status_code == 200
    assert 'data-hx-post="' in page.get_data(as_text=True)
    response = client.form(f"{url}/{g.loaf.id}", {"quantity": "2"}, htmx=True)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="order"') and "<html" not in body
    assert "Totale dell'ordine: 7,00" in page_text(response)
    response = client.form(f"{url}/{g.eggs.id}", {"quantity": "6"})
    assert response.status_code == 303 and response.headers["Location"].startswith(url)
    text = page_text(client.get(url))
    assert "Totale dell'ordine: 9,70" in text
    assert "Impegno mensile: 120,00" in text


def test_bad_quantities_are_refused_with_the_rule(client, db, g, family):
    url = f"/gaf/giri/{g.round.id}/ordine/{g.eggs.id}"
    for bad, words in (("7", "multipli di 6"), ("3", "minimo"), ("120", "massimo"),
                       ("abc", "numero intero"), ("", "Indica la quantità"),
                       ("١٢", "numero intero"), ("99999999999", "numero intero"),
                       ("-6", "da 0 a")):
        response = client.form(url, {"quantity": bad}, htmx=True)
        assert response.status_code == 422, bad
        assert words in page_text(response), (bad, page_text(response)[:300])
    response = client.form(url, {"quantity": "7"})
    assert response.status_code == 422 and "<html" in response.get_data(as_text=True)
    assert client.form(f"/gaf/giri/{g.round.id}/ordine/999999", {"quantity": "1"}
                       ).status_code == 404


def test_no_change_after_the_close(client, db, g, family):
    client.form(f"/gaf/giri/{g.round.id}/ordine/{g.loaf.id}", {"quantity": "2"})
    services.close(g.round)
    db.session.commit()
    response = client.form(f"/gaf/giri/{g.round.id}/ordine/{g.loaf.id}", {"quantity": "5"},
                           htmx=True)
    assert response.status_code == 422 and "chiuso" in page_text(response)
    order = services.order_of(g.round.id, family.household.id)
    db.session.refresh(order)
    assert order.total_cents == 700


def test_coordinator_closes_sees_aggregate_csv_ticks_and_settles(client, db, g, gaf):
    a = gaf.member(g.group, g.comune, name="Famiglia Rossi")
    b = gaf.member(g.group, g.comune, name="Famiglia Bianchi")
    services.set_quantity(g.round.id, a.household.id, g.loaf.id, 3)
    services.set_quantity(g.round.id, b.household.id, g.loaf.id, 2)
    services.set_quantity(g.round.id, b.household.id, g.taleggio.id, 4)
    db.session.commit()
    login(client, g.coordinator.email)
    base = f"/gaf/giri/{g.round.id}"
    assert client.get(f"/gaf/{g.group.id}/gestione").status_code == 200
    assert client.form(f"{base}/chiudi", {}).status_code == 303
    text = page_text(client.get(f"{base}/riepilogo"))
    assert "Forno Brianza — 17,50" in text and "Caseificio del Lambro — 7,96" in text
    assert "Famiglia Bianchi" in text and "14,96" in text
    csv_text = client.get(f"{base}/riepilogo.csv").get_data(as_text=True)
    lines = csv_text.strip().splitlines()
    assert lines[0] == "fornitore,prodotto,unita,quantita,prezzo_euro,importo_euro"
    assert "Forno Brianza,Pane integrale,pagnotta,5,3.50,17.50" in lines
    assert "Caseificio del Lambro,Taleggio,etto,4,1.99,7.96" in lines
    order = services.order_of(g.round.id, a.household.id)
    assert client.form(f"{base}/consegne/{order.id}", {"delivered": "1"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(GafOrder, order.id).delivered_at is not None
    assert client.form(f"{base}/consegne/{order.id}", {"delivered": "x"}).status_code == 422
    assert client.form(f"{base}/consegna", {}).status_code == 303
    assert client.form(f"{base}/salda", {}).status_code == 303
    assert client.form(f"{base}/salda", {}).status_code == 303  # a second click
    assert db.session.scalar(select(func.count()).select_from(FundTransaction)) == 1
    text = page_text(client.get(f"/fondo/{g.comune.slug}"))
    assert "0,51" in text  # 2% of 25,46 € = 0,5092 € → 0,51 €
    assert "0,51" in page_text(client.get(f"/gaf/{g.group.id}"))


def test_who_may_not(client, db, g, gaf, factory, login_as):
    other = gaf.group(comune=factory.comune("Giussano"), name="GAF Giussano")
    base = f"/gaf/giri/{g.round.id}"
    # anonymous: sent to log in
    assert client.get(f"{base}/ordine").status_code == 302
    # a household of the Comune that is not a member
    login_as("family", comune=g.comune)
    assert client.get(f"{base}/ordine").status_code == 403
    assert client.form(f"{base}/ordine/{g.loaf.id}", {"quantity": "1"}).status_code == 403
    assert client.get(f"/gaf/{g.group.id}/gestione").status_code == 403
    client.post("/esci", data={"csrf_token": client.csrf()})
    # another group's coordinator
    login(client, other.coordinator.email)
    for url in (f"/gaf/{g.group.id}/gestione", f"{base}/riepilogo", f"{base}/riepilogo.csv",
                f"/gaf/fornitori/{g.bread.id}", f"/gaf/prodotti/{g.loaf.id}"):
        assert client.get(url).status_code == 403, url
    for url in (f"{base}/chiudi", f"/gaf/{g.group.id}/fornitori",
                f"/gaf/fornitori/{g.bread.id}/prodotti"):
        assert client.form(url, {}).status_code == 403, url
    assert client.form(f"{base}/ordine/{g.loaf.id}", {"quantity": "1"}).status_code == 403
    client.post("/esci", data={"csrf_token": client.csrf()})
    # a merchant operator, and the officer of another Comune
    login_as(Role.MERCHANT_OPERATOR, 1)
    assert client.get(f"/gaf/{g.group.id}/gestione").status_code == 403
    assert client.form(f"{base}/chiudi", {}).status_code == 403
    client.post("/esci", data={"csrf_token": client.csrf()})
    login_as(Role.COMUNE_OFFICER, other.comune.id)
    assert client.form(f"{base}/chiudi", {}).status_code == 403
    client.post("/esci", data={"csrf_token": client.csrf()})
    # the officer of the group's Comune may manage
    login_as(Role.COMUNE_OFFICER, g.comune.id)
    assert client.get(f"/gaf/{g.group.id}/gestione").status_code == 200


def test_join_commitment_and_their_bad_input(client, db, g, login_as, factory):
    login_as("family", comune=g.comune)
    url = f"/gaf/{g.group.id}"
    for bad, words in (("abc", "Scrivi un importo"), ("1.000,01", "troppo alto"),
                       ("-5", "negativo")):
        response = client.form(f"{url}/aderisci", {"commitment": bad})
        assert response.status_code == 422 and words in page_text(response), bad
    assert client.form(f"{url}/aderisci", {"commitment": "80"}).status_code == 303
    assert "Impegno mensile: 80,00" in page_text(client.get(url))
    response = client.form(f"{url}/aderisci", {"commitment": "80"})
    assert response.status_code == 422 and "già parte" in page_text(response)
    response = client.form(f"{url}/impegno", {"commitment": ""})
    assert response.status_code == 422 and "anche 0" in page_text(response)
    assert client.form(f"{url}/impegno", {"commitment": "95,50"}).status_code == 303
    assert "95,50" in page_text(client.get(url))
    assert client.form(f"{url}/lascia", {}).status_code == 303
    client.post("/esci", data={"csrf_token": client.csrf()})
    login_as("family", comune=factory.comune("Limbiate"))
    assert client.form(f"{url}/aderisci", {"commitment": "10"}).status_code == 403


def test_coordinator_forms_refuse_bad_input(client, db, g):
    login(client, g.coordinator.email)
    manage = f"/gaf/{g.group.id}"
    for data, words in (({"closes_on": "", "closes_time": "18:00", "delivery_on": "2030-01-05"},
                         "giorno di chiusura"),
                        ({"closes_on": "2030-01-02", "closes_time": "25:00",
                          "delivery_on": "2030-01-05"}, "orario valido"),
                        ({"closes_on": "2030-01-06", "closes_time": "18:00",
                          "delivery_on": "2030-01-05"}, "non può precedere"),
                        ({"closes_on": "3030-01-06", "closes_time": "18:00",
                          "delivery_on": "2030-01-05"}, "tra il 2000 e il 2100")):
        response = client.form(f"{manage}/giri", data)
        assert response.status_code == 422 and words in page_text(response), data
    response = client.form(f"{manage}/giri", {"closes_on": "2030-01-02", "closes_time": "18:00",
                                              "delivery_on": "2030-01-05"})
    assert response.status_code == 303
    response = client.form(f"{manage}/fornitori", {"name": "", "patto": ""})
    assert response.status_code == 422 and "nome del fornitore" in page_text(response)
    response = client.form(f"{manage}/fornitori", {"name": "Detersivi\x00", "patto": "x"})
    assert response.status_code == 422 and "caratteri non ammessi" in page_text(response)
    response = client.form(f"{manage}/fornitori", {"name": "Cooperativa Detersivi Sfusi",
                                                   "town": "Giussano", "active": "y",
                                                   "patto": "Ricariche sfuse."})
    assert response.status_code == 303
    supplier = db.session.scalar(select(GafSupplier).where(
        GafSupplier.name == "Cooperativa Detersivi Sfusi"))
    url = f"/gaf/fornitori/{supplier.id}/prodotti"
    good = {"name": "Detersivo piatti", "unit": "litro", "price": "2,80", "min_qty": "1",
            "multiple": "1", "max_qty": "10", "available": "y"}
    for change, words in (({"price": "0"}, "maggiore di zero"), ({"price": "tre"}, "importo"),
                          ({"min_qty": "0"}, "da 1 a"), ({"max_qty": ""}, "quantità massima"),
                          ({"min_qty": "5", "max_qty": "2"}, "minore del minimo"),
                          ({"unit": ""}, "unità")):
        response = client.form(url, {**good, **change})
        assert response.status_code == 422 and words in page_text(response), change
    assert client.form(url, good).status_code == 303
    product = db.session.scalar(select(GafProduct).where(GafProduct.name == "Detersivo piatti"))
    assert product.price_cents == 280
    assert client.get(f"/gaf/prodotti/{product.id}").status_code == 200
    response = client.form(f"/gaf/prodotti/{product.id}", {**good, "max_qty": "abc"})
    assert response.status_code == 422 and "numero intero" in page_text(response)
    assert client.form(f"/gaf/prodotti/{product.id}", {**good, "price": "3"}).status_code == 303
    db.session.refresh(product)
    assert product.price_cents == 300
    response = client.form(f"/gaf/fornitori/{supplier.id}", {"fornitore-name": "",
                                                             "fornitore-patto": "x"})
    assert response.status_code == 422 and "nome del fornitore" in page_text(response)
    response = client.form(f"/gaf/fornitori/{supplier.id}", {
        "fornitore-name": "Sfuso Brianza", "fornitore-patto": "Ricariche sfuse a rendere."})
    assert response.status_code == 303
    db.session.refresh(supplier)
    assert supplier.name == "Sfuso Brianza" and not supplier.active
