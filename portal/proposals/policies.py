"""Who may act on proposals, comments and the moderation queue."""

from __future__ import annotations

from datetime import timedelta

from portal import authz
from portal.authz import Role
from portal.db_setup import utcnow
from portal.extensions import db
from portal.network.models import association_comuni
from portal.proposals.models import (
    TRANSITIONS,
    Comment,
    CoProposer,
    CoProposerStatus,
    Proposal,
    ProposalState,
)


def moderating_associations(user, comune_id: int) -> list[int]:
    """Ids of the associations, active in `comune_id`, on which `user` is a moderator."""
    ids = authz.scope_ids(user, Role.MODERATOR)
    if not ids:
        return []
    rows = db.session.execute(
        db.select(association_comuni.c.association_id).where(
            association_comuni.c.comune_id == comune_id,
            association_comuni.c.association_id.in_(ids),
        ).order_by(association_comuni.c.association_id)
    ).scalars()
    return list(rows)


def moderated_comune_ids(user) -> set[int]:
    """The Comuni where `user` moderates (through any of their associations)."""
    ids = authz.scope_ids(user, Role.MODERATOR)
    if not ids:
        return set()
    return set(db.session.execute(
        db.select(association_comuni.c.comune_id).where(
            association_comuni.c.association_id.in_(ids))
    ).scalars())


def is_moderator_for(user, proposal: Proposal) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return authz.is_coordinator(user) or bool(moderating_associations(user, proposal.comune_id))


def is_author(user, proposal: Proposal) -> bool:
    """A member of the proposing household (or the facilitator who submitted on its behalf)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if proposal.household_id is not None and user.household_id == proposal.household_id:
        return True
    return proposal.on_behalf_by_id is not None and proposal.on_behalf_by_id == user.id


def is_co_proposer(user, proposal: Proposal) -> bool:
    if not getattr(user, "is_authenticated", False) or user.household_id is None:
        return False
    return any(c.household_id == user.household_id and c.status == CoProposerStatus.ACCEPTED
               for c in proposal.co_proposers)


def is_table_officer(user, proposal: Proposal) -> bool:
    """Chair or secretary of the table the proposal is addressed to (or a coordinator)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return (authz.is_coordinator(user)
            or authz.has_role(user, Role.TABLE_CHAIR, proposal.table_id)
            or authz.has_role(user, Role.TABLE_SECRETARY, proposal.table_id))


def is_facilitator_for(user, comune_id: int) -> bool:
    return authz.has_role(user, Role.FACILITATOR, comune_id)


@authz.policy("proposal.view")
@authz.anonymous_ok
def view_proposal(user, proposal: Proposal) -> bool:
    """Public once published; before that, authors, co-proposers and, from the moment the
    family submits it (a draft is the family's own until then), moderators."""
    if proposal.is_public or proposal.state == ProposalState.MERGED:
        return True
    if not getattr(user, "is_authenticated", False):
        return False
    if is_author(user, proposal):
        return True
    if proposal.submitted_at is not None and is_moderator_for(user, proposal):
        return True
    if proposal.state in (ProposalState.REJECTED, ProposalState.WITHDRAWN):
        # the outcome stays visible to whoever could follow the proposal
        return is_co_proposer(user, proposal) or is_table_officer(user, proposal)
    return user.household_id is not None and any(
        c.household_id == user.household_id for c in proposal.co_proposers)


@authz.policy("proposal.read_content")
@authz.anonymous_ok
def read_content(user, proposal: Proposal) -> bool:
    """A hidden proposal's title and text: its authors and the moderators only; everyone
    else reads a neutral placeholder (see services.shown_title)."""
    if not proposal.is_hidden:
        return True
    return getattr(user, "is_authenticated", False) and (
        is_author(user, proposal) or is_moderator_for(user, proposal))


@authz.policy("proposal.edit")
def edit_proposal(user, proposal: Proposal) -> bool:
    """Authors edit a draft or a proposal sent back for changes."""
    return (proposal.state in (ProposalState.DRAFT, ProposalState.CHANGES_REQUESTED)
            and is_author(user, proposal))


@authz.policy("proposal.submit")
def submit_proposal(user, proposal: Proposal) -> bool:
    return edit_proposal(user, proposal)


@authz.policy("proposal.withdraw")
def withdraw_proposal(user, proposal: Proposal) -> bool:
    return (is_author(user, proposal)
            and ProposalState.WITHDRAWN in TRANSITIONS.get(ProposalState(proposal.state), {}))


@authz.policy("proposal.moderate")
def moderate_proposal(user, proposal: Proposal) -> bool:
    return is_moderator_for(user, proposal)


@authz.policy("proposal.invite")
def invite_co_proposer(user, proposal: Proposal) -> bool:
    return edit_proposal(user, proposal)


@authz.policy("co_proposer.answer")
def answer_invitation(user, invitation: CoProposer) -> bool:
    return (invitation.status == CoProposerStatus.INVITED and user.household_id is not None
            and user.household_id == invitation.household_id)


@authz.policy("proposal.comment")
def comment_proposal(user, proposal: Proposal) -> bool:
    """Anyone logged in comments a public, visible proposal."""
    return proposal.is_public and not proposal.is_hidden


@authz.policy("proposal.report")
def report_proposal(user, proposal: Proposal) -> bool:
    return proposal.is_public and not proposal.is_hidden


@authz.policy("comment.edit")
def edit_comment(user, comment: Comment) -> bool:
    """The author, within 15 minutes, while the comment is visible."""
    if comment.author_id != user.id or comment.is_hidden:
        return False
    return utcnow() - comment.created_at < timedelta(seconds=Comment.EDIT_WINDOW_SECONDS)


@authz.policy("comment.report")
def report_comment(user, comment: Comment) -> bool:
    return not comment.is_hidden and comment.author_id != user.id


@authz.policy("comment.moderate")
def moderate_comment(user, comment: Comment) -> bool:
    return is_moderator_for(user, comment.proposal)


@authz.policy("proposals.moderation_queue")
def see_queue(user, _obj=None) -> bool:
    return authz.is_coordinator(user) or bool(authz.scope_ids(user, Role.MODERATOR))


@authz.policy("proposal.create")
def create_proposal(user, _obj=None) -> bool:
    """A member of a household (verified or not: moderators check the content)."""
    return user.household_id is not None or bool(authz.scope_ids(user, Role.FACILITATOR))
