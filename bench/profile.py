"""Explain a page's cost in-process: CPU time, SQL statements and their time, a profile.

    python -m bench.profile [--db sqlite|postgresql | --url URL] [--only home,comune]
                            [-n 200] [--sql] [--top 25]

Uses the Flask test client without cookies (like the load generator: every request is a new
anonymous visitor unless the target signs in; a target with a `login` signs in through the
login form first) against the generated database. CPU time is the process's own
(time.process_time), the best of batches of 20 requests, so it is far less sensitive to other
work on the machine than the wall-clock figures of bench.run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pickle
import pstats
import random
import secrets
import sys
import time
from collections import Counter

from sqlalchemy import create_engine, event, make_url

from bench.context import Context
from bench.generate import DEFAULT_URLS, bench_app, load_modules, state_path
from bench.run import client_send, expand, mint_sessions, sign_in


def explain(engine, statement: str, params) -> list[str]:
    """The database's plan for one captured statement, with its parameters."""
    prefix = ("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " if engine.dialect.name == "postgresql"
              else "EXPLAIN QUERY PLAN ")
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(prefix + statement, params)
        rows = cursor.fetchall()
        raw.rollback()
    finally:
        raw.close()
    if engine.dialect.name == "postgresql":
        return [r[0] for r in rows]
    return [str(r[-1]) for r in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=sorted(DEFAULT_URLS), default="sqlite")
    parser.add_argument("--url")
    parser.add_argument("--only", help="comma-separated substrings of page or module names")
    parser.add_argument("-n", type=int, default=200, help="requests per page")
    parser.add_argument("--sql", action="store_true", help="print each page's SQL statements")
    parser.add_argument("--explain", action="store_true",
                        help="with --sql: the plan of each SELECT (PostgreSQL: EXPLAIN ANALYZE)")
    parser.add_argument("--top", type=int, default=0, help="print the N costliest functions")
    parser.add_argument("--page-cache", choices=("off", "on"), default="off",
                        help="off (default): the cost of rendering; on: of the page cache")
    args = parser.parse_args(argv)

    url = args.url or os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URLS[args.db]
    with state_path(url).open("rb") as fh:
        state = pickle.load(fh)  # noqa: S301 - our own file
    app = bench_app(url, secrets.token_hex(32),
                    **({"PAGE_CACHE_SECONDS": 0} if args.page_cache == "off" else {}))
    wanted = [w.strip().lower() for w in args.only.split(",")] if args.only else None
    engine = create_engine(url)
    planned = []
    with engine.connect() as conn:
        ctx = Context(conn=conn, url=url, dialect=make_url(url).get_backend_name(),
                      scale=state["scale"], rng=random.Random(state["seed"]), ids=state["ids"],
                      now=state["now"])
        for module in load_modules():
            if module.__name__ not in state["modules"]:
                continue
            short = module.__name__.rsplit(".", 1)[-1]
            for t in module.targets(ctx):
                if t.method.upper() != "GET":
                    continue  # a profile must not change the data
                if wanted and not any(w in t.name.lower() or w == short for w in wanted):
                    continue
                planned.append(t)
    engine.dispose()
    users = {u for t in planned for u in (t.as_users or [])}
    sessions = mint_sessions(app, users) if users else {}
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    logins = {c: sign_in(client_send(app.test_client(use_cookies=False)), *c)
              for c in sorted({t.login for t in planned if t.login})}

    from portal.extensions import db

    print(f"{'page':<34} {'status':>6} {'bytes':>7} {'cpu ms':>7} {'SQL':>4} {'SQL ms':>7} "
          f"{'cookie':>6} {'py calls':>8}")
    # No app context around the requests: each request must get its own (and its own `g`).
    with app.app_context():
        engine = db.engine
    statements: list[tuple[str, float, object]] = []
    started: dict[int, float] = {}

    def before(conn, cursor, statement, params, context, executemany):
        started[id(cursor)] = time.perf_counter()

    def after(conn, cursor, statement, params, context, executemany):
        statements.append((statement, time.perf_counter() - started.pop(id(cursor), 0), params))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    for target in planned:
        reqs = expand(target, sessions, cookie_name, logins)
        client = app.test_client(use_cookies=False)

        def get(i: int, reqs=reqs, client=client):
            r = reqs[i % len(reqs)]
            return client.get(r.path, headers=r.headers, base_url=app.config["BASE_URL"])

        for i in range(min(20, args.n)):
            get(i)
        # The same first request five times; keep the fastest (SQL time suffers from load too).
        per_request: list[tuple[str, float, object]] = []
        for _ in range(5):
            statements.clear()
            response = get(0)
            if not per_request or sum(d for _, d, _ in statements) < sum(
                    d for _, d, _ in per_request):
                per_request = list(statements)
        # The best of several batches: other work on the machine only ever adds time.
        batch, best = 20, float("inf")
        for start in range(0, max(args.n, batch), batch):
            cpu0 = time.process_time()
            for i in range(start, start + batch):
                get(i)
            best = min(best, time.process_time() - cpu0)
        cpu = best / batch * 1000
        # Python function calls per request: a deterministic measure of the work done.
        counter = cProfile.Profile()
        counter.enable()
        for i in range(batch):
            get(i)
        counter.disable()
        calls = pstats.Stats(counter).total_calls // batch
        sql_ms = sum(d for _, d, _ in per_request) * 1000
        print(f"{target.name[:34]:<34} {response.status_code:>6} {len(response.data):>7} "
              f"{cpu:>7.2f} {len(per_request):>4} {sql_ms:>7.2f} "
              f"{'yes' if 'Set-Cookie' in response.headers else 'no':>6} {calls:>8}")
        if args.sql:
            # Every variant once: the statements' mean and worst time over the variants
            # (the first request alone can hide a slow id).
            statements.clear()
            for i in range(min(args.n, len(reqs))):
                get(i)
            spread: dict[str, list[float]] = {}
            for statement, duration, _params in statements:
                spread.setdefault(statement, []).append(duration * 1000)
            runs = min(args.n, len(reqs))
            print(f"    over {runs} variants: SQL {sum(map(sum, spread.values())) / runs:.2f} ms"
                  " a request")
            for statement, times in sorted(spread.items(), key=lambda kv: -sum(kv[1])):
                print(f"    mean {sum(times) / len(times):6.2f} max {max(times):6.2f} ms "
                      f"x{len(times) / runs:.1f}  {' '.join(statement.split())[:400]}")
            print("    first variant:")
            for statement, duration, params in per_request:
                print(f"    {duration * 1000:7.2f} ms  {' '.join(statement.split())[:300]}")
                if args.explain and statement.lstrip().upper().startswith("SELECT"):
                    for line in explain(engine, statement, params):
                        print(f"                {line}")
            repeated = [s for s, c in Counter(s for s, _, _ in per_request).items() if c > 1]
            if repeated:
                print(f"    ! {len(repeated)} statements repeated (N+1?)")
        if args.top:
            profiler = cProfile.Profile()
            profiler.enable()
            for i in range(args.n):
                get(i)
            profiler.disable()
            out = io.StringIO()
            # PROFILE_SORT=cumulative: by the time spent under each function
            pstats.Stats(profiler, stream=out).sort_stats(
                os.environ.get("PROFILE_SORT", "tottime")).print_stats(args.top)
            print(out.getvalue())
    event.remove(engine, "before_cursor_execute", before)
    event.remove(engine, "after_cursor_execute", after)
    return 0


if __name__ == "__main__":
    sys.exit(main())
