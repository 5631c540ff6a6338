"""GAF (Gruppi di Acquisto Familiare): families order together from local suppliers; at each
round's settlement the group's share goes to the Comune's fondo solidale through the fund's
ledger (`portal.fund.ledger`)."""

from flask import Blueprint, Flask

bp = Blueprint("gaf", __name__)

from portal.gaf import personal, policies, views  # noqa: E402,F401


def init_app(app: Flask) -> None:
    personal.init_app(app)
