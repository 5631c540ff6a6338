"""Comments on published proposals: replies one level deep, 15-minute edits, reports, hiding."""

from datetime import timedelta

import pytest

from portal.authz import Role
from portal.proposals.models import Comment, ProposalState, Report
from tests.proposals.helpers import make_proposal, switch

S = ProposalState


@pytest.fixture
def published(factory):
    comune = factory.comune("Seveso")
    moderator = factory.user(email="moderatore@example.org")
    factory.grant(moderator, Role.MODERATOR, factory.association([comune], name="AFI").id)
    author = factory.user(email="autrice@example.org")
    return make_proposal(factory, comune=comune, user=author, state=S.PUBLISHED)


def _comments(db):
    db.session.expire_all()
    return list(db.session.scalars(db.select(Comment).order_by(Comment.id)))


def test_comment_and_reply_one_level(app, db, client, login_as, published):
    """A reply to a reply joins the thread of the first comment."""
    login_as()
    url = f"/proposte/{published.id}/commenti"
    assert client.form(url, {"body": "Bella idea"}).status_code == 303
    first = _comments(db)[0]
    assert client.form(url, {"body": "Concordo", "parent_id": str(first.id)}).status_code == 303
    reply = _comments(db)[1]
    client.form(url, {"body": "Anche io", "parent_id": str(reply.id)})
    comments = _comments(db)
    assert [c.parent_id for c in comments] == [None, first.id, first.id]
    assert published.comment_count == 3


