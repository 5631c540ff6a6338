"""Accounts: users, login sessions, households and their verification."""

from flask import Blueprint

bp = Blueprint("accounts", __name__)

from portal.accounts import personal, policies, services, views  # noqa: E402,F401


def init_app(app):
    services.init_login(app)
    personal.init_app(app)  # the account, sessions, household, invitations
