"""`flask` commands: demo data, mail outbox, scheduled work. Safe to run twice or on any node."""

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from portal.core.services import deliver_next, purge_audit_ips
from portal.extensions import db
from portal.network.models import Comune
from portal.seed import seed_all


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Only when the database holds no Comune yet.")
@with_appcontext
def seed_demo(if_empty: bool) -> None:
    """Fill the database with the demo Rete: Comuni, associations, households, accounts."""
    if db.session.scalar(db.select(Comune.id).limit(1)) is not None:
        if if_empty:
            click.echo("Database già popolato: dati dimostrativi non caricati.")
            return
        raise click.ClickException(
            "il database contiene già dei Comuni: usa --if-empty, o un database vuoto.")
    # Seeders build links with url_for, as in a request to the portal's home.
    with current_app.test_request_context("/"):
        seed_all()
        db.session.commit()
    click.echo("Dati dimostrativi caricati.")


@click.group("outbox")
def outbox() -> None:
    """The mail outbox."""


@outbox.command("send")
@click.option("--limit", default=100, show_default=True)
@with_appcontext
def outbox_send(limit: int) -> None:
    """Deliver queued mail over SMTP (MAIL_SERVER)."""
    sent = failed = last_id = 0
    for _ in range(limit):
        delivered = deliver_next(last_id)
        if delivered is None:
            break
        # each message's outcome committed before the next is sent: never delivered twice
        db.session.commit()
        last_id, ok = delivered
        sent, failed = sent + ok, failed + (not ok)
    click.echo(f"sent {sent}, failed {failed}")


@click.group("audit")
def audit_log() -> None:
    """The audit log."""


@audit_log.command("purge-ips")
@with_appcontext
def audit_purge_ips() -> None:
    """Drop the IP addresses older than AUDIT_IP_DAYS from the audit log (run daily by cron;
    safe to run twice or on two nodes at once)."""
    dropped = purge_audit_ips()
    db.session.commit()
    days = current_app.config["AUDIT_IP_DAYS"]
    click.echo(f"indirizzi IP rimossi da {dropped} voci più vecchie di {days} giorni.")


def init_app(app: Flask) -> None:
    app.cli.add_command(seed_demo)
    app.cli.add_command(outbox)
    app.cli.add_command(audit_log)
