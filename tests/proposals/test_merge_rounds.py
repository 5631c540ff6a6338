"""A merge never changes a round that has opened: votes and published results never move.

Before the fix a merge moved the duplicate's votes in every round: it added the target to an
open round (round the frozen rules), rewrote a closed round's counts (the votes CSV then
disagreed with the published results) and could leave the target's supports counter behind
its rows, so that a later withdrawal drove it below zero (a 500: the household could not
withdraw).
"""

import csv
import io
from datetime import timedelta

import pytest

from portal.authz import Role
from portal.core.models import AuditLog
from portal.db_setup import utcnow
from portal.proposals import services
from portal.proposals.models import Proposal, ProposalState
from portal.voting import services as voting
from portal.voting.models import Round, RoundEntry, RoundRule, Vote
from tests.proposals.helpers import make_proposal, switch
from tests.voting.helpers import close, make_round

S = ProposalState


@pytest.fixture
def seveso(factory):
    comune = factory.comune("Seveso")
    moderator = factory.user(email="moderatore@example.org")
    factory.grant(moderator, Role.MODERATOR, factory.association([comune], name="AFI").id)
    dup = make_proposal(factory, comune=comune, state=S.PUBLISHED, title="Doppione",
                        cost_cents=100_000)
    keep = make_proposal(factory, comune=comune, state=S.PUBLISHED, title="Originale",
                         cost_cents=200_000)
    return dict(comune=comune, table=factory.table(comune), moderator=moderator, dup=dup,
                keep=keep)


def _families(factory, comune, n):
    return [factory.household(user=factory.user(email=f"famiglia{i}@example.org"),
                              comune=comune) for i in range(n)]


def _vote(db, round_, proposal, *households):
    for household in households:
        voting.cast_vote(round_.id, proposal.id, household.id, household.users[0].id)
    db.session.commit()


def _rows(db):
    return sorted(db.session.execute(
        db.select(Vote.round_id, Vote.household_id, Vote.proposal_id)).all())


def _merge(client, dup, keep):
    switch(client, "moderatore@example.org")
    return client.form(f"/proposte/{dup.id}/unisci", {"into": str(keep.id), "note": "Uguali"})


def _entry(db, round_, proposal):
    return db.session.get(RoundEntry, (round_.id, proposal.id))


@pytest.mark.parametrize("in_round", ["dup", "keep"])
def test_merge_waits_while_either_proposal_is_in_an_open_round(app, db, client, factory,
                                                               seveso, in_round):
    """Source or target in an open round: 422, the form says until when; nothing moves and
    the other proposal does not enter the round."""
    dup, keep = seveso["dup"], seveso["keep"]
    voting_one = seveso[in_round]
    round_ = make_round(seveso["table"], [voting_one], title="Votazione di maggio")
    _vote(db, round_, voting_one, *_families(factory, seveso["comune"], 2))
    before = _rows(db)

    response = _merge(client, dup, keep)

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Votazione di maggio" in page and "dopo la chiusura" in page
    db.session.expire_all()
    assert dup.state == S.PUBLISHED and dup.merged_into_id is None
    assert {e.proposal_id for e in db.session.get(Round, round_.id).entries} == {voting_one.id}
    assert _rows(db) == before
    assert _entry(db, round_, voting_one).vote_count == 2 and voting_one.support_count == 2


def test_merge_waits_for_a_closed_round_to_be_counted(app, db, client, factory, seveso):
    """Closed but not counted yet by `flask voting close`: the merge waits for the results."""
    dup, keep = seveso["dup"], seveso["keep"]
    round_ = make_round(seveso["table"], [dup, keep], threshold=3)
    _vote(db, round_, dup, *_families(factory, seveso["comune"], 2))
    close(round_)
    response = _merge(client, dup, keep)
    assert response.status_code == 422
    assert "quando i risultati saranno pubblicati" in response.get_data(as_text=True)
    assert voting.ensure_results(db.session.get(Round, round_.id))
    db.session.commit()
    assert _merge(client, dup, keep).status_code == 303


