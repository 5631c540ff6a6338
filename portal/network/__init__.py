"""The Network: Comuni, associations, roles, applications to join."""

from flask import Blueprint

bp = Blueprint("network", __name__)

from portal.network import policies, views  # noqa: E402,F401
