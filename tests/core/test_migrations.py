"""The Alembic history builds the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from portal.extensions import db as _db
from tests.conftest import BACKENDS, PG_URL, make_app


def schema_differences(engine) -> list:
    with engine.connect() as conn:
        external = _db.metadata.info.get("external_tables", ())  # e.g. SQLite's FTS5 index
        context = MigrationContext.configure(conn, opts={
            "compare_type": True,
            "include_name": lambda name, type_, _parents: not (type_ == "table"
                                                               and name in external)})
        return compare_metadata(context, _db.metadata)


def test_models_and_migrations_agree(app, db):
    """`flask db migrate` would find nothing: every model change has its migration."""
    differences = schema_differences(db.engine)
    assert differences == [], "models and migrations differ:\n" + "\n".join(
        repr(d) for d in differences)


@pytest.fixture(params=BACKENDS)
def empty_database(request, tmp_path):
    """The URL of a brand-new, empty database of each backend.

    On PostgreSQL it is a fresh schema first on the search path: creating and dropping a whole
    database forces a checkpoint of the server, which costs seconds.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    schema = f"migrations_{os.getpid()}"
    base = make_url(PG_URL)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def test_flask_db_upgrade_builds_an_empty_database_and_downgrade_undoes_it(empty_database):
    """`flask db upgrade` on nothing, `flask db downgrade base`, and `upgrade` again all work."""
    app = make_app(empty_database)
    runner = app.test_cli_runner()
    with app.app_context():
        try:
            for step, args in enumerate((["db", "upgrade"], ["db", "downgrade", "base"],
                                         ["db", "upgrade"])):
                result = runner.invoke(args=args)
                assert result.exit_code == 0, (args, result.output, result.exception)
                tables = set(inspect(_db.engine).get_table_names()) - {"alembic_version"}
                if step == 1:
                    assert tables == set(), f"downgrade left {tables}"
                else:
                    assert {"users", "households", "comuni", "audit_log"} <= tables
            assert schema_differences(_db.engine) == []
        finally:
            _db.session.remove()
            _db.engine.dispose()


def test_supports_move_to_their_table_and_back_keeping_every_row(empty_database):
    """0013 moves each proposal's supports to `proposal_supports` and drops the column, on a
    database with data. On SQLite the proposals table is rebuilt: the rows that refer to it
    (themes here) must survive the rebuild, and foreign keys must be on again afterwards."""
    app = make_app(empty_database)
    runner = app.test_cli_runner()

    def run(*args):
        result = runner.invoke(args=["db", *args])
        assert result.exit_code == 0, (args, result.output, result.exception)

    with app.app_context():
        try:
            run("upgrade", "0012")
            with _db.engine.begin() as conn:
                conn.execute(text(
                    "INSERT INTO comuni (id, name, slug, istat_code, province, joined_on) "
                    "VALUES (1, 'Seveso', 'seveso', '108039', 'Monza e Brianza', '2024-01-01')"))
                conn.execute(text("INSERT INTO tables (id, comune_id, name, slug) "
                                  "VALUES (1, 1, 'Tavolo di Seveso', 'seveso')"))
                for pid, supports in ((1, 4), (2, 0)):
                    conn.execute(text(
                        "INSERT INTO proposals (id, comune_id, table_id, title, summary, body, "
                        "body_html, state, created_at, updated_at, state_changed_at, listed, "
                        "comment_count, support_count) VALUES (:id, 1, 1, 'Pedibus', 'A piedi',"
                        " '', '', 'published', '2026-01-01', '2026-01-01', '2026-01-01', "
                        ":listed, 0, :n)"), {"id": pid, "n": supports, "listed": True})
                    conn.execute(text("INSERT INTO proposal_themes (proposal_id, theme) "
                                      "VALUES (:id, 'scuola')"), {"id": pid})
            run("upgrade")
            with _db.engine.connect() as conn:
                assert {tuple(r) for r in conn.execute(text(
                    "SELECT proposal_id, support_count FROM proposal_supports"))} == {(1, 4),
                                                                                      (2, 0)}
                assert conn.execute(text("SELECT count(*) FROM proposal_themes")).scalar() == 2
                assert "support_count" not in {
                    c["name"] for c in inspect(conn).get_columns("proposals")}
                if conn.dialect.name == "sqlite":
                    assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            run("downgrade", "0012")
            with _db.engine.connect() as conn:
                assert {tuple(r) for r in conn.execute(text(
                    "SELECT id, support_count FROM proposals"))} == {(1, 4), (2, 0)}
                assert conn.execute(text("SELECT count(*) FROM proposal_themes")).scalar() == 2
                assert "proposal_supports" not in inspect(conn).get_table_names()
        finally:
            _db.session.remove()
            _db.engine.dispose()


