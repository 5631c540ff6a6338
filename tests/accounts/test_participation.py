"""An account whose e-mail is not confirmed may log in, but not take part."""

from portal.proposals.models import Comment, ProposalState, Report
from tests.conftest import login, outbox, page_text
from tests.proposals.helpers import make_proposal


def _published(factory):
    comune = factory.comune("Seveso")
    return make_proposal(factory, comune=comune, user=factory.user(),
                         state=ProposalState.PUBLISHED)


def test_an_unconfirmed_account_cannot_comment_or_report(client, factory, db):
    proposal = _published(factory)
    impostor = factory.user(name="Sindaco di Seveso (ufficiale)", confirmed=False)
    login(client, impostor.email)

    refused = client.form(f"/proposte/{proposal.id}/commenti",
                          {"body": "La votazione è annullata"})
    assert refused.status_code == 403
    text = page_text(refused)
    assert "Finché non lo confermi non puoi commentare" in text
    assert "Invia di nuovo il link" in text
    reported = client.form(f"/proposte/{proposal.id}/segnala", {"reason": "Spam, spam, spam"})
    assert reported.status_code == 403
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count(Comment.id))) == 0
    assert db.session.scalar(db.select(db.func.count(Report.id))) == 0

    # htmx gets no page it would not show: it is sent to the one that explains
    partial = client.form(f"/proposte/{proposal.id}/commenti", {"body": "Ciao"}, htmx=True)
    assert partial.status_code == 403
    assert partial.headers["HX-Redirect"] == "/account/conferma-email"
    assert "Invia di nuovo il link" in page_text(client.get("/account/conferma-email"))

    # the button mails the link again
    before = len(outbox(impostor.email))
    assert client.form("/account/reinvia-conferma").status_code == 303
    assert len(outbox(impostor.email)) == before + 1


def test_once_confirmed_the_same_account_comments(client, factory, db):
    from portal.db_setup import utcnow

    proposal = _published(factory)
    user = factory.user(confirmed=False)
    login(client, user.email)
    assert client.form(f"/proposte/{proposal.id}/commenti", {"body": "Ciao"}).status_code == 403
    user.email_confirmed_at = utcnow()
    db.session.commit()
    assert client.form(f"/proposte/{proposal.id}/commenti", {"body": "Ciao"}).status_code == 303
    assert client.get("/account/conferma-email").status_code == 302


def test_an_unconfirmed_account_cannot_start_a_proposal(client, factory):
    login(client, factory.user(confirmed=False).email)
    assert client.get("/proposte/nuova").status_code == 403
