"""Authorization: the one place that says who may do what.

Every endpoint declares a rule with one of the decorators below; an endpoint without one is
refused (default deny) and a test walks the URL map to keep it so. The rule is checked before
the view runs. Object-level checks (may *this* user moderate *this* proposal?) go through
`can()` / `require()`, which read named policies registered by the modules; templates call the
same `can()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, redirect, request, url_for
from flask_login import current_user


class Role(StrEnum):
    COORDINATOR = "coordinator"
    COMUNE_OFFICER = "comune_officer"
    MODERATOR = "moderator"
    TABLE_CHAIR = "table_chair"
    TABLE_SECRETARY = "table_secretary"
    TABLE_MEMBER = "table_member"
    MERCHANT_OPERATOR = "merchant_operator"
    FUND_MANAGER = "fund_manager"
    FACILITATOR = "facilitator"


class Scope(StrEnum):
    NETWORK = "network"
    COMUNE = "comune"
    ASSOCIATION = "association"
    TABLE = "table"
    MERCHANT = "merchant"


#: The kind of place each role is granted on.
ROLE_SCOPE: dict[Role, Scope] = {
    Role.COORDINATOR: Scope.NETWORK,
    Role.COMUNE_OFFICER: Scope.COMUNE,
    Role.MODERATOR: Scope.ASSOCIATION,
    Role.TABLE_CHAIR: Scope.TABLE,
    Role.TABLE_SECRETARY: Scope.TABLE,
    Role.TABLE_MEMBER: Scope.TABLE,
    Role.MERCHANT_OPERATOR: Scope.MERCHANT,
    Role.FUND_MANAGER: Scope.COMUNE,
    Role.FACILITATOR: Scope.COMUNE,
}

#: The scope id used for the whole Network (there is one).
NETWORK_ID = 0


# --------------------------------------------------------------------------- endpoint rules


@dataclass(frozen=True)
class Rule:
    kind: str  # public | login | roles | debug
    roles: tuple[Role, ...] = ()

    def describe(self) -> str:
        return self.kind if not self.roles else f"roles:{','.join(self.roles)}"


PUBLIC = Rule("public")
LOGIN = Rule("login")
DEBUG = Rule("debug")

#: Endpoints that Flask or extensions add themselves, with their rule.
_BUILTIN_RULES: dict[str, Rule] = {"static": PUBLIC}


def _mark(rule: Rule) -> Callable:
    def decorator(view: Callable) -> Callable:
        view._authz_rule = rule  # type: ignore[attr-defined]
        return view

    return decorator


public = _mark(PUBLIC)
"""Anyone, with or without an account."""

login_required = _mark(LOGIN)
"""Any logged-in user; object checks happen in the view through `require()`."""

debug_only = _mark(DEBUG)
"""Development tools: 404 unless the app runs in debug (or testing) mode."""


def roles(*required: Role) -> Callable:
    """A logged-in user holding at least one of `required` on any scope.

    The view then narrows to the scope of the object it loads with `require()`.
    A coordinator passes every role rule.
    """
    return _mark(Rule("roles", tuple(required)))


def rule_for(endpoint: str) -> Rule | None:
    """The rule an endpoint declared, or None (which means: refused)."""
    if endpoint in _BUILTIN_RULES:
        return _BUILTIN_RULES[endpoint]
    if endpoint.endswith(".static"):  # a blueprint's own static files
        return PUBLIC
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "_authz_rule", None)


def _enforce() -> Any:
    endpoint = request.endpoint
    if endpoint is None:  # no route matched: let Flask answer 404/405
        return None
    rule = rule_for(endpoint)
    if rule is None:
        current_app.logger.error("endpoint %s declares no permission: denied", endpoint)
        abort(403)
    if rule.kind == "public":
        return None
    if rule.kind == "debug":
        if not (current_app.debug or current_app.testing):
            abort(404)
        return None
    if not current_user.is_authenticated:
        return unauthorized()
    if rule.kind == "roles" and not (
        is_coordinator(current_user) or any(has_role(current_user, r) for r in rule.roles)
    ):
        abort(403)
    return None


def unauthorized():
    """The answer to a request that needs a logged-in user and has none: the login page, then
    back here (htmx: 401 with HX-Redirect)."""
    if request.headers.get("HX-Request") == "true":
        # htmx asked for a fragment: send the whole page to log in, then back to the page the
        # user was on (not to the fragment).
        response = current_app.response_class(status=401)
        response.headers["HX-Redirect"] = url_for("accounts.login", next=_htmx_page())
        return response
    return redirect(url_for("accounts.login", next=_safe_next()))


def _safe_next() -> str:
    path = request.full_path if request.query_string else request.path
    return path if request.method == "GET" else request.path


def _htmx_page() -> str:
    """The local path of the page an htmx request came from (HX-Current-URL)."""
    parts = urlsplit(request.headers.get("HX-Current-URL", ""))
    if parts.netloc and parts.netloc != request.host:
        return "/"
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


# --------------------------------------------------------------------------- role queries


#: Reads a user's (role, scope_type, scope_id) rows; the network module, which keeps the role
#: assignments, registers it at start-up (authz sits below every module and imports none).
_role_loader: Callable[[int], Any] | None = None


def register_role_loader(loader: Callable[[int], Any]) -> None:
    global _role_loader
    _role_loader = loader


def role_set(user) -> frozenset[tuple[str, str, int]]:
    """(role, scope_type, scope_id) triples of a user, loaded once per request."""
    if not getattr(user, "is_authenticated", False) or _role_loader is None:
        return frozenset()
    cached = getattr(user, "_role_cache", None)
    if cached is None:
        cached = frozenset((r, s, i) for r, s, i in _role_loader(user.id))
        user._role_cache = cached
    return cached


def forget_roles(user) -> None:
    if hasattr(user, "_role_cache"):
        del user._role_cache


def is_coordinator(user) -> bool:
    return (Role.COORDINATOR.value, Scope.NETWORK.value, NETWORK_ID) in role_set(user)


def has_role(user, role: Role, scope_id: int | None = None) -> bool:
    """True if `user` holds `role`, on the given scope id or (None) on any scope."""
    scope = ROLE_SCOPE[role].value
    for r, s, i in role_set(user):
        if r == role.value and s == scope and (scope_id is None or i == scope_id):
            return True
    return False


def scope_ids(user, role: Role) -> set[int]:
    """The ids of the places where `user` holds `role`."""
    return {i for r, _s, i in role_set(user) if r == role.value}


# --------------------------------------------------------------------------- object policies

_POLICIES: dict[str, Callable[..., bool]] = {}


def policy(action: str) -> Callable:
    """Register the predicate `(user, obj) -> bool` deciding `action`."""

    def decorator(fn: Callable[..., bool]) -> Callable[..., bool]:
        if action in _POLICIES and _POLICIES[action] is not fn:
            raise RuntimeError(f"policy {action!r} registered twice")
        _POLICIES[action] = fn
        return fn

    return decorator


def can(action: str, obj: Any = None, user=None) -> bool:
    """May `user` (default: the current user) do `action` on `obj`? Unknown actions: no."""
    user = current_user if user is None else user
    check = _POLICIES.get(action)
    if check is None:
        current_app.logger.error("unknown policy %s: denied", action)
        return False
    if not getattr(user, "is_authenticated", False):
        return bool(getattr(check, "_allows_anonymous", False) and check(user, obj))
    return bool(check(user, obj))


def require(action: str, obj: Any = None) -> None:
    """Abort with 403 unless the current user may do `action` on `obj`."""
    if not can(action, obj):
        abort(403)


def anonymous_ok(fn: Callable) -> Callable:
    """Mark a policy whose predicate may be asked about anonymous users too."""
    fn._allows_anonymous = True  # type: ignore[attr-defined]
    return fn


def init_app(app: Flask) -> None:
    app.before_request(_enforce)
    app.jinja_env.globals.update(
        can=can, has_role=has_role, is_coordinator=is_coordinator, Role=Role
    )
