"""Open data API (/api/v1): JSON, read-only, public; described by /api/v1/openapi.json.

Each module's routes live in their own file here and describe themselves with `openapi.path()`;
their query arguments are read by `params` (an unknown value is a 400, never ignored). Errors
under /api/ are JSON too (portal/security.py).
"""

from flask import Blueprint, Flask, request

bp = Blueprint("api", __name__, url_prefix="/api/v1")

#: Open data: any site may read the API from a browser, without credentials.
CORS_HEADERS = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS"),
    ("Access-Control-Max-Age", "86400"),
    ("Cross-Origin-Resource-Policy", "cross-origin"),
)


def _open_to_every_origin(response):
    if not request.path.startswith("/api/"):
        return response
    for name, value in CORS_HEADERS:
        response.headers[name] = value
    if request.method == "OPTIONS" and response.status_code == 200:
        # Flask's own answer to OPTIONS (Allow) is an empty text/html page: nothing to say.
        response.status_code = 204
        response.set_data(b"")
        response.headers.pop("Content-Type", None)
        # A preflight may name request headers (Accept-Language...); a read needs no other.
        asked = request.headers.get("Access-Control-Request-Headers")
        if asked:
            response.headers["Access-Control-Allow-Headers"] = asked
    return response


def init_app(app: Flask) -> None:
    app.after_request(_open_to_every_origin)


from portal.api import card, catalogue, fund, gaf, openapi, proposals, tables  # noqa: E402,F401
