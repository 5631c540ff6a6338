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

    def _in_transaction() -> str:
        """Whether the request's connection is inside a transaction on the server now."""
        driver = _db.session.connection().connection.dbapi_connection
        if hasattr(driver, "info"):  # psycopg: the server's own view of the connection
            from psycopg.pq import TransactionStatus

            return str(driver.info.transaction_status == TransactionStatus.INTRANS)
        return str(driver.in_transaction)

    @authz.public
    def read_twice_where():
        _db.session.scalar(select(func.count()).select_from(Comune))
        _db.session.scalar(select(func.count()).select_from(Comune))
        return _in_transaction()

    @authz.public
    def read_write_write_fail():
        _db.session.scalar(select(func.count()).select_from(Comune))
        _db.session.add(_comune("Paperopoli"))
        _db.session.flush()
        first = _in_transaction()
        _db.session.add(_comune("Topolinia"))
        _db.session.flush()
        raise RuntimeError(f"boom after two writes (in a transaction: {first})")

    @authz.public
    def read_write_commit():
        _db.session.scalar(select(func.count()).select_from(Comune))
        _db.session.add(_comune("Paperopoli"))
        _db.session.commit()
        return str(_db.session.scalar(select(func.count()).select_from(Comune)))

    for view in (read, add_and_flush, add_unflushed, core_insert, read_then_fail,
                 read_twice_where, read_write_write_fail, read_write_commit):
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


def test_reads_run_outside_a_transaction_on_postgresql_until_the_first_write(probe):
    """PostgreSQL: a page that only reads sends no BEGIN and no COMMIT (one round trip a
    statement); the first write opens the transaction, so a request that fails after two
    writes leaves neither, and one that commits keeps both. (SQLite's driver, too, begins
    only before the first write.)"""
    worker, _ends = probe
    client = worker.test_client()
    in_transaction = client.get("/_probe/read_twice_where").get_data(as_text=True)
    assert in_transaction == "False"
    assert client.get("/_probe/read_write_write_fail").status_code == 500
    assert _names(worker) == set()
    assert client.get("/_probe/read_write_commit").get_data(as_text=True) == "1"
    assert _names(worker) == {"Paperopoli"}
    # the pool hands the connection out for reads again
    assert client.get("/_probe/read_twice_where").get_data(as_text=True) == in_transaction


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


@pytest.mark.parametrize(("statement", "expected"), [
    ("SELECT id FROM comuni WHERE slug = %(s)s", False),
    ("  select 1", False),
    ("WITH t AS (SELECT 1) SELECT * FROM t", False),
    ("SELECT name FROM comuni WHERE name = 'FOR UPDATE'", False),  # a literal, no lock
    ("SELECT * FROM households WHERE id = 1 FOR UPDATE", True),
    ("SELECT * FROM households WHERE id = 1 FOR NO KEY UPDATE", True),
    ("SELECT * FROM proposals WHERE id = 1 FOR SHARE", True),
    ("SELECT * FROM proposals p WHERE id = 1 FOR KEY SHARE OF p", True),
    ("SELECT * FROM outbox FOR UPDATE SKIP LOCKED", True),
    ("select * from outbox for update", True),
    ("INSERT INTO comuni (name) VALUES ('x')", True),
    ("UPDATE comuni SET name = 'x'", True),
    ("DELETE FROM comuni", True),
    ("SAVEPOINT sa_savepoint_1", True),
    ("LOCK TABLE comuni", True),
])
def test_what_counts_as_a_write_or_a_lock(statement, expected):
    """A statement that may change something or lock rows opens the transaction (on
    PostgreSQL, reads before it ran outside one): a lock held outside a transaction would be
    released at once."""
    from portal.db_setup import writes

    assert writes(statement) is expected
