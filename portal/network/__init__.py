"""The Network: Comuni, associations, roles, applications to join."""

from flask import Blueprint, Flask

bp = Blueprint("network", __name__)

from portal import authz  # noqa: E402
from portal.core.services import register_home_context  # noqa: E402
from portal.network import personal, policies, views  # noqa: E402,F401
from portal.network.istat import province_name  # noqa: E402
from portal.network.services import network_summary, role_rows  # noqa: E402


def _home_context() -> dict:
    return {"summary": network_summary()}


def init_app(app: Flask) -> None:
    authz.register_role_loader(role_rows)  # every permission check reads the roles here
    register_home_context(_home_context)  # the home page shows the Rete's figures
    personal.init_app(app)  # roles, applications decided
    app.jinja_env.filters["province"] = province_name
