"""Support applications: the Comune's profile and tariffs, the managers' decisions, the pact,
the payment through the ledger and the purge of personal data. Functions flush, never commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import joinedload, selectinload

from portal.core.services import audit, notify
from portal.db_setup import utcnow
from portal.extensions import db
from portal.fund import fattore, ledger
from portal.fund.support_models import (
    DEFAULT_DOUBLE_APPROVAL_CENTS,
    DEFAULT_PURGE_AFTER_DAYS,
    ApplicationApproval,
    ApplicationStatus,
    FattoreProfile,
    Pact,
    PactKind,
    PactStatus,
    SupportApplication,
    SupportSettings,
    Tariff,
)
from portal.i18n import ROME

log = logging.getLogger(__name__)

S = ApplicationStatus
#: statuses a manager still has to act on (the queue)
OPEN = (S.SUBMITTED, S.UNDER_REVIEW, S.APPROVED, S.PAID)
#: an application in these is over: its personal data is purged after the Comune's period
ENDED = (S.CLOSED, S.REJECTED)
#: the most a family may ask in one application (ten thousand euro)
MAX_REQUEST_CENTS = 1_000_000


class SupportError(ValueError):
    """A rule of support applications refused the request; `field` names the form field."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class PaymentRefused(SupportError):
    """The ledger refused the payment (not enough money): the application stays approved."""


def today() -> date:
    return utcnow().astimezone(ROME).date()


# --------------------------------------------------------------------------- Comune's rules


def profile_in_force(comune_id: int | None, on: date | None = None) -> FattoreProfile | None:
    """The Comune's profile with the latest `valid_from` not after `on` (default: today)."""
    if comune_id is None:
        return None
    return db.session.scalar(
        select(FattoreProfile).where(FattoreProfile.comune_id == comune_id,
                                     FattoreProfile.valid_from <= (on or today()))
        .order_by(FattoreProfile.valid_from.desc()).limit(1))


def profiles(comune_id: int) -> list[FattoreProfile]:
    """Every version of the Comune's profile, newest first."""
    return list(db.session.scalars(select(FattoreProfile).where(
        FattoreProfile.comune_id == comune_id).order_by(FattoreProfile.valid_from.desc())))


def weights_of(profile: FattoreProfile | None) -> fattore.Weights:
    return fattore.Weights.of(profile) if profile is not None else fattore.DEFAULT_WEIGHTS


def add_profile(comune, actor, *, valid_from: date, decision: str, decision_url: str | None,
                weights: dict[str, int]) -> FattoreProfile:
    """A new version of the Comune's weights, adopted by `decision` from `valid_from`."""
    taken = db.session.scalar(select(exists().where(
        FattoreProfile.comune_id == comune.id, FattoreProfile.valid_from == valid_from)))
    if taken:
        raise SupportError(_("Esiste già un profilo valido da questa data: scegline un'altra."),
                           "valid_from")
    for name, value in weights.items():
        if name not in fattore.WEIGHT_FIELDS or not 0 <= value <= 300:
            raise SupportError(_("Ogni peso va da 0 a 300 centesimi di punto."), name)
    profile = FattoreProfile(comune_id=comune.id, valid_from=valid_from, decision=decision,
                             decision_url=decision_url or None, **weights)
    db.session.add(profile)
    db.session.flush()
    audit("fund.profile_added", profile, {"comune_id": comune.id,
                                          "valid_from": valid_from.isoformat()}, actor=actor)
    return profile


@dataclass(frozen=True)
class Rules:
    double_approval_cents: int
    purge_after_days: int


def rules_for(comune_id: int) -> Rules:
    row = db.session.get(SupportSettings, comune_id)
    if row is None:
        return Rules(DEFAULT_DOUBLE_APPROVAL_CENTS, DEFAULT_PURGE_AFTER_DAYS)
    return Rules(row.double_approval_cents, row.purge_after_days)


def set_rules(comune, actor, *, double_approval_cents: int, purge_after_days: int) -> None:
    if double_approval_cents < 0:
        raise SupportError(_("La soglia non può essere negativa."), "double_approval")
    if not 1 <= purge_after_days <= 3650:
        raise SupportError(_("Indica un numero di giorni tra 1 e 3650."), "purge_after_days")
    row = db.session.get(SupportSettings, comune.id)
    if row is None:
        row = SupportSettings(comune_id=comune.id)
        db.session.add(row)
    row.double_approval_cents = double_approval_cents
    row.purge_after_days = purge_after_days
    db.session.flush()
    audit("fund.rules_set", comune, {"double_approval_cents": double_approval_cents,
                                     "purge_after_days": purge_after_days}, actor=actor)


def tariffs_for(comune_id: int | None) -> list[Tariff]:
    if comune_id is None:
        return []
    return list(db.session.scalars(select(Tariff).where(Tariff.comune_id == comune_id)
                                   .order_by(Tariff.position, Tariff.id)))


