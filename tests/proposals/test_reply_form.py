"""A long discussion read signed in: one reply form, under the thread the reader chose."""

from portal.extensions import db as _db
from portal.proposals import services
from portal.proposals.models import ProposalState
from tests.proposals.helpers import make_proposal


def test_one_reply_form_under_the_thread_asked_for(app, db, client, factory, login_as):
    """Each thread offers "Rispondi" as a link; the page it leads to holds the one reply form,
    under that thread, and the reply joins it. The page stays light however long the
    discussion."""
    author = factory.user()
    proposal = make_proposal(factory, user=author, state=ProposalState.PUBLISHED)
    for i in range(40):
        services.add_comment(proposal, author, f"Commento {i} " + "parole " * 20)
    _db.session.commit()
    login_as()
    page = client.get(f"/proposte/{proposal.id}").get_data(as_text=True)
    assert page.count('name="parent_id"') == 0 and page.count("?rispondi=") == 40
    anonymous = app.test_client().get(f"/proposte/{proposal.id}").get_data(as_text=True)
    assert len(page) < len(anonymous) + 40 * 400
    first = services.comment_threads(proposal.id)[0][0]
    page = client.get(f"/proposte/{proposal.id}?rispondi={first.id}").get_data(as_text=True)
    assert page.count('name="parent_id"') == 1 and f'id="rispondi-{first.id}"' in page
    response = client.form(f"/proposte/{proposal.id}/commenti",
                           {"body": "Una risposta", "parent_id": str(first.id)})
    assert response.status_code == 303
    assert services.comment_threads(proposal.id)[0][1][0].body == "Una risposta"
