"""Casting, changing and withdrawing votes: one household, one vote, refused votes leave no row."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from portal.authz import Role
from portal.db_setup import utcnow
from portal.proposals.models import Proposal, ProposalState
from portal.voting import services
from portal.voting.models import RoundEntry, RoundRule, Vote
from tests.proposals.helpers import make_proposal, switch
from tests.voting.helpers import make_round

S = ProposalState


@pytest.fixture
def setup(db, factory):
    comune = factory.comune("Seveso")
    table = factory.table(comune)
    proposals = [make_proposal(factory, comune=comune, state=S.PUBLISHED, title=f"Proposta {i}",
                               cost_cents=(i + 1) * 100_000) for i in range(4)]
    return dict(comune=comune, table=table, proposals=proposals)


def _votes(db):
    return db.session.scalar(db.select(db.func.count(Vote.id)))


def _counts(db, round_, proposal):
    db.session.expire_all()
    entry = db.session.get(RoundEntry, (round_.id, proposal.id))
    return entry.vote_count, db.session.get(Proposal, proposal.id).support_count


def test_vote_counts_once_and_is_idempotent(app, db, client, login_as, setup):
    """Voting twice for the same proposal leaves one row and a count of one."""
    round_ = make_round(setup["table"], setup["proposals"])
    login_as("family", comune=setup["comune"])
    p = setup["proposals"][0]
    url = f"/votazioni/{round_.id}/proposte/{p.id}/voto"
    assert client.form(url, {"next": f"/proposte/{p.id}"}).status_code == 303
    assert client.form(url).status_code == 303
    assert _votes(db) == 1 and _counts(db, round_, p) == (1, 1)


def test_withdraw_and_change_until_close(app, db, client, login_as, setup):
    """A household withdraws its support and gives it to another proposal."""
    round_ = make_round(setup["table"], setup["proposals"], max_supports=1)
    login_as("family", comune=setup["comune"])
    a, b = setup["proposals"][:2]
    client.form(f"/votazioni/{round_.id}/proposte/{a.id}/voto")
    refused = client.form(f"/votazioni/{round_.id}/proposte/{b.id}/voto", htmx=True)
    assert refused.status_code == 422 and "sostegni" in refused.get_data(as_text=True)
    client.form(f"/votazioni/{round_.id}/proposte/{a.id}/ritira")
    client.form(f"/votazioni/{round_.id}/proposte/{a.id}/ritira")  # twice: no harm
    client.form(f"/votazioni/{round_.id}/proposte/{b.id}/voto")
    assert _counts(db, round_, a) == (0, 0) and _counts(db, round_, b) == (1, 1)
    assert _votes(db) == 1


def test_htmx_vote_swaps_button_and_counter(app, db, client, login_as, setup):
    """With htmx the answer is the vote block with the new count and the ballot left."""
    round_ = make_round(setup["table"], setup["proposals"], max_supports=3)
    login_as("family", comune=setup["comune"])
    p = setup["proposals"][0]
    response = client.form(f"/votazioni/{round_.id}/proposte/{p.id}/voto", htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert f'id="vote-{round_.id}-{p.id}"' in html and ">1</span>" in html
    assert "Ritira il sostegno" in html and 'hx-swap-oob="true"' in html
    assert "Ti restano 2 sostegni" in html


def test_htmx_budget_ballot_box_after_vote_and_withdrawal(app, db, client, login_as, setup):
    """The htmx answers show the new count and the budget left, after a vote and a
    withdrawal, and come back to the page the box is on."""
    round_ = make_round(setup["table"], setup["proposals"], rule=RoundRule.BUDGET,
                        budget_cents=1_000_000)
    login_as("family", comune=setup["comune"])
    a, b = setup["proposals"][:2]  # 1,000 and 2,000 euro
    client.form(f"/votazioni/{round_.id}/proposte/{a.id}/voto")
    url = f"/votazioni/{round_.id}/proposte/{b.id}/voto"
    headers = {"HX-Request": "true", "X-CSRFToken": client.csrf(),
               "HX-Current-URL": f"http://localhost/proposte/{b.id}"}
    response = client.post(url, headers=headers)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and ">1</span>" in html
    assert "Togli dalla scheda" in html and "7.000,00" in html
    assert f'name="next" value="/proposte/{b.id}"' in html
    response = client.form(f"/votazioni/{round_.id}/proposte/{b.id}/ritira", htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and ">0</span>" in html
    assert "Metti nella scheda" in html and "9.000,00" in html
    assert _counts(db, round_, a) == (1, 1) and _counts(db, round_, b) == (0, 0)


def test_htmx_vote_box_in_english_with_the_title_escaped(app, db, client, login_as, setup):
    """The box answered to htmx is the template's, in the visitor's language, with the
    proposal's title escaped and a CSRF token for the next press."""
    round_ = make_round(setup["table"], setup["proposals"], max_supports=3)
    p = setup["proposals"][0]
    p.title = 'Pedibus <per> "tutti" & subito'
    db.session.commit()
    login_as("family", comune=setup["comune"])
    client.set_cookie("lang", "en")
    response = client.form(f"/votazioni/{round_.id}/proposte/{p.id}/voto", htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Withdraw support" in html and "You have 2 supports left." in html
    assert "Ritira il sostegno" not in html
    assert "&lt;per&gt;" in html and "<per>" not in html
    assert 'name="csrf_token"' in html


def test_plain_vote_redirects_back_with_a_message(app, db, client, login_as, setup):
    """Without htmx the vote goes back to the page it came from and says it was recorded."""
    round_ = make_round(setup["table"], setup["proposals"])
    login_as("family", comune=setup["comune"])
    p = setup["proposals"][0]
    response = client.form(f"/votazioni/{round_.id}/proposte/{p.id}/voto",
                           {"next": f"/proposte/{p.id}"})
    assert response.status_code == 303 and response.location.endswith(f"/proposte/{p.id}")
    assert "Voto registrato" in client.get(f"/proposte/{p.id}").get_data(as_text=True)


def test_htmx_repeated_vote_and_withdrawal_change_nothing(app, db, client, login_as, setup):
    """The same vote or withdrawal sent twice answers the same box and changes no count."""
    round_ = make_round(setup["table"], setup["proposals"], max_supports=3)
    login_as("family", comune=setup["comune"])
    p = setup["proposals"][0]
    for _ in range(2):
        html = client.form(f"/votazioni/{round_.id}/proposte/{p.id}/voto",
                           htmx=True).get_data(as_text=True)
        assert ">1</span>" in html and "Ti restano 2 sostegni" in html
    for _ in range(2):
        html = client.form(f"/votazioni/{round_.id}/proposte/{p.id}/ritira",
                           htmx=True).get_data(as_text=True)
        assert ">0</span>" in html and "Ti restano 3 sostegni" in html
    assert _votes(db) == 0 and _counts(db, round_, p) == (0, 0)


@pytest.mark.parametrize("path", ["/votazioni/{r}/proposte/99999999999/voto",
                                  "/votazioni/99999999999/proposte/{p}/ritira",
                                  "/votazioni/{r}/proposte/999999/ritira"])
def test_out_of_range_ids_are_not_found(app, db, client, login_as, setup, path):
    """Ids beyond the database's integers, or of no proposal, answer 404 (never 500)."""
    round_ = make_round(setup["table"], setup["proposals"])
    login_as("family", comune=setup["comune"])
    url = path.format(r=round_.id, p=setup["proposals"][0].id)
    assert client.form(url).status_code == 404
    assert client.form(url, htmx=True).status_code == 404


def test_vote_before_opening_is_refused(app, db, client, login_as, setup):
    """A vote before the round opens is refused and leaves no row."""
    now = utcnow()
    round_ = make_round(setup["table"], setup["proposals"], opens=now + timedelta(hours=2),
                        closes=now + timedelta(days=2))
    login_as("family", comune=setup["comune"])
    client.form(f"/votazioni/{round_.id}/proposte/{setup['proposals'][0].id}/voto")
    assert _votes(db) == 0


def test_vote_after_closing_is_refused(app, db, client, login_as, setup):
    """A vote after the close is refused; a withdrawal too (the vote stays)."""
    now = utcnow()
    round_ = make_round(setup["table"], setup["proposals"], opens=now - timedelta(days=3),
                        closes=now - timedelta(seconds=1))
    user = login_as("family", comune=setup["comune"])
    p = setup["proposals"][0]
    response = client.form(f"/votazioni/{round_.id}/proposte/{p.id}/voto", htmx=True)
    assert response.status_code == 422 and "non è aperta" in response.get_data(as_text=True)
    assert _votes(db) == 0
    db.session.add(Vote(round_id=round_.id, household_id=user.household_id, proposal_id=p.id))
    db.session.commit()
    client.form(f"/votazioni/{round_.id}/proposte/{p.id}/ritira")
    assert _votes(db) == 1


def test_unverified_household_cannot_vote(app, db, client, factory, setup):
    """Only households whose residence is verified vote."""
    round_ = make_round(setup["table"], setup["proposals"])
    user = factory.user()
    factory.household(user=user, comune=setup["comune"], verified=False)
    switch(client, user.email)
    response = client.form(f"/votazioni/{round_.id}/proposte/{setup['proposals'][0].id}/voto",
                           htmx=True)
    assert response.status_code == 422 and "verificata" in response.get_data(as_text=True)
    assert _votes(db) == 0


def test_user_without_household_cannot_vote(app, db, client, login_as, setup):
    """A user who has not created a household cannot vote."""
    round_ = make_round(setup["table"], setup["proposals"])
    login_as()
    client.form(f"/votazioni/{round_.id}/proposte/{setup['proposals'][0].id}/voto")
    assert _votes(db) == 0


def test_household_of_another_comune_cannot_vote(app, db, client, factory, login_as, setup):
    """A Comune's table is voted by its own households only."""
    round_ = make_round(setup["table"], setup["proposals"])
    login_as("family", comune=factory.comune("Giussano"))
    client.form(f"/votazioni/{round_.id}/proposte/{setup['proposals'][0].id}/voto")
    assert _votes(db) == 0


def test_intercomunale_round_open_to_every_comune(app, db, client, factory, login_as):
    """The inter-municipal table's round is voted by households of any Comune of the Rete."""
    from portal.extensions import db as _db
    from portal.tables.models import Table

    rete = Table(name="Tavolo intercomunale", slug="tavolo-intercomunale", comune_id=None)
    _db.session.add(rete)
    _db.session.commit()
    proposal = make_proposal(factory, table=rete, state=S.PUBLISHED)
    round_ = make_round(rete, [proposal])
    login_as("family", comune=factory.comune("Limbiate"))
    client.form(f"/votazioni/{round_.id}/proposte/{proposal.id}/voto")
    assert _votes(db) == 1


def test_vote_for_a_proposal_not_in_the_round(app, db, client, factory, login_as, setup):
    """Only proposals of the round can be voted there."""
    round_ = make_round(setup["table"], setup["proposals"][:1])
    login_as("family", comune=setup["comune"])
    other = setup["proposals"][1]
    client.form(f"/votazioni/{round_.id}/proposte/{other.id}/voto")
    client.form(f"/votazioni/{round_.id}/proposte/999999/voto")
    assert _votes(db) == 0
    assert client.form(f"/votazioni/999999/proposte/{other.id}/voto").status_code == 404


def test_max_supports_enforced(app, db, client, login_as, setup):
    """A household supports up to N proposals, then is refused until it withdraws one."""
    round_ = make_round(setup["table"], setup["proposals"], max_supports=2)
    login_as("family", comune=setup["comune"])
    for p in setup["proposals"][:3]:
        client.form(f"/votazioni/{round_.id}/proposte/{p.id}/voto")
    assert _votes(db) == 2


def test_budget_ballot_must_fit(app, db, client, login_as, setup):
    """In a participatory budget the chosen proposals' costs must fit the ballot's budget."""
    round_ = make_round(setup["table"], setup["proposals"], rule=RoundRule.BUDGET,
                        budget_cents=400_000)
    login_as("family", comune=setup["comune"])
    a, b, c, _d = setup["proposals"]  # costs 1000, 2000, 3000 euro
    for p in (a, b):
        client.form(f"/votazioni/{round_.id}/proposte/{p.id}/voto")
    response = client.form(f"/votazioni/{round_.id}/proposte/{c.id}/voto", htmx=True)
    assert response.status_code == 422 and "budget" in response.get_data(as_text=True)
    assert _votes(db) == 2


def test_hidden_or_withdrawn_proposal_cannot_be_voted(app, db, client, factory, login_as, setup):
    """A proposal hidden by moderators or withdrawn by its authors takes no more votes."""
    from portal.proposals import services as proposals

    round_ = make_round(setup["table"], setup["proposals"])
    a, b = setup["proposals"][:2]
    proposals.transition(a, S.WITHDRAWN, None, authorized=True, quiet=True)
    b.hidden_at = utcnow()
    db.session.commit()
    login_as("family", comune=setup["comune"])
    for p in (a, b):
        client.form(f"/votazioni/{round_.id}/proposte/{p.id}/voto")
    assert _votes(db) == 0


def test_anonymous_vote_is_sent_to_login(app, db, client, setup):
    """Voting needs an account: the anonymous POST goes to the login page, nothing is stored."""
    round_ = make_round(setup["table"], setup["proposals"])
    response = client.post(f"/votazioni/{round_.id}/proposte/{setup['proposals'][0].id}/voto")
    assert response.status_code in (302, 303) and "/accedi" in response.location
    assert _votes(db) == 0


def test_vote_without_csrf_is_refused(app, db, client, login_as, setup):
    """A vote POST without the CSRF token is refused."""
    round_ = make_round(setup["table"], setup["proposals"])
    login_as("family", comune=setup["comune"])
    response = client.post(f"/votazioni/{round_.id}/proposte/{setup['proposals'][0].id}/voto")
    assert response.status_code == 400 and _votes(db) == 0


def test_next_must_be_local(app, db, client, login_as, setup):
    """The redirect after a plain vote never leaves the portal."""
    round_ = make_round(setup["table"], setup["proposals"])
    login_as("family", comune=setup["comune"])
    response = client.form(f"/votazioni/{round_.id}/proposte/{setup['proposals'][0].id}/voto",
                           {"next": "https://evil.example.org/"})
    assert response.status_code == 303 and response.location.endswith(f"/votazioni/{round_.id}")


def test_round_page_and_proposal_page_show_the_vote(app, db, client, login_as, setup):
    """The round page lists the proposals with their buttons; the proposal page too."""
    round_ = make_round(setup["table"], setup["proposals"])
    html = client.get(f"/votazioni/{round_.id}").get_data(as_text=True)
    assert "Accedi per votare" in html and "Proposta 0" in html
    login_as("family", comune=setup["comune"])
    html = client.get(f"/votazioni/{round_.id}").get_data(as_text=True)
    assert html.count("Sostieni") >= 4 and "Ti restano 3 sostegni" in html
    html = client.get(f"/proposte/{setup['proposals'][0].id}").get_data(as_text=True)
    assert "Votazione aperta" in html and 'hx-trigger="every 30s"' in html
    count = client.get(f"/votazioni/{round_.id}/proposte/{setup['proposals'][0].id}/conteggio")
    assert count.get_data(as_text=True).strip() == "0"


# --------------------------------------------------------------------------- rounds


def _round_form(chosen, **extra):
    now = utcnow() + timedelta(days=1)
    data = {"title": "Votazione di primavera", "description": "",
            "opens_at": now.strftime("%Y-%m-%dT%H:%M"),
            "closes_at": (now + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M"),
            "rule": "supports", "max_supports": "3", "threshold": "5", "budget": "",
            "proposals": [str(p.id) for p in chosen]}
    data.update(extra)
    return data


def test_secretary_schedules_a_round(app, db, client, login_as, setup):
    """A table's secretary creates a round; times are entered in Italian local time."""
    from portal.voting.models import Round

    login_as(Role.TABLE_SECRETARY, setup["table"].id)
    form = _round_form(setup["proposals"], opens_at="2099-03-29T01:30",
                       closes_at="2099-03-29T03:30")
    assert client.form(f"/votazioni/nuova?tavolo={setup['table'].id}", form).status_code == 303
    round_ = db.session.scalar(db.select(Round))
    # 29 March 2099 is the day Italy moves to summer time: 01:30 is CET, 03:30 is CEST.
    assert round_.opens_at.hour == 0 and round_.closes_at.hour == 1
    assert len(round_.entries) == 4


def test_officer_of_the_comune_schedules_a_round(app, db, client, login_as, setup):
    """A Comune officer manages the rounds of the Comune's table."""
    login_as(Role.COMUNE_OFFICER, setup["comune"].id)
    assert client.form(f"/votazioni/nuova?tavolo={setup['table'].id}",
                       _round_form(setup["proposals"])).status_code == 303


def test_others_cannot_schedule_rounds(app, db, client, factory, login_as, setup):
    """A secretary of another table, or a family, cannot open a round here."""
    login_as(Role.TABLE_SECRETARY, factory.table(factory.comune()).id)
    assert client.form(f"/votazioni/nuova?tavolo={setup['table'].id}",
                       _round_form(setup["proposals"])).status_code == 403
    switch(client, _family(factory, setup).email)
    assert client.get(f"/votazioni/nuova?tavolo={setup['table'].id}").status_code == 403


def _family(factory, setup):
    user = factory.user()
    factory.household(user=user, comune=setup["comune"])
    return user


@pytest.mark.parametrize("extra", [
    {"title": ""}, {"title": "x" * 5000}, {"opens_at": "domani"}, {"opens_at": "2001-01-01T10:00"},
    {"closes_at": "2000-01-01T10:00"}, {"rule": "lotteria"}, {"max_supports": "abc"},
    {"max_supports": "0"}, {"threshold": "-1"}, {"rule": "budget", "budget": ""},
    {"rule": "budget", "budget": "mille"}, {"proposals": []}, {"proposals": ["999999"]},
    {"proposals": ["abc"]}, {"description": "\x00"}, {"rule": "budget", "budget": "100"},
])
def test_bad_round_input(app, db, client, login_as, setup, extra):
    """Each bad value gives the form again with a message (422) and no round."""
    from portal.voting.models import Round

    if extra.get("rule") == "budget" and extra.get("budget") == "100":
        setup["proposals"][0].estimated_cost_cents = None  # a budget round needs costs
        db.session.commit()
    login_as(Role.TABLE_SECRETARY, setup["table"].id)
    response = client.form(f"/votazioni/nuova?tavolo={setup['table'].id}",
                           _round_form(setup["proposals"], **extra))
    assert response.status_code == 422
    assert db.session.scalar(db.select(Round)) is None


def test_rule_is_frozen_once_open(app, db, client, factory, login_as, setup):
    """Changing the rule of an open round is refused (and audited); votes keep the old rule."""
    from portal.core.models import AuditLog

    round_ = make_round(setup["table"], setup["proposals"], max_supports=1)
    login_as(Role.TABLE_SECRETARY, setup["table"].id)
    response = client.form(f"/votazioni/{round_.id}/modifica",
                           _round_form(setup["proposals"], max_supports="4"))
    assert response.status_code == 422 and "già aperta" in response.get_data(as_text=True)
    db.session.expire_all()
    assert round_.max_supports == 1
    assert db.session.scalar(db.select(AuditLog).where(AuditLog.action == "round.change_refused"))
    switch(client, _family(factory, setup).email)
    a, b = setup["proposals"][:2]
    client.form(f"/votazioni/{round_.id}/proposte/{a.id}/voto")
    client.form(f"/votazioni/{round_.id}/proposte/{b.id}/voto")
    assert _votes(db) == 1


def test_scheduled_round_can_be_edited(app, db, client, login_as, setup):
    """Before it opens a round can still change rule and proposals."""
    now = utcnow()
    round_ = make_round(setup["table"], setup["proposals"], opens=now + timedelta(days=1),
                        closes=now + timedelta(days=5))
    login_as(Role.TABLE_SECRETARY, setup["table"].id)
    form = _round_form(setup["proposals"][:2], rule="budget", budget="5.000")
    assert client.form(f"/votazioni/{round_.id}/modifica", form).status_code == 303
    db.session.expire_all()
    assert round_.rule == "budget" and round_.budget_cents == 500_000
    assert len(round_.entries) == 2


def test_proposal_in_an_open_round_is_not_offered_to_another(app, db, factory, setup):
    """A proposal takes part in one round at a time."""
    make_round(setup["table"], setup["proposals"][:2])
    ids = {p.id for p in services.candidates(setup["table"].id)}
    assert ids == {p.id for p in setup["proposals"][2:]}


def _end_session(db, user, how):
    from portal.accounts.models import LoginSession

    if how == "logged out elsewhere":
        db.session.execute(db.delete(LoginSession).where(LoginSession.user_id == user.id))
    elif how == "expired":
        db.session.execute(db.update(LoginSession).where(LoginSession.user_id == user.id)
                           .values(created_at=utcnow() - timedelta(days=31)))
    else:  # the account was deleted
        user.deleted_at = utcnow()
    db.session.commit()


@pytest.mark.parametrize("how", ["logged out elsewhere", "expired", "account deleted"])
def test_a_vote_from_a_session_no_longer_valid_goes_to_log_in(app, db, client, login_as, setup,
                                                              how):
    """The vote checks the login session in its own read: a cookie whose session ended (or
    expired, or whose account was deleted) is sent to log in, plain or htmx, and leaves no row
    nor count, in either direction."""
    round_ = make_round(setup["table"], setup["proposals"])
    user = login_as("family", comune=setup["comune"])
    p = setup["proposals"][0]
    vote = f"/votazioni/{round_.id}/proposte/{p.id}/voto"
    assert client.form(vote).status_code == 303 and _votes(db) == 1  # the session worked
    token = client.csrf()
    _end_session(db, user, how)
    for path in (vote, f"/votazioni/{round_.id}/proposte/{p.id}/ritira"):
        response = client.post(path, data={"csrf_token": token})
        assert response.status_code == 302 and urlsplit(response.location).path == "/accedi"
        response = client.post(path, headers={"HX-Request": "true", "X-CSRFToken": token,
                                              "HX-Current-URL": f"http://localhost/proposte/{p.id}"})
        assert response.status_code == 401
        assert response.headers["HX-Redirect"] == f"/accedi?next=/proposte/{p.id}"
    assert _votes(db) == 1 and _counts(db, round_, p) == (1, 1)  # the vote cast before stays


def test_user_without_household_is_told_why(app, db, client, login_as, setup):
    """Signed in but with no household: the vote explains what is missing (htmx: 422)."""
    round_ = make_round(setup["table"], setup["proposals"])
    login_as()
    response = client.form(f"/votazioni/{round_.id}/proposte/{setup['proposals'][0].id}/voto",
                           htmx=True)
    assert response.status_code == 422
    assert "serve un nucleo familiare" in response.get_data(as_text=True)
    assert _votes(db) == 0


def test_an_open_round_shows_its_frozen_fields_read_only(app, db, client, login_as, setup):
    """The form of an open round shows rule, dates and proposals as text with the reason
    (no field that the save would refuse), and still renames the round."""
    round_ = make_round(setup["table"], setup["proposals"], max_supports=2)
    login_as(Role.TABLE_SECRETARY, setup["table"].id)
    page = client.get(f"/votazioni/{round_.id}/modifica").get_data(as_text=True)
    assert "Fissati all&#39;apertura" in page or "Fissati all'apertura" in page
    for name in ("opens_at", "closes_at", "rule", "max_supports", "proposals"):
        assert f'name="{name}"' not in page, name
    assert 'name="title"' in page and setup["proposals"][0].title in page
    response = client.form(f"/votazioni/{round_.id}/modifica",
                           {"title": "Votazione di primavera", "description": ""})
    assert response.status_code == 303
    db.session.expire_all()
    assert round_.title == "Votazione di primavera" and round_.max_supports == 2


def test_a_proposal_published_after_the_round_opened_is_told_when_it_is_voted(
        app, db, client, factory, login_as, setup):
    """A proposal published while a round of its table is open is not in it: its page says
    so, and that it will be voted on in the table's next round (no vote box)."""
    round_ = make_round(setup["table"], setup["proposals"][:2])
    late = make_proposal(factory, comune=setup["comune"], table=setup["table"],
                         state=S.PUBLISHED, title="Proposta arrivata dopo")
    page = client.get(f"/proposte/{late.id}").get_data(as_text=True)
    assert "potrà essere votata nella prossima votazione del tavolo" in page
    assert f"/votazioni/{round_.id}" in page
    inside = client.get(f"/proposte/{setup['proposals'][0].id}").get_data(as_text=True)
    assert "prossima votazione" not in inside
