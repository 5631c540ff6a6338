"""Merging duplicates (votes stay, supporters follow) and the proposals API."""

import pytest

from portal.authz import Role
from portal.proposals import services
from portal.proposals.models import ProposalState
from portal.voting import services as voting
from portal.voting.models import RoundEntry
from tests.proposals.helpers import make_proposal, switch
from tests.voting.helpers import close, make_round

S = ProposalState


@pytest.fixture
def seveso(factory):
    comune = factory.comune("Seveso")
    moderator = factory.user(email="moderatore@example.org")
    factory.grant(moderator, Role.MODERATOR, factory.association([comune], name="AFI").id)
    return dict(comune=comune, table=factory.table(comune), moderator=moderator)


def test_merge_keeps_votes_and_the_supporters_follow(app, db, client, factory, seveso):
    """The votes of a counted round stay where they were cast; the households that supported
    the duplicate become the target's supporters, a household that supported both once."""
    keep = make_proposal(factory, comune=seveso["comune"], state=S.PUBLISHED, title="Originale")
    dup = make_proposal(factory, comune=seveso["comune"], state=S.PUBLISHED, title="Doppione")
    round_ = make_round(seveso["table"], [keep, dup], threshold=5)
    both, only_dup, only_keep = (factory.household(user=factory.user(), comune=seveso["comune"])
                                 for _ in range(3))
    for household, proposals in [(both, [keep, dup]), (only_dup, [dup]), (only_keep, [keep])]:
        for p in proposals:
            voting.cast_vote(round_.id, p.id, household.id, household.users[0].id)
    db.session.commit()
    close(round_)
    voting.ensure_results(round_)
    db.session.commit()
    switch(client, "moderatore@example.org")
    response = client.form(f"/proposte/{dup.id}/unisci",
                           {"into": str(keep.id), "note": "Stessa idea"})
    assert response.status_code == 303
    db.session.expire_all()
    assert dup.state == S.MERGED and dup.merged_into_id == keep.id
    assert db.session.get(RoundEntry, (round_.id, keep.id)).vote_count == 2
    assert db.session.get(RoundEntry, (round_.id, dup.id)).vote_count == 2
    assert keep.support_count == 2 and dup.support_count == 2
    supporters = [u.household_id for u in services.supporters(keep)]
    assert sorted(supporters) == sorted(h.id for h in (both, only_dup, only_keep)
                                        for _member in h.users)
    history = client.get(f"/proposte/{keep.id}").get_data(as_text=True)
    assert "ha assorbito una proposta simile" in history


def test_merge_refused_across_tables_or_into_itself(app, db, factory, seveso):
    """Only into another proposal of the same table, not merged itself."""
    a = make_proposal(factory, comune=seveso["comune"], state=S.PUBLISHED)
    elsewhere = make_proposal(factory, state=S.PUBLISHED)
    for target in (a, elsewhere):
        with pytest.raises(services.ProposalError):
            services.merge(a, target, seveso["moderator"])
    assert a.state == S.PUBLISHED


def test_merge_form_refuses_unknown_targets(app, db, client, factory, seveso):
    """The merge form offers only the same table's proposals; anything else is 422."""
    a = make_proposal(factory, comune=seveso["comune"], state=S.PUBLISHED)
    elsewhere = make_proposal(factory, state=S.PUBLISHED)
    switch(client, "moderatore@example.org")
    for value in (str(elsewhere.id), "abc", "", "99999999999"):
        assert client.form(f"/proposte/{a.id}/unisci", {"into": value}).status_code == 422
    db.session.expire_all()
    assert a.state == S.PUBLISHED


def test_api_lists_public_proposals_with_keyset_links(app, db, client, factory):
    """The API returns published proposals only, newest first, with a link to the next page."""
    for i in range(55):
        make_proposal(factory, state=S.PUBLISHED, title=f"Pubblica {i}")
    make_proposal(factory, state=S.DRAFT, title="Bozza")
    data = client.get("/api/v1/proposte").get_json()
    assert len(data["items"]) == 50 and data["prev"] is None and data["next"]
    assert all(item["state"] == "published" for item in data["items"])
    second = client.get(data["next"].split("localhost", 1)[1]).get_json()
    assert len(second["items"]) == 5 and second["next"] is None
    titles = {i["title"] for i in data["items"] + second["items"]}
    assert len(titles) == 55 and "Bozza" not in titles
    # an unknown Comune or a cursor the API never handed out is refused, not ignored
    for bad in ("comune=abc", "dopo=zzz"):
        response = client.get(f"/api/v1/proposte?{bad}")
        assert response.status_code == 400 and response.get_json()["error"] == "bad_request"
