"""Proposals: families draft and submit, associations moderate, everyone comments."""

from flask import Blueprint

bp = Blueprint("proposals", __name__)

from portal.proposals import policies, views  # noqa: E402,F401


def init_app(app):
    from portal.proposals.hooks import init_app as init_hooks

    init_hooks(app)
