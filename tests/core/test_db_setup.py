"""How a request's transaction ends (portal/db_setup.py): a request that only read commits on
PostgreSQL (so that psycopg keeps its prepared statements); anything that wrote, failed or left
changes behind is rolled back exactly as before — nothing is ever committed by accident."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event, func, insert, select

from portal import authz
from portal.extensions import db as _db
from portal.network.models import Comune
from tests.conftest import BACKENDS


@pytest.fixture
def probe(app, fresh_app):
    """A fresh app with test routes, and the COMMITs/ROLLBACKs its engine saw."""
    worker = fresh_app()

    def _comune(name):
        return Comune(name=name, slug=name.lower(), istat_code=str(900000 + len(name)),
                      province="Monza e della Brianza", joined_on=date(2026, 1, 1))

    @authz.public
    def read():
        return str(_db.session.scalar(select(func.count()).select_from(Comune)))

    @authz.public
    def add_and_flush():
        _db.session.add(_comune("Paperopoli"))
        _db.session.flush()
        return "ok"

    @authz.public
    def add_unflushed():
        _db.session.add(_comune("Topolinia"))
        return "ok"

    @authz.public
    def core_insert():
        _db.session.execute(insert(Comune).values(
            name="Quackville", slug="quackville", istat_code="900099",
            province="Monza e della Brianza", joined_on=date(2026, 1, 1)))
        return "ok"

    @authz.public
    def read_then_fail():
        _db.session.scalar(select(func.count()).select_from(Comune))
        raise RuntimeError("boom")

    for view in (read, add_and_flush, add_unflushed, core_insert, read_then_fail):
        worker.add_url_rule(f"/_probe/{view.__name__}", view.__name__, view)
    ends: list[str] = []
    with worker.app_context():
        engine = _db.engine
    event.listen(engine, "commit", lambda conn: ends.append("commit"))
    event.listen(engine, "rollback", lambda conn: ends.append("rollback"))
    worker.config["PROPAGATE_EXCEPTIONS"] = False
    return worker, ends


def _names(worker) -> set[str]:
    with worker.app_context():
        try:
            return set(_db.session.scalars(select(Comune.name)))
        finally:
            _db.session.remove()


@pytest.mark.parametrize("route", ["add_and_flush", "add_unflushed", "core_insert"])
def test_a_write_left_uncommitted_is_rolled_back(probe, route):
    worker, _ends = probe
    assert worker.test_client().get(f"/_probe/{route}").status_code == 200
    assert _names(worker) == set()


def test_a_failed_request_is_rolled_back(probe):
    worker, ends = probe
    assert worker.test_client().get("/_probe/read_then_fail").status_code == 500
    assert "commit" not in ends


def test_a_request_that_only_read_ends_its_transaction(probe, backend):
    worker, ends = probe
    client = worker.test_client()
    for _ in range(3):
        assert client.get("/_probe/read").get_data(as_text=True) == "0"
    if backend.name == "postgresql":
        # COMMIT keeps psycopg's prepared statements (a ROLLBACK forgets them all).
        assert ends == ["commit"] * 3
    else:
        assert "commit" not in ends


def _kill_pooled_connections(worker) -> int:
    """Terminate, from another connection, the server side of every connection in the pool."""
    import psycopg

    with worker.app_context():
        engine = _db.engine
    pids = [record.dbapi_connection.info.backend_pid for record in engine.pool._pool.queue]
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as killer:
        for pid in pids:
            killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
    return len(pids)


# Only PostgreSQL has a server whose connections can be lost (SQLite opens a file).
only_postgresql = pytest.mark.parametrize(
    "backend", [name for name in BACKENDS if name == "postgresql"], indirect=True)


@only_postgresql
def test_a_connection_lost_while_idle_is_replaced_before_the_next_request(
        probe, backend, monkeypatch):
    """No ping before every request on PostgreSQL, but a pooled connection that rested is
    checked first: if the server dropped it meanwhile (a restart, an idle timeout), the visitor
    still gets the page, from a new connection, and not an error."""
    from portal import db_setup

    worker, _ends = probe
    client = worker.test_client()
    assert client.get("/_probe/read").status_code == 200
    assert _kill_pooled_connections(worker) == 1
    monkeypatch.setattr(db_setup, "PING_IDLE_SECONDS", 0.0)
    response = client.get("/_probe/read")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "0")


@only_postgresql
def test_a_connection_lost_while_busy_costs_one_request_at_most(probe, backend, monkeypatch):
    """The price of not pinging a busy connection: when the server drops it between two
    requests close together, that one request fails; the pool is renewed and the next works."""
    from portal import db_setup

    worker, _ends = probe
    client = worker.test_client()
    assert client.get("/_probe/read").status_code == 200
    assert _kill_pooled_connections(worker) == 1
    monkeypatch.setattr(db_setup, "PING_IDLE_SECONDS", 3600.0)
    assert client.get("/_probe/read").status_code == 500
    response = client.get("/_probe/read")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "0")


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_app_given_a_database_url_connects_with_that_databases_options(backend, tmp_path):
    """`create_app` given a database other than the environment's uses that database's engine
    options (PostgreSQL refused SQLite's connect timeout, and the app could not connect)."""
    from sqlalchemy import text

    from portal import create_app
    from tests.conftest import PG_URL

    url = PG_URL if backend == "postgresql" else f"sqlite:///{tmp_path / 'other.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True,
                      "SECRET_KEY": "test-secret-key"})
    with app.app_context():
        assert _db.session.execute(text("SELECT 1")).scalar() == 1
        _db.session.remove()
        _db.engine.dispose()
