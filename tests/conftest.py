"""Shared fixtures: the app on SQLite and PostgreSQL, a clean database per test, real logins.

Every test that uses the `app` fixture (directly or through `client`, `db`, factories...) runs
once per database backend: SQLite always, PostgreSQL when TEST_POSTGRESQL_URL is set (and then a
PostgreSQL that cannot be reached is an error, not a skip).
"""

from __future__ import annotations

import contextvars
import os
import re
import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from portal import create_app
from portal.extensions import cache as _cache
from portal.extensions import db as _db
from portal.extensions import limiter

PG_URL = os.environ.get("TEST_POSTGRESQL_URL", "").strip()
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
PASSWORD = "una-password-sicura-42"
CSRF_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
#: the hidden field of a form: anonymous pages have no meta token, only their forms carry one
CSRF_FIELD_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                           r'type="hidden" name="csrf_token" value="([^"]+)"|'
                           r'name="csrf_token" value="([^"]+)"')

TEST_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key",
    "SERVER_NAME": None,
    # The test client's host: links in mail are built on it, other hosts are refused.
    "BASE_URL": "http://localhost",
    "SESSION_COOKIE_SECURE": False,
    "MAIL_PRINT": False,
    # Real argon2id, at a lower cost so that the suite stays fast.
    "ARGON2_TIME_COST": 1,
    "ARGON2_MEMORY_COST": 1024,
    "RATELIMIT_STORAGE_URI": "memory://",
    # Whole-page caching has its own tests (tests/core/test_caching.py); remember() is on.
    "PAGE_CACHE_SECONDS": 0,
}


def pytest_configure(config):
    """Compile the translations (.mo files are build output, not in git) if they differ."""
    import io

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parent.parent / "portal" / "translations"
    for po in root.glob("*/LC_MESSAGES/messages.po"):
        with po.open("rb") as fh:
            catalog = read_po(fh)
        compiled = io.BytesIO()
        write_mo(compiled, catalog)  # fuzzy entries left out, as `pybabel compile` does
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.read_bytes() == compiled.getvalue():
            continue
        partial = mo.with_name(f"messages.mo.{os.getpid()}")
        partial.write_bytes(compiled.getvalue())
        partial.replace(mo)  # atomic: a suite running alongside never reads half a file


def pytest_report_header(config):
    pg = "PostgreSQL at " + make_url(PG_URL).render_as_string(hide_password=True) if PG_URL else (
        "PostgreSQL not configured (set TEST_POSTGRESQL_URL)")
    return [f"database backends: {', '.join(BACKENDS)} — {pg}"]


# --------------------------------------------------------------------------- databases


def _pg_database_url(worker: str) -> str:
    """A fresh database next to the configured one (created here, dropped at the end)."""
    base = make_url(PG_URL)
    name = f"{base.database}_portal_{worker}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(url: str) -> None:
    target = make_url(url)
    admin = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


def make_app(database_url: str, **overrides) -> Flask:
    config = dict(TEST_CONFIG, SQLALCHEMY_DATABASE_URI=database_url)
    config.update(overrides)
    if database_url.startswith("postgresql"):
        # A test database needs no durability: commits skip the wait for the disk. The URL's
        # own options (a schema's search_path) are kept: connect_args would replace them.
        from sqlalchemy.engine import make_url

        options = " ".join(filter(None, ("-c synchronous_commit=off",
                                         make_url(database_url).query.get("options"))))
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "pool_size": 5, "max_overflow": 10, "connect_args": {"options": options}}
    else:
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}
    return create_app(config)


def upgrade(app: Flask) -> None:
    from flask_migrate import upgrade as alembic_upgrade

    with app.app_context():
        alembic_upgrade()


#: Ids start again from 1 in every test, as after TRUNCATE ... RESTART IDENTITY.
RESTART_USED_SEQUENCES = """
DO $$ DECLARE s record; BEGIN
  FOR s IN SELECT schemaname, sequencename FROM pg_sequences
           WHERE schemaname = current_schema() AND last_value IS NOT NULL LOOP
    EXECUTE format('ALTER SEQUENCE %I.%I RESTART', s.schemaname, s.sequencename);
  END LOOP;
END $$"""


