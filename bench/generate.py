"""Fill a fresh database at scale: real migrations, then every bench module's generate().

    python -m bench.generate [--db sqlite|postgresql | --url URL] [--small]
                             [--scale households=100000 ...] [--seed 2026] [--only foundation,...]
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pickle
import pkgutil
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

from sqlalchemy import create_engine, event, make_url, text

import bench.modules
from bench.context import Context

log = logging.getLogger("bench")


def say(message: str, *args) -> None:
    """Progress on stdout (alembic reconfigures logging during the migrations)."""
    print(message % args if args else message, flush=True)

REPO = Path(__file__).resolve().parent.parent
INSTANCE = REPO / "instance"
DEFAULT_URLS = {
    "sqlite": f"sqlite:///{INSTANCE / 'bench.db'}",
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/rete_bench",
}
#: the world's "now" is fixed, so that two runs with the same seed give the same database
WORLD_NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BENCH_SECRET = "bench-only-secret-key"  # noqa: S105 - never used outside the benchmark


def database_url(args: argparse.Namespace) -> str:
    return args.url or os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URLS[args.db]


def state_path(url: str) -> Path:
    """Where the ids shared by modules are kept between generate and run."""
    u = make_url(url)
    name = Path(u.database or "bench").stem if u.get_backend_name() == "sqlite" else u.database
    return INSTANCE / f"bench-{u.get_backend_name()}-{name}.pickle"


def load_modules(only: set[str] | None = None) -> list[ModuleType]:
    """Every bench module, in ORDER."""
    found = []
    for info in pkgutil.iter_modules(bench.modules.__path__):
        if only and info.name not in only:
            continue
        module = importlib.import_module(f"bench.modules.{info.name}")
        if not all(hasattr(module, a) for a in ("ORDER", "generate", "targets")):
            say("bench module %s lacks ORDER/generate/targets: skipped", info.name)
            continue
        found.append(module)
    return sorted(found, key=lambda m: (m.ORDER, m.__name__))


def scale_for(modules: list[ModuleType], small: bool, overrides: list[str]) -> dict[str, int]:
    scale: dict[str, int] = {}
    for module in modules:
        scale.update(getattr(module, "SCALE", {}))
    if small:
        for module in modules:
            scale.update(getattr(module, "SMALL_SCALE", {}))
    for item in overrides:
        key, _, value = item.partition("=")
        if not value:
            raise SystemExit(f"--scale expects key=value, got {item!r}")
        scale[key.strip()] = int(value.replace("_", ""))
    return scale


def recreate_database(url: str) -> None:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        path = Path(u.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{u.database}"'))
    admin.dispose()


def bench_app(url: str, secret: str = BENCH_SECRET, **config):
    """The portal configured for `url` (its engine options depend on DATABASE_URL)."""
    from portal import create_app

    os.environ["DATABASE_URL"] = url
    os.environ["SECRET_KEY"] = secret
    os.environ["PORTAL_INSECURE_COOKIES"] = "1"
    os.environ.setdefault("BASE_URL", "http://127.0.0.1")  # gunicorn serves 127.0.0.1
    os.environ.pop("FLASK_DEBUG", None)
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secret, **config})


def migrate(url: str) -> str:
    """Create the schema with the real migrations; return a hash of the demo password."""
    from flask_migrate import upgrade

    from portal.accounts.services import hash_password
    from portal.seed import DEMO_PASSWORD

    app = bench_app(url, TESTING=True)  # testing: alembic leaves logging alone
    with app.app_context():
        upgrade()
        password_hash = hash_password(DEMO_PASSWORD)
        from portal.extensions import db

        db.engine.dispose()
    return password_hash


def migrations_head() -> str:
    """The newest revision of the portal's migrations."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(REPO / "migrations")).get_current_head() or ""


