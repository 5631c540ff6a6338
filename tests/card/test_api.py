"""/api/v1/esercenti: public fields only, validated filters, JSON errors."""

from __future__ import annotations

from portal.card import services


def test_api_lists_merchants_with_public_fields_only(app, db, client, cards, factory):
    comune = factory.comune(name="Seveso")
    merchant = cards.merchant(comune=comune, name="Forno Buono", discount_bp=2000)
    merchant.vat_number, merchant.contact_email = "00743110157", "forno@example.org"
    db.session.commit()
    cards.merchant(name="Altrove", discount_bp=300)
    data = client.get(f"/api/v1/esercenti?comune={comune.slug}").get_json()
    assert [m["nome"] for m in data["data"]] == ["Forno Buono"]
    record = data["data"][0]
    assert record["riconoscimento"] == "Sostenitore della famiglia"
    assert record["offerte"][0]["sconto_percentuale"] == 20
    text = client.get("/api/v1/esercenti").get_data(as_text=True)
    assert "00743110157" not in text and "forno@example.org" not in text
    assert [m["nome"] for m in client.get("/api/v1/esercenti?sconto=5").get_json()["data"]] == [
        "Forno Buono"]
    assert client.get(f"/api/v1/esercenti/{merchant.id}").get_json()["nome"] == "Forno Buono"


def test_api_refuses_bad_filters_in_json(app, db, client, cards):
    for bad in ("sconto=abc", "sconto=101", "categoria=nulla", "comune=atlantide", "pagina=0"):
        response = client.get(f"/api/v1/esercenti?{bad}")
        assert response.status_code == 400, bad
        assert response.get_json()["error"] == "bad_request"
    missing = client.get("/api/v1/esercenti/999999")
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"
    assert services.CATEGORIES