def test_published_results_stand_after_a_merge(app, db, client, factory, seveso):
    """A closed round keeps its votes, counters and results; the results CSV, the votes CSV
    and a recount of the rows still agree with what was published. The merge is audited and
    the duplicate's supporters hear of the target's decisions."""
    dup, keep = seveso["dup"], seveso["keep"]
    round_ = make_round(seveso["table"], [dup, keep], threshold=3)
    both, only_dup, only_keep = _families(factory, seveso["comune"], 3)
    _vote(db, round_, dup, both, only_dup)
    _vote(db, round_, keep, both, only_keep)
    close(round_)
    assert voting.ensure_results(db.session.get(Round, round_.id))
    db.session.commit()
    published = db.session.get(Round, round_.id).results
    results_csv = client.get(f"/votazioni/{round_.id}/risultati.csv").get_data(as_text=True)
    before = _rows(db)

    assert _merge(client, dup, keep).status_code == 303

    db.session.expire_all()
    round_ = db.session.get(Round, round_.id)
    assert dup.state == S.MERGED and dup.merged_into_id == keep.id
    assert _rows(db) == before
    assert round_.results == published == voting.compute_results(round_)
    assert (_entry(db, round_, dup).vote_count, _entry(db, round_, keep).vote_count) == (2, 2)
    assert (dup.support_count, keep.support_count) == (2, 2)
    assert client.get(f"/votazioni/{round_.id}/risultati.csv").get_data(
        as_text=True) == results_csv
    votes_csv = client.get(f"/votazioni/{round_.id}/voti.csv").get_data(as_text=True)
    recount: dict[int, int] = {}
    for row in csv.DictReader(io.StringIO(votes_csv)):
        recount[int(row["proposta_id"])] = recount.get(int(row["proposta_id"]), 0) + 1
    assert recount == {step["proposal"]: step["votes"] for step in published["steps"]}

    actions = {(a.action, a.object_id) for a in db.session.scalars(db.select(AuditLog))}
    assert {("proposal.merged", dup.id), ("proposal.absorbed", keep.id)} <= actions
    supporters = {u.household_id for u in services.supporters(keep)}
    assert supporters == {both.id, only_dup.id, only_keep.id}


def test_withdrawal_after_a_refused_merge_never_breaks_a_counter(app, db, client, factory,
                                                                 seveso):
    """The duplicate in an open round, the target in a round still to open: the merge used to
    put the target in the open round with a counter of the later round, and a withdrawal
    then drove that counter below zero (a 500). Now the merge waits and the household
    withdraws; every counter equals its rows."""
    dup, keep = seveso["dup"], seveso["keep"]
    now = utcnow()
    open_round = make_round(seveso["table"], [dup])
    later = make_round(seveso["table"], [keep], opens=now + timedelta(days=10),
                       closes=now + timedelta(days=20))
    first, second = _families(factory, seveso["comune"], 2)
    _vote(db, open_round, dup, first, second)

    assert _merge(client, dup, keep).status_code == 422

    switch(client, "famiglia0@example.org")
    response = client.form(f"/votazioni/{open_round.id}/proposte/{dup.id}/ritira")
    assert response.status_code == 303
    db.session.expire_all()
    assert _entry(db, open_round, dup).vote_count == 1 and dup.support_count == 1
    assert _entry(db, later, keep).vote_count == 0 and keep.support_count == 0
    assert _entry(db, open_round, keep) is None


@pytest.mark.parametrize("rule", [RoundRule.SUPPORTS, RoundRule.BUDGET])
def test_target_takes_the_duplicates_place_in_a_round_not_opened(app, db, client, factory,
                                                                 seveso, rule):
    """A round that has not opened (no votes yet) loses the duplicate and gets the target
    where its manager could have added it (a budget round needs a cost)."""
    dup, keep = seveso["dup"], seveso["keep"]
    if rule == RoundRule.BUDGET:
        keep.estimated_cost_cents = None
        db.session.commit()
    now = utcnow()
    upcoming = make_round(seveso["table"], [dup], rule=rule, budget_cents=500_000,
                          opens=now + timedelta(days=1), closes=now + timedelta(days=8))

    assert _merge(client, dup, keep).status_code == 303

    db.session.expire_all()
    entries = {e.proposal_id for e in db.session.get(Round, upcoming.id).entries}
    joins = rule == RoundRule.SUPPORTS
    assert entries == ({keep.id} if joins else set())
    audit = db.session.scalar(db.select(AuditLog).where(AuditLog.action == "proposal.absorbed",
                                                        AuditLog.object_id == keep.id))
    assert audit.details["rounds_left"] == [upcoming.id]
    assert audit.details["rounds_joined"] == ([upcoming.id] if joins else [])
    assert db.session.get(Proposal, dup.id).support_count == 0


def test_merge_into_a_proposal_of_an_upcoming_round_keeps_it_there(app, db, factory, seveso):
    """The target already waits in another round: the duplicate leaves its own round and the
    target does not enter a second one (a proposal is in one round still to close at most)."""
    dup, keep = seveso["dup"], seveso["keep"]
    now = utcnow()
    first = make_round(seveso["table"], [dup], opens=now + timedelta(days=1),
                       closes=now + timedelta(days=8))
    second = make_round(seveso["table"], [keep], opens=now + timedelta(days=10),
                        closes=now + timedelta(days=18))
    services.merge(dup, keep, seveso["moderator"])
    db.session.commit()
    assert db.session.get(Round, first.id).entries == []
    assert [e.proposal_id for e in db.session.get(Round, second.id).entries] == [keep.id]
