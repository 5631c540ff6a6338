"""The API's contract, case by case (tests/core/test_schemathesis.py generates thousands more):
JSON for every answer under /api/, errors included; every argument value checked, with a
message that says what it takes; cursors as the API hands them out; the document declares it
all; open to every origin for reading."""

from __future__ import annotations

import pytest

from portal.api import tables as api_tables
from portal.api.params import comune_slugs
from portal.proposals.models import ProposalState
from tests.proposals.helpers import make_proposal

API = "/api/v1"


def _json_error(response, status: int, code: str) -> str:
    assert response.status_code == status, (response.status_code, response.data[:300])
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "message"} and body["error"] == code, body
    assert body["message"]
    return body["message"]


@pytest.mark.parametrize("path", [
    "/api/nessuna", f"{API}/nessuna", f"{API}/pratiche/abc", f"{API}/pratiche/99999999999",
    f"{API}/sedute/-1", f"{API}/votazioni/x/risultati"])
def test_unknown_paths_under_api_are_json_404(client, path):
    _json_error(client.get(path), 404, "not_found")


def test_a_page_keeps_its_html_error(client):
    response = client.get("/nessuna-pagina")
    assert response.status_code == 404 and response.mimetype == "text/html"


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_writing_methods_are_json_405_with_allow(client, method):
    response = getattr(client, method)(f"{API}/tavoli")
    _json_error(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD",
                                                                          "OPTIONS"}


def test_nul_byte_and_server_error_are_json(client, monkeypatch):
    _json_error(client.get(f"{API}/pratiche?q=a%00b"), 400, "bad_request")

    def broken():
        raise RuntimeError("the database went away")

    monkeypatch.setattr(api_tables.services, "tables_list", broken)
    _json_error(client.get(f"{API}/tavoli"), 500, "server_error")


@pytest.mark.parametrize("query, named", [
    ("pratiche?stato=foo", "stato"), ("pratiche?ordina=foo", "ordina"),
    ("pratiche?promotore=x", "promotore"), ("pratiche?tema=nessuno", "tema"),
    ("pratiche?comune=atlantide", "comune"), ("pratiche?per_pagina=", "per_pagina"),
    ("pratiche?pagina=0", "pagina"), ("proposte?stato=foo", "stato"),
    ("proposte?ordina=foo", "ordina"), ("proposte?votazione=abc", "votazione"),
    ("proposte?votazione=0", "votazione"), ("proposte?votazione=%C2%B2", "votazione"),
    ("proposte?tavolo=nessuno", "tavolo"), ("proposte?tema=x", "tema"),
    ("proposte?comune=Atlantide", "comune"), ("delibere?esito=forse", "esito"),
    ("delibere?tavolo=x", "tavolo")])
def test_unknown_filter_values_are_refused_with_a_message(client, factory, query, named):
    factory.comune("Seveso")
    message = _json_error(client.get(f"{API}/{query}"), 400, "bad_request")
    assert f"«{named}»" in message


def test_the_refusal_lists_what_is_allowed(client):
    message = _json_error(client.get(f"{API}/proposte?ordina=migliori"), 400, "bad_request")
    assert "recenti" in message and "sostegni" in message


@pytest.mark.parametrize("cursor", ["zzz", "1_0", "01_1", "1_-1", "1_1e3", "1_", "_1",
                                    "1_1 ", "١_١", "1" * 17 + "_1", "1_" + "9" * 10])
def test_cursors_the_api_never_hands_out_are_refused(client, cursor):
    for name in ("dopo", "prima"):
        message = _json_error(client.get(f"{API}/proposte", query_string={name: cursor}),
                              400, "bad_request")
        assert "next" in message


@pytest.mark.parametrize("cursor", ["ieri_1", "2026-13-01_1", "2026-00-10_1", "2026-1-1_1",
                                    "2026-01-32_1", "0999-01-01_1", "2026-01-01_0",
                                    "2026-01-01"])
