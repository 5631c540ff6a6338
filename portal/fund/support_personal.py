"""The personal data of support applications: export, deletion with the account, the purge.

An application belongs to the household. When the last member deletes the account (the
household goes with them), its applications lose every personal datum — reason, members,
income, assets, ISEE, indicator — and stop pointing to the household; an application still
open ends there (not accepted). The amounts and dates stay: they are the fund's accounts,
and the ledger's payment names no one. While other members remain, the applications stay
theirs and only stop naming the member who applied.

`flask fund purge-applications` drops the same data from applications that ended (closed
or rejected) longer ago than their Comune keeps it.
"""

from __future__ import annotations

from typing import Any

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select, update

from portal.accounts.personal import household_goes_with
from portal.core.personal import forget, register_personal, rows
from portal.db_setup import utcnow
from portal.extensions import db
from portal.fund import support_services as services
from portal.fund.support_models import (
    ApplicationApproval,
    ApplicationStatus,
    Pact,
    SupportApplication,
)

APPLICATION_FIELDS = (
    "id", "comune_id", "status", "amount_requested_cents", "amount_granted_cents", "reason",
    "members", "income_cents", "assets_cents", "isee_cents", "scale_hundredths",
    "indicator_cents", "decision_note", "created_at", "decided_at", "paid_at", "closed_at",
    "purged_at")


def _export_applications(user) -> dict[str, Any]:
    if user.household_id is None:
        mine = SupportApplication.applicant_id == user.id
    else:
        mine = ((SupportApplication.household_id == user.household_id)
                | (SupportApplication.applicant_id == user.id))
    found = rows(SupportApplication, mine, APPLICATION_FIELDS)
    for item in found:
        pact = db.session.scalar(select(Pact).where(Pact.application_id == item["id"]))
        item["pact"] = None if pact is None else {
            "kind": pact.kind, "description": pact.description, "hours": pact.hours,
            "hours_done": pact.hours_done, "status": pact.status}
    return {"support_applications": found}


def _delete_applications(user) -> None:
    household = household_goes_with(user)
    if household is not None:
        ids = list(db.session.scalars(select(SupportApplication.id).where(
            SupportApplication.household_id == household.id)))
        now = utcnow()
        if ids:
            db.session.execute(
                update(SupportApplication).where(
                    SupportApplication.id.in_(ids),
                    SupportApplication.status.in_([ApplicationStatus.SUBMITTED.value,
                                                   ApplicationStatus.UNDER_REVIEW.value]))
                .values(status=ApplicationStatus.REJECTED.value, decided_at=now),
                execution_options={"synchronize_session": False})
            db.session.execute(
                update(SupportApplication).where(SupportApplication.id.in_(ids))
                .values(household_id=None, purged_at=now, **services.PERSONAL_COLUMNS),
                execution_options={"synchronize_session": False})
            db.session.execute(update(Pact).where(Pact.application_id.in_(ids))
                               .values(description=None),
                               execution_options={"synchronize_session": False})
    forget(user, SupportApplication.applicant_id)


def _export_approvals(user) -> dict[str, Any]:
    found = rows(ApplicationApproval, ApplicationApproval.manager_id == user.id,
                 ("application_id", "at"))
    return {"support_approvals": found} if found else {}


def _forget_approvals(user) -> None:
    # the approval still counts (the decision was made); it no longer names the manager
    forget(user, ApplicationApproval.manager_id)


@click.command("purge-applications")
@with_appcontext
def purge_applications_command() -> None:
    """Drop the personal data of support applications ended longer ago than their Comune
    keeps it (run daily; safe to run twice or on two nodes at once)."""
    purged = services.purge_applications()
    db.session.commit()
    click.echo(f"dati personali rimossi da {purged} domande di sostegno concluse.")


def register_command(app: Flask) -> None:
    """Add `purge-applications` to the `flask fund` group (made here if the ledger's is not)."""
    group = app.cli.commands.get("fund")
    if group is None or not isinstance(group, click.Group):
        group = click.Group("fund", help="Il fondo solidale.")
        app.cli.add_command(group)
    group.add_command(purge_applications_command)


def init_app(app: Flask) -> None:
    register_personal(app, SupportApplication, _export_applications, _delete_applications)
    register_personal(app, ApplicationApproval, _export_approvals, _forget_approvals)
    register_command(app)