def is_current(url: str, modules: list[ModuleType], scale: dict[str, int]) -> bool:
    """Whether `url` holds a database generated with these modules and sizes, at the
    migrations' newest revision."""
    path = state_path(url)
    if not path.exists():
        return False
    with path.open("rb") as fh:
        state = pickle.load(fh)  # noqa: S301 - our own file
    if state["modules"] != [m.__name__ for m in modules] or state["scale"] != scale:
        return False
    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1 FROM comuni LIMIT 1"))
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        engine.dispose()
    except Exception:  # noqa: BLE001 - any failure means: generate again
        return False
    return revision == migrations_head()


def _fast_sqlite(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=OFF")  # a throw-away database: speed over durability
    cursor.execute("PRAGMA cache_size=-200000")
    cursor.close()


def move_sequences(conn) -> None:
    """PostgreSQL: move every id sequence past the ids the modules gave explicitly."""
    if conn.dialect.name != "postgresql":
        return  # SQLite's INTEGER PRIMARY KEY continues from max(id) by itself
    rows = conn.execute(text(
        "SELECT c.table_name FROM information_schema.columns c "
        "WHERE c.table_schema = current_schema() AND c.column_name = 'id' "
        "AND c.column_default LIKE 'nextval%'")).scalars().all()
    for table in rows:
        conn.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"))


def finish(engine, dialect: str) -> None:
    """Move sequences past the explicit ids, then refresh the planner's statistics."""
    with engine.begin() as conn:
        move_sequences(conn)
    if dialect == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=sorted(DEFAULT_URLS), default="sqlite")
    parser.add_argument("--url", help="database URL (default: instance/bench.db or rete_bench)")
    parser.add_argument("--small", action="store_true", help="small sizes for a quick run")
    parser.add_argument("--scale", action="append", default=[], metavar="KEY=N",
                        help="override a size, e.g. households=20000 (repeatable)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--only", help="comma-separated module names (foundation is implied)")
    parser.add_argument("--if-missing", action="store_true",
                        help="do nothing if this database was generated with the same modules "
                             "and sizes")
    args = parser.parse_args(argv)

    url = database_url(args)
    only = {"foundation", *args.only.split(",")} if args.only else None
    modules = load_modules(only)
    scale = scale_for(modules, args.small, args.scale)
    say("database %s; modules %s", make_url(url).render_as_string(hide_password=True),
             ", ".join(m.__name__.rsplit(".", 1)[-1] for m in modules))
    say("scale %s", ", ".join(f"{k}={v:,}" for k, v in sorted(scale.items())))

    if args.if_missing and is_current(url, modules, scale):
        say("already generated with these modules and sizes (drop --if-missing to redo)")
        return 0
    started = time.perf_counter()
    recreate_database(url)
    password_hash = migrate(url)
    say("%-14s %6.1f s", "migrations", time.perf_counter() - started)

    engine = create_engine(url)
    dialect = engine.dialect.name
    if dialect == "sqlite":
        event.listen(engine, "connect", _fast_sqlite)
    ctx = Context(conn=None, url=url, dialect=dialect, scale=scale,  # type: ignore[arg-type]
                  rng=random.Random(args.seed), now=WORLD_NOW, password_hash=password_hash)
    for module in modules:
        name = module.__name__.rsplit(".", 1)[-1]
        t0 = time.perf_counter()
        with engine.begin() as conn:
            ctx.conn = conn
            module.generate(ctx)
        say("%-14s %6.1f s", name, time.perf_counter() - t0)
    t0 = time.perf_counter()
    finish(engine, dialect)
    say("%-14s %6.1f s", "analyze", time.perf_counter() - t0)
    engine.dispose()

    state = {"url": url, "scale": scale, "seed": args.seed, "now": WORLD_NOW, "ids": ctx.ids,
             "modules": [m.__name__ for m in modules]}
    path = state_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)
    say("done in %.1f s; shared ids in %s", time.perf_counter() - started,
             path.relative_to(REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
