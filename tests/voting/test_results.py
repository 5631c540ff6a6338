"""Results after the close: selection, the budget computation, CSV and the recount by hash."""

import csv
import io

import pytest

from portal.core.models import Notification
from portal.proposals.models import ProposalState
from portal.voting import services
from portal.voting.models import RoundRule, Vote
from tests.conftest import outbox
from tests.proposals.helpers import make_proposal
from tests.voting.helpers import close, make_round

S = ProposalState


@pytest.fixture
def comune(factory):
    return factory.comune("Seveso")


def _voters(factory, comune, n):
    return [factory.household(user=factory.user(), comune=comune) for _ in range(n)]


def _vote(round_, household, proposal):
    outcome = services.cast_vote(round_.id, proposal.id, household.id, household.users[0].id)
    assert outcome.changed


def test_threshold_selects_and_notifies_supporters(app, db, client, factory, comune):
    """At the close, proposals reaching the threshold become selected; supporters are told.

    Readers see the round closed and its results at once; `flask voting close` stores them,
    moves the proposals on and tells the families, once however often it runs."""
    table = factory.table(comune)
    author = factory.user()
    a = make_proposal(factory, comune=comune, user=author, state=S.PUBLISHED, title="Sopra")
    b = make_proposal(factory, comune=comune, state=S.PUBLISHED, title="Sotto")
    round_ = make_round(table, [a, b], threshold=3, max_supports=2)
    voters = _voters(factory, comune, 3)
    for h in voters:
        _vote(round_, h, a)
    _vote(round_, voters[0], b)
    close(round_)
    # Before the command: shown closed, with its results computed, and nothing written.
    html = client.get(f"/votazioni/{round_.id}").get_data(as_text=True)
    assert "La votazione è chiusa" in html and "Selezionata" in html
    response = client.get(f"/votazioni/{round_.id}/risultati")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Sopra" in html and "Sotto la soglia" in html
    assert "Hanno votato 3 famiglie" in html
    db.session.expire_all()
    assert round_.results_at is None and a.state == S.PUBLISHED
    # The command stores them and moves the proposal on; run again, it changes nothing.
    runner = app.test_cli_runner()
    assert "1 votazioni" in runner.invoke(args=["voting", "close"]).output
    db.session.expire_all()
    assert a.state == S.SELECTED and b.state == S.PUBLISHED
    assert round_.results["ballots"] == 3 and round_.results["votes"] == 4
    supporter = voters[1].users[0]
    assert any("Selezionata" in m.subject for m in outbox(supporter.email))
    assert db.session.scalar(db.select(Notification).where(
        Notification.user_id == author.id, Notification.kind == "proposal.selected"))
    results_at = round_.results_at
    assert "0 votazioni" in runner.invoke(args=["voting", "close"]).output
    client.get(f"/votazioni/{round_.id}/risultati")
    db.session.expire_all()
    assert round_.results_at == results_at
    assert len([m for m in outbox(supporter.email) if "Selezionata" in m.subject]) == 1


def test_budget_greedy_within_budget_and_published_computation(app, db, client, factory,
                                                               comune):
    """Winners by approvals while the budget lasts; a proposal that no longer fits is skipped."""
    table = factory.table(comune)
    big = make_proposal(factory, comune=comune, state=S.PUBLISHED, title="Grande",
                        cost_cents=800_000)
    mid = make_proposal(factory, comune=comune, state=S.PUBLISHED, title="Media",
                        cost_cents=500_000)
    small = make_proposal(factory, comune=comune, state=S.PUBLISHED, title="Piccola",
                          cost_cents=200_000)
    round_ = make_round(table, [big, mid, small], rule=RoundRule.BUDGET, budget_cents=1_000_000)
    voters = _voters(factory, comune, 4)
    for h in voters[:3]:
        _vote(round_, h, big)
    for h in voters[:2]:
        _vote(round_, h, small)
    _vote(round_, voters[3], mid)
    close(round_)
    services.ensure_results(round_)
    steps = round_.results["steps"]
    assert [(s["title"], s["selected"], s["reason"]) for s in steps] == [
        ("Grande", True, "fits"), ("Piccola", True, "fits"), ("Media", False, "over_budget")]
    assert steps[-1]["remaining_cents"] == 0
    html = client.get(f"/votazioni/{round_.id}/risultati").get_data(as_text=True)
    assert "Non entra nel budget residuo" in html
    rows = list(csv.reader(io.StringIO(
        client.get(f"/votazioni/{round_.id}/risultati.csv").get_data(as_text=True))))
    assert rows[0] == ["proposta_id", "titolo", "voti", "costo_euro", "selezionata"]
    assert rows[1][1:] == ["Grande", "3", "8000.00", "sì"]


