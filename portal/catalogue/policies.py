"""Who may draft, edit, publish and adopt good practices.

A practice a Comune owns is that Comune's: only its officers and the coordinator change its
text, its Comuni, its promoters and its publication. Another Comune where it runs, or that
adopted it, changes only its own adoption. A practice an association keeps (or nobody: drafted
by the coordinator or by another module) is shared: the owner association's moderators, the
moderators of the associations promoting it and the officers of the Comuni where it runs edit
it, and those officers publish it (a Comune vouches for it). Everyone reads what is published;
a draft is visible only to those who may edit or publish it, who may also delete it as long
as it was never published. Whoever created a draft finishes it (a table's secretary starts one
from a completed project without being an officer): until it is first published.
"""

from portal import authz
from portal.authz import Role


def _officer_where_it_runs(user, practice) -> bool:
    comune_ids = authz.scope_ids(user, Role.COMUNE_OFFICER)
    return bool(comune_ids) and any(c.id in comune_ids for c in practice.comuni)


def _moderator_of_promoter(user, practice) -> bool:
    association_ids = authz.scope_ids(user, Role.MODERATOR)
    return bool(association_ids) and any(p.association_id in association_ids
                                         for p in practice.promoters)


def _keeper(user, practice) -> bool:
    """Does `user` speak for the practice's owner?"""
    if practice.owner_comune_id is not None:
        return authz.has_role(user, Role.COMUNE_OFFICER, practice.owner_comune_id)
    return ((practice.owner_association_id is not None
             and authz.has_role(user, Role.MODERATOR, practice.owner_association_id))
            or _officer_where_it_runs(user, practice) or _moderator_of_promoter(user, practice))


@authz.policy("catalogue.create")
def create(user, _obj=None) -> bool:
    return (authz.is_coordinator(user) or authz.has_role(user, Role.COMUNE_OFFICER)
            or authz.has_role(user, Role.MODERATOR))


def _author_of_draft(user, practice) -> bool:
    return (practice.created_by_id is not None and practice.created_by_id == user.id
            and not practice.was_ever_published)


@authz.policy("catalogue.edit")
def edit(user, practice) -> bool:
    """Text, Comuni, promoters, results and files: the owner, the coordinator, and whoever
    created the draft until it is first published."""
    return (authz.is_coordinator(user) or _keeper(user, practice)
            or _author_of_draft(user, practice))


@authz.policy("catalogue.publish")
def publish(user, practice) -> bool:
    """Publish or unpublish: the coordinator and the owner Comune's officers; a practice
    without an owner Comune is published by a Comune where it runs."""
    if authz.is_coordinator(user):
        return True
    if practice.owner_comune_id is not None:
        return authz.has_role(user, Role.COMUNE_OFFICER, practice.owner_comune_id)
    return _officer_where_it_runs(user, practice)


@authz.policy("catalogue.delete")
def delete(user, practice) -> bool:
    """Delete a draft: those who may edit it (its author drafts for the owning Comune or
    association), only while it was never published."""
    return (practice.published_at is None and practice.first_published_at is None
            and edit(user, practice))


@authz.policy("catalogue.view")
@authz.anonymous_ok
def view(user, practice) -> bool:
    if practice.is_published:
        return True
    return getattr(user, "is_authenticated", False) and (edit(user, practice)
                                                         or publish(user, practice))


@authz.policy("catalogue.adopt")
def adopt(user, comune) -> bool:
    """Declare or update the adoption of a practice by `comune`."""
    return authz.is_coordinator(user) or authz.has_role(user, Role.COMUNE_OFFICER, comune.id)


@authz.policy("catalogue.manage_themes")
def manage_themes(user, _obj=None) -> bool:
    return authz.is_coordinator(user)
