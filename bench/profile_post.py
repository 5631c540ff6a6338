"""Explain a POST target in-process, on a copy of a benchmark database (it writes).

`bench.profile` only runs GETs: a profile must not change the shared benchmark databases.
This one runs the POST targets (e.g. "vote POST") against a database you copied yourself and
reports, per request: CPU ms (this process, best of batches of 20), SQL statements, database
round trips (every statement, BEGIN, COMMIT, ROLLBACK and pool check-outs, each a ping with
pool_pre_ping, from SQLAlchemy's events), Python function calls, and optionally each statement
and a cProfile.

    sqlite3 instance/bench.db ".backup /tmp/me/bench.db"
    .venv/bin/python -m bench.profile_post --url sqlite:////tmp/me/bench.db --only vote --sql
    createdb -h 127.0.0.1 -U postgres -T rete_bench me_bench
    .venv/bin/python -m bench.profile_post --db postgresql \\
        --url postgresql+psycopg://postgres@127.0.0.1:5432/me_bench --only vote --top 30

The ids come from the original database's state file (`--db`), which the copy shares.
A vote target's requests are sent in pairs (a vote, then its withdrawal): every request
writes and the copy stays valid run after run. Never point --url at the shared benchmark databases.
"""

from __future__ import annotations

import argparse
import cProfile
import io
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
from bench.run import expand, mint_sessions


def _count_round_trips(engine) -> Counter:
    """Count what the portal sends to the database, from SQLAlchemy's public events: its
    statements, the transactions' BEGIN, COMMIT and ROLLBACK, and each check-out of a
    connection from the pool (with `pool_pre_ping`, a ping of the server)."""
    trips: Counter = Counter()

    def statement(*_args, **_kwargs):
        trips["statement"] += 1

    def counter(name: str):
        def count(*_args, **_kwargs):
            trips[name] += 1
        return count

    event.listen(engine, "before_cursor_execute", statement)
    for name in ("begin", "commit", "rollback"):
        event.listen(engine, name, counter(name.upper()))
    event.listen(engine, "checkout", counter("checkout"))
    return trips


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_post", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=sorted(DEFAULT_URLS), default="sqlite",
                        help="the benchmark database whose state file (ids) the copy shares")
    parser.add_argument("--url", required=True, help="the COPY to write to")
    parser.add_argument("--only", help="comma-separated substrings of target names")
    parser.add_argument("-n", type=int, default=400, help="requests per target")
    parser.add_argument("--sql", action="store_true", help="print one request's statements")
    parser.add_argument("--top", type=int, default=0, help="print the N costliest functions")
    parser.add_argument("--sort", default="tottime", help="cProfile order (tottime, cumtime)")
    args = parser.parse_args(argv)

    original = DEFAULT_URLS[args.db]
    if make_url(args.url) == make_url(original):
        raise SystemExit("--url must be a copy: this profile writes")
    with state_path(original).open("rb") as fh:
        state = pickle.load(fh)  # noqa: S301 - our own file
    app = bench_app(args.url, secrets.token_hex(32))
    wanted = [w.strip().lower() for w in args.only.split(",")] if args.only else None
    engine = create_engine(args.url)
    planned = []
    with engine.connect() as conn:
        ctx = Context(conn=conn, url=args.url, dialect=make_url(args.url).get_backend_name(),
                      scale=state["scale"], rng=random.Random(state["seed"]), ids=state["ids"],
                      now=state["now"])
        for module in load_modules():
            if module.__name__ not in state["modules"]:
                continue
            for t in module.targets(ctx):
                if t.method.upper() == "GET":
                    continue
                if wanted and not any(w in t.name.lower() for w in wanted):
                    continue
                planned.append(t)
    engine.dispose()
    users = {u for t in planned for u in (t.as_users or [])}
    sessions = mint_sessions(app, users) if users else {}
    cookie_name = app.config["SESSION_COOKIE_NAME"]

    from portal.extensions import db

    with app.app_context():
        engine = db.engine
    trips = _count_round_trips(engine)
    statements: list[str] = []

    def after(conn, cursor, statement, params, context, executemany):
        statements.append(statement)

    event.listen(engine, "after_cursor_execute", after)
    print(f"{'target':<26} {'status':>6} {'bytes':>6} {'cpu ms':>7} {'wall ms':>7} {'SQL':>4} "
          f"{'trips':>5} {'py calls':>8}")
    for target in planned:
        reqs = expand(target, sessions, cookie_name)
        if len(reqs) % 2 == 0 and all(r.path.endswith("/voto") for r in reqs[:len(reqs) // 2]):
            # A vote cycle: each vote followed by its withdrawal, so that every request writes
            # and the copy is left as it was (a first lap clears what an interrupted run left).
            half = len(reqs) // 2
            reqs = [r for pair in zip(reqs[:half], reqs[half:], strict=True) for r in pair]
        client = app.test_client(use_cookies=False)
        position = 0
        statuses: Counter = Counter()

        def send(reqs=reqs, client=client, statuses=statuses):
            nonlocal position
            r = reqs[position % len(reqs)]
            position += 1
            response = client.open(r.path, method=r.method, headers=r.headers, data=r.body,
                                   base_url=app.config["BASE_URL"])
            statuses[response.status_code] += 1
            return response

        for _ in range(len(reqs) if len(reqs) <= 2000 else 20):
            send()
        batch, best, walls = 20, float("inf"), []
        for _ in range(max(1, args.n // batch)):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for _ in range(batch):
                send()
            best = min(best, time.process_time() - cpu0)
            walls.append((time.perf_counter() - wall0) / batch)
        statements.clear()
        trips.clear()
        counter = cProfile.Profile()
        counter.enable()
        for _ in range(batch):
            response = send()
        counter.disable()
        calls = pstats.Stats(counter).total_calls // batch
        n_sql, n_trips = len(statements) / batch, sum(trips.values()) / batch
        detail = dict(trips)
        statements.clear()
        response = send()
        one = list(statements)
        walls.sort()
        print(f"{target.name[:26]:<26} {response.status_code:>6} {len(response.data):>6} "
              f"{best / batch * 1000:>7.2f} {walls[len(walls) // 2] * 1000:>7.2f} "
              f"{n_sql:>4.1f} {n_trips:>5.1f} {calls:>8}")
        print(f"    statuses {dict(statuses)}; round trips over {batch} requests: {detail}")
        if args.sql:
            for statement in one:
                print(f"    {' '.join(statement.split())[:240]}")
        if args.top:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.n):
                send()
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
            print(out.getvalue())
    event.remove(engine, "after_cursor_execute", after)
    return 0


if __name__ == "__main__":
    sys.exit(main())
