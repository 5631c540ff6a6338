"""Alembic environment: one linear history for SQLite and PostgreSQL."""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config
if config.config_file_name and not current_app.testing:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

db = current_app.extensions["migrate"].db
config.set_main_option(
    "sqlalchemy.url", db.engine.url.render_as_string(hide_password=False).replace("%", "%%")
)
target_metadata = db.metadata


def render_item(type_, obj, autogen_context):
    """Write our UTC timestamp type as a plain DateTime: migrations import nothing of ours."""
    from portal.db_setup import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def include_name(name, type_, parent_names) -> bool:
    """Leave out the tables the database keeps for itself (SQLite's FTS5 index, listed by the
    models in `metadata.info["external_tables"]`): they are not the models' to compare."""
    return not (type_ == "table" and name in target_metadata.info.get("external_tables", ()))


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True, compare_type=True, include_name=include_name)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    def no_empty_revision(context_, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")

    with db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # A batch migration rebuilds a table: a copy is created, filled, the original
            # dropped and the copy renamed. With foreign keys on, dropping the original would
            # first delete its rows and cascade to every table that refers to it. SQLite
            # changes this setting only outside a transaction: before the migrations start.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            process_revision_directives=no_empty_revision,
            render_as_batch=sqlite,
            compare_type=True,
            include_name=include_name,
            render_item=render_item,
        )
        try:
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if sqlite:
                connection.rollback()  # nothing is left open: alembic has committed
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                connection.commit()
        if sqlite and broken:
            raise RuntimeError(f"the migrations left rows whose references are gone: {broken}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