def test_comment_with_htmx_returns_the_section(app, db, client, login_as, published):
    """With htmx the comments section comes back, with the new comment in it."""
    login_as()
    response = client.form(f"/proposte/{published.id}/commenti", {"body": "Ciao a tutti"},
                           htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith('<section id="commenti"')
    assert "Ciao a tutti" in html
    bad = client.form(f"/proposte/{published.id}/commenti", {"body": ""}, htmx=True)
    assert bad.status_code == 422 and 'id="commenti"' in bad.get_data(as_text=True)


def test_authors_hear_of_comments(app, db, client, login_as, published):
    """The proposing family gets a portal notification for a new comment."""
    from portal.core.models import Notification

    login_as()
    client.form(f"/proposte/{published.id}/commenti", {"body": "Una domanda"})
    author = published.author
    assert db.session.scalar(db.select(Notification).where(
        Notification.user_id == author.id, Notification.kind == "proposal.commented"))


@pytest.mark.parametrize("data", [
    {"body": ""}, {"body": "x" * 10_000}, {"body": "a\x00b"}, {"body": "ok", "parent_id": "abc"},
    {"body": "ok", "parent_id": "' OR 1=1 --"}, {"body": " "},
])
def test_bad_comments(app, db, client, login_as, published, data):
    """Empty, huge or corrupted comments are refused with 422 and nothing is stored."""
    login_as()
    assert client.form(f"/proposte/{published.id}/commenti", data).status_code == 422
    assert _comments(db) == []


def test_reply_to_a_comment_of_another_proposal(app, db, client, factory, login_as, published):
    """A parent from another proposal is not found."""
    other = make_proposal(factory, state=S.PUBLISHED)
    login_as()
    client.form(f"/proposte/{other.id}/commenti", {"body": "Altrove"})
    parent = _comments(db)[0]
    response = client.form(f"/proposte/{published.id}/commenti",
                           {"body": "Risposta", "parent_id": str(parent.id)})
    assert response.status_code == 404 and len(_comments(db)) == 1


def test_no_comments_on_drafts(app, db, client, factory, login_as):
    """Only published proposals take comments."""
    draft = make_proposal(factory, state=S.SUBMITTED)
    login_as()
    assert client.form(f"/proposte/{draft.id}/commenti", {"body": "Ehi"}).status_code == 403


def test_edit_within_fifteen_minutes_only(app, db, client, login_as, published):
    """The author edits a comment for 15 minutes; afterwards, and for others, it is refused."""
    user = login_as()
    client.form(f"/proposte/{published.id}/commenti", {"body": "Prima versione"})
    comment = _comments(db)[0]
    url = f"/proposte/commenti/{comment.id}/modifica"
    assert client.form(url, {"body": "Seconda versione"}).status_code == 303
    assert _comments(db)[0].body == "Seconda versione" and _comments(db)[0].edited_at
    comment = _comments(db)[0]
    comment.created_at = comment.created_at - timedelta(minutes=16)
    db.session.commit()
    assert client.get(url).status_code == 403
    assert client.form(url, {"body": "Terza"}).status_code == 403
    assert _comments(db)[0].body == "Seconda versione"
    switch(client, "autrice@example.org")
    assert user.email != "autrice@example.org"
    assert client.form(url, {"body": "Non mio"}).status_code == 403


def test_report_then_moderator_hides_with_public_reason(app, db, client, login_as, published):
    """A reported comment is hidden; the page and history say by whom and why."""
    login_as()
    client.form(f"/proposte/{published.id}/commenti", {"body": "Compra da me, sconti!"})
    comment = _comments(db)[0]
    switch(client, "autrice@example.org")
    assert client.form(f"/proposte/commenti/{comment.id}/segnala", {"reason": ""}
                       ).status_code == 422
    assert client.form(f"/proposte/commenti/{comment.id}/segnala",
                       {"reason": "Pubblicità"}).status_code == 303
    assert client.form(f"/proposte/commenti/{comment.id}/segnala",
                       {"reason": "Pubblicità"}).status_code == 303
    assert db.session.scalar(db.select(db.func.count(Report.id))) == 1
    switch(client, "moderatore@example.org")
    assert "Pubblicità" in client.get("/proposte/moderazione").get_data(as_text=True)
    url = f"/proposte/commenti/{comment.id}/nascondi"
    assert client.form(url, {"reason": "x" * 600}).status_code == 422
    assert client.form(url, {"reason": "Messaggio commerciale"}).status_code == 303
    client.post("/esci", data={"csrf_token": client.csrf()})
    page = client.get(f"/proposte/{published.id}").get_data(as_text=True)
    assert "Compra da me" not in page
    assert "Commento nascosto dai moderatori di AFI" in page and "Messaggio commerciale" in page
    assert "un commento è stato nascosto" in page
    db.session.expire_all()
    assert db.session.scalar(db.select(Report)).resolution == "hidden"


def test_families_cannot_hide_comments(app, db, client, login_as, published):
    """Hiding is for moderators of the proposal's Comune."""
    login_as()
    client.form(f"/proposte/{published.id}/commenti", {"body": "Ciao"})
    comment = _comments(db)[0]
    assert client.form(f"/proposte/commenti/{comment.id}/nascondi",
                       {"reason": "No"}).status_code == 403
    assert _comments(db)[0].hidden_at is None


def test_moderator_dismisses_a_report(app, db, client, login_as, published):
    """A report without grounds is archived; the comment stays."""
    login_as()
    client.form(f"/proposte/{published.id}/commenti", {"body": "Opinione"})
    comment = _comments(db)[0]
    switch(client, "autrice@example.org")
    client.form(f"/proposte/commenti/{comment.id}/segnala", {"reason": "Non mi piace"})
    report = db.session.scalar(db.select(Report))
    switch(client, "moderatore@example.org")
    assert client.form(f"/proposte/segnalazioni/{report.id}/archivia").status_code == 303
    db.session.expire_all()
    assert report.resolution == "dismissed" and _comments(db)[0].hidden_at is None


def test_each_comment_shows_the_actions_of_its_viewer(app, db, client, login_as, published):
    """Replies and comments show Modifica to their writer, Nascondi to the moderators, only
    the text to visitors; a hidden comment shows the moderators' reason to everyone."""
    writer = login_as()
    url = f"/proposte/{published.id}/commenti"
    client.form(url, {"body": "Primo commento"})
    first = _comments(db)[0]
    client.form(url, {"body": "Una risposta", "parent_id": str(first.id)})
    page = client.get(f"/proposte/{published.id}").get_data(as_text=True)
    assert page.count("/modifica\">Modifica</a>") == 2 and ">Nascondi</a>" not in page
    switch(client, "moderatore@example.org")
    page = client.get(f"/proposte/{published.id}").get_data(as_text=True)
    assert page.count(">Nascondi</a>") == 2 and ">Segnala</a>" in page
    client.form(f"/proposte/commenti/{first.id}/nascondi", {"reason": "Fuori tema"})
    client.post("/esci", data={"csrf_token": client.csrf()})
    page = client.get(f"/proposte/{published.id}").get_data(as_text=True)
    assert "Una risposta" in page and "Primo commento" not in page
    assert "Motivo: Fuori tema" in page and ">Nascondi</a>" not in page
    assert writer.name in page


def test_readers_see_the_same_cards_and_their_own_actions(app, db, client, factory,
                                                          published):
    """Every signed-in reader may report the others' comments and edit their own; visitors
    see neither; a change to a comment's author shows at once to everyone."""
    import re

    factory.user(email="lia@example.org", name="Lia Lettrice")
    db.session.commit()
    page_url, url = f"/proposte/{published.id}", f"/proposte/{published.id}/commenti"

    def actions(html: str) -> dict[str, list[str]]:
        """comment text -> its action links, for each card on the page."""
        cards = re.findall(r'<article class="comment.*?</article>', html, re.S)
        return {re.search(r'pre-line">([^<]*)<', c).group(1): re.findall(r'">(\w+)</a>', c)
                for c in cards}

    switch(client, "autrice@example.org")
    client.form(url, {"body": "Dell autrice"})
    switch(client, "lia@example.org")
    assert actions(client.get(page_url).get_data(as_text=True)) == {
        "Dell autrice": ["Segnala"]}
    client.form(url, {"body": "Di Lia"})
    assert actions(client.get(page_url).get_data(as_text=True)) == {
        "Dell autrice": ["Segnala"], "Di Lia": ["Modifica"]}
    switch(client, "autrice@example.org")
    assert actions(client.get(page_url).get_data(as_text=True)) == {
        "Dell autrice": ["Modifica"], "Di Lia": ["Segnala"]}
    client.post("/esci", data={"csrf_token": client.csrf()})
    html = client.get(page_url).get_data(as_text=True)
    assert actions(html) == {"Dell autrice": [], "Di Lia": []}
    assert "Lia Lettrice" in html
    lia = db.session.scalar(db.select(Comment).where(Comment.body == "Di Lia")).author
    lia.name = "Lia Rinominata"
    db.session.commit()
    html = client.get(page_url).get_data(as_text=True)
    assert "Lia Rinominata" in html and "Lia Lettrice" not in html
