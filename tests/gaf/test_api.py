"""/api/v1/gaf: groups, suppliers and products, in the OpenAPI document; no household."""

from __future__ import annotations


def test_groups_suppliers_and_products(client, g, gaf):
    gaf.member(g.group, g.comune, name="Famiglia Segreta")
    data = client.get("/api/v1/gaf").get_json()["data"]
    assert [(d["nome"], d["comune"], d["famiglie"], d["quota_fondo_percentuale"])
            for d in data] == [("GAF Seveso", "seveso", 2, 2.0)]
    assert client.get("/api/v1/gaf?comune=seveso").get_json()["data"]
    response = client.get("/api/v1/gaf?comune=atlantide")
    assert response.status_code == 400 and response.get_json()["error"]
    detail = client.get(data[0]["api"]).get_json()
    suppliers = {s["nome"]: s for s in detail["fornitori"]}
    assert suppliers["Forno Brianza"]["patto"].startswith("Farine locali")
    eggs = next(p for p in suppliers["Forno Brianza"]["prodotti"] if p["nome"] == "Uova")
    assert (eggs["prezzo_centesimi"], eggs["minimo"], eggs["multiplo"], eggs["massimo"]) == (
        45, 6, 6, 60)
    assert "Segreta" not in client.get(data[0]["api"]).get_data(as_text=True)
    missing = client.get("/api/v1/gaf/999999")
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"


def test_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/gaf" in paths and "/gaf/{group_id}" in paths
    assert {"400", "404"} <= set(paths["/gaf/{group_id}"]["get"]["responses"])
