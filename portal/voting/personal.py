"""Voting's personal data: a household's votes, the rounds a person set up.

A vote is the household's, not the member's who pressed the button. Deleting an account:
- the vote stops naming the member (`user_id` becomes NULL) and stays counted;
- while another member keeps an account, the household and its votes are theirs, unchanged;
- when the last member goes, the household row is anonymised (no name, members or accounts,
  see accounts.services.leave_household) and its votes stay counted, pointing to that
  anonymous row: it keeps one household from voting twice in a round and the published
  results equal their recount.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import or_

from portal.core.personal import forget, register_personal, rows
from portal.voting.models import Round, Vote

VOTE_HOUSEHOLD_KEPT = (
    "A counted vote stays counted: it points to the household row, which loses its name, "
    "members and accounts when its last member deletes the account; the vote no longer "
    "names the member who cast it (user_id is cleared).")


def _export_votes(user) -> dict[str, Any]:
    mine = Vote.user_id == user.id
    if user.household_id is not None:
        mine = or_(mine, Vote.household_id == user.household_id)
    return {"votes": rows(Vote, mine, ("round_id", "proposal_id", "household_id", "user_id",
                                       "created_at"))}


def _delete_votes(user) -> None:
    forget(user, Vote.user_id)


def _export_rounds(user) -> dict[str, Any]:
    created = rows(Round, Round.created_by_id == user.id,
                   ("id", "table_id", "title", "opens_at", "closes_at", "created_at"))
    return {"voting_rounds_created": created} if created else {}


def _forget_rounds(user) -> None:
    forget(user, Round.created_by_id)


def init_app(app: Flask) -> None:
    register_personal(app, Vote, _export_votes, _delete_votes,
                      kept={"household_id": VOTE_HOUSEHOLD_KEPT})
    register_personal(app, Round, _export_rounds, _forget_rounds)
