"""Demo rounds: a closed participatory budget in Seveso with its results, an open round in
Seveso with votes (the demo family has not voted yet), an upcoming round of the Rete."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from portal.extensions import db
from portal.i18n import ROME
from portal.voting.models import Round, RoundEntry, RoundRule, Vote
from portal.voting.services import ensure_results, refresh_supports


def _at_hour(moment: datetime, hour: int) -> datetime:
    """The same day at `hour` o'clock in Rome, as rounds are opened and closed (in UTC)."""
    local = moment.astimezone(ROME).replace(hour=hour, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC)


def _round(ctx, table, title, description, opens, closes, rule, **params) -> Round:
    opens, closes = _at_hour(opens, 9), _at_hour(closes, 21)
    round_ = Round(table_id=table.id, title=title, description=description, opens_at=opens,
                   closes_at=closes, rule=rule, salt=secrets.token_hex(32),
                   created_by_id=ctx.users["segreteria@example.org"].id,
                   created_at=opens - timedelta(days=7), **params)
    db.session.add(round_)
    db.session.flush()
    return round_


def _vote(round_, entries, household, proposal, at) -> None:
    db.session.add(Vote(round_id=round_.id, household_id=household.id, proposal_id=proposal.id,
                        user_id=household.users[0].id if household.users else None,
                        created_at=at))
    entries[proposal.id].vote_count += 1


def _counted(proposals) -> None:
    """Each proposal's supports: its votes in its latest round, as the ballot keeps them."""
    refresh_supports(p.id for p in proposals)
    for p in proposals:
        db.session.expire(p, ["support_count"])


def seed(ctx) -> None:
    proposals = ctx.proposals
    seveso_table = ctx.tables["seveso"]
    family = ctx.users["famiglia@example.org"]
    voters = [h for h in ctx.households if h.comune.slug == "seveso" and h.is_verified]
    others = [h for h in voters if h.id != family.household_id]

    # A closed participatory budget: two proposals fit, the third does not.
    # Titles name the year the round runs in (the demo's dates follow today's).
    closed_opens = ctx.now - timedelta(days=104)
    closed = _round(ctx, seveso_table,
                    f"Bilancio partecipativo delle famiglie {closed_opens.year}",
                    "15.000 euro del bilancio comunale per i progetti proposti dalle famiglie.",
                    closed_opens, ctx.now - timedelta(days=90),
                    RoundRule.BUDGET, budget_cents=15_000_00)
    chosen = [proposals[t] for t in ("Ludoteca del sabato in biblioteca",
                                     "Orto condiviso della scuola di via Redipuglia",
                                     "Corso di educazione finanziaria per famiglie")]
    entries = {}
    for p in chosen:
        entries[p.id] = RoundEntry(round_id=closed.id, proposal_id=p.id, vote_count=0,
                                   cost_cents=p.estimated_cost_cents)
        db.session.add(entries[p.id])
    ludoteca, orto, corso = chosen
    at = closed.opens_at + timedelta(hours=3)
    for i, household in enumerate(voters):
        ballot = ([ludoteca, orto] if i < 5 else [ludoteca] if i == 5 else [corso])
        for p in ballot:
            at += timedelta(hours=7)
            _vote(closed, entries, household, p, at)
    db.session.flush()
    _counted(chosen)
    ensure_results(closed, quiet=True)
    closed.results_at = closed.closes_at + timedelta(minutes=1)

    # The open round: the demo family can still give its three supports.
    open_round = _round(ctx, seveso_table, "Le proposte per il nuovo anno scolastico",
                        "Sostenete fino a tre proposte: quelle che arrivano a 5 sostegni vanno "
                        "all'ordine del giorno del Tavolo delle famiglie di Seveso.",
                        ctx.now - timedelta(days=5), ctx.now + timedelta(days=12),
                        RoundRule.SUPPORTS, max_supports=3, threshold=5)
    titles = ["Pedibus per le scuole di Seveso", "Spazio compiti al Bosco delle Querce",
              "Banco del riuso di abbigliamento per bambini",
              "Merenda in cortile per i nuovi arrivati",
              "Sportello di ascolto per genitori di adolescenti"]
    entries = {}
    for title in titles:
        p = proposals[title]
        entries[p.id] = RoundEntry(round_id=open_round.id, proposal_id=p.id, vote_count=0)
        db.session.add(entries[p.id])
    plan = {0: [0, 2, 4], 1: [0, 1, 2], 2: [0, 4], 3: [0, 2, 4], 4: [1, 3], 5: [], 6: []}
    at = open_round.opens_at + timedelta(hours=2)
    for i, household in enumerate(others):
        for j in plan.get(i, []):
            at += timedelta(hours=3)
            _vote(open_round, entries, household, proposals[titles[j]], at)
    db.session.flush()
    _counted([proposals[title] for title in titles])

    # An upcoming round of the inter-municipal table.
    upcoming = _round(ctx, ctx.tables["rete"],
                      f"Proposte intercomunali {(ctx.now + timedelta(days=7)).year}",
                      "Le proposte rivolte al Tavolo intercomunale della Rete.",
                      ctx.now + timedelta(days=7), ctx.now + timedelta(days=28),
                      RoundRule.SUPPORTS, max_supports=2, threshold=20)
    db.session.add(RoundEntry(round_id=upcoming.id,
                              proposal_id=proposals[
                                  "Portale unico dei centri estivi della Rete"].id))
    db.session.flush()