class Backend:
    """One database for the whole session, emptied before each test."""

    def __init__(self, name: str, tmp: Path):
        self.name = name
        # Unique per process: several suites may run at once on one PostgreSQL.
        worker = f'{os.environ.get("PYTEST_XDIST_WORKER", "main")}_{os.getpid()}'
        if name == "sqlite":
            self.path = tmp / "portal.db"
            self.template = tmp / "template.db"
            self.url = f"sqlite:///{self.path}"
        else:
            self.url = _pg_database_url(worker)
        self.app = make_app(self.url)
        upgrade(self.app)
        with self.app.app_context():
            _db.engine.dispose()
            if name == "sqlite":
                shutil.copy(self.path, self.template)
            else:
                self.tables = [t.name for t in _db.metadata.sorted_tables]

    def clean(self) -> None:
        with self.app.app_context():
            _db.session.remove()
            _db.engine.dispose()
            if self.name == "sqlite":
                # Restore through SQLite's backup API rather than copying the file: a connection
                # still open (say, kept alive by a failed test's traceback) then sees the clean
                # database instead of failing with "disk I/O error" on a replaced file.
                source, target = sqlite3.connect(self.template), sqlite3.connect(self.path)
                try:
                    source.backup(target)
                finally:
                    source.close()
                    target.close()
            else:
                # DELETE with triggers off (append-only tables refuse it otherwise) costs a few
                # milliseconds where TRUNCATE of every table costs a second or more per test.
                try:
                    with _db.engine.begin() as conn:
                        conn.execute(text("SET LOCAL session_replication_role = replica"))
                        conn.execute(text("; ".join(f'DELETE FROM "{t}"'  # noqa: S608
                                                    for t in reversed(self.tables))))
                        conn.execute(text(RESTART_USED_SEQUENCES))
                except DBAPIError:  # not a superuser: the slow way
                    names = ", ".join(f'"{t}"' for t in self.tables)
                    with _db.engine.begin() as conn:
                        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))

    def close(self) -> None:
        with self.app.app_context():
            _db.session.remove()
            _db.engine.dispose()
        if self.name == "postgresql":
            _drop_pg_database(self.url)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request, tmp_path_factory):
    b = Backend(request.param, tmp_path_factory.mktemp(request.param))
    yield b
    b.close()


@pytest.fixture
def app(backend):
    """The application with an empty, migrated database and an app context pushed."""
    backend.clean()
    limiter.reset()
    with backend.app.app_context():
        _cache.clear()  # the rows were deleted behind the ORM's back: nothing cached stands
    backend.app.test_client_class = PortalClient  # app.test_client() speaks forms and htmx too
    with backend.app.app_context():
        yield backend.app
        _db.session.remove()


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def fresh_app(backend):
    """Build another app on the test database with other settings (production, proxies...).

    `fresh_app(TESTING=False)`; its database connections are closed after the test.
    """
    made: list[Flask] = []

    def _make(**overrides) -> Flask:
        made.append(make_app(backend.url, **overrides))
        made[-1].test_client_class = PortalClient
        return made[-1]

    yield _make
    for other in made:
        with other.app_context():
            _db.session.remove()
            _db.engine.dispose()


# --------------------------------------------------------------------------- client


