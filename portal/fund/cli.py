"""`flask fund ...`: the ledger's commands."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.extensions import db
from portal.fund.ledger import check

fund_cli = AppGroup("fund", help="I fondi solidali.")


@fund_cli.command("check")
@click.option("--no-hashes", is_flag=True, help="Skip the fingerprints of the transactions.")
def fund_check(no_hashes: bool) -> None:
    """Verify every invariant of the ledger; exit 1 and list the violations if any."""
    problems = check(hashes=not no_hashes)
    db.session.rollback()
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        click.echo(f"{len(problems)} violazioni nel registro dei fondi.", err=True)
        raise SystemExit(1)
    click.echo("Registro dei fondi coerente.")
