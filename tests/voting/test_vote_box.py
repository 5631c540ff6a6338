"""The vote box says before the click what the ballot allows: a full ballot disables the
"Sostieni" buttons with the reason beside them, and the withdraw buttons stay."""

import re

from portal.proposals.models import ProposalState
from tests.proposals.helpers import make_proposal
from tests.voting.helpers import make_round


def test_a_full_ballot_disables_sostieni_and_says_why(app, db, client, login_as, factory):
    comune = factory.comune("Seveso")
    table = factory.table(comune)
    proposals = [make_proposal(factory, comune=comune, state=ProposalState.PUBLISHED,
                               title=f"Proposta {i}") for i in range(3)]
    round_ = make_round(table, proposals, max_supports=2)
    login_as("family", comune=comune)
    page = client.get(f"/votazioni/{round_.id}").get_data(as_text=True)
    assert 'btn-sm" disabled' not in page

    for p in proposals[:2]:
        client.form(f"/votazioni/{round_.id}/proposte/{p.id}/voto")
    page = client.get(f"/votazioni/{round_.id}").get_data(as_text=True)
    boxes = dict(re.findall(r'id="vote-\d+-(\d+)">(.*?)</div>', page, re.S))
    free = boxes[str(proposals[2].id)]
    assert re.search(r'<button type="submit" class="btn btn-primary btn-sm" disabled', free)
    assert "Hai già usato tutti i tuoi 2 sostegni" in free
    for p in proposals[:2]:
        assert "Ritira il sostegno" in boxes[str(p.id)]
        assert 'btn-sm" disabled' not in boxes[str(p.id)]
        # one support, in the singular
        assert re.search(r'vote-number"[^>]*>1</span>\s*sostegno\s*</p>', boxes[str(p.id)])