def tariff_fee(tariff: Tariff, indicator_cents: int) -> int:
    return fattore.fee(indicator_cents, min_fee=tariff.min_fee_cents,
                       max_fee=tariff.max_fee_cents, low=tariff.threshold_low_cents,
                       high=tariff.threshold_high_cents)


def add_tariff(comune, actor, *, name: str, unit: str, min_fee: int, max_fee: int, low: int,
               high: int) -> Tariff:
    try:
        fattore.check_tariff(min_fee, max_fee, low, high)
    except fattore.TariffError as exc:
        raise SupportError(str(exc), exc.field) from None
    position = db.session.scalar(select(func.coalesce(func.max(Tariff.position), 0)).where(
        Tariff.comune_id == comune.id)) + 1
    tariff = Tariff(comune_id=comune.id, name=name, unit=unit, min_fee_cents=min_fee,
                    max_fee_cents=max_fee, threshold_low_cents=low, threshold_high_cents=high,
                    position=min(position, 30000))
    db.session.add(tariff)
    db.session.flush()
    audit("fund.tariff_added", tariff, {"comune_id": comune.id, "name": name}, actor=actor)
    return tariff


def delete_tariff(tariff: Tariff, actor) -> None:
    audit("fund.tariff_deleted", tariff, {"comune_id": tariff.comune_id, "name": tariff.name},
          actor=actor)
    db.session.delete(tariff)
    db.session.flush()


def compute_for(comune_id: int | None, members, *, income_cents=None, assets_cents=None,
                isee_cents=None, on: date | None = None):
    """(result, profile) of the Fattore Famiglia with the Comune's profile in force."""
    profile = profile_in_force(comune_id, on)
    result = fattore.compute(members, weights_of(profile), income_cents=income_cents,
                             assets_cents=assets_cents, isee_cents=isee_cents)
    return result, profile


# --------------------------------------------------------------------------- applications


def may_apply(user) -> str | None:
    """Why `user` may not apply (a sentence), or None when they may."""
    household = user.household
    if household is None:
        return _("Per chiedere un sostegno registra prima il tuo nucleo familiare.")
    if not household.is_verified:
        return _("Il Comune deve prima verificare la residenza del tuo nucleo familiare.")
    return None


def submit(user, *, reason: str, amount_cents: int, members: list[fattore.Member],
           income_cents: int | None, assets_cents: int | None,
           isee_cents: int | None) -> SupportApplication:
    """A verified household's application, with its Fattore Famiglia computed now."""
    why_not = may_apply(user)
    if why_not:
        raise SupportError(why_not)
    if not 0 < amount_cents <= MAX_REQUEST_CENTS:
        raise SupportError(_("Puoi chiedere da 0,01 a %(max)s euro.",
                             max=ledger.euro(MAX_REQUEST_CENTS)), "amount")
    household = user.household
    try:
        result, profile = compute_for(household.comune_id, members, income_cents=income_cents,
                                      assets_cents=assets_cents, isee_cents=isee_cents)
    except fattore.FattoreError as exc:
        raise SupportError(str(exc), exc.field) from None
    application = SupportApplication(
        comune_id=household.comune_id, household_id=household.id, applicant_id=user.id,
        status=S.SUBMITTED, amount_requested_cents=amount_cents, reason=reason,
        members=[{"age": m.age, "disability": m.disability, "pregnant": m.pregnant}
                 for m in members],
        income_cents=income_cents, assets_cents=assets_cents, isee_cents=isee_cents,
        scale_hundredths=int(result.scale * 100), indicator_cents=result.indicator_cents,
        profile_id=getattr(profile, "id", None))
    db.session.add(application)
    db.session.flush()
    audit("fund.application_submitted", application,
          {"comune_id": household.comune_id, "amount_cents": amount_cents}, actor=user)
    notify(managers_of(household.comune_id), "fund.application",
           _("Nuova domanda di sostegno da esaminare"),
           link=f"/fondo/domande/{application.id}", mail=False)
    return application


def members_of(application: SupportApplication) -> list[fattore.Member]:
    return [fattore.Member(age=int(m["age"]), disability=bool(m.get("disability")),
                           pregnant=bool(m.get("pregnant"))) for m in application.members or []]


def result_of(application: SupportApplication):
    """The computation as it was made (the profile of the day it was submitted)."""
    if application.purged_at is not None or not application.members:
        return None
    return fattore.compute(members_of(application), weights_of(application.profile),
                           income_cents=application.income_cents,
                           assets_cents=application.assets_cents,
                           isee_cents=application.isee_cents)


