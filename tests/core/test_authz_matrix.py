"""THE AUTHORIZATION MATRIX: every endpoint declares who may use it, and the rule holds.

The test walks `app.url_map`, so it covers every module's endpoints, present and future:
- an endpoint without a declared rule fails the suite;
- `login` and `roles` endpoints send anonymous visitors to log in (htmx: 401 + HX-Redirect);
- `roles` endpoints refuse (403) a logged-in user who holds no role;
- `debug_only` endpoints do not exist (404) outside debug and testing;
- `public` endpoints answer an anonymous GET without a server error, whatever the URL values.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import pytest
from flask import Flask
from werkzeug.routing import IntegerConverter, Rule

from portal import authz
from tests.conftest import login

SKIPPED_METHODS = {"HEAD", "OPTIONS"}


def dummy(converter) -> str | int | float:
    """A well-formed value for a URL argument of this converter."""
    kind = type(converter).__name__
    if isinstance(converter, IntegerConverter):
        return 1
    if kind == "FloatConverter":
        return 1.0
    if kind == "UUIDConverter":
        return uuid.UUID(int=1)
    if kind == "PathConverter":
        return "x/y"
    if kind == "AnyConverter":
        return sorted(converter.items)[0]
    return "x"


def url_for_rule(rule: Rule) -> str:
    built = rule.build({name: dummy(conv) for name, conv in rule._converters.items()},
                       append_unknown=False)
    assert built, f"cannot build {rule.rule}"
    return built[1]


def endpoint_rules(app: Flask) -> list[tuple[Rule, authz.Rule | None]]:
    with app.app_context():
        return [(rule, authz.rule_for(rule.endpoint)) for rule in app.url_map.iter_rules()]


def cases(app: Flask, kinds: set[str]) -> list[tuple[str, str, authz.Rule]]:
    """(method, url, rule) for every route whose rule is of one of `kinds`."""
    found = []
    for rule, declared in endpoint_rules(app):
        if declared is None or declared.kind not in kinds:
            continue
        for method in sorted((rule.methods or set()) - SKIPPED_METHODS):
            found.append((method, url_for_rule(rule), declared))
    return found


def fetch(client, url: str, method: str = "GET", **kwargs):
    """Request and read the whole body (a streamed answer is consumed and closed)."""
    response = client.open(url, method=method, **kwargs)
    response.get_data()
    response.close()
    return response


def undeclared(app: Flask) -> list[str]:
    return sorted({f"{rule.endpoint} ({rule.rule})" for rule, declared in endpoint_rules(app)
                   if declared is None})


def test_every_endpoint_declares_a_rule(app):
    """Default deny is not enough: an endpoint without a declared rule fails the suite."""
    missing = undeclared(app)
    assert not missing, "endpoints without @authz.public/login_required/roles/debug_only: " + \
        ", ".join(missing)
    assert len(cases(app, {"public", "login", "roles", "debug"})) > 30  # the walk found routes


def test_protected_endpoints_send_anonymous_visitors_to_log_in(app, client):
    """Every login/roles endpoint, with every method: anonymous -> /accedi (htmx: 401)."""
    failures = []
    protected = cases(app, {"login", "roles"})
    assert protected
    for method, url, _rule in protected:
        response = fetch(client, url, method)
        target = urlsplit(response.headers.get("Location", "")).path
        if response.status_code != 302 or target != "/accedi":
            failures.append(f"{method} {url}: {response.status_code} {target}")
        response = fetch(client, url, method, headers={"HX-Request": "true"})
        if response.status_code != 401 or not response.headers.get(
                "HX-Redirect", "").startswith("/accedi"):
            failures.append(f"{method} {url} (htmx): {response.status_code}")
    assert not failures, "\n".join(failures)


def test_role_endpoints_refuse_a_user_without_roles(app, client, factory):
    """A logged-in user holding no role gets 403 from every roles endpoint, before any work."""
    login(client, factory.user().email)
    failures = []
    for method, url, rule in cases(app, {"roles"}):
        response = fetch(client, url, method)
        if response.status_code != 403:
            failures.append(f"{method} {url} ({rule.describe()}): {response.status_code}")
    assert not failures, "\n".join(failures)


def test_debug_endpoints_do_not_exist_in_production(fresh_app):
    """Outside debug and testing a development page answers 404, to anyone."""
    production = fresh_app(TESTING=False)
    debug_cases = cases(production, {"debug"})
    assert debug_cases, "no debug_only endpoint found (the dev mail page should be one)"
    client = production.test_client()
    for method, url, _rule in debug_cases:
        assert fetch(client, url, method).status_code == 404, url


def test_public_endpoints_answer_anonymous_get_without_server_error(app, client):
    """Public pages, given well-formed but meaningless URL values, answer 2xx-4xx."""
    failures = []
    for method, url, _rule in cases(app, {"public"}):
        if method != "GET":
            continue
        status = fetch(client, url).status_code
        if status >= 500:
            failures.append(f"GET {url}: {status}")
    assert not failures, "\n".join(failures)


def test_an_undeclared_endpoint_is_refused_and_reported(fresh_app):
    """The matrix catches a new endpoint that forgot its rule, and the app refuses it (403)."""
    fresh = fresh_app()

    @fresh.get("/dimenticata")
    def forgotten():
        return "segreto"

    @fresh.get("/dichiarata")
    @authz.public
    def declared():
        return "pubblico"

    assert undeclared(fresh) == ["forgotten (/dimenticata)"]
    client = fresh.test_client()
    response = client.get("/dimenticata")
    assert response.status_code == 403 and "segreto" not in response.get_data(as_text=True)
    assert client.get("/dichiarata").get_data(as_text=True) == "pubblico"


@pytest.mark.parametrize("header", ["https://portale.example/famiglia", "/famiglia"])
def test_htmx_login_redirect_returns_to_the_page_not_the_fragment(client, header):
    response = client.post("/famiglia/componenti", headers={
        "HX-Request": "true", "HX-Current-URL": header})
    assert response.status_code == 401
    location = response.headers["HX-Redirect"]
    assert location.startswith("/accedi?next=")
    assert "componenti" not in location
