"""The OpenAPI 3.1 document of the API, assembled from what every route declares."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from portal import authz
from portal.api import bp

#: path -> method -> operation object; filled at import time by the route modules
PATHS: dict[str, dict[str, Any]] = {}
#: reusable schemas, by name
SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
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


def path(openapi_path: str, method: str = "get", **operation: Any):
    """Declare the OpenAPI operation of the decorated view (no change to the view)."""

    def decorator(view):
        operation.setdefault("responses", {"200": {"description": "OK"}})
        PATHS.setdefault(openapi_path, {})[method.lower()] = operation
        return view

    return decorator


def schema(name: str, definition: dict[str, Any]) -> None:
    SCHEMAS[name] = definition


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Rete dei Comuni Amici della Famiglia — dati aperti",
            "version": "1",
            "description": "Dati pubblici del portale: buone pratiche, proposte, votazioni, "
                           "tavoli, sedute e delibere. Licenza CC BY 4.0.",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": {p.removeprefix("/api/v1"): ops for p, ops in sorted(PATHS.items())},
        "components": {"schemas": SCHEMAS},
    }


@bp.get("/openapi.json")
@authz.public
def openapi_json():
    return jsonify(document())