def managers_of(comune_id: int) -> list:
    from portal.accounts.models import User
    from portal.authz import Role, Scope
    from portal.network.models import RoleAssignment

    return list(db.session.scalars(select(User).join(
        RoleAssignment, RoleAssignment.user_id == User.id).where(
        RoleAssignment.role == Role.FUND_MANAGER.value,
        RoleAssignment.scope_type == Scope.COMUNE.value, RoleAssignment.scope_id == comune_id,
        User.deleted_at.is_(None)).order_by(User.id)))


def household_applications(household_id: int) -> list[SupportApplication]:
    return list(db.session.scalars(select(SupportApplication).where(
        SupportApplication.household_id == household_id)
        .order_by(SupportApplication.id.desc())))


def queue(comune_ids, statuses=OPEN, limit: int = 200) -> list[SupportApplication]:
    """The applications of the managers' Comuni, lowest Fattore Famiglia first (ties: the
    oldest first), so that the families in most need are examined first."""
    if not comune_ids:
        return []
    return list(db.session.scalars(
        select(SupportApplication).where(SupportApplication.comune_id.in_(sorted(comune_ids)),
                                         SupportApplication.status.in_(list(statuses)))
        .options(joinedload(SupportApplication.comune),
                 selectinload(SupportApplication.approvals))
        .order_by(SupportApplication.indicator_cents.is_(None),
                  SupportApplication.indicator_cents, SupportApplication.id).limit(limit)))


def lock(application: SupportApplication) -> None:
    """Read the application again under a row lock (PostgreSQL; SQLite serialises writers):
    two managers acting at once are served one after the other, the second seeing the
    first's decision."""
    db.session.refresh(application, with_for_update=True)


def _expect(application: SupportApplication, *statuses) -> None:
    if application.status not in statuses:
        raise SupportError(_("La domanda non è più in uno stato che permette questa azione."))


def start_review(application: SupportApplication, manager) -> None:
    _expect(application, S.SUBMITTED)
    application.status = S.UNDER_REVIEW
    application.reviewed_at = utcnow()
    db.session.flush()
    audit("fund.application_review", application, actor=manager)


def required_approvals(application: SupportApplication) -> int:
    amount = application.amount_granted_cents or application.amount_requested_cents
    return 2 if amount > rules_for(application.comune_id).double_approval_cents else 1


def approve(application: SupportApplication, manager, *, amount_cents: int | None = None,
            pact: dict | None = None) -> ledger.FundTransaction | None:
    """One manager's approval. The first sets the amount granted and proposes the pact; above
    the Comune's threshold a second, different manager confirms. On full approval the pact
    is agreed and the payment posted (PaymentRefused leaves the application approved, unpaid).
    Returns the payment's transaction, if posted."""
    lock(application)
    _expect(application, S.SUBMITTED, S.UNDER_REVIEW)
    if any(a.manager_id == manager.id for a in application.approvals):
        raise SupportError(_("Hai già approvato questa domanda: serve l'approvazione di un "
                             "altro responsabile del fondo."))
    if not application.approvals:
        if amount_cents is None or pact is None:
            raise SupportError(_("Indica l'importo concesso e il patto."), "amount")
        if not 0 < amount_cents <= application.amount_requested_cents:
            raise SupportError(_("L'importo concesso va da 0,01 euro a quanto chiesto "
                                 "(%(max)s euro).",
                                 max=ledger.euro(application.amount_requested_cents)),
                               "amount")
        if pact.get("kind") not in {k.value for k in PactKind}:
            raise SupportError(_("Scegli il tipo di patto."), "pact_kind")
        application.amount_granted_cents = amount_cents
        application.pact = Pact(kind=pact["kind"], description=pact.get("description"),
                                hours=pact.get("hours"), due_on=pact.get("due_on"),
                                status=PactStatus.PROPOSED)
    if application.status == S.SUBMITTED:
        application.status = S.UNDER_REVIEW
        application.reviewed_at = utcnow()
    application.approvals.append(ApplicationApproval(manager_id=manager.id, at=utcnow()))
    db.session.flush()
    audit("fund.application_approval", application,
          {"amount_cents": application.amount_granted_cents,
           "approvals": len(application.approvals)}, actor=manager)
    if len(application.approvals) < required_approvals(application):
        return None
    application.status = S.APPROVED
    application.decided_at = utcnow()
    application.pact.status = PactStatus.AGREED
    db.session.flush()
    audit("fund.application_approved", application,
          {"amount_cents": application.amount_granted_cents}, actor=manager)
    _tell_household(application, _("La tua domanda di sostegno è stata approvata"))
    try:
        return pay(application, manager)
    except PaymentRefused:
        return None


def reject(application: SupportApplication, manager, note: str) -> None:
    _expect(application, S.SUBMITTED, S.UNDER_REVIEW)
    application.status = S.REJECTED
    application.decided_at = utcnow()
    application.decision_note = note
    if application.pact is not None:
        application.pact = None
    db.session.flush()
    audit("fund.application_rejected", application, actor=manager)
    _tell_household(application, _("La tua domanda di sostegno non è stata accolta"))


