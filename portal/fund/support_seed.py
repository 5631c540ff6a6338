"""Demo support: a Fattore Famiglia profile and tariffs (nido, mensa, trasporto) in every
Comune, a second fund manager in Seveso, and Seveso's applications in every state with their
pacts. Payments go through the ledger; if the demo fund has not enough money, the
application stays approved and unpaid, as it would in real life."""

from __future__ import annotations

from datetime import date, timedelta

from portal.accounts.models import User
from portal.authz import Role, Scope
from portal.extensions import db
from portal.fund import fattore, ledger
from portal.fund import support_services as services
from portal.fund.support_models import (
    ApplicationApproval,
    ApplicationStatus,
    FattoreProfile,
    Pact,
    PactStatus,
    SupportApplication,
    SupportSettings,
    Tariff,
)
from portal.network.models import RoleAssignment

S = ApplicationStatus
WEIGHTS = dict(w_child_0_2=15, w_child_3_5=10, w_child_6_13=10, w_child_14_17=5,
               w_young_adult=5, w_single_parent=20, w_pregnancy=10)
#: (name, unit, min €, max €, low threshold €, high threshold €)
TARIFFS = [
    ("Asilo nido", "al mese", 100, 500, 5_000, 30_000),
    ("Mensa scolastica", "a pasto", 1.5, 5, 4_000, 25_000),
    ("Trasporto scolastico", "all'anno", 60, 280, 6_000, 28_000),
]
#: Seveso's applications: (status, reason, amount €, members (age, disability, pregnant),
#: income €, assets €, ISEE €, days ago)
APPLICATIONS = [
    (S.SUBMITTED, "Il contratto di lavoro di mio marito non è stato rinnovato: chiediamo un "
     "aiuto per l'affitto di due mesi.", 600, [(41, False, False), (39, False, False),
                                               (9, False, False), (4, False, False)],
     14_000, 8_000, None, 3),
    (S.SUBMITTED, "Spese impreviste per le cure dentistiche del figlio.", 350,
     [(35, False, True), (7, False, False)], None, None, 8_200, 6),
    (S.UNDER_REVIEW, "Bollette arretrate dell'inverno.", 700,
     [(52, False, False), (50, True, False), (19, False, False), (15, False, False)],
     21_000, 15_000, None, 12),
    (S.APPROVED, "Acquisto dei libri scolastici per tre figli.", 450,
     [(44, False, False), (43, False, False), (14, False, False), (11, False, False),
      (8, False, False)], 26_000, 20_000, None, 25),
    (S.REJECTED, "Vacanza estiva.", 1_200, [(38, False, False), (36, False, False)],
     48_000, 90_000, None, 40),
    (S.PAID, "Una caldaia rotta a dicembre.", 380,
     [(67, False, False), (65, True, False)], None, None, 11_500, 60),
    (S.CLOSED, "Retta della mensa scolastica dopo la perdita del lavoro.", 300,
     [(33, False, False), (6, False, False)], 9_000, 2_000, None, 210),
]
PACTS = {
    S.UNDER_REVIEW: ("help_family", "Accompagnare due volte a settimana i figli di una "
                     "famiglia vicina a scuola.", 20),
    S.APPROVED: ("lab_hours", "4 ore al mese al laboratorio di comunità di via Roma, "
                 "riparazione di biciclette.", 24),
    S.PAID: ("skill", "Lezioni di italiano per adulti al Civic Center.", 16),
    S.CLOSED: ("lab_hours", "Ore di aiuto alla distribuzione del GAF del quartiere.", 12),
}


def _euro(value) -> int:
    return round(value * 100)


def seed(ctx) -> None:
    for n, (slug, comune) in enumerate(sorted(ctx.comuni.items())):
        if slug == "seveso":
            db.session.add(FattoreProfile(
                comune_id=comune.id, valid_from=date(2023, 1, 1),
                decision="Delibera G.C. n. 12 del 24 gennaio 2023", w_child_0_2=10,
                w_child_3_5=10, w_single_parent=15))
        db.session.add(FattoreProfile(
            comune_id=comune.id, valid_from=date(2025, 1, 1),
            decision=f"Delibera G.C. n. {30 + n} del 16 dicembre 2024",
            **{k: v + (5 if slug == "seveso" and k == "w_pregnancy" else 0)
               for k, v in WEIGHTS.items()}))
        for position, (name, unit, low_fee, high_fee, low, high) in enumerate(TARIFFS, 1):
            db.session.add(Tariff(
                comune_id=comune.id, name=name, unit=unit, min_fee_cents=_euro(low_fee),
                max_fee_cents=_euro(high_fee) + 1_000 * (n % 3),
                threshold_low_cents=_euro(low), threshold_high_cents=_euro(high),
                position=position))
    seveso = ctx.comuni["seveso"]
    db.session.add(SupportSettings(comune_id=seveso.id, double_approval_cents=50_000,
                                   purge_after_days=365))
    # A second fund manager: above 500 € two different managers must approve.
    second = User(email="fondo@example.org", name="Franca Responsabile del Fondo",
                  password_hash=ctx.password_hash,
                  email_confirmed_at=ctx.now - timedelta(days=300),
                  created_at=ctx.now - timedelta(days=300))
    db.session.add(second)
    db.session.flush()
    ctx.users[second.email] = second
    db.session.add(RoleAssignment(user_id=second.id, role=Role.FUND_MANAGER,
                                  scope_type=Scope.COMUNE, scope_id=seveso.id))
    db.session.flush()
    _applications(ctx, seveso, ctx.users["comune@example.org"], second)


