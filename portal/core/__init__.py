"""Site-wide pages and services: home, static pages, audit log, mail outbox, activity."""

from flask import Blueprint

bp = Blueprint("core", __name__)

from portal.core import personal, views  # noqa: E402,F401


def init_app(app):
    personal.init_app(app)  # what core holds about a person (notifications, mail, audit log)
