"""Who may do what in a GAF.

The coordinator of a group is its coordinator household: any member of that household (no
role of its own). The Rete's coordinators and the officers of the group's Comune may manage
every group of it too. Ordering is for the member households' users.
"""

from portal import authz
from portal.authz import Role


def _household_id(user):
    return getattr(user, "household_id", None)


def coordinates(user, group) -> bool:
    """The user's household coordinates the group."""
    return (group.coordinator_household_id is not None
            and _household_id(user) == group.coordinator_household_id)


@authz.policy("gaf.manage")
def manage(user, group) -> bool:
    """Open, close, deliver, settle rounds; suppliers and products; bills and aggregates."""
    return (coordinates(user, group) or authz.is_coordinator(user)
            or authz.has_role(user, Role.COMUNE_OFFICER, group.comune_id))


@authz.policy("gaf.order")
def order(user, group) -> bool:
    """A member household's users fill its order."""
    from portal.gaf.services import membership

    return membership(group.id, _household_id(user)) is not None


@authz.policy("gaf.join")
def join(user, group) -> bool:
    """A household of the group's Comune may join."""
    household = getattr(user, "household", None)
    return household is not None and household.comune_id == group.comune_id
