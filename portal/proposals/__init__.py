"""Proposals: families draft and submit, associations moderate, everyone comments."""

from flask import Blueprint

bp = Blueprint("proposals", __name__)

from portal.proposals import hooks, personal, policies, views  # noqa: E402,F401


def init_app(app):
    hooks.init_app(app)
    personal.init_app(app)  # proposals, comments, reports, co-proposals of a person
