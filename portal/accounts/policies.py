"""Who may act on households."""

from portal import authz
from portal.authz import Role


@authz.policy("household.verify")
def verify_household(user, household) -> bool:
    return authz.is_coordinator(user) or authz.has_role(user, Role.COMUNE_OFFICER,
                                                        household.comune_id)


@authz.policy("household.manage")
def manage_household(user, household) -> bool:
    """Members edit their own household."""
    return household is not None and user.household_id == household.id
