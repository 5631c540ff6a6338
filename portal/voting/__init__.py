"""Voting rounds: verified households support proposals or share a participatory budget."""

import click
from flask import Blueprint

bp = Blueprint("voting", __name__)

from portal.voting import views  # noqa: E402,F401


def init_app(app):
    @app.cli.group("voting")
    def voting_cli():
        """Voting rounds."""

    @voting_cli.command("close")
    def close_rounds():
        """Publish the results of every round that has closed (safe to run twice)."""
        from portal.voting.services import close_due_rounds

        done = close_due_rounds()
        click.echo(f"{done} votazioni chiuse e conteggiate.")