def _applications(ctx, seveso, first, second) -> None:
    family = ctx.users["famiglia@example.org"]
    households = [h for h in ctx.households
                  if h.comune_id == seveso.id and h.is_verified and h.id != family.household_id]
    profile = services.profile_in_force(seveso.id)
    weights = services.weights_of(profile)
    for household, (status, reason, amount, members, income, assets, isee, days) in zip(
            households, APPLICATIONS, strict=False):
        people = [fattore.Member(age, disability, pregnant)
                  for age, disability, pregnant in members]
        result = fattore.compute(
            people, weights, income_cents=_euro(income) if income is not None else None,
            assets_cents=_euro(assets) if assets is not None else None,
            isee_cents=_euro(isee) if isee is not None else None)
        created = ctx.now - timedelta(days=days)
        item = SupportApplication(
            comune_id=seveso.id, household_id=household.id,
            applicant_id=household.users[0].id if household.users else None,
            status=S.SUBMITTED, amount_requested_cents=_euro(amount), reason=reason,
            members=[{"age": a, "disability": d, "pregnant": p} for a, d, p in members],
            income_cents=_euro(income) if income is not None else None,
            assets_cents=_euro(assets) if assets is not None else None,
            isee_cents=result.isee_cents, scale_hundredths=int(result.scale * 100),
            indicator_cents=result.indicator_cents, profile_id=profile.id if profile else None,
            created_at=created)
        db.session.add(item)
        db.session.flush()
        if status == S.SUBMITTED:
            continue
        item.status = S.UNDER_REVIEW
        item.reviewed_at = created + timedelta(days=1)
        if status == S.REJECTED:
            item.status = S.REJECTED
            item.decided_at = created + timedelta(days=3)
            item.decision_note = ("Il fondo sostiene spese essenziali della famiglia: una "
                                  "vacanza non rientra nei criteri del Comune.")
            continue
        kind, description, hours = PACTS[status]
        item.amount_granted_cents = item.amount_requested_cents
        item.pact = Pact(kind=kind, description=description, hours=hours,
                         status=PactStatus.PROPOSED, created_at=created + timedelta(days=2),
                         due_on=(created + timedelta(days=180)).date())
        managers = [first] if status == S.UNDER_REVIEW else [first, second]
        if services.required_approvals(item) == 1 and status != S.UNDER_REVIEW:
            managers = [first]
        for i, manager in enumerate(managers):
            item.approvals.append(ApplicationApproval(
                manager_id=manager.id, at=created + timedelta(days=2 + i)))
        if status == S.UNDER_REVIEW:
            item.amount_granted_cents = _euro(amount)  # above 500 €: waits for the second
            continue
        item.status = S.APPROVED
        item.decided_at = created + timedelta(days=4)
        item.pact.status = PactStatus.AGREED
        db.session.flush()
        if status == S.APPROVED:
            continue
        paid_at = created + timedelta(days=5)
        try:
            services.pay(item, first, at=paid_at)
        except services.PaymentRefused:
            # the demo fund is short (the ledger's demo did not run): the Comune allocates
            ledger.post_contribution(ledger.fund_for(seveso.id), source="allocation",
                                     amount_cents=item.amount_granted_cents,
                                     key=f"demo:support-allocation:{item.id}",
                                     memo="Stanziamento del Comune per i sostegni",
                                     at=created)
            services.pay(item, first, at=paid_at)
        item.paid_at = paid_at
        if status == S.CLOSED:
            item.pact.hours_done = item.pact.hours
            item.pact.status = PactStatus.COMPLETED
            item.pact.completed_at = created + timedelta(days=150)
            item.status = S.CLOSED
            item.closed_at = item.pact.completed_at
        elif status == S.PAID:
            item.pact.hours_done = 6
    db.session.flush()
