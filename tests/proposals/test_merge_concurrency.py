"""A merge racing the votes: one lock order, no deadlock, no 500, nobody counted twice.

Two test clients in two threads (each request has its own app context, session and database
connection). A merge never changes a round that has opened, so the race left is at a round's
opening: the moderator merges a duplicate that waits in a round about to open, the round
opens while the merge is paused right after its first write, and a family votes for the
duplicate. The vote waits for the merge's lock; the merge, finding the round open, is refused
(the round keeps its list) and the vote then counts. Before the lock order was fixed the vote
held the duplicate's counter while waiting for the duplicate's row, the merge waited for that
counter, and PostgreSQL broke the deadlock with an error (a 500).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text

from portal.authz import Role
from portal.db_setup import utcnow
from portal.extensions import db as _db
from portal.proposals.models import Proposal, ProposalState
from portal.voting import services as voting
from portal.voting.models import Round, RoundEntry, Vote
from tests.conftest import login
from tests.proposals.helpers import make_proposal, switch
from tests.voting.helpers import close, make_round

S = ProposalState


@pytest.fixture
def world(db, factory):
    comune = factory.comune("Seveso")
    moderator = factory.user(email="moderatore@example.org")
    factory.grant(moderator, Role.MODERATOR, factory.association([comune], name="AFI").id)
    keep = make_proposal(factory, comune=comune, state=S.PUBLISHED, title="Originale")
    dup = make_proposal(factory, comune=comune, state=S.PUBLISHED, title="Doppione")
    table = factory.table(comune)
    past = make_round(table, [keep, dup], threshold=5)
    early = factory.household(user=factory.user(), comune=comune)
    voting.cast_vote(past.id, dup.id, early.id, early.users[0].id)
    db.session.commit()
    close(past)
    voting.ensure_results(past)
    now = utcnow()
    upcoming = make_round(table, [dup], opens=now + timedelta(days=1),
                          closes=now + timedelta(days=8))
    voting.refresh_supports([dup.id])  # as create_round: its new round starts from zero
    family = factory.user(email="famiglia@example.org")
    factory.household(user=family, comune=comune)
    db.session.commit()
    return dict(keep=keep.id, dup=dup.id, past=past.id, round=upcoming.id)


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


def test_round_opening_during_a_merge_stays_as_it_opened(app, client, world, monkeypatch):
    """The round opens during the merge: the merge is refused with a message (the round keeps
    the list it opened with), the vote that waited for it counts once, nothing deadlocks."""
    voter = app.test_client()
    login(voter, "famiglia@example.org")
    switch(client, "moderatore@example.org")
    vote_url = f"/votazioni/{world['round']}/proposte/{world['dup']}/voto"
    vote_token, merge_token = voter.csrf(), client.csrf()
    upcoming = _db.session.get(Round, world["round"])
    opens_at = utcnow() + timedelta(seconds=2)
    upcoming.opens_at = opens_at
    _db.session.commit()

    merging = threading.Event()
    real_move, runs = voting.move_votes, []

    def paused_move(proposal, into):
        _db.session.flush()  # the merge's first write: the duplicate's merged_into_id
        runs.append(1)
        while utcnow() <= opens_at:  # the round opens now
            time.sleep(0.05)
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
    # The merge checked the round before it opened (it reached the move, once: no deadlock
    # victim ran again), found it open under the round's lock and was refused.
    assert len(runs) == 1
    assert merged.status_code == 422
    assert "si è appena aperta" in merged.get_data(as_text=True)
    assert voted.status_code == 200, voted.get_data(as_text=True)[:300]

    _db.session.expire_all()
    dup = _db.session.get(Proposal, world["dup"])
    assert dup.state == S.PUBLISHED and dup.merged_into_id is None
    assert [e.proposal_id for e in _db.session.get(Round, world["round"]).entries] == [dup.id]
    rows = _db.session.execute(_db.select(Vote.round_id, Vote.proposal_id)).all()
    assert sorted(rows) == sorted([(world["past"], dup.id), (world["round"], dup.id)])
    assert _db.session.get(RoundEntry, (world["round"], dup.id)).vote_count == 1
    assert dup.support_count == 1


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
    entries = [e.proposal_id for e in db.session.get(Round, world["round"]).entries]
    assert votes == [world["dup"]]  # the counted round's vote never moves
    if losses < 3:
        assert response.status_code == 303 and len(calls) == losses + 1
        assert dup.state == S.MERGED and entries == [world["keep"]]
    else:
        assert response.status_code == 409 and len(calls) == 3
        assert "riprova tra un momento" in response.get_data(as_text=True)
        assert dup.state == S.PUBLISHED and entries == [world["dup"]]