def pay(application: SupportApplication, manager, at=None) -> ledger.FundTransaction:
    """Post the grant to the Comune's fund, once: the key is the application's, so a retry
    (a second click, a second manager) returns the first transaction."""
    lock(application)
    if application.status in (S.PAID, S.CLOSED) and application.payment_transaction_id:
        return db.session.get(ledger.FundTransaction, application.payment_transaction_id)
    _expect(application, S.APPROVED)
    fund = ledger.fund_for(application.comune_id)
    try:
        with db.session.begin_nested():
            transaction = ledger.post_grant(
                fund, amount_cents=application.amount_granted_cents,
                key=application.payment_key, memo="Sostegno a una famiglia",
                ref=f"application:{application.id}", category="support", at=at)
    except ledger.InsufficientFunds as exc:
        audit("fund.payment_refused", application,
              {"amount_cents": application.amount_granted_cents}, actor=manager)
        raise PaymentRefused(
            _("Il fondo non ha abbastanza disponibilità per erogare il sostegno: la domanda "
              "resta approvata e potrai erogarla quando il fondo avrà le risorse. %(detail)s",
              detail=str(exc))) from None
    application.status = S.PAID
    application.paid_at = at or utcnow()
    application.payment_transaction_id = transaction.id
    db.session.flush()
    audit("fund.application_paid", application,
          {"amount_cents": application.amount_granted_cents, "transaction_id": transaction.id},
          actor=manager)
    return transaction


def record_pact(application: SupportApplication, manager, *, hours_done: int | None,
                completed: bool) -> None:
    """The manager's record of the pact's progress; completing it closes the application."""
    pact = application.pact
    if pact is None or pact.status == PactStatus.PROPOSED:
        raise SupportError(_("Il patto non è ancora stato concordato."))
    if pact.status == PactStatus.COMPLETED:
        raise SupportError(_("Il patto è già stato completato."))
    if hours_done is not None:
        if not 0 <= hours_done <= 1000:
            raise SupportError(_("Indica un numero di ore tra 0 e 1000."), "hours_done")
        pact.hours_done = hours_done
    if completed:
        _expect(application, S.PAID)
        pact.status = PactStatus.COMPLETED
        pact.completed_at = utcnow()
        application.status = S.CLOSED
        application.closed_at = pact.completed_at
    db.session.flush()
    audit("fund.pact_completed" if completed else "fund.pact_progress", application,
          {"hours_done": pact.hours_done}, actor=manager)


def _tell_household(application: SupportApplication, title: str) -> None:
    if application.household is None:
        return
    notify(application.household.users, "fund.application", title,
           link=f"/fondo/domande/{application.id}")


# --------------------------------------------------------------------------- privacy


PERSONAL_COLUMNS = {"reason": None, "members": None, "income_cents": None,
                    "assets_cents": None, "isee_cents": None, "scale_hundredths": None,
                    "indicator_cents": None, "decision_note": None}


def purge_applications(now=None) -> int:
    """Drop the personal data of applications that ended (closed or rejected) longer ago than
    their Comune keeps it; amounts and dates stay for the accounts. Returns how many were
    purged. Idempotent: a purged application is skipped, so it is safe to run twice."""
    now = now or utcnow()
    purged = 0
    ended_at = func.coalesce(SupportApplication.closed_at, SupportApplication.decided_at)
    candidates = db.session.execute(
        select(SupportApplication.id, SupportApplication.comune_id, ended_at)
        .where(SupportApplication.purged_at.is_(None),
               SupportApplication.status.in_([s.value for s in ENDED]))
        .order_by(SupportApplication.id)).all()
    periods: dict[int, int] = {}
    due = []
    for app_id, comune_id, ended in candidates:
        if comune_id not in periods:
            periods[comune_id] = rules_for(comune_id).purge_after_days
        if ended is not None and ended.replace(tzinfo=ended.tzinfo or now.tzinfo) \
                <= now - timedelta(days=periods[comune_id]):
            due.append(app_id)
    for chunk in range(0, len(due), 500):
        ids = due[chunk:chunk + 500]
        db.session.execute(
            update(SupportApplication).where(SupportApplication.id.in_(ids),
                                             SupportApplication.purged_at.is_(None))
            .values(purged_at=now, **PERSONAL_COLUMNS),
            execution_options={"synchronize_session": False})
        db.session.execute(update(Pact).where(Pact.application_id.in_(ids))
                           .values(description=None),
                           execution_options={"synchronize_session": False})
        purged += len(ids)
    if purged:
        audit("fund.applications_purged", None, {"count": purged})
        log.info("purged the personal data of %s support applications", purged)
    db.session.flush()
    return purged