def test_pseudonymous_votes_allow_a_recount(app, db, client, factory, comune):
    """The votes CSV names households by a per-round hash: recounting it gives the results."""
    table = factory.table(comune)
    a = make_proposal(factory, comune=comune, state=S.PUBLISHED)
    b = make_proposal(factory, comune=comune, state=S.PUBLISHED)
    round_ = make_round(table, [a, b])
    voters = _voters(factory, comune, 3)
    for h in voters:
        _vote(round_, h, a)
    _vote(round_, voters[0], b)
    close(round_)
    text = client.get(f"/votazioni/{round_.id}/voti.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text)))[1:]
    assert len(rows) == 4 and len({r[0] for r in rows}) == 3
    assert all(str(h.id) != r[0] for h in voters for r in rows)
    recount = {}
    for _hash, proposal_id in rows:
        recount[int(proposal_id)] = recount.get(int(proposal_id), 0) + 1
    assert recount == {a.id: 3, b.id: 1}
    other = make_round(table, [a])
    assert services.household_hash(other, voters[0].id) != services.household_hash(
        round_, voters[0].id)


def test_results_not_before_close(app, client, factory, comune):
    """Results and CSV are published only after the close."""
    table = factory.table(comune)
    round_ = make_round(table, [make_proposal(factory, comune=comune, state=S.PUBLISHED)])
    assert client.get(f"/votazioni/{round_.id}/risultati").status_code == 302
    assert client.get(f"/votazioni/{round_.id}/voti.csv").status_code == 404
    assert client.get(f"/api/v1/votazioni/{round_.id}/risultati").status_code == 404


def test_counters_are_recounted_from_rows_at_the_close(app, db, factory, comune):
    """Should a counter drift, the results are computed from the vote rows."""
    table = factory.table(comune)
    a = make_proposal(factory, comune=comune, state=S.PUBLISHED)
    round_ = make_round(table, [a], threshold=1)
    voter = _voters(factory, comune, 1)[0]
    db.session.add(Vote(round_id=round_.id, household_id=voter.id, proposal_id=a.id))
    db.session.commit()  # a row the counters do not know about
    close(round_)
    services.ensure_results(round_)
    assert round_.entries[0].vote_count == 1 and round_.entries[0].selected


def test_close_command_is_safe_to_run_twice(app, db, factory, comune):
    """`flask voting close` counts due rounds once, however many times it runs."""
    table = factory.table(comune)
    a = make_proposal(factory, comune=comune, state=S.PUBLISHED)
    round_ = make_round(table, [a], threshold=1)
    _vote(round_, _voters(factory, comune, 1)[0], a)
    close(round_)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["voting", "close"])
    second = runner.invoke(args=["voting", "close"])
    assert "1 votazioni" in first.output and "0 votazioni" in second.output
    db.session.expire_all()
    assert a.state == S.SELECTED


def test_api_results_and_openapi(app, db, client, factory, comune):
    """The results are open data, described in the OpenAPI document."""
    table = factory.table(comune)
    a = make_proposal(factory, comune=comune, state=S.PUBLISHED, title="In API")
    round_ = make_round(table, [a], threshold=1)
    _vote(round_, _voters(factory, comune, 1)[0], a)
    close(round_)
    data = client.get(f"/api/v1/votazioni/{round_.id}/risultati").get_json()
    assert data["ballots"] == 1 and data["steps"][0]["title"] == "In API"
    assert data["steps"][0]["selected"] is True
    assert client.get("/api/v1/votazioni/424242/risultati").status_code == 404
    document = client.get("/api/v1/openapi.json").get_json()
    assert "/votazioni/{round_id}/risultati" in document["paths"]
    assert "/proposte" in document["paths"]


def test_votes_csv_is_streamed_and_identical_to_a_sort_in_memory(app, db, client, factory,
                                                                 comune, monkeypatch):
    """The votes CSV streams from buckets spilled to disk and equals the whole list sorted
    by (hash, proposal id) in memory, numeric ids included (9 before 10)."""
    table = factory.table(comune)
    proposals = [make_proposal(factory, comune=comune, state=S.PUBLISHED, title=f"P{i}")
                 for i in range(11)]
    round_ = make_round(table, proposals, max_supports=3)
    for i, household in enumerate(_voters(factory, comune, 40)):
        for p in {proposals[i % 11].id: proposals[i % 11], proposals[(7 * i) % 11].id:
                  proposals[(7 * i) % 11], proposals[9].id: proposals[9]}.values():
            _vote(round_, household, p)
    close(round_)
    monkeypatch.setattr(services, "VOTE_BUCKET_MEMORY", 32)  # every bucket goes to disk
    response = client.get(f"/votazioni/{round_.id}/voti.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "Content-Length" not in response.headers  # streamed, not built in memory
    rows = db.session.execute(db.select(Vote.household_id, Vote.proposal_id)
                              .where(Vote.round_id == round_.id)).all()
    expected = io.StringIO()
    writer = csv.writer(expected)
    writer.writerow(["famiglia_pseudonimo", "proposta_id"])
    writer.writerows(sorted((services.household_hash(round_, h), p) for h, p in rows))
    text = response.get_data(as_text=True)
    assert text == expected.getvalue() and len(rows) > 80
    by_household = {}
    for pseudonym, proposal_id in list(csv.reader(io.StringIO(text)))[1:]:
        by_household.setdefault(pseudonym, []).append(int(proposal_id))
    assert any({proposals[8].id, proposals[9].id} <= set(ids) for ids in by_household.values())
    assert all(ids == sorted(ids) for ids in by_household.values())


def test_results_csv_titles_cannot_run_as_formulas(app, db, client, factory, comune):
    """A title that starts like a spreadsheet formula is written as text."""
    table = factory.table(comune)
    p = make_proposal(factory, comune=comune, state=S.PUBLISHED,
                      title='=HYPERLINK("http://example.org","premi")')
    round_ = make_round(table, [p])
    close(round_)
    rows = list(csv.reader(io.StringIO(
        client.get(f"/votazioni/{round_.id}/risultati.csv").get_data(as_text=True))))
    assert rows[1][1] == "'=HYPERLINK(\"http://example.org\",\"premi\")"
