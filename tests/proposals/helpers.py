"""Builders shared by the proposals and voting tests."""

from __future__ import annotations

from portal.extensions import db
from portal.proposals import services
from portal.proposals.models import Proposal, ProposalState


def make_proposal(factory, *, comune=None, user=None, household=None, state=ProposalState.DRAFT,
                  title="Un doposcuola per tutti", table=None, cost_cents=None,
                  themes=("scuola-ed-educazione",)) -> Proposal:
    """A proposal of a fresh (or given) household, moved to `state` through the real graph."""
    comune = comune or (household.comune if household else factory.comune())
    if user is None:
        user = factory.user()
    if household is None:
        household = user.household or factory.household(user=user, comune=comune)
    table = table or factory.table(comune)
    proposal = services.create_draft(
        user, household, title=title, summary="Un breve riassunto della proposta.",
        body="Il **testo** della proposta.", table_id=table.id, themes=list(themes),
        estimated_cost_cents=cost_cents)
    db.session.commit()
    force_state(proposal, state)
    return proposal


PATH = {
    ProposalState.DRAFT: [],
    ProposalState.SUBMITTED: [ProposalState.SUBMITTED],
    ProposalState.CHANGES_REQUESTED: [ProposalState.SUBMITTED, ProposalState.CHANGES_REQUESTED],
    ProposalState.PUBLISHED: [ProposalState.SUBMITTED, ProposalState.PUBLISHED],
    ProposalState.REJECTED: [ProposalState.SUBMITTED, ProposalState.REJECTED],
    ProposalState.WITHDRAWN: [ProposalState.WITHDRAWN],
    ProposalState.SELECTED: [ProposalState.SUBMITTED, ProposalState.PUBLISHED,
                             ProposalState.SELECTED],
    ProposalState.ON_AGENDA: [ProposalState.SUBMITTED, ProposalState.PUBLISHED,
                              ProposalState.SELECTED, ProposalState.ON_AGENDA],
    ProposalState.APPROVED: [ProposalState.SUBMITTED, ProposalState.PUBLISHED,
                             ProposalState.SELECTED, ProposalState.ON_AGENDA,
                             ProposalState.APPROVED],
    ProposalState.NOT_APPROVED: [ProposalState.SUBMITTED, ProposalState.PUBLISHED,
                                 ProposalState.SELECTED, ProposalState.ON_AGENDA,
                                 ProposalState.NOT_APPROVED],
    ProposalState.IN_PROGRESS: [ProposalState.SUBMITTED, ProposalState.PUBLISHED,
                                ProposalState.SELECTED, ProposalState.ON_AGENDA,
                                ProposalState.APPROVED, ProposalState.IN_PROGRESS],
    ProposalState.IMPLEMENTED: [ProposalState.SUBMITTED, ProposalState.PUBLISHED,
                                ProposalState.SELECTED, ProposalState.ON_AGENDA,
                                ProposalState.APPROVED, ProposalState.IN_PROGRESS,
                                ProposalState.IMPLEMENTED],
}


def force_state(proposal: Proposal, state: ProposalState) -> Proposal:
    """Walk the graph to `state` as a trusted caller (notes where the graph needs them)."""
    for step in PATH[ProposalState(state)]:
        services.transition(proposal, step, None, "motivo di prova", authorized=True, quiet=True)
    db.session.commit()
    return proposal


def switch(client, email: str) -> None:
    """Log out whoever is logged in, then log in as `email` through the real forms."""
    from tests.conftest import login

    client.post("/esci", data={"csrf_token": client.csrf()})
    login(client, email)
