"""The proposals' personal data: proposals, co-proposals, comments, reports, moderation acts.

A published proposal is part of the public record (voted on, put to a table): it stays, no
longer naming its author, and no longer naming its household once the household is gone (the
last member deleted the account). A proposal never published is the household's draft: it
goes with the household, and stays for the household while another member keeps an account.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import Flask
from flask_babel import gettext as _
from sqlalchemy import and_, delete, or_, select, update

from portal.accounts.personal import household_goes_with
from portal.core.personal import by_person, forget, register_personal, rows
from portal.extensions import db
from portal.proposals.models import Comment, CoProposer, Proposal, ProposalEvent, Report


def _export_proposals(user) -> dict[str, Any]:
    mine = by_person(user, Proposal.author_id, Proposal.on_behalf_by_id)
    if user.household_id is not None:
        mine = or_(mine, Proposal.household_id == user.household_id)
    return {"proposals": rows(Proposal, mine, (
        "id", "title", "summary", "body", "own_contribution", "estimated_cost_cents", "state",
        "household_id", "author_id", "on_behalf_by_id", "on_behalf_consent", "created_at",
        "submitted_at", "published_at"))}


def _delete_proposals(user) -> None:
    gone = household_goes_with(user)
    never_published = Proposal.published_at.is_(None)
    drafts = and_(Proposal.author_id == user.id, Proposal.household_id.is_(None))
    if gone is not None:
        drafts = or_(drafts, Proposal.household_id == gone.id)
    for proposal in db.session.scalars(select(Proposal).where(never_published, drafts)):
        db.session.delete(proposal)  # its history, themes and co-proposers with it
    db.session.flush()
    forget(user, Proposal.author_id, Proposal.on_behalf_by_id)
    if gone is not None:
        db.session.execute(update(Proposal).where(Proposal.household_id == gone.id)
                           .values(household_id=None),
                           execution_options={"synchronize_session": False})


def _export_co_proposals(user) -> dict[str, Any]:
    mine = CoProposer.invited_by_id == user.id
    if user.household_id is not None:
        mine = or_(mine, CoProposer.household_id == user.household_id)
    return {"co_proposals": rows(CoProposer, mine, (
        "proposal_id", "household_id", "status", "invited_by_id", "invited_at",
        "answered_at"))}


def _delete_co_proposals(user) -> None:
    gone = household_goes_with(user)
    if gone is not None:  # a household that is gone proposes nothing
        db.session.execute(delete(CoProposer).where(CoProposer.household_id == gone.id))
    forget(user, CoProposer.invited_by_id)


def _export_comments(user) -> dict[str, Any]:
    return {"comments": rows(Comment, Comment.author_id == user.id, (
        "proposal_id", "parent_id", "body", "created_at", "edited_at", "hidden_at",
        "hidden_reason"))}


def _delete_comments(user) -> None:
    """A comment goes; one that others replied to keeps its place in the thread, emptied of
    its words and author, so that the replies (other people's words) stay readable."""
    replied = select(Comment.parent_id).where(Comment.parent_id.is_not(None))
    lone = list(db.session.execute(select(Comment.id, Comment.proposal_id).where(
        Comment.author_id == user.id, Comment.id.not_in(replied))))
    if lone:
        db.session.execute(delete(Comment).where(Comment.id.in_([row.id for row in lone])))
        for proposal_id, count in Counter(row.proposal_id for row in lone).items():
            db.session.execute(update(Proposal).where(Proposal.id == proposal_id)
                               .values(comment_count=Proposal.comment_count - count))
    db.session.execute(
        update(Comment).where(Comment.author_id == user.id)
        .values(author_id=None, body=_("Commento cancellato: l'autore ha chiuso l'account."),
                edited_at=None),
        execution_options={"synchronize_session": False})


def _export_reports(user) -> dict[str, Any]:
    return {"reports": rows(Report, by_person(user, Report.reporter_id, Report.resolved_by_id), (
        "proposal_id", "comment_id", "reporter_id", "reason", "created_at", "resolved_at",
        "resolved_by_id", "resolution"))}


def _delete_reports(user) -> None:
    # A resolved report has served; an open one stays for the moderators, anonymous (it is
    # about the content, not the person who saw it).
    db.session.execute(delete(Report).where(Report.reporter_id == user.id,
                                            Report.resolved_at.is_not(None)))
    forget(user, Report.reporter_id, Report.resolved_by_id)


def _export_events(user) -> dict[str, Any]:
    return {"proposal_events": rows(ProposalEvent, ProposalEvent.actor_id == user.id, (
        "proposal_id", "at", "kind", "from_state", "to_state", "association_id", "table_id",
        "note"))}


def _forget_events(user) -> None:
    # The public history keeps what was done and for which association or table.
    forget(user, ProposalEvent.actor_id)


def init_app(app: Flask) -> None:
    register_personal(app, Proposal, _export_proposals, _delete_proposals)
    register_personal(app, CoProposer, _export_co_proposals, _delete_co_proposals)
    register_personal(app, Comment, _export_comments, _delete_comments)
    register_personal(app, Report, _export_reports, _delete_reports)
    register_personal(app, ProposalEvent, _export_events, _forget_events)
