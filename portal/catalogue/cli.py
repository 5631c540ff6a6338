"""`flask catalogue ...` commands: rebuild the search index."""

import click
from flask import Flask
from flask.cli import with_appcontext

from portal.extensions import db


@click.group("catalogue")
def catalogue() -> None:
    """The catalogue of good practices."""


@catalogue.command("reindex")
@with_appcontext
def reindex() -> None:
    """Rebuild search terms, facets and facet counts of every published practice."""
    from portal.catalogue.search import rebuild_all

    n = rebuild_all()
    db.session.commit()
    click.echo(f"{n} pratiche pubblicate indicizzate.")


def init_app(app: Flask) -> None:
    app.cli.add_command(catalogue)
