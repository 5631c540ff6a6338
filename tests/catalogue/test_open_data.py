"""Open data: CSV export safe for spreadsheets, JSON API answering like the pages, OpenAPI."""

from __future__ import annotations

import csv
import io
import re

from tests.catalogue.test_search import titles


def test_csv_cells_cannot_become_formulas(client, practices):
    """Cells starting with = + - @ tab or CR are prefixed with a quote in the CSV."""
    practices.make(title="=HYPERLINK(\"http://evil.example\",\"clic\")",
                   summary="+39 02 1234", funding_sources="-1+1", contacts="@SUM(A1)")
    response = client.get("/pratiche.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    evil = next(r for r in rows if "HYPERLINK" in r["titolo"])
    assert evil["titolo"].startswith("'=")
    assert evil["sintesi"].startswith("'+")
    assert evil["fonti_finanziamento"].startswith("'-")
    assert evil["contatti"].startswith("'@")
    for row in rows:
        for value in row.values():
            assert not value or value[0] not in "=+-@\t\r", value


def test_csv_safe_neutralises_every_formula_start():
    """Tab and carriage return starts (which forms never keep) are neutralised too."""
    from portal.catalogue.views import csv_safe

    for text in ("=1+1", "+1", "-1", "@A1", "\tx", "\rx"):
        assert csv_safe(text) == "'" + text
    assert csv_safe("Pedibus") == "Pedibus" and csv_safe(None) == "" and csv_safe(12) == "12"


def test_csv_has_the_same_filters_as_the_page(client, practices, factory):
    """The CSV of a search lists exactly the practices of the page, drafts excluded."""
    seveso = factory.comune("Seveso")
    practices.make(title="Pedibus di Seveso", comuni=[seveso])
    practices.make(title="Pedibus altrove")
    practices.make(title="Pedibus in bozza", comuni=[seveso], published=False)
    body = client.get("/pratiche.csv?q=pedibus&comune=seveso").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert [r["titolo"] for r in rows] == ["Pedibus di Seveso"]
    assert rows[0]["comuni"] == "Seveso"
    assert rows[0]["url"].endswith("/pratiche/pedibus-di-seveso")


def test_the_page_offers_a_csv_for_excel_and_one_for_programs(client, practices):
    """The office file opens in columns in Italian Excel: BOM, semicolons, decimal comma;
    the machine file keeps commas and a decimal point. The page says which is which."""
    practices.make(title="Pedibus", cost_cents=123450)
    page = client.get("/pratiche").get_data(as_text=True)
    assert 'href="/pratiche.csv?formato=excel"' in page and "per Excel" in page
    assert 'href="/pratiche.csv"' in page and "CSV per programmi" in page
    office = client.get("/pratiche.csv?formato=excel")
    assert "excel" in office.headers["Content-Disposition"]
    body = office.get_data(as_text=True)
    assert body.startswith("\ufeff")
    row = next(csv.DictReader(io.StringIO(body.lstrip("\ufeff")), delimiter=";"))
    assert row["titolo"] == "Pedibus" and row["costo_euro"] == "1234,50"
    machine = client.get("/pratiche.csv").get_data(as_text=True)
    row = next(csv.DictReader(io.StringIO(machine.lstrip("\ufeff"))))
    assert row["costo_euro"] == "1234.50"


def test_api_answers_like_the_page(client, practices, factory):
    """/api/v1/pratiche with the page's arguments returns the same practices in the same
    order, the same total and the same facet counts."""
    seveso = factory.comune("Seveso")
    for i in range(5):
        practices.make(title=f"Famiglie insieme {i}", comuni=[seveso],
                       themes=["mutuo-aiuto"] if i % 2 else ["partecipazione"])
    practices.make(title="Orti", comuni=[seveso])
    for query in ("q=famiglia", "q=famiglia&tema=mutuo-aiuto", "comune=seveso&ordina=title",
                  "", "q=nessuna"):
        page = client.get(f"/pratiche?{query}").get_data(as_text=True)
        data = client.get(f"/api/v1/pratiche?{query}").get_json()
        assert [p["title"] for p in data["data"]] == titles(page), query
        total = re.search(r"(\d+) buon[ae] pratic[ah]e? trovat[ae]", page).group(1)
        assert data["page"]["total"] == int(total), query
    data = client.get("/api/v1/pratiche?q=famiglia").get_json()
    assert {o["label"]: o["count"] for o in data["facets"]["tema"]} == {
        "Partecipazione": 3, "Mutuo aiuto": 2}


def test_api_pages_and_limits(client, practices, factory):
    """per_pagina bounds the page; next/prev link the pages; bad values get a JSON 400."""
    comune = factory.comune()
    for i in range(5):
        practices.make(title=f"Pratica {i}", comuni=[comune])
    data = client.get("/api/v1/pratiche?per_pagina=2&ordina=title").get_json()
    assert [p["title"] for p in data["data"]] == ["Pratica 0", "Pratica 1"]
    assert data["page"]["next"] == "/api/v1/pratiche?ordina=title&pagina=2&per_pagina=2"
    data = client.get(data["page"]["next"]).get_json()
    assert [p["title"] for p in data["data"]] == ["Pratica 2", "Pratica 3"]
    for bad in ("per_pagina=0", "per_pagina=1000", "per_pagina=x", "pagina=-2"):
        response = client.get(f"/api/v1/pratiche?{bad}")
        assert response.status_code == 400 and response.get_json()["error"] == "bad_request"


def test_api_detail_and_drafts(client, practices, factory):
    """/api/v1/pratiche/<id> gives a published practice with promoters and adoptions; a draft
    or an unknown id is a JSON 404."""
    seveso, giussano = factory.comune("Seveso"), factory.comune("Giussano")
    practice = practices.make(title="Pedibus", comuni=[seveso], cost_cents=120000,
                              promoters=[("Comune di Seveso", "comune")])
    practices.adopt(practice, giussano, "avvio")
    draft = practices.make(title="Bozza", published=False)
    data = client.get(f"/api/v1/pratiche/{practice.id}").get_json()
    assert data["title"] == "Pedibus" and data["cost_cents"] == 120000
    assert data["promoters"] == [{"name": "Comune di Seveso", "kind": "comune", "role": None}]
    assert data["adoptions"][0]["comune"] == "Giussano" and data["adoption_count"] == 1
    for missing in (draft.id, 999999):
        response = client.get(f"/api/v1/pratiche/{missing}")
        assert response.status_code == 404 and response.get_json()["error"] == "not_found"


def test_openapi_describes_the_catalogue_routes(client):
    """The OpenAPI document declares both catalogue routes with their filters."""
    doc = client.get("/api/v1/openapi.json").get_json()
    assert "/pratiche" in doc["paths"] and "/pratiche/{practice_id}" in doc["paths"]
    names = {p["name"] for p in doc["paths"]["/pratiche"]["get"]["parameters"]}
    assert {"q", "tema", "comune", "stato", "promotore", "ordina", "pagina"} <= names
    assert "Practice" in doc["components"]["schemas"]
