"""The catalogue of good practices (buone pratiche): publish, search, adopt, open data."""

from flask import Blueprint

bp = Blueprint("catalogue", __name__)

from portal.catalogue import personal, policies, services, views  # noqa: E402,F401


def init_app(app):
    services.register_panels()
    services.listen_for_commits()
    views.init_template_globals(app)
    personal.init_app(app)  # practices, revisions, files, adoptions by a person
