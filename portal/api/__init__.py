"""Open data API (/api/v1): JSON, read-only, public; described by /api/v1/openapi.json.

Each module's routes live in their own file here and describe themselves with `openapi.path()`.
"""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from portal.api import catalogue, openapi, proposals, tables  # noqa: E402,F401
