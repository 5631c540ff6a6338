"""The OpenAPI 3.1 document of the API, assembled from what every route declares.

Every operation also declares the errors any route can give (400 for a bad argument or a NUL
byte, 405 for a method other than GET/HEAD/OPTIONS, 500), all in the one error envelope; routes
add 404 where they read an id. Query arguments declared with `params.Query` are resolved when
the document is served, so enumerations read from the database (Comuni, tables, themes) are
listed as they are.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify

from portal import authz
from portal.api import bp
from portal.api.params import Query

#: path -> method -> operation object; filled at import time by the route modules
PATHS: dict[str, dict[str, Any]] = {}
ERROR = {"$ref": "#/components/schemas/Error"}
#: reusable schemas, by name
SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "Ogni errore dell'API, con qualunque stato: un codice stabile e un "
                       "messaggio in italiano.",
        "properties": {
            "error": {"type": "string", "enum": [
                "bad_request", "unauthorized", "forbidden", "not_found", "not_closed",
                "method_not_allowed", "too_large", "unprocessable", "too_many_requests",
                "server_error"]},
            "message": {"type": "string"}},
        "required": ["error", "message"],
    },
    "Page": {
        "type": "object",
        "description": "Pagination block of every list answer.",
        "properties": {
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "next": {"type": ["string", "null"]},
            "prev": {"type": ["string", "null"]},
        },
    },
}
#: the error answers of every operation
COMMON_ERRORS = {
    "400": {"description": "Argomento non valido (valore fuori dall'elenco ammesso, numero non "
                           "intero o fuori intervallo, cursore non dato dall'API, carattere "
                           "NUL).", "content": {"application/json": {"schema": ERROR}}},
    "405": {"description": "Metodo diverso da GET, HEAD e OPTIONS: l'API è in sola lettura. "
                           "L'intestazione Allow elenca i metodi ammessi.",
            "headers": {"Allow": {"schema": {"type": "string"}}},
            "content": {"application/json": {"schema": ERROR}}},
    "500": {"description": "Errore imprevisto del portale (registrato).",
            "content": {"application/json": {"schema": ERROR}}},
}
NOT_FOUND = {"description": "Nessun elemento pubblicato con questo id.",
             "content": {"application/json": {"schema": ERROR}}}

DESCRIPTION = """Dati pubblici del portale: buone pratiche, proposte, votazioni, tavoli, sedute e
delibere, conti dei fondi solidali, esercizi convenzionati con la Family Card, gruppi di
acquisto familiare con fornitori e prodotti. Licenza CC BY 4.0.
Lettura libera da qualunque sito (CORS: `Access-Control-Allow-Origin: *`, senza credenziali),
metodi GET, HEAD e OPTIONS.

Ogni risposta è JSON, anche gli errori, sempre nella forma `{"error": codice, "message": testo}`.
Un argomento con un valore che l'API non conosce è rifiutato con 400 e un messaggio, mai ignorato.
I cursori (`dopo`, `prima`) sono opachi: si usano gli indirizzi dei campi `next` e `prev`.

Scarichi CSV, fuori da /api/v1 (UTF-8 con BOM):
- `/pratiche.csv` e `/votazioni/{id}/risultati.csv`: separati da virgola, punto decimale, per i
  programmi;
- gli stessi con `?formato=excel`: separati da punto e virgola, virgola decimale, per Excel in
  italiano e i fogli di calcolo degli uffici;
- `/votazioni/{id}/voti.csv`: i voti pseudonimi di una votazione chiusa, per ricontarli."""


def path(openapi_path: str, method: str = "get", **operation: Any):
    """Declare the OpenAPI operation of the decorated view (no change to the view)."""

    def decorator(view):
        operation.setdefault("responses", {"200": {"description": "OK"}})
        PATHS.setdefault(openapi_path, {})[method.lower()] = operation
        return view

    return decorator


def schema(name: str, definition: dict[str, Any]) -> None:
    SCHEMAS[name] = definition


def _operation(operation: dict[str, Any]) -> dict[str, Any]:
    resolved = dict(operation)
    resolved["parameters"] = [p.openapi() if isinstance(p, Query) else p
                              for p in operation.get("parameters", [])]
    responses = dict(operation["responses"])
    if any(p["in"] == "path" for p in resolved["parameters"]):
        responses.setdefault("404", NOT_FOUND)
    for status, response in COMMON_ERRORS.items():
        responses.setdefault(status, response)
    resolved["responses"] = dict(sorted(responses.items()))
    return resolved


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Rete dei Comuni Amici della Famiglia — dati aperti",
            "version": "1",
            "description": DESCRIPTION,
            "license": {"name": "CC BY 4.0",
                        "url": "https://creativecommons.org/licenses/by/4.0/"},
        },
        "servers": [{"url": "/api/v1"}],
        "paths": {p.removeprefix("/api/v1"): {m: _operation(op) for m, op in ops.items()}
                  for p, ops in sorted(PATHS.items())},
        "components": {"schemas": SCHEMAS},
    }


@bp.get("/openapi.json")
@authz.public
@path("/api/v1/openapi.json", "get", summary="Questo documento (OpenAPI 3.1)",
      tags=["documento"],
      responses={"200": {"description": "Il documento OpenAPI dell'API",
                         "content": {"application/json": {"schema": {"type": "object"}}}}})
def openapi_json():
    return jsonify(document())
