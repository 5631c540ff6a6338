"""The Alembic history builds the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

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
        context = MigrationContext.configure(conn, opts={"compare_type": True})
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
