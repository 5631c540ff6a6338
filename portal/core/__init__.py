"""Site-wide pages and services: home, static pages, audit log, mail outbox, activity."""

from flask import Blueprint

bp = Blueprint("core", __name__)

from portal.core import views  # noqa: E402,F401
