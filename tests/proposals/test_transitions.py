"""The state graph of proposals: who moves each edge, what is logged and who is told."""

import pytest

from portal.authz import Role
from portal.proposals import services
from portal.proposals.models import ProposalEvent, ProposalState
from tests.conftest import outbox
from tests.proposals.helpers import make_proposal

S = ProposalState


def test_author_submits_and_moderator_publishes(app, db, factory):
    """A household submits its draft; a moderator of an association in its Comune publishes."""
    comune = factory.comune()
    author = factory.user()
    proposal = make_proposal(factory, comune=comune, user=author)
    moderator = factory.user()
    association = factory.association([comune])
    factory.grant(moderator, Role.MODERATOR, association.id)

    services.transition(proposal, S.SUBMITTED, author)
    db.session.commit()
    assert outbox(moderator.email), "moderators hear of new items"
    event = services.transition(proposal, S.PUBLISHED, moderator)
    db.session.commit()
    assert proposal.state == S.PUBLISHED and proposal.listed
    assert event.association_id == association.id
    assert [e.to_state for e in db.session.scalars(db.select(ProposalEvent))] == [
        S.SUBMITTED, S.PUBLISHED]
    assert any("Pubblicata" in m.subject for m in outbox(author.email))


def test_moderator_of_another_comune_is_refused(app, db, factory):
    """An association moderates only where it is active."""
    proposal = make_proposal(factory, state=S.SUBMITTED)
    moderator = factory.user()
    factory.grant(moderator, Role.MODERATOR, factory.association([factory.comune()]).id)
    with pytest.raises(services.NotAllowed):
        services.transition(proposal, S.PUBLISHED, moderator)
    assert proposal.state == S.SUBMITTED
