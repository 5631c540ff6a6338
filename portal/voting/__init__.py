"""Voting rounds: verified households support proposals or share a participatory budget."""

import click
from flask import Blueprint

from portal.extensions import db
from portal.voting.hooks import register_tables

bp = Blueprint("voting", __name__)

from portal.voting import personal, services, views  # noqa: E402
from portal.voting.models import Round  # noqa: E402

__all__ = ["bp", "init_app", "register_tables"]


def init_app(app):
    """Give the proposals module (below) the vote box of its pages and the votes' part in
    merges and lists, and add `flask voting close`."""
    views.register_with_proposals()
    personal.init_app(app)  # a household's votes, rounds a person set up

    @app.cli.group("voting")
    def voting_cli():
        """Voting rounds."""

    @voting_cli.command("close")
    def close_rounds():
        """Store the results of every round that has closed and move its selected proposals
        on (run by cron; safe to run twice, or on two nodes at once)."""
        done = 0
        for round_id in services.due_rounds():
            round_ = db.session.get(Round, round_id)
            if round_ is not None and services.ensure_results(round_):
                done += 1
            db.session.commit()  # one round at a time: a failure leaves the others counted
        click.echo(f"{done} votazioni chiuse e conteggiate.")
