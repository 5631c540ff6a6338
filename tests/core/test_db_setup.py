"""Database settings (portal/db_setup.py): one commit per request, only for a state change
that succeeded; UTC timestamps; SQLite's pragmas; PostgreSQL's pool replaces lost connections."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, insert, select, text
from sqlalchemy.exc import StatementError

from portal import authz
from portal.core.models import Activity
from portal.extensions import db as _db
from portal.network.models import Comune
from tests.conftest import BACKENDS, PG_URL


def _comune(name: str) -> Comune:
    return Comune(name=name, slug=name.lower(), istat_code=str(900000 + len(name)),
                  province="Monza e della Brianza", joined_on=date(2026, 1, 1))


@pytest.fixture
def probe(app, fresh_app):
    """A fresh app with test routes (GET and POST), and the COMMITs its engine saw."""
    worker = fresh_app()

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
    def add_then_fail():
        _db.session.add(_comune("Paperopoli"))
        _db.session.flush()
        raise RuntimeError("boom")

    @authz.public
    def add_then_refuse():
        _db.session.add(_comune("Paperopoli"))
        _db.session.flush()
        return "refused", 422

    @authz.public
    def add_then_redirect():
        _db.session.add(_comune("Paperopoli"))
        _db.session.flush()
        return "", 303, {"Location": "/"}

    views = (read, add_and_flush, add_unflushed, core_insert, add_then_fail, add_then_refuse,
             add_then_redirect)
    for view in views:
        worker.add_url_rule(f"/_probe/{view.__name__}", view.__name__, view,
                            methods=["GET", "POST"])
    commits: list[str] = []
    with worker.app_context():
        engine = _db.engine
    event.listen(engine, "commit", lambda conn: commits.append("commit"))
    worker.config["PROPAGATE_EXCEPTIONS"] = False
    worker.config["WTF_CSRF_ENABLED"] = False  # the probe's POSTs carry no form
    return worker, commits


def _names(worker) -> set[str]:
    with worker.app_context():
        try:
            return set(_db.session.scalars(select(Comune.name)))
        finally:
            _db.session.remove()


@pytest.mark.parametrize("route", ["read", "add_and_flush", "add_unflushed", "core_insert"])
def test_a_get_never_commits(probe, route):
    worker, commits = probe
    assert worker.test_client().get(f"/_probe/{route}").status_code == 200
    assert _names(worker) == set()
    assert commits == []


@pytest.mark.parametrize("route", ["add_and_flush", "add_then_redirect"])
def test_a_post_that_succeeds_is_committed_once(probe, route):
    worker, commits = probe
    assert worker.test_client().post(f"/_probe/{route}").status_code < 400
    assert _names(worker) == {"Paperopoli"}
    assert commits == ["commit"]


def test_a_post_whose_view_raises_leaves_nothing_saved(probe):
    worker, commits = probe
    assert worker.test_client().post("/_probe/add_then_fail").status_code == 500
    assert _names(worker) == set()
    assert commits == []


def test_a_post_answered_422_leaves_nothing_saved(probe):
    worker, commits = probe
    assert worker.test_client().post("/_probe/add_then_refuse").status_code == 422
    assert _names(worker) == set()
    assert commits == []


def test_timestamps_are_stored_in_utc_and_read_back_aware(app, db):
    rome = datetime(2026, 7, 1, 12, 30, tzinfo=ZoneInfo("Europe/Rome"))
    db.session.add(Activity(kind="test", title="Prova", link="/", at=rome))
    db.session.commit()
    db.session.expire_all()
    stored = db.session.scalar(select(Activity.at))
    assert stored == rome and stored.utcoffset().total_seconds() == 0
    # stored as naive UTC on both databases (12:30 in Rome in July is 10:30 UTC)
    assert "10:30" in str(db.session.scalar(text("SELECT at FROM activity")))


def test_a_naive_timestamp_is_refused(app, db):
    db.session.add(Activity(kind="test", title="Prova", link="/", at=datetime(2026, 7, 1)))
    with pytest.raises(StatementError, match="naive datetime"):
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize("backend", [name for name in BACKENDS if name == "sqlite"],
                         indirect=True)
def test_sqlite_runs_in_wal_with_foreign_keys(app, db, backend):
    assert db.session.scalar(text("PRAGMA journal_mode")) == "wal"
    assert db.session.scalar(text("PRAGMA foreign_keys")) == 1
    assert db.session.scalar(text("PRAGMA busy_timeout")) == 30000


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_app_given_a_database_url_connects_with_that_databases_options(backend, tmp_path):
    """`create_app` given a database other than the environment's uses that database's engine
    options (PostgreSQL refused SQLite's connect timeout, and the app could not connect)."""
    from portal import create_app

    url = PG_URL if backend == "postgresql" else f"sqlite:///{tmp_path / 'other.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True,
                      "SECRET_KEY": "test-secret-key"})
    with app.app_context():
        assert _db.session.execute(text("SELECT 1")).scalar() == 1
        _db.session.remove()
        _db.engine.dispose()


@pytest.mark.parametrize("backend", [name for name in BACKENDS if name == "postgresql"])
def test_a_postgresql_connection_lost_while_pooled_is_replaced_before_the_next_request(
        backend):
    """pool_pre_ping: if PostgreSQL dropped a pooled connection (a restart, an idle timeout),
    the visitor still gets the page, from a new connection, and not an error."""
    import psycopg

    from portal import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": PG_URL, "TESTING": True,
                      "SECRET_KEY": "test-secret-key"})

    @authz.public
    def one():
        return str(_db.session.scalar(text("SELECT 1")))

    app.add_url_rule("/_probe/one", "one", one)
    client = app.test_client()
    assert client.get("/_probe/one").get_data(as_text=True) == "1"
    with app.app_context():
        engine = _db.engine
        pid = _db.session.connection().connection.dbapi_connection.info.backend_pid
        _db.session.remove()
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as killer:
        killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
    try:
        response = client.get("/_probe/one")
        assert (response.status_code, response.get_data(as_text=True)) == (200, "1")
    finally:
        engine.dispose()
