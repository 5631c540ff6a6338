"""No 500 on hostile input, anywhere: a matrix like the authorization one.

It walks `app.url_map` on the demo Rete and sends every route's parameters — the path's
values, the query string, the fields of the route's own form (read from the page that shows
it) and the usual field names — hostile values of each kind, one kind at a time, plainly and
as htmx, as a visitor and as the coordinator (who passes every role rule). Every answer must be
2xx-4xx. A route added later joins the walk by itself.

The path values start from real ones, read from the links and forms of the demo's own pages
(a practice's slug, a meeting's id that has minutes...), so that the hostile values reach the
view behind a slug and not only its 404.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Rule
from werkzeug.routing.exceptions import RoutingException

from portal.extensions import db as _db
from tests.conftest import login

HUGE = str(2**70)
#: Each kind of bad value, as a visitor could type or a script could send it.
KINDS: dict[str, str] = {
    "sql": "' OR 1=1 --",
    "like": "%_%",
    "long": "x" * 2000,
    "emoji": "ñ€😀",
    "html": "<script>alert(1)</script>",
    "negative": "-1",
    "huge": HUGE,
    "exponent": "1e309",
    "nan": "NaN",
    "infinity": "-Infinity",
    "hex": "0x10",
    "unicode-digits": "١٢٣",
    "superscript": "²",
    "fraction": "½",
    "blank": " ",
    "empty": "",
    "decimal-comma": "12,50",
    "bad-date": "2026-13-45T25:61",
    "path": "../../etc/passwd",
    "backslash-url": "/\\evil.example/x",
    "control": "a\x07b",
    # keyset cursors ("<date or number>_<id>") with an id past every integer column
    "cursor-date": f"2026-01-01_{HUGE}",
    "cursor-number": f"1700000000000000_{HUGE}",
}
#: Query parameters the portal reads (grep request.args) and a few it does not.
QUERY_NAMES = ["q", "pagina", "per_pagina", "dopo", "prima", "ordina", "tema", "comune", "stato",
               "promotore", "provincia", "tavolo", "votazione", "anno", "esito", "revisione",
               "scarica", "next", "formato", "id", "sezione", "cursor", "limit"]
#: Field names used across the portal's forms (each route's own are read from its page too).
FORM_NAMES = ["title", "summary", "body", "text", "reason", "message", "note", "name", "email",
              "password", "amount", "estimated_cost", "cost", "starts_at", "ends_at", "opens_at",
              "closes_at", "date", "deadline", "value", "votes_for", "votes_against",
              "abstained", "percent", "status", "outcome", "decision", "role", "scope",
              "comune", "comune_id", "table_id", "proposal_id", "target", "themes", "position",
              "year", "kind", "unit", "members-0-year", "members-0-name", "next", "budget",
              "max_supports", "threshold", "rule", "proposal", "user_id", "seat", "url"]
FIELD_RE = re.compile(r'<(?:input|select|textarea)\b[^>]*\bname="([^"]+)"')
LINK_RE = re.compile(r'\b(?:href|action|hx-get|hx-post|hx-delete|hx-put)="(/[^"#?]*)')
SKIP_POST = {"accounts.logout", "accounts.delete_account"}  # they end the walk's session


def _path_values(converter) -> list:
    if isinstance(converter, IntegerConverter):
        return [1, 2, 2**31, 2**70]
    kind = type(converter).__name__
    if kind == "AnyConverter":
        return sorted(converter.items)[:1]
    if kind == "PathConverter":
        return ["x/../y"]
    return ["x", "' OR 1=1 --", "x" * 300, "١٢", "²"]


def _urls(rule: Rule, examples: dict | None = None) -> list[str]:
    """The rule built with real values (when the site links to it) or the first plain ones,
    then with each hostile value in turn for each of its arguments."""
    converters = rule._converters
    base = {name: _path_values(conv)[0] for name, conv in converters.items()}
    base.update((examples or {}).get(rule.rule, {}))
    urls = {rule.build(base, append_unknown=False)[1]}
    for name, conv in converters.items():
        for value in _path_values(conv)[1:]:
            built = rule.build(dict(base, **{name: value}), append_unknown=False)
            if built:
                urls.add(built[1])
    return sorted(urls)


def _routes(app: Flask, method: str) -> list[Rule]:
    return [rule for rule in app.url_map.iter_rules()
            if method in (rule.methods or ()) and rule.endpoint != "static"
            and not rule.endpoint.endswith(".static")]


#: the examples found on each database (the demo is the same in every test: same ids, slugs)
_EXAMPLES: dict[str, dict[str, dict]] = {}


def _examples(app: Flask) -> dict[str, dict]:
    """Real path values of each route pattern, from the links and forms of the pages the
    coordinator sees, up to three links deep from every route built with plain values."""
    backend = app.config["SQLALCHEMY_DATABASE_URI"]
    if backend not in _EXAMPLES:
        _EXAMPLES[backend] = _crawl(app)
    return _EXAMPLES[backend]


def _crawl(app: Flask) -> dict[str, dict]:
    client = app.test_client()
    login(client, "admin@example.org", "demo-rete-2026")
    adapter = app.url_map.bind("localhost")
    examples: dict[str, dict] = {}
    seen: set[str] = set()
    pages = {url for rule in _routes(app, "GET") for url in _urls(rule)[:1]}
    for _depth in range(3):
        found: set[str] = set()
        for url in sorted(pages - seen):
            seen.add(url)
            response = client.get(url)
            if response.status_code == 200 and response.mimetype == "text/html":
                found.update(LINK_RE.findall(response.get_data(as_text=True)))
            response.close()
        for path in found:
            for method in ("GET", "POST"):
                rule, args = _match(adapter, path, method)
                if args and rule.rule not in examples:
                    examples[rule.rule] = args
                    if method == "GET":
                        pages.add(path)
    return examples


def _match(adapter, path: str, method: str) -> tuple:
    try:
        return adapter.match(path, method=method, return_rule=True)
    except (HTTPException, RoutingException):  # not a route, or not for this method
        return None, None


@pytest.fixture
def demo(app):
    from portal.seed import seed_all

    seed_all()
    _db.session.commit()
    _db.session.remove()
    return app


def _check(failures: list, who: str, what: str, response) -> None:
    response.close()
    if response.status_code >= 500:
        failures.append(f"{who} {what[:200]}: {response.status_code}")


def _sweep_get(app, client, who: str, examples: dict) -> list[str]:
    failures: list[str] = []
    for rule in _routes(app, "GET"):
        for url in _urls(rule, examples):
            _check(failures, who, f"GET {url}", client.get(url))
            for kind, value in KINDS.items():
                query = {name: value for name in QUERY_NAMES}
                _check(failures, who, f"GET {url} [{kind}]", client.get(url, query_string=query))
            # repeated parameters and htmx partials reach other code with the same values
            _check(failures, who, f"GET {url} [repeated]",
                   client.get(f"{url}?pagina=2&pagina=x&tema=a&tema=b&stato=x&stato=y"))
            _check(failures, who, f"htmx GET {url} [sql]",
                   client.get(url, query_string={n: KINDS["huge"] for n in QUERY_NAMES},
                              headers={"HX-Request": "true"}))
    return failures


def test_every_page_survives_hostile_urls(demo, client):
    examples = _examples(demo)
    failures = _sweep_get(demo, client, "visitor", examples)
    login(client, "admin@example.org", "demo-rete-2026")
    failures += _sweep_get(demo, client, "coordinator", examples)
    assert not failures, "\n".join(failures)


def _fields_of(client, url: str, can_get: bool) -> set[str]:
    """The names of the fields of the page at `url` (the form a POST to it comes from)."""
    if not can_get:
        return set()
    response = client.get(url)
    names = set(FIELD_RE.findall(response.get_data(as_text=True)))
    response.close()
    return names - {"csrf_token"}


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_every_form_survives_hostile_fields(demo, client, htmx):
    examples = _examples(demo)
    login(client, "admin@example.org", "demo-rete-2026")
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"',
                      client.get("/privacy").get_data(as_text=True)).group(1)
    headers = {"X-CSRFToken": token, **({"HX-Request": "true"} if htmx else {})}
    get_rules = {rule.rule for rule in _routes(demo, "GET")}
    failures: list[str] = []
    for rule in _routes(demo, "POST"):
        if rule.endpoint in SKIP_POST:
            continue
        for url in _urls(rule, examples):
            names = set(FORM_NAMES) | _fields_of(client, url, rule.rule in get_rules)
            for kind, value in KINDS.items():
                data = {name: value for name in names}
                data["csrf_token"] = token
                response = client.post(url, data=data, headers=headers)
                _check(failures, "coordinator", f"POST {url} [{kind}]", response)
            # a field sent twice, and nothing at all
            data = {name: ["1", "x"] for name in names}
            data["csrf_token"] = token
            _check(failures, "coordinator", f"POST {url} [repeated]",
                   client.post(url, data=data, headers=headers))
            _check(failures, "coordinator", f"POST {url} [no fields]",
                   client.post(url, data={"csrf_token": token}, headers=headers))
    assert not failures, "\n".join(failures)


def test_an_id_beyond_the_database_range_is_not_found(client):
    for path in (f"/proposte/{2**70}", f"/sedute/{2**31}", f"/api/v1/pratiche/{2**63}"):
        assert client.get(path).status_code == 404, path


@pytest.mark.parametrize("value", ["²", "١٢", "1e3", str(2**64), "-3", "0x1"])
def test_page_numbers_are_plain_decimal_numbers(client, value):
    """A page number that is not a plain number in range is refused or ignored, never a 500."""
    for path in ("/proposte", "/pratiche", "/tavoli", "/comuni"):
        response = client.get(path, query_string={"pagina": value})
        assert response.status_code in (200, 400, 404, 422), (path, value)
