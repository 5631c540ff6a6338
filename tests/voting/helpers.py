"""Builders of voting rounds for the tests."""

from __future__ import annotations

import secrets
from datetime import timedelta

from portal.db_setup import utcnow
from portal.extensions import db
from portal.voting.models import Round, RoundEntry, RoundRule


def make_round(table, proposals, *, rule=RoundRule.SUPPORTS, opens=None, closes=None,
               max_supports=3, threshold=2, budget_cents=None, title="Votazione di prova"):
    """A round of `table` with `proposals`, open now unless told otherwise."""
    now = utcnow()
    round_ = Round(table_id=table.id, title=title, opens_at=opens or now - timedelta(hours=1),
                   closes_at=closes or now + timedelta(days=7), rule=rule,
                   max_supports=max_supports if rule == RoundRule.SUPPORTS else None,
                   threshold=threshold if rule == RoundRule.SUPPORTS else None,
                   budget_cents=budget_cents if rule == RoundRule.BUDGET else None,
                   salt=secrets.token_hex(16))
    db.session.add(round_)
    db.session.flush()
    for p in proposals:
        db.session.add(RoundEntry(round_id=round_.id, proposal_id=p.id,
                                  cost_cents=p.estimated_cost_cents))
    db.session.commit()
    return round_


def close(round_) -> None:
    """Move the round's window into the past (as if time had passed)."""
    now = utcnow()
    round_.opens_at = now - timedelta(days=8)
    round_.closes_at = now - timedelta(seconds=1)
    db.session.commit()
