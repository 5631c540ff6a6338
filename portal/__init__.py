"""The Rete dei Comuni Amici della Famiglia portal."""

import logging
from pathlib import Path

from flask import Flask, request
from werkzeug.routing import IntegerConverter

from portal.config import DEV_SECRET, Config, engine_options

log = logging.getLogger(__name__)


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` limited to what an INTEGER column holds (and never negative)."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's signature
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


class Portal(Flask):
    """Flask, asking once per function (not on every request, for every hook) whether it is a
    coroutine function to be run through asgiref: the portal's views and hooks never are."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._synced: dict = {}

    def ensure_sync(self, func):
        try:
            return self._synced[func]
        except KeyError:
            synced = self._synced[func] = super().ensure_sync(func)
            return synced
        except TypeError:  # not hashable
            return super().ensure_sync(func)


#: Every module package; each exports a blueprint `bp` and may be absent while being built.
MODULES = (
    "core",
    "accounts",
    "network",
    "catalogue",
    "proposals",
    "voting",
    "tables",
    "card",
    "api",
)


def _limited_endpoints(app: Flask) -> frozenset[str]:
    """The endpoints whose view carries a Flask-Limiter limit (found once, after registration)."""
    found = app.extensions.get("rete_limited_endpoints")
    if found is None:
        from flask_limiter.util import get_qualified_name

        from portal.extensions import limiter

        found = frozenset(
            endpoint for endpoint, view in app.view_functions.items()
            if limiter.limit_manager.decorated_limits(get_qualified_name(view)))
        app.extensions["rete_limited_endpoints"] = found
    return found


def _limited_request(app: Flask) -> bool:
    """Whether this request is one a limit can apply to: every limit of the portal is on a POST
    of a few endpoints (login, reset, forms that send mail)."""
    return request.method == "POST" and request.endpoint in _limited_endpoints(app)


def _limiter_hooks_only_where_limited(app: Flask, limiter) -> None:
    """Flask-Limiter adds three hooks that run on every request (a check before, headers
    after, a clean-up); the filter above makes them find nothing to do, at ~200 calls a
    request. They are wrapped to run only for a POST to a limited endpoint, the only requests
    where they can do something. A hook not recognised is left as it is (slower, as correct).
    """
    from functools import partial, wraps

    def only_where_limited(hook, answer_unchanged):
        @wraps(hook)
        def guarded(*args):
            if _limited_request(app):
                return hook(*args)
            return args[0] if answer_unchanged else None
        return guarded

    def is_limiters(hook) -> bool:
        owner = hook.args[0] if isinstance(hook, partial) and hook.args else getattr(
            hook, "__self__", None)
        return owner is limiter

    for hooks, answer_unchanged in ((app.before_request_funcs, False),
                                    (app.after_request_funcs, True),
                                    (app.teardown_request_funcs, False)):
        hooks[None] = [only_where_limited(h, answer_unchanged) if is_limiters(h) else h
                       for h in hooks.get(None, [])]


def create_app(config: dict | None = None) -> Flask:
    """Build the application; `config` overrides the environment (tests use it)."""
    app = Portal(
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

    from portal import authz, caching, db_setup, i18n, layout, models, security, signing
    from portal.extensions import babel, csrf, db, htmx, limiter, login_manager, migrate

    models.import_all()
    db.init_app(app)
    db_setup.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    # Authorization runs before CSRF so that an anonymous POST is sent to log in first.
    authz.init_app(app)
    csrf.init_app(app)
    signing.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=i18n.select_timezone)
    htmx.init_app(app)
    limiter.init_app(app)
    # Reads and the other endpoints skip the limiter's work (~300 calls a request): its hooks
    # run only where a limit can apply, and its filter says the same to whatever else calls it.
    limiter.request_filter(lambda: not _limited_request(app))
    _limiter_hooks_only_where_limited(app, limiter)
    i18n.init_app(app)
    caching.init_app(app)
    layout.init_app(app)
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