def test_0014_drops_the_ballot_function_and_its_downgrade_brings_it_back(empty_database):
    """The vote is written by the application: on PostgreSQL 0014 drops `rete_ballot`;
    downgrading to 0013 creates it again (counting in proposal_supports) and to 0012 as 0010
    made it (counting in proposals). SQLite never had it: the same steps just run."""
    app = make_app(empty_database)
    runner = app.test_cli_runner()

    def run(*args):
        result = runner.invoke(args=["db", *args])
        assert result.exit_code == 0, (args, result.output, result.exception)

    def function_body():
        with _db.engine.connect() as conn:
            if conn.dialect.name != "postgresql":
                return None
            return conn.execute(text("SELECT prosrc FROM pg_proc WHERE proname = 'rete_ballot'")
                                ).scalar()

    with app.app_context():
        try:
            run("upgrade")
            assert function_body() is None
            run("downgrade", "0013")
            if _db.engine.dialect.name == "postgresql":
                assert "UPDATE proposal_supports" in function_body()
            run("downgrade", "0012")
            if _db.engine.dialect.name == "postgresql":
                body = function_body()
                assert "UPDATE proposals SET support_count" in body
                assert "proposal_supports" not in body
            run("upgrade")
            assert function_body() is None
            assert schema_differences(_db.engine) == []
        finally:
            _db.session.remove()
            _db.engine.dispose()


def _json(value):
    """A JSON column read by plain SQL: a dict on PostgreSQL, its text on SQLite."""
    return json.loads(value) if isinstance(value, str) else value


def test_0020_gives_old_rows_the_key_of_the_portals_sentence(empty_database):
    """Events and history lines stored as Italian sentences get their message key and values
    (dates back to ISO), so that they too are shown in the reader's language; what is not one
    of the portal's sentences stays text only."""
    app = make_app(empty_database)
    runner = app.test_cli_runner()

    def run(*args):
        result = runner.invoke(args=["db", *args])
        assert result.exit_code == 0, (args, result.output, result.exception)

    with app.app_context():
        try:
            run("upgrade", "0019")
            with _db.engine.begin() as conn:
                conn.execute(text(
                    "INSERT INTO comuni (id, name, slug, istat_code, province, joined_on) "
                    "VALUES (1, 'Meda', 'meda', '108031', 'Monza e della Brianza', "
                    "'2015-11-12')"))
                conn.execute(text("INSERT INTO tables (id, comune_id, name, slug) "
                                  "VALUES (1, 1, 'Tavolo di Meda', 'meda')"))
                conn.execute(text(
                    "INSERT INTO proposals (id, comune_id, table_id, title, summary, body, "
                    "body_html, state, created_at, updated_at, state_changed_at, listed, "
                    "comment_count) VALUES (1, 1, 1, 'Pedibus', 'A piedi', '', '', "
                    "'in_progress', '2026-01-01', '2026-01-01', '2026-01-01', :listed, 0)"),
                    {"listed": True})
                for i, (kind, title) in enumerate((
                        ("comune.joined", "Meda entra nella Rete"),
                        ("minutes.corrected",
                         "Tavolo di Meda: verbale del 07/12/2026 corretto (revisione 2)"),
                        ("practice.adopted", "Meda adotta «Pedibus»"),
                        ("comune.joined", "Meda joins the Network")), start=1):
                    conn.execute(text(
                        "INSERT INTO activity (id, at, kind, title, link, comune_id) "
                        "VALUES (:id, '2026-12-07', :kind, :title, '/', 1)"),
                        {"id": i, "kind": kind, "title": title})
                for i, (state, note) in enumerate((
                        ("selected", "Selezionata dalla votazione «Bilancio 2026»."),
                        ("in_progress", "In realizzazione. Responsabile: Ufficio; scadenza: -."),
                        ("approved", "Approvata all'unanimità, con entusiasmo.")), start=1):
                    conn.execute(text(
                        "INSERT INTO proposal_events (id, proposal_id, at, kind, to_state, note)"
                        " VALUES (:id, 1, '2026-12-07', 'state', :state, :note)"),
                        {"id": i, "state": state, "note": note})
            run("upgrade")
            with _db.engine.connect() as conn:
                rows = conn.execute(text("SELECT message, params FROM activity ORDER BY id"))
                assert [(m, _json(p)) for m, p in rows] == [
                    ("comune.joined", {"name": "Meda"}),
                    ("minutes.corrected", {"table": "Tavolo di Meda", "day": "2026-12-07",
                                           "n": 2}),
                    ("practice.adopted", {"comune": "Meda", "title": "Pedibus"}),
                    (None, None)]
                rows = conn.execute(text(
                    "SELECT message, params FROM proposal_events ORDER BY id"))
                assert [(m, _json(p)) for m, p in rows] == [
                    ("history.selected", {"title": "Bilancio 2026"}),
                    ("history.in_progress", {"who": "Ufficio", "when": "-"}),
                    (None, None)]
            run("downgrade", "0019")
            with _db.engine.connect() as conn:
                assert "message" not in {c["name"] for c in inspect(conn).get_columns("activity")}
                assert conn.execute(text("SELECT count(*) FROM activity")).scalar() == 4
        finally:
            _db.session.remove()
            _db.engine.dispose()
