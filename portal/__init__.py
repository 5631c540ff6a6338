"""The Rete dei Comuni Amici della Famiglia portal."""

import logging
from pathlib import Path

from flask import Flask

from portal.config import DEV_SECRET, Config, engine_options
from portal.web import DatabaseIdConverter

log = logging.getLogger(__name__)


#: Every module package; each exports a blueprint `bp` and may be absent while being built.
MODULES = (
    "core",
    "accounts",
    "network",
    "catalogue",
    "proposals",
    "voting",
    "tables",
    "fund",
    "card",
    "gaf",
    "api",
)


def create_app(config: dict | None = None) -> Flask:
    """Build the application; `config` overrides the environment (tests use it)."""
    app = Flask(
        __name__,
        template_folder="../templates",
        static_folder="../static",
        instance_relative_config=False,
    )
    # Ids in URLs are database integers: a number beyond their range is a 404, not an overflow
    # in the driver (SQLite) or the server (PostgreSQL's integer columns).
    app.url_map.converters["int"] = DatabaseIdConverter
    app.config.from_object(Config())
    if config:
        app.config.update(config)
        if "SQLALCHEMY_DATABASE_URI" in config and "SQLALCHEMY_ENGINE_OPTIONS" not in config:
            # options for the database given, not for the one of the environment
            app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(
                config["SQLALCHEMY_DATABASE_URI"])
    if not app.debug and not app.testing and app.config["SECRET_KEY"] == DEV_SECRET:
        raise RuntimeError(
            "SECRET_KEY is the development default: set SECRET_KEY in the environment "
            "(or FLASK_DEBUG=1 for local development)."
        )

    from portal import assets, authz, caching, db_setup, i18n, models, security
    from portal.extensions import babel, csrf, db, htmx, limiter, login_manager, migrate

    models.import_all()
    db.init_app(app)
    db_setup.init_app(app)
    # Right after db_setup: compression runs after every other after_request hook but the commit.
    assets.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    # Authorization runs before CSRF so that an anonymous POST is sent to log in first.
    authz.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=i18n.select_timezone)
    htmx.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app)
    caching.init_app(app)
    security.init_app(app)

    import importlib

    for name in MODULES:
        try:
            module = importlib.import_module(f"portal.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"portal.{name}":
                raise
            continue
        if hasattr(module, "bp"):
            app.register_blueprint(module.bp)
        if hasattr(module, "init_app"):
            module.init_app(app)

    from portal import cli

    cli.init_app(app)
    # Templates link to a module's pages only when the module is installed.
    app.jinja_env.globals["url_endpoints"] = frozenset(app.view_functions)
    return app
