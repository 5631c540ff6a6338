"""Who may act on the Network's objects."""

from portal import authz
from portal.authz import Role


@authz.policy("network.decide_application")
def decide_application(user, _application) -> bool:
    return authz.is_coordinator(user)


@authz.policy("network.manage_roles")
def manage_roles(user, _obj=None) -> bool:
    return authz.is_coordinator(user) or authz.has_role(user, Role.COMUNE_OFFICER)