def test_decision_cursors_outside_their_grammar_are_refused(client, cursor):
    _json_error(client.get(f"{API}/delibere", query_string={"prima": cursor}), 400,
                "bad_request")


def test_every_cursor_of_the_grammar_names_a_place(client, factory):
    """A day past the month's end continues from the month after; a support count past any
    proposal's continues from the top; both are answers, not errors."""
    for i in range(3):
        make_proposal(factory, title=f"Proposta {i}", state=ProposalState.PUBLISHED)
    for query in ("prima=2026-02-30_5", "prima=9999-12-31_999999999"):
        assert client.get(f"{API}/delibere?{query}").status_code == 200
    top = client.get(f"{API}/proposte?ordina=sostegni").get_json()["items"]
    huge = client.get(f"{API}/proposte?ordina=sostegni&dopo=9999999999999999_1").get_json()
    assert [p["id"] for p in huge["items"]] == [p["id"] for p in top]
    assert client.get(f"{API}/proposte?dopo=9999999999999999_999999999").status_code == 200


def test_the_cursors_handed_out_lead_through_the_list(client, factory):
    for i in range(55):
        make_proposal(factory, title=f"Proposta {i}", state=ProposalState.PUBLISHED)
    first = client.get(f"{API}/proposte").get_json()
    second = client.get(first["next"].split("localhost", 1)[1]).get_json()
    back = client.get(second["prev"].split("localhost", 1)[1]).get_json()
    assert len(first["items"]) == 50 and len(second["items"]) == 5
    assert [p["id"] for p in back["items"]] == [p["id"] for p in first["items"]]


def test_the_document_declares_every_status_and_enumeration(client, factory):
    factory.comune("Seveso")
    doc = client.get(f"{API}/openapi.json").get_json()
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert {"200", "400", "405", "500"} <= statuses, (path, method)
            if "{" in path:
                assert "404" in statuses, path
            for status, answer in operation["responses"].items():
                if status != "200":
                    assert answer["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"}
    declared = {p["name"]: p for p in doc["paths"]["/proposte"]["get"]["parameters"]}
    params = {name: p["schema"] for name, p in declared.items()}
    assert params["comune"]["enum"] == list(comune_slugs()) and "seveso" in comune_slugs()
    assert params["ordina"]["enum"] == ["recenti", "sostegni"]
    assert {"intercomunale", "comunali"} <= set(params["tavolo"]["enum"])
    assert params["votazione"]["type"] == "integer"
    assert "pattern" in params["dopo"] and "next" in declared["dopo"]["description"]
    delibere = {p["name"]: p["schema"] for p in doc["paths"]["/delibere"]["get"]["parameters"]}
    assert "pattern" in delibere["prima"]
    assert "?formato=excel" in doc["info"]["description"]
    assert "punto e virgola" in doc["info"]["description"]


def test_the_api_is_open_to_every_origin_for_reading(client):
    for path in (f"{API}/tavoli", f"{API}/nessuna", f"{API}/pratiche?stato=x"):
        response = client.get(path, headers={"Origin": "https://dati.example.org"})
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in response.headers
        assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    preflight = client.options(f"{API}/pratiche", headers={
        "Origin": "https://dati.example.org", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "accept-language"})
    assert preflight.status_code == 204 and not preflight.data
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
    assert preflight.headers["Access-Control-Allow-Headers"] == "accept-language"
    assert client.head(f"{API}/tavoli").status_code == 200


def test_pages_keep_to_their_own_origin(client):
    for path in ("/", "/pratiche", f"{API}/tavoli", "/nessuna-pagina"):
        response = client.get(path)
        assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert "Cross-Origin-Resource-Policy" in response.headers
    page = client.get("/pratiche", headers={"Origin": "https://altro.example.org"})
    assert page.headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert "Access-Control-Allow-Origin" not in page.headers
