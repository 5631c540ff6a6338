"""Demo data of the ledger: a fund in each Comune and the Rete's, with a year of movements.

Every movement goes through the ledger's service (so balances and monthly totals are kept as
in production): the Comune's allocations, card and GAF contributions, donations (a few with the
donor's name), support grants and project grants, one reversal; and a campaign in Seveso for
an approved project, with its donations. The Giussano officer manages Giussano's fund (the
Seveso officer already manages Seveso's). Deterministic: the context's random generator.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from portal.authz import Role, Scope
from portal.extensions import db
from portal.fund import ledger
from portal.fund import services as fund_services
from portal.fund.models import FundAccount, FundCampaign, FundDonation
from portal.network.models import RoleAssignment
from portal.proposals.models import Proposal

DONORS = ["Parrocchia San Pietro", "Lions Club", "Fondazione Comunitaria Monza e Brianza",
          None, None, None]


def _available(fund) -> int:
    return db.session.scalar(select(FundAccount.balance_cents).where(
        FundAccount.fund_id == fund.id, FundAccount.kind == "available"))


def _year_of_movements(ctx, fund, slug: str, scale: int) -> None:
    rng, now = ctx.rng, ctx.now
    start = now - timedelta(days=365)
    events: list[tuple] = [(start + timedelta(days=2), "allocation", 800_000 * scale,
                            "Delibera di Giunta: dotazione annuale del fondo")]
    events.append((start + timedelta(days=190), "allocation", 300_000 * scale,
                   "Variazione di bilancio: integrazione del fondo"))
    for week in range(0, 52, 2):
        events.append((start + timedelta(days=7 * week + rng.randint(3, 6), hours=10),
                       "card", rng.randint(4_000, 16_000) * scale,
                       "Quota degli acquisti con la Family Card"))
    for month in range(12):
        day = start + timedelta(days=30 * month + rng.randint(10, 20), hours=18)
        events.append((day, "gaf", rng.randint(3_000, 9_000) * scale,
                       "Quota degli ordini dei gruppi di acquisto"))
        if month % 2 == 0:
            events.append((day + timedelta(days=3), "donation",
                           rng.choice([5_000, 10_000, 25_000, 50_000]), ""))
        for n in range(rng.randint(1, 3)):
            events.append((day + timedelta(days=5 + n), "support",
                           rng.choice([15_000, 25_000, 30_000, 40_000, 60_000]),
                           "Sostegno al reddito familiare"))
        if month in (3, 9):
            events.append((day + timedelta(days=8), "project", 120_000 * scale,
                           "Laboratorio di comunità: materiali e animazione"))
    events.sort(key=lambda e: e[0])
    for n, (at, kind, amount, memo) in enumerate(events):
        key = f"demo:{slug}:{n}"
        if kind in ("support", "project"):
            if amount > _available(fund):
                continue
            ledger.post_grant(fund, amount_cents=amount, key=key, memo=memo, category=kind,
                              ref=f"demo:{kind}:{n}" if kind == "support" else None, at=at)
        elif kind == "donation":
            tx = ledger.post_contribution(fund, source="donation", amount_cents=amount, key=key,
                                          memo="Donazione al fondo", at=at)
            donor = rng.choice(DONORS)
            if donor:
                db.session.add(FundDonation(transaction_id=tx.id,
                                                          donor_name=donor))
        else:
            ledger.post_contribution(fund, source=kind, amount_cents=amount, key=key, memo=memo,
                                     at=at)


def _campaign(ctx) -> None:
    """A campaign for the first approved project, in Seveso if it has one."""
    proposal = db.session.scalar(
        select(Proposal).where(Proposal.state.in_([s.value for s in
                                                   fund_services.CAMPAIGN_STATES]))
        .order_by(Proposal.comune_id != ctx.comuni["seveso"].id, Proposal.id).limit(1))
    if proposal is None:
        return
    fund = ledger.fund_for(proposal.comune_id)
    opened = ctx.now - timedelta(days=60)
    campaign = FundCampaign(fund_id=fund.id, proposal_id=proposal.id,
                            title=f"Raccolta fondi: {proposal.title}"[:160],
                            description="Ogni contributo va al progetto approvato dal tavolo: "
                                        "l'avanzamento si vede qui.",
                            target_cents=500_000, raised_cents=0, donations=0,
                            opens_on=opened.date(), closes_on=(ctx.now + timedelta(days=60))
                            .date())
    db.session.add(campaign)
    db.session.flush()
    for n in range(9):
        at = opened + timedelta(days=6 * n + 1, hours=11)
        tx = ledger.post_contribution(fund, source="campaign",
                                      amount_cents=ctx.rng.choice([2_000, 5_000, 10_000, 50_000]),
                                      key=f"demo:campaign:{campaign.id}:{n}",
                                      memo="Donazione alla raccolta", campaign=campaign, at=at)
        if n % 4 == 0:
            db.session.add(FundDonation(transaction_id=tx.id,
                                                      donor_name="Famiglie della parrocchia"))


def seed(ctx) -> None:
    for index, (slug, comune) in enumerate(sorted(ctx.comuni.items())):
        fund = ledger.fund_for(comune.id)
        _year_of_movements(ctx, fund, slug, 1 + index % 3)
        if slug == "seveso":
            grant = ledger.post_grant(fund, amount_cents=10_000, key="demo:seveso:error",
                                      memo="Contributo al doposcuola", category="project",
                                      at=ctx.now - timedelta(days=20))
            ledger.reverse(grant, key="demo:seveso:error:storno",
                           memo="Importo registrato due volte: stornato",
                           at=ctx.now - timedelta(days=19))
    _campaign(ctx)
    rete = ledger.fund_for(None)
    _year_of_movements(ctx, rete, "rete", 2)
    officer = ctx.users.get("comune.giussano@example.org")
    giussano = ctx.comuni.get("giussano")
    if officer is not None and giussano is not None:
        db.session.add(RoleAssignment(user_id=officer.id, role=Role.FUND_MANAGER,
                                      scope_type=Scope.COMUNE, scope_id=giussano.id))
    db.session.flush()
