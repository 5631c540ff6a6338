"""The fund's open data: /api/v1/fondi, one fund, its movements in keyset pages, no names."""

from __future__ import annotations

from portal.fund.ledger import fund_for, post_contribution, post_grant
from portal.fund.services import record_donation


def test_funds_list_and_one_fund(client, db, factory):
    seveso = factory.comune("Seveso")
    fund = fund_for(seveso.id)
    post_contribution(fund, source="card", amount_cents=10_000, key="c")
    post_grant(fund, amount_cents=2_500, key="g", memo="Famiglia Rossi")
    db.session.commit()
    listing = client.get("/api/v1/fondi").get_json()["data"]
    assert listing[0]["slug"] == "rete" and listing[0]["attivo"] is False
    mine = next(f for f in listing if f["slug"] == seveso.slug)
    assert (mine["disponibile_centesimi"], mine["entrate_centesimi"],
            mine["uscite_centesimi"]) == (7_500, 10_000, 2_500)
    one = client.get(f"/api/v1/fondi/{seveso.slug}").get_json()
    assert one["entrate"] == {"card": 10_000} and one["uscite"] == {"support": 2_500}
    assert one["famiglie_sostenute"] is None  # fewer than 3
    assert len(one["mesi"]) == 12 and one["mesi"][-1]["entrate_centesimi"] == 10_000
    assert client.get("/api/v1/fondi/nessuno").status_code == 404


def test_movements_are_keyset_paged_and_anonymous(client, db, factory):
    seveso = factory.comune("Seveso")
    fund = fund_for(seveso.id)
    for i in range(60):
        record_donation(fund, amount_cents=100 + i, key=f"d{i}", donor_name="Mario Bianchi")
    post_grant(fund, amount_cents=500, key="g", memo="Famiglia Rossi")
    db.session.commit()
    first = client.get(f"/api/v1/fondi/{seveso.slug}/movimenti")
    body = first.get_data(as_text=True)
    assert "Bianchi" not in body and "Rossi" not in body
    page = first.get_json()
    assert len(page["data"]) == 50 and page["data"][0]["importo_centesimi"] == -500
    assert page["next"]
    second = client.get(page["next"]).get_json()
    assert len(second["data"]) == 11 and second["next"] is None
    ids = [m["id"] for m in page["data"] + second["data"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 61
    assert client.get(f"/api/v1/fondi/{seveso.slug}/movimenti?prima={2**55}"
                      ).get_json()["data"][0]["id"] == ids[0]
    assert client.get(f"/api/v1/fondi/{seveso.slug}/movimenti?prima=0").get_json()["data"] == []
    for bad in ("abc", "-1", "1e3", "١٢", str(2**70), ""):
        response = client.get(f"/api/v1/fondi/{seveso.slug}/movimenti", query_string={
            "prima": bad})
        assert response.status_code == 400, bad


def test_the_openapi_document_describes_the_fund_routes(client, db):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/fondi", "/fondi/{slug}", "/fondi/{slug}/movimenti"} <= set(paths)
