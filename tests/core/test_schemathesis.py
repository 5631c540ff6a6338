"""The API keeps the contract of its OpenAPI document: Schemathesis, with its default checks
(no server error, statuses and content types and bodies as declared, schema-valid requests
accepted and invalid ones refused, 405 with Allow for other methods...), on every operation of
/api/v1/openapi.json, against the app itself (WSGI, no server), on the demo Rete.

Both databases: the API reads through SQLAlchemy the same way on each, but the cursors and
filters end in SQL that each engine compares in its own way (tuples, big integers, dates), so
each runs its share of cases.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from portal.extensions import cache as _cache
from portal.extensions import db as _db
from portal.extensions import limiter
from portal.seed import seed_all

#: generated cases per operation and generation mode: with the coverage phase's own cases
#: (every boundary and invalid value of each argument) a few thousand in all per database
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "200"))
#: cases sent in this session, by operation and method (both databases add up)
SENT: Counter[str] = Counter()


@pytest.fixture(scope="module")
def demo_api(backend):
    """The demo Rete, seeded once for the module: the API only reads."""
    backend.clean()
    limiter.reset()
    with backend.app.app_context():
        _cache.clear()
        seed_all()
        _db.session.commit()
        _db.session.remove()
        yield backend.app
        _db.session.remove()


@pytest.fixture(scope="module")
def api_schema(demo_api):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", demo_api)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_the_api_keeps_its_contract(case):
    SENT[f"{case.method} {case.path}"] += 1
    # The WSGI transport hands over the body as the app wrote it, where an HTTP client would
    # undo the compression it asked for (requests asks for gzip, br, zstd): ask for none.
    case.call_and_validate(headers={"Accept-Encoding": "identity"})


def test_cases_were_sent(api_schema, request):
    """Every operation of the document was exercised; the count is printed with -rA."""
    if not SENT:
        pytest.skip("the contract test did not run in this session")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"\nSchemathesis: {sum(SENT.values())} cases sent, "
                            + ", ".join(f"{k}: {v}" for k, v in sorted(SENT.items())))
    operations = {f"{op.method.upper()} {op.path}"
                  for op in (result.ok() for result in api_schema.get_all_operations())}
    assert operations <= set(SENT)