class PortalClient(FlaskClient):
    """A test client that speaks like the browser: CSRF tokens, forms and htmx requests.

    Each request runs in its own application context, as in production: its own `g` (so the
    logged-in user of one request never leaks into the next, nor into another client) and its
    own database session. The test's session does not see the request's changes until
    `db.session.expire_all()`.
    """

    def open(self, *args, **kwargs):
        if self.preserve_context:  # `with client:` keeps the contexts for inspection
            return super().open(*args, **kwargs)
        # An empty contextvars.Context has no current app context: the request pushes its own.
        return contextvars.Context().run(self._open_and_read, *args, **kwargs)

    def _open_and_read(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        if response.is_streamed:  # stream_with_context pops its context in this Context
            response.make_sequence()
        return response

    def csrf(self) -> str:
        """A valid token for this client's session: the meta tag when signed in, else a form's."""
        match = CSRF_RE.search(self.get("/privacy").get_data(as_text=True))
        if match:
            return match.group(1)
        match = CSRF_FIELD_RE.search(self.get("/password-dimenticata").get_data(as_text=True))
        assert match, "no CSRF token on the page"
        return next(group for group in match.groups() if group)

    def form(self, url: str, data: dict | None = None, htmx: bool = False, **kwargs):
        """POST a form with a valid CSRF token (as the browser, or as htmx with the header)."""
        data = dict(data or {})
        headers = dict(kwargs.pop("headers", {}))
        token = self.csrf()
        if htmx:
            headers.update({"HX-Request": "true", "X-CSRFToken": token})
        else:
            data.setdefault("csrf_token", token)
        return self.post(url, data=data, headers=headers, **kwargs)

    def htmx(self, url: str, **kwargs):
        headers = dict(kwargs.pop("headers", {}), **{"HX-Request": "true"})
        return self.get(url, headers=headers, **kwargs)


@pytest.fixture
def client(app) -> PortalClient:
    app.test_client_class = PortalClient
    return app.test_client()


# --------------------------------------------------------------------------- factories


class Factory:
    """Builders of real rows; each commits, so requests see them."""

    def __init__(self, app: Flask):
        self.app = app
        self.n = 0

    def _next(self) -> int:
        self.n += 1
        return self.n

    def comune(self, name: str | None = None, istat_code: str | None = None, **kw):
        from portal.network.services import create_comune

        n = self._next()
        comune = create_comune(name or f"Comune {n}", istat_code or f"{900000 + n}",
                               kw.pop("province", "Monza e della Brianza"),
                               kw.pop("population", 10000 + n),
                               kw.pop("joined_on", date(2015, 11, 12)))
        for key, value in kw.items():
            setattr(comune, key, value)
        _db.session.commit()
        return comune

    def association(self, comuni=(), name: str | None = None, kind: str = "family"):
        from portal.network.models import Association

        n = self._next()
        association = Association(name=name or f"Associazione {n}", slug=f"associazione-{n}",
                                  kind=kind)
        association.comuni = list(comuni)
        _db.session.add(association)
        _db.session.commit()
        return association

    def user(self, email: str | None = None, name: str | None = None, password: str = PASSWORD,
             confirmed: bool = True):
        from portal.accounts.models import User
        from portal.accounts.services import hash_password
        from portal.db_setup import utcnow

        n = self._next()
        user = User(email=(email or f"utente{n}@example.org").lower(), name=name or f"Utente {n}",
                    password_hash=hash_password(password),
                    email_confirmed_at=utcnow() if confirmed else None)
        _db.session.add(user)
        _db.session.commit()
        return user

    def household(self, user=None, comune=None, verified: bool = True, name: str | None = None,
                  members: int = 2):
        from portal.accounts.models import Household, HouseholdMember, HouseholdStatus
        from portal.db_setup import utcnow

        comune = comune or self.comune()
        household = Household(name=name or f"Famiglia {self._next()}", comune_id=comune.id)
        for i in range(members):
            household.members.append(HouseholdMember(kind="adult" if i == 0 else "child",
                                                     birth_year=1980 if i == 0 else 2015))
        if verified:
            household.status = HouseholdStatus.VERIFIED
            household.verified_at = utcnow()
        _db.session.add(household)
        _db.session.flush()
        if user is not None:
            user.household_id = household.id
        _db.session.commit()
        return household

    def grant(self, user, role, scope_id: int = 0):
        from portal.authz import ROLE_SCOPE
        from portal.network.models import RoleAssignment

        _db.session.add(RoleAssignment(user_id=user.id, role=role, scope_type=ROLE_SCOPE[role],
                                       scope_id=scope_id))
        _db.session.commit()
        return user

    def table(self, comune):
        from portal.tables.models import Table

        return _db.session.scalar(_db.select(Table).where(Table.comune_id == comune.id))


@pytest.fixture
def factory(app) -> Factory:
    return Factory(app)


def login(client: PortalClient, email: str, password: str = PASSWORD):
    """Log in through the real form (CSRF, argon2, session rotation)."""
    response = client.form("/accedi", {"email": email, "password": password})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return response


@pytest.fixture
def login_as(client, factory):
    """Log the client in as a new user holding `role` on `scope_id` (or as a plain user).

    `login_as()` -> a user with no role; `login_as("family", comune=c)` -> a user whose verified
    household lives in `c`; `login_as(Role.X, scope_id)` -> a user with that role.
    """
    from portal.authz import Role

    def _login(role=None, scope_id: int = 0, comune=None, user=None):
        user = user or factory.user()
        if role == "family":
            factory.household(user=user, comune=comune)
        elif role is not None:
            factory.grant(user, Role(role), scope_id)
        login(client, user.email)
        return user

    return _login


def outbox(to: str | None = None):
    """Messages in the mail outbox, newest last."""
    from portal.core.models import OutboxMessage

    query = _db.select(OutboxMessage).order_by(OutboxMessage.id)
    if to:
        query = query.where(OutboxMessage.to == to.lower())
    return list(_db.session.scalars(query))


def link_in(message, path_prefix: str) -> str:
    """The first portal link in a mail body starting with `path_prefix`, as a local path."""
    match = re.search(r"https?://[^/\s]+(" + re.escape(path_prefix) + r"[^\s]*)", message.body)
    assert match, f"no link {path_prefix} in: {message.body}"
    return match.group(1)


def page_text(response) -> str:
    """The visible text of an HTML response: tags dropped, entities decoded, spaces folded."""
    from html import unescape

    body = response.get_data(as_text=True)
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S | re.I)
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())
    return re.sub(r" ([:.,;!?])", r"\1", text)  # "<a>Nome</a>: ..." reads "Nome: ..."
