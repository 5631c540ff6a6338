"""A merge racing the votes: one lock order, no deadlock, no 500, nobody counted twice.

Two test clients in two threads (each request has its own app context, session and database
connection): the moderator merges a duplicate while a family votes for it. The merge is
paused right after its first write until the vote is seen waiting for a lock; before the
fix the vote then held the duplicate's counter while waiting for the duplicate's row, the
merge waited for that counter, and PostgreSQL broke the deadlock with an error (a 500; now
such a loser would also run again, but the lock order means there is none).
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, text

from portal.authz import Role
from portal.extensions import db as _db
from portal.proposals.models import Proposal, ProposalState
from portal.voting import services as voting
from portal.voting.models import RoundEntry, Vote
from tests.conftest import login
from tests.proposals.helpers import make_proposal, switch
from tests.voting.helpers import make_round

S = ProposalState


@pytest.fixture
def world(db, factory):
    comune = factory.comune("Seveso")
    moderator = factory.user(email="moderatore@example.org")
    factory.grant(moderator, Role.MODERATOR, factory.association([comune], name="AFI").id)
    keep = make_proposal(factory, comune=comune, state=S.PUBLISHED, title="Originale")
    dup = make_proposal(factory, comune=comune, state=S.PUBLISHED, title="Doppione")
    round_ = make_round(factory.table(comune), [keep, dup])
    early = factory.household(user=factory.user(), comune=comune)
    voting.cast_vote(round_.id, dup.id, early.id, early.users[0].id)
    family = factory.user(email="famiglia@example.org")
    factory.household(user=family, comune=comune)
    db.session.commit()
    return dict(keep=keep.id, dup=dup.id, round=round_.id)


def _wait_for_a_waiter(app, timeout: float = 15.0) -> None:
    """Return once another session waits for a lock (PostgreSQL), or after a moment (SQLite,
    where the vote waits for the write lock inside BEGIN IMMEDIATE and cannot be seen)."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("postgresql"):
        time.sleep(0.5)
        return
    engine = create_engine(url)
    deadline = time.monotonic() + timeout
    try:
        with engine.connect() as conn:
            while time.monotonic() < deadline:
                waiting = conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'")).scalar()
                conn.rollback()
                if waiting:
                    return
                time.sleep(0.02)
    finally:
        engine.dispose()


def test_vote_during_a_merge_neither_deadlocks_nor_counts_twice(app, client, world,
                                                                monkeypatch):
    """The vote waits for the merge, then is refused with a message; the merge succeeds."""
    voter = app.test_client()
    login(voter, "famiglia@example.org")
    switch(client, "moderatore@example.org")
    vote_url = f"/votazioni/{world['round']}/proposte/{world['dup']}/voto"
    vote_token, merge_token = voter.csrf(), client.csrf()

    merging = threading.Event()
    real_move, runs = voting.move_votes, []

    def paused_move(proposal, into):
        _db.session.flush()  # the merge's first write: the duplicate's merged_into_id
        runs.append(1)
        merging.set()
        _wait_for_a_waiter(app)
        return real_move(proposal, into)

    monkeypatch.setattr(voting, "move_votes", paused_move)
    answers: dict[str, object] = {}

    def merge():
        try:
            answers["merge"] = client.post(f"/proposte/{world['dup']}/unisci", data={
                "into": str(world["keep"]), "note": "Stessa idea",
                "csrf_token": merge_token})
        except Exception as exc:  # noqa: BLE001 - reported by the assertions
            answers["merge"] = exc

    def vote():
        merging.wait(30)
        try:
            answers["vote"] = voter.post(vote_url, headers={
                "HX-Request": "true", "X-CSRFToken": vote_token})
        except Exception as exc:  # noqa: BLE001 - reported by the assertions
            answers["vote"] = exc

    threads = [threading.Thread(target=merge), threading.Thread(target=vote)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    merged, voted = answers["merge"], answers["vote"]
    assert not isinstance(merged, Exception), merged
    assert not isinstance(voted, Exception), voted
    assert merged.status_code == 303, merged.get_data(as_text=True)[:300]
    # No deadlock: the merge ran once (a deadlock's victim would run again), and the vote
    # that came during the merge waited for it and was refused; the box says why.
    assert len(runs) == 1
    assert voted.status_code == 422
    assert "non si può più votare" in voted.get_data(as_text=True)

    _db.session.expire_all()
    dup, keep = _db.session.get(Proposal, world["dup"]), _db.session.get(Proposal, world["keep"])
    assert dup.state == S.MERGED and dup.merged_into_id == keep.id
    rows = _db.session.execute(_db.select(Vote.proposal_id)).scalars().all()
    assert rows == [keep.id]  # the early vote moved; the late one was never written
    assert _db.session.get(RoundEntry, (world["round"], keep.id)).vote_count == 1
    assert _db.session.get(RoundEntry, (world["round"], dup.id)).vote_count == 0
    assert keep.support_count == 1 and dup.support_count == 0


class _Deadlock(Exception):
    sqlstate = "40P01"  # what psycopg reports for a deadlock


@pytest.mark.parametrize("losses", [1, 3])
def test_merge_runs_again_after_losing_a_race(app, db, client, world, monkeypatch, losses):
    """A merge that loses a deadlock runs again; after three losses in a row the moderator
    reads a message (409), never a 500, and nothing is half-merged."""
    from sqlalchemy.exc import OperationalError

    from portal.proposals import services

    switch(client, "moderatore@example.org")
    real_merge, calls = services.merge, []

    def losing_merge(*args, **kwargs):
        calls.append(1)
        if len(calls) <= losses:
            real_merge(*args, **kwargs)  # the work is done, then the commit is lost
            raise OperationalError("UPDATE voting_entries ...", {}, _Deadlock())
        return real_merge(*args, **kwargs)

    monkeypatch.setattr(services, "merge", losing_merge)
    response = client.form(f"/proposte/{world['dup']}/unisci",
                           {"into": str(world["keep"]), "note": "Stessa idea"})
    db.session.expire_all()
    dup = db.session.get(Proposal, world["dup"])
    votes = db.session.execute(db.select(Vote.proposal_id)).scalars().all()
    if losses < 3:
        assert response.status_code == 303 and len(calls) == losses + 1
        assert dup.state == S.MERGED and votes == [world["keep"]]
    else:
        assert response.status_code == 409 and len(calls) == 3
        assert "riprova tra un momento" in response.get_data(as_text=True)
        assert dup.state == S.PUBLISHED and votes == [world["dup"]]
