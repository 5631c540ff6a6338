"""Voting rounds, votes and results."""

from __future__ import annotations

import logging

from sqlalchemy import delete, func, select, update

from portal.extensions import db
from portal.proposals.models import Proposal
from portal.voting.models import RoundEntry, Vote

log = logging.getLogger(__name__)


def recount(proposal_ids) -> None:
    """Set each entry's and proposal's tally from the vote rows (same transaction)."""
    ids = list(proposal_ids)
    if not ids:
        return
    counts = (select(func.count(Vote.id)).where(Vote.round_id == RoundEntry.round_id,
                                                Vote.proposal_id == RoundEntry.proposal_id)
              .scalar_subquery())
    db.session.execute(update(RoundEntry).where(RoundEntry.proposal_id.in_(ids))
                       .values(vote_count=counts), execution_options={"synchronize_session": False})
    latest = (select(RoundEntry.vote_count).where(RoundEntry.proposal_id == Proposal.id)
              .order_by(RoundEntry.round_id.desc()).limit(1).scalar_subquery())
    db.session.execute(update(Proposal).where(Proposal.id.in_(ids))
                       .values(support_count=func.coalesce(latest, 0)),
                       execution_options={"synchronize_session": False})


def move_votes(proposal: Proposal, into: Proposal) -> int:
    """Move the votes of `proposal` to `into`, round by round; a household counts once.

    Returns the number of votes moved (the duplicates are dropped).
    """
    rounds = list(db.session.scalars(select(RoundEntry.round_id).where(
        RoundEntry.proposal_id == proposal.id)))
    moved = 0
    for round_id in rounds:
        if db.session.get(RoundEntry, (round_id, into.id)) is None:
            db.session.add(RoundEntry(round_id=round_id, proposal_id=into.id,
                                      cost_cents=into.estimated_cost_cents))
            db.session.flush()
        already = select(Vote.household_id).where(Vote.round_id == round_id,
                                                  Vote.proposal_id == into.id)
        db.session.execute(delete(Vote).where(
            Vote.round_id == round_id, Vote.proposal_id == proposal.id,
            Vote.household_id.in_(already)), execution_options={"synchronize_session": False})
        result = db.session.execute(update(Vote).where(
            Vote.round_id == round_id, Vote.proposal_id == proposal.id
        ).values(proposal_id=into.id), execution_options={"synchronize_session": False})
        moved += result.rowcount or 0
    recount([proposal.id, into.id])
    db.session.expire(proposal, ["support_count"])
    db.session.expire(into, ["support_count"])
    return moved
