"""Fund (fondo solidale): the ledger of each Comune's fund and the Rete's, donations,
campaigns and public accounts; support applications build on the ledger's service API
(`portal.fund.ledger`)."""

from flask import Blueprint, Flask

bp = Blueprint("fund", __name__)

from portal.fund import personal, support_views, views  # noqa: E402,F401
from portal.fund.cli import fund_cli  # noqa: E402


def init_app(app: Flask) -> None:
    personal.init_app(app)  # the ledger's models: no personal data, donors' names apart
    app.cli.add_command(fund_cli)
    views.init_app(app)  # the dashboard panel of fund managers
    support_views.init_app(app)  # applications, Fattore Famiglia, tariffs: own blueprint
