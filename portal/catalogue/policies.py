"""Who may draft, edit, publish and adopt good practices.

Association moderators and Comune officers draft; a Comune officer (of a Comune where the
practice runs, or of the Comune that owns it) or a coordinator publishes. Everyone reads what
is published; a draft is visible only to those who may edit it, who may also delete it as long
as it was never published.
"""

from portal import authz
from portal.authz import Role


def _officer_of_practice(user, practice) -> bool:
    comune_ids = authz.scope_ids(user, Role.COMUNE_OFFICER)
    if not comune_ids:
        return False
    if practice.owner_comune_id in comune_ids:
        return True
    return any(c.id in comune_ids for c in practice.comuni)


def _moderator_of_practice(user, practice) -> bool:
    association_ids = authz.scope_ids(user, Role.MODERATOR)
    if not association_ids:
        return False
    if practice.owner_association_id in association_ids:
        return True
    return any(p.association_id in association_ids for p in practice.promoters)


@authz.policy("catalogue.create")
def create(user, _obj=None) -> bool:
    return (authz.is_coordinator(user) or authz.has_role(user, Role.COMUNE_OFFICER)
            or authz.has_role(user, Role.MODERATOR))


@authz.policy("catalogue.edit")
def edit(user, practice) -> bool:
    return (authz.is_coordinator(user) or _officer_of_practice(user, practice)
            or _moderator_of_practice(user, practice))


@authz.policy("catalogue.publish")
def publish(user, practice) -> bool:
    return authz.is_coordinator(user) or _officer_of_practice(user, practice)


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
    return getattr(user, "is_authenticated", False) and edit(user, practice)


@authz.policy("catalogue.adopt")
def adopt(user, comune) -> bool:
    """Declare or update the adoption of a practice by `comune`."""
    return authz.is_coordinator(user) or authz.has_role(user, Role.COMUNE_OFFICER, comune.id)


@authz.policy("catalogue.manage_themes")
def manage_themes(user, _obj=None) -> bool:
    return authz.is_coordinator(user)
