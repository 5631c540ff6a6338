"""Load every bench target against gunicorn and compare it with the floor.

    python -m bench.run [--db sqlite|postgresql | --url URL] [--duration 10] [--warmup 2]
                        [--connections 16] [--only comune,home] [--port 5301]

Starts gunicorn (2 sync workers, 127.0.0.1) on the generated database and on bench/floor.py,
signs the targets' households in through the login form, loads each target with wrk, prints a
table and writes bench/results/<timestamp>-<db>.json|md.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path

from sqlalchemy import create_engine, event, make_url

from bench.context import Context, Target
from bench.generate import DEFAULT_URLS, REPO, bench_app, load_modules, state_path

RESULTS = Path(__file__).resolve().parent / "results"
USER_AGENT = "rete-bench/1.0"
GUNICORN = REPO / ".venv" / "bin" / "gunicorn"
#: issue 24: no page over this much HTML (flagged in the table)
MAX_PAGE_BYTES = 100 * 1024


@dataclass
class Measure:
    name: str
    path: str
    method: str = "GET"
    module: str = ""
    requests: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    max: float = 0.0
    #: server CPU (gunicorn master + workers) per request, in ms: steadier than req/s when
    #: other work shares the machine
    cpu_ms: float | None = None
    #: CPU of every PostgreSQL process of the machine per request, in ms (PostgreSQL only)
    db_cpu_ms: float | None = None
    #: share of the machine's CPU left idle or waiting for the disk during the load: work
    #: that waits (a commit's flush, a lock) rather than computes
    idle: float | None = None
    errors: int = 0  # non-2xx/3xx answers
    socket_errors: int = 0
    status: int | None = None  # status of a single request sent before the load
    size: int | None = None  # its body size in bytes
    queries: int | None = None  # SQL statements it ran (in-process, GET only)
    ratio: float | None = None
    #: the floor this page is compared with (req/s)
    floor_rps: float | None = None
    min_ratio: float = 0.25
    max_p95_ms: float | None = 25.0
    max_p99_ms: float | None = None
    verdict: str = ""
    #: whether the portal kept whole anonymous pages (PAGE_CACHE_SECONDS), "on" or "off";
    #: "n/a" for POSTs and signed-in pages (measured once: no cache serves them)
    page_cache: str = "on"
    #: sent with a signed-in household's session cookie (never served from the page cache)
    signed_in: bool = False
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- the machine


def _ticks(fields: list[str]) -> int:
    return int(fields[11]) + int(fields[12])  # utime, stime (after the command's name)


def database_cpu_ticks() -> dict[int, int]:
    """CPU ticks used so far by each of the machine's PostgreSQL processes (backends, WAL
    writer, checkpointer...): the server is shared by the portal only during a run."""
    ticks = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, _, rest = text.partition("(")[2].rpartition(")")
        if name == "postgres":
            ticks[int(stat.parent.name)] = _ticks(rest.split())
    return ticks


def database_cpu_since(before: dict[int, int]) -> float:
    """CPU seconds PostgreSQL's processes used since `before`: a process that ended in between
    is left out (its ticks are gone), one that started is counted whole."""
    now = database_cpu_ticks()
    return sum(t - before.get(pid, 0) for pid, t in now.items()) / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """(idle + I/O wait, all) CPU ticks of the machine so far (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return fields[3] + fields[4], sum(fields)


# --------------------------------------------------------------------------- servers


def free_port(preferred: int) -> int:
    for port in range(preferred, 5400):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit("no free port in 5301-5399")


class Server:
    """A gunicorn with 2 sync workers on 127.0.0.1; stopped on exit."""

    def __init__(self, app: str, port: int, env: dict[str, str], workers: int, log: Path):
        self.port = port
        self.log = log
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argument list
            [str(GUNICORN), "--workers", str(workers), "--worker-class", "sync",
             "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
             "--error-logfile", str(log), "--timeout", "30", "--no-control-socket", app],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until a worker answers HTTP (the socket listens before the app is loaded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited; see {self.log}")
            try:
                urllib.request.urlopen(f"{self.base}/", timeout=5).close()  # noqa: S310
                return
            except urllib.error.HTTPError:
                return  # any HTTP answer means a worker is up
            except OSError:
                time.sleep(0.3)
        raise SystemExit(f"gunicorn on port {self.port} did not answer; see {self.log}")

    def cpu_seconds(self) -> float:
        """CPU time used so far by the master and its workers (user + system)."""
        pids = {self.proc.pid}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:
                pids.add(int(stat.parent.name))
        total = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += _ticks(fields)
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


# --------------------------------------------------------------------------- requests


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: str | None


def expand(target: Target, sessions: dict[int, tuple[str, str]], cookie_name: str,
           logins: dict[tuple[str, str], str] | None = None) -> list[Request]:
    """The concrete requests of a target, in rotation order.

    `logins` maps a target's (email, password) to the Cookie header its sign-in got."""
    variants = target.variants or [(target.path, target.body)]
    users = target.as_users or []
    out = []
    for i, (path, body) in enumerate(variants):
        headers = {"User-Agent": USER_AGENT, **(target.headers or {})}
        if target.login:
            headers["Cookie"] = (logins or {})[target.login]
        if users:
            cookie, csrf = sessions[users[i % len(users)]]
            headers["Cookie"] = f"{cookie_name}={cookie}"
            headers["X-CSRFToken"] = csrf
            if body is not None:
                body = body.replace("{csrf}", csrf)
        if body is not None and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        out.append(Request(target.method.upper(), path, headers, body))
    # When users outnumber variants, rotate through every user too.
    if users and len(users) > len(variants):
        base = out[0]
        path, body = variants[0]
        for uid in users[1:]:
            cookie, csrf = sessions[uid]
            headers = {**base.headers, "Cookie": f"{cookie_name}={cookie}", "X-CSRFToken": csrf}
            out.append(Request(base.method, path, headers,
                               body.replace("{csrf}", csrf) if body is not None else None))
    return out


#: send(method, path, headers, body) -> (status, Set-Cookie headers, body text)
Send = Callable[[str, str, dict[str, str], str | None], tuple[int, list[str], str]]


class _CsrfField(HTMLParser):
    """The value of a form's hidden csrf_token field."""

    def __init__(self) -> None:
        super().__init__()
        self.value: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        fields = dict(attrs)
        if tag == "input" and fields.get("name") == "csrf_token" and self.value is None:
            self.value = fields.get("value")


def _keep_cookies(jar: dict[str, str], set_cookies: list[str]) -> None:
    for header in set_cookies:
        parsed = SimpleCookie()
        parsed.load(header)
        for name, morsel in parsed.items():
            if morsel.value and morsel["max-age"] != "0":
                jar[name] = morsel.value
            else:
                jar.pop(name, None)  # deleted


def sign_in(send: Send, email: str, password: str) -> str:
    """Sign in through the login form as a visitor would; return the Cookie header to send.

    GET /accedi (the session cookie and its form's CSRF token), POST the credentials with
    them, keep the cookies the answer sets, then check that /account opens."""
    jar: dict[str, str] = {}
    plain = {"User-Agent": USER_AGENT}
    status, cookies, html = send("GET", "/accedi", plain, None)
    if status != 200:
        raise SystemExit(f"GET /accedi answered {status}")
    _keep_cookies(jar, cookies)
    field_ = _CsrfField()
    field_.feed(html)
    if not field_.value:
        raise SystemExit("the login form has no csrf_token field")
    body = urllib.parse.urlencode({"csrf_token": field_.value, "email": email,
                                   "password": password})
    status, cookies, _html = send("POST", "/accedi", {
        **plain, "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items()),
        "Content-Type": "application/x-www-form-urlencoded"}, body)
    if status not in (302, 303):
        raise SystemExit(f"signing in as {email} answered {status} (regenerate the database?)")
    _keep_cookies(jar, cookies)
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    status, _cookies, _html = send("GET", "/account", {**plain, "Cookie": cookie}, None)
    if status != 200:
        raise SystemExit(f"signed in as {email}, /account still answered {status}")
    return cookie


def http_send(base: str) -> Send:
    """A `Send` over HTTP that does not follow redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)

    def send(method: str, path: str, headers: dict[str, str], body: str | None
             ) -> tuple[int, list[str], str]:
        req = urllib.request.Request(base + path, method=method, headers=headers,  # noqa: S310
                                     data=body.encode() if body is not None else None)
        try:
            resp = opener.open(req, timeout=30)
        except urllib.error.HTTPError as exc:
            resp = exc
        with resp:
            return (resp.status, resp.headers.get_all("Set-Cookie") or [],
                    resp.read().decode("utf-8", "replace"))

    return send


def client_send(client) -> Send:
    """A `Send` through a Flask test client (made with use_cookies=False)."""
    base = client.application.config["BASE_URL"]

    def send(method: str, path: str, headers: dict[str, str], body: str | None
             ) -> tuple[int, list[str], str]:
        response = client.open(path, method=method, headers=headers, data=body, base_url=base)
        return (response.status_code, response.headers.getlist("Set-Cookie"),
                response.get_data(as_text=True))

    return send


def mint_sessions(app, user_ids: set[int]) -> dict[int, tuple[str, str]]:
    """Log many users in without HTTP, with the login view's own calls (a login session row,
    Flask-Login's login_user, the signed session cookie, a CSRF token)."""
    from flask import g, session
    from flask_login import login_user
    from flask_wtf.csrf import generate_csrf

    from portal.accounts.models import User
    from portal.accounts.services import start_session
    from portal.extensions import db

    out: dict[int, tuple[str, str]] = {}
    serializer = app.session_interface.get_signing_serializer(app)
    with app.app_context():
        for uid in sorted(user_ids):
            with app.test_request_context("/", base_url=app.config["BASE_URL"],
                                          environ_base={"REMOTE_ADDR": "127.0.0.1"},
                                          headers={"User-Agent": USER_AGENT}):
                user = db.session.get(User, uid)
                if user is None:
                    raise SystemExit(f"bench target logs in as user {uid}, who does not exist")
                start_session(user)
                login_user(user)
                g.pop("csrf_token", None)  # the app context (and g) is shared by the loop
                csrf = generate_csrf()
                out[uid] = (serializer.dumps(dict(session)), csrf)
        db.session.commit()
        db.engine.dispose()
    return out


def lua_string(value: str) -> str:
    out = []
    for byte in value.encode("utf-8"):
        ch = chr(byte)
        if byte < 128 and (ch.isalnum() or ch in " /?=&.,:;-_%+*()[]{}<>!@#$^|~'"):
            out.append(ch)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def lua_script(requests: list[Request], threads: int, start: list[int] | None = None) -> str:
    """A wrk script rotating the requests and printing its figures as JSON.

    Thread t sends requests t, t + threads, t + 2 * threads...; `start` resumes each thread
    where a previous run (the warm-up) stopped, so that a rotation of state-changing requests
    (vote, then withdraw) is not restarted in the middle.
    """
    items = []
    for r in requests:
        headers = ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in r.headers.items())
        body = lua_string(r.body) if r.body is not None else "nil"
        items.append(f"  {{{lua_string(r.method)}, {lua_string(r.path)}, {{{headers}}}, {body}}},")
    return "\n".join([
        "local specs = {", *items, "}",
        f"local nthreads = {threads}",
        f"local starts = {{{', '.join(str(x) for x in (start or range(threads)))}}}",
        "local counter, threads = 0, {}",
        "function setup(thread)",
        "  counter = counter + 1; thread:set('pos', starts[counter] or (counter - 1))",
        "  threads[counter] = thread",
        "end",
        "local reqs, n = {}, 0",
        "i = 0",
        "function init(args)",
        "  for k, s in ipairs(specs) do reqs[k] = wrk.format(s[1], s[2], s[3], s[4]) end",
        "  n = #reqs; i = pos or 0",
        "end",
        "function request()",
        "  local r = reqs[(i % n) + 1]; i = i + nthreads; return r",
        "end",
        "function done(summary, latency, requests)",
        "  local e, at = summary.errors, {}",
        "  for k, t in ipairs(threads) do at[k] = tostring(t:get('i')) end",
        "  io.write(string.format('BENCHJSON {\"requests\": %d, \"duration_us\": %d, "
        "\"status\": %d, \"connect\": %d, \"read\": %d, \"write\": %d, \"timeout\": %d, "
        "\"p50\": %d, \"p95\": %d, \"p99\": %d, \"max\": %d, \"positions\": [%s]}\\n', "
        "summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout, "
        "latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, "
        "table.concat(at, ', ')))",
        "end",
    ]) + "\n"


def wrk(base: str, requests: list[Request], seconds: float, connections: int, threads: int,
        workdir: Path, start: list[int] | None = None) -> dict:
    script = workdir / f"t{random.randrange(1 << 30)}.lua"
    script.write_text(lua_script(requests, threads, start), encoding="utf-8")
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
           "--timeout", "5s", "-s", str(script), base]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60,  # noqa: S603
                          check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCHJSON ")), None)
    if line is None:
        raise SystemExit(f"wrk failed: {done.stdout}\n{done.stderr}")
    return json.loads(line.removeprefix("BENCHJSON "))


def probe(base: str, r: Request) -> tuple[int | None, int | None]:
    """Send one request (no redirect following); return its status and body size."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(base + r.path, method=r.method, headers=r.headers,  # noqa: S310
                                 data=r.body.encode() if r.body is not None else None)
    try:
        with opener.open(req, timeout=10) as resp:
            return resp.status, len(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, len(exc.read())
    except OSError:
        return None, None


def count_queries(app, paths: dict[str, Request]) -> dict[str, int]:
    """How many SQL statements each GET runs, in-process with the test client."""
    from portal.extensions import db

    counts: dict[str, int] = {}
    with app.app_context():
        engine = db.engine
    # Requests outside any app context: each gets its own, like under gunicorn.
    # (The app is made with PAGE_CACHE_SECONDS=0: the count is what a rendering runs.)
    seen = [0]

    def before(*_args, **_kwargs):
        seen[0] += 1

    event.listen(engine, "before_cursor_execute", before)
    client = app.test_client(use_cookies=False)  # like wrk: cookies only if the target logs in
    base = app.config["BASE_URL"]  # the one host the portal answers (TRUSTED_HOSTS)
    try:
        for name, r in paths.items():
            client.get(r.path, headers=r.headers, base_url=base)  # the first warms caches
            seen[0] = 0
            status = client.get(r.path, headers=r.headers, base_url=base).status_code
            counts[name] = seen[0]
            if status >= 400:
                print(f"  ! in-process, {r.path} answered {status}", flush=True)
    finally:
        event.remove(engine, "before_cursor_execute", before)
        engine.dispose()
    return counts


# --------------------------------------------------------------------------- report


def verdict(m: Measure) -> str:
    if m.requests == 0:
        return "FAIL"
    ok = (m.errors + m.socket_errors == 0 and (m.ratio or 0) >= m.min_ratio
          and (m.max_p95_ms is None or m.p95 < m.max_p95_ms)
          and (m.max_p99_ms is None or m.p99 < m.max_p99_ms))
    return "PASS" if ok else "FAIL"


def bar_text(m: Measure) -> str:
    """The target's bar: minimum ratio, then the latency limits it has ("25% p95<25")."""
    if m.module == "floor":
        return ""
    parts = [f"{m.min_ratio:.0%}"]
    if m.max_p95_ms is not None:
        parts.append(f"p95<{m.max_p95_ms:.0f}")
    if m.max_p99_ms is not None:
        parts.append(f"p99<{m.max_p99_ms:.0f}")
    return " ".join(parts)


def size_text(m: Measure) -> str:
    """The answer's size in KB, with "!" over issue 24's 100 KB."""
    if m.size is None:
        return ""
    return f"{m.size / 1024:.0f}{'!' if m.size > MAX_PAGE_BYTES else ''}"


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def table(rows: list[Measure], floor_rps: float) -> str:
    head = (f"{'page':<46} {'req/s':>8} {'p50':>7} {'p95':>7} {'p99':>7} {'floor':>6} "
            f"{'ratio':>6} {'bar':>16} {'err':>5} {'KB':>5} {'SQL':>4} {'cpu ms':>6} "
            f"{'db ms':>5} {'idle':>4}  result")
    lines = [head, "-" * len(head)]
    for m in rows:
        ratio = f"{m.ratio:.0%}" if m.ratio is not None else ""
        sql = "" if m.queries is None else str(m.queries)
        lines.append(f"{m.name[:46]:<46} {m.rps:>8.0f} {m.p50:>7.1f} {m.p95:>7.1f} {m.p99:>7.1f} "
                     f"{m.floor_rps or 0:>6.0f} {ratio:>6} {bar_text(m):>16} "
                     f"{m.errors + m.socket_errors:>5} {size_text(m):>5} {sql:>4} "
                     f"{m.cpu_ms or 0:>6.2f} {_ms(m.db_cpu_ms):>5} {_share(m.idle):>4}  "
                     f"{m.verdict}")
    lines.append(f"floor: {floor_rps:.0f} req/s (mean of the runs before and after; with "
                 "--floor-each each page has its own); latencies in ms; bar = minimum ratio "
                 "and maximum p95/p99; KB = the page's size (! over 100 KB); SQL = statements "
                 "a rendering runs; cpu ms = server CPU per request; db ms = PostgreSQL's CPU "
                 "per request; idle = the machine's CPU idle or waiting for the disk")
    return "\n".join(lines)


def markdown(meta: dict, rows: list[Measure]) -> str:
    out = [f"# Benchmark {meta['started']} on {meta['db']}", "",
           f"- database: `{meta['url']}`; scale: {meta['scale']}",
           f"- gunicorn {meta['workers']} sync workers; wrk {meta['threads']} threads, "
           f"{meta['connections']} connections, {meta['duration']} s per page after "
           f"{meta['warmup']} s warm-up; git {meta['git']}; load average before "
           f"{meta['loadavg']}; page cache: {meta.get('page_cache', 'on')} (rows named "
           "\"(no page cache)\" ran with PAGE_CACHE_SECONDS=0; \"signed in\" rows carry a "
           "household's session cookie and are rendered for every request); Redis: "
           f"{meta.get('redis') or 'none'}", "",
           "| page | path | req/s | p50 ms | p95 ms | p99 ms | floor req/s | ratio | bar | errors "
           "| KB | SQL | server CPU ms/req | PostgreSQL CPU ms/req | idle | result |",
           "|" + " --- | --- |" + " ---: |" * 6 + " --- | ---: | ---: | ---: | ---: | ---: "
           "| ---: | --- |"]
    for m in rows:
        out.append(f"| {m.name} | `{m.method} {m.path}` | {m.rps:.0f} | {m.p50:.1f} | "
                   f"{m.p95:.1f} | {m.p99:.1f} | {m.floor_rps or 0:.0f} | "
                   f"{'' if m.ratio is None else f'{m.ratio:.0%}'} | {bar_text(m)} | "
                   f"{m.errors + m.socket_errors} | {size_text(m)} | "
                   f"{'' if m.queries is None else m.queries} | "
                   f"{m.cpu_ms or 0:.2f} | {_ms(m.db_cpu_ms)} | {_share(m.idle)} | "
                   f"{m.verdict} |")
    notes = [f"- {m.name}: {n}" for m in rows for n in m.notes]
    return "\n".join(out + ([""] + notes if notes else [])) + "\n"


# --------------------------------------------------------------------------- main


def git_head() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,  # noqa: S607
                              capture_output=True, check=False, timeout=10).stdout.strip()
    except OSError:
        return "?"


def redis_for(choice: str) -> str:
    """The Redis the portal gets: `--redis` URL, none ('off'), or the local one if it answers."""
    if choice == "off":
        return ""
    url = "redis://127.0.0.1:6379/14" if choice == "auto" else choice
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.ping()
        client.close()
    except Exception as exc:  # noqa: BLE001 - any failure means: no Redis
        if choice != "auto":
            raise SystemExit(f"no Redis at {url}: {exc}") from exc
        return ""
    return url


def forget_redis(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"{prefix}:*", count=1000):
        client.delete(key)
    client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=sorted(DEFAULT_URLS), default="sqlite")
    parser.add_argument("--url", help="database URL (default: the generator's)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per page")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per page")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--port", type=int, default=5301, help="first port tried (5301-5399)")
    parser.add_argument("--only", help="comma-separated substrings of page or module names")
    parser.add_argument("--no-queries", action="store_true", help="skip the SQL count")
    parser.add_argument("--floor-each", action="store_true",
                        help="measure the floor again right before each page and compare the "
                             "page with that one (steadier ratios on a busy machine)")
    parser.add_argument("--redis", default="auto",
                        help="REDIS_URL for the portal: a URL, 'off', or 'auto' (default: "
                             "redis://127.0.0.1:6379/14 when it answers, as deployed)")
    parser.add_argument("--page-cache", choices=("on", "off", "both"), default="both",
                        help="measure anonymous GET pages with the page cache as deployed "
                             "(on: PAGE_CACHE_SECONDS from the environment or the portal's "
                             "default), without it (off: PAGE_CACHE_SECONDS=0, the cost of "
                             "rendering), or both (default); the exit status follows the "
                             "deployed setting when both are measured")
    args = parser.parse_args(argv)

    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    url = args.url or os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URLS[args.db]
    state_file = state_path(url)
    if not state_file.exists():
        raise SystemExit(f"no generated database for {url}: run python -m bench.generate "
                         f"--db {args.db} first")
    with state_file.open("rb") as fh:
        state = pickle.load(fh)  # noqa: S301 - our own file
    dialect = make_url(url).get_backend_name()
    postgresql = dialect == "postgresql"
    secret = secrets.token_hex(32)
    # In-process (the voters' sessions, the SQL count): what a rendering does, no page cache.
    app = bench_app(url, secret, PAGE_CACHE_SECONDS=0)

    # ---- the targets of every module
    engine = create_engine(url)
    wanted = [w.strip().lower() for w in args.only.split(",")] if args.only else None
    planned: list[tuple[str, Target]] = []
    with engine.connect() as conn:
        ctx = Context(conn=conn, url=url, dialect=dialect, scale=state["scale"],
                      rng=random.Random(state["seed"]), ids=state["ids"], now=state["now"])
        for module in load_modules():
            if module.__name__ not in state["modules"]:
                print(f"skipping {module.__name__}: not in the generated database "
                      "(generate again)")
                continue
            short = module.__name__.rsplit(".", 1)[-1]
            for target in module.targets(ctx):
                if wanted and not any(w in target.name.lower() or w == short for w in wanted):
                    continue
                planned.append((short, target))
    engine.dispose()
    user_ids = {u for _, t in planned for u in (t.as_users or [])}
    sessions = mint_sessions(app, user_ids) if user_ids else {}
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    credentials = sorted({t.login for _, t in planned if t.login})

    # ---- servers
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = Path(tempfile.mkdtemp(prefix="rete-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "WERKZEUG_"))}
    env.update({"DATABASE_URL": url, "SECRET_KEY": secret, "PORTAL_INSECURE_COOKIES": "1",
                "FLASK_DEBUG": "0", "PYTHONDONTWRITEBYTECODE": "1"})
    if (REPO / "_site").is_dir():  # a copy made by bench.snapshot
        env["PYTHONPATH"] = str(REPO / "_site")
    floor_port = free_port(args.port)
    redis_url = redis_for(args.redis)
    if redis_url:
        # As deployed on several workers: pages and rate limits shared through Redis, under a
        # prefix of this run's own (removed at the end).
        env.update(REDIS_URL=redis_url, REDIS_PREFIX=f"rete-bench-{stamp}-{os.getpid()}")
    # "on": the page cache as deployed (PAGE_CACHE_SECONDS from the environment, or the
    # portal's default); "off": every page rendered for every request.
    cached_env = dict(env)
    uncached_env = dict(env, PAGE_CACHE_SECONDS="0")
    modes = ["on", "off"] if args.page_cache == "both" else [args.page_cache]
    servers = [Server("bench.floor:app", floor_port, env, args.workers, workdir / "floor.log")]
    portals: dict[str, Server] = {}
    for mode in modes:
        port = free_port(max(s.port for s in servers) + 1)
        portals[mode] = Server("wsgi:app", port, cached_env if mode == "on" else uncached_env,
                               args.workers, workdir / f"portal-cache-{mode}.log")
        servers.append(portals[mode])
    loadavg = " ".join(f"{x:.2f}" for x in os.getloadavg())
    rows: list[Measure] = []
    try:
        for server in servers:
            server.wait_ready()
        floor = servers[0]
        # Signed in through the login form of the first portal; the login session lives in
        # the database, so the cookie is good on every portal of the run.
        logins = {c: sign_in(http_send(portals[modes[0]].base), *c) for c in credentials}
        expanded = [(short, t, expand(t, sessions, cookie_name, logins)) for short, t in planned]
        queries: dict[str, int] = {}
        if not args.no_queries:
            queries = count_queries(app, {t.name: reqs[0] for _, t, reqs in expanded
                                          if t.method.upper() == "GET"})

        def measure(name: str, module: str, reqs: list[Request], server: Server,
                    target: Target | None) -> Measure:
            base = server.base
            m = Measure(name=name, path=reqs[0].path, method=reqs[0].method, module=module)
            if target is not None:
                m.min_ratio, m.max_p95_ms = target.min_ratio, target.max_p95_ms
                m.max_p99_ms, m.signed_in = target.max_p99_ms, target.signed_in
                m.queries = queries.get(target.name)
                if m.method == "GET":
                    m.status, m.size = probe(base, reqs[0])
                    if m.status is None or m.status >= 400:
                        m.notes.append(f"{m.method} {m.path} answered {m.status}")
                    elif target.signed_in and m.status != 200:
                        m.notes.append(f"{m.method} {m.path} answered {m.status} to a signed-in "
                                       "household (sent to the login form?)")
                    if m.size is not None and m.size > MAX_PAGE_BYTES:
                        m.notes.append(f"{m.size / 1024:.0f} KB: over the 100 KB a page may "
                                       "weigh (issue 24)")
            print(f"  {name} ...", end="", flush=True)
            start = None
            if args.warmup > 0:
                warm = wrk(base, reqs, args.warmup, args.connections, args.threads, workdir)
                start = warm.get("positions") or None
            cpu0, db0, (idle0, all0) = server.cpu_seconds(), database_cpu_ticks(), machine_ticks()
            r = wrk(base, reqs, args.duration, args.connections, args.threads, workdir, start)
            idle1, all1 = machine_ticks()
            m.requests = r["requests"]
            if m.requests:
                m.cpu_ms = (server.cpu_seconds() - cpu0) / m.requests * 1000
                if postgresql:
                    m.db_cpu_ms = database_cpu_since(db0) / m.requests * 1000
            if all1 > all0:
                m.idle = (idle1 - idle0) / (all1 - all0)
            m.seconds = r["duration_us"] / 1e6
            m.rps = m.requests / m.seconds if m.seconds else 0.0
            m.p50, m.p95, m.p99, m.max = (r[k] / 1000 for k in ("p50", "p95", "p99", "max"))
            m.errors = r["status"]
            m.socket_errors = r["connect"] + r["read"] + r["write"] + r["timeout"]
            if m.socket_errors:
                m.notes.append(f"socket errors: connect {r['connect']}, read {r['read']}, "
                               f"write {r['write']}, timeout {r['timeout']}")
            print(f" {m.rps:.0f} req/s, p95 {m.p95:.1f} ms, p99 {m.p99:.1f} ms", flush=True)
            return m

        floor_req = [Request("GET", "/", {"User-Agent": USER_AGENT}, None)]
        print(f"floor on :{floor.port}, portal on "
              + ", ".join(f":{s.port} (page cache {mode})" for mode, s in portals.items())
              + f"; {len(expanded)} pages, {args.duration:g} s each after {args.warmup:g} s "
              f"warm-up; Redis: {redis_url or 'none'}")
        first_floor = measure("floor (before)", "floor", floor_req, floor, None)
        for short, target, reqs in expanded:
            # A POST and a signed-in page are never cached: measured once, on the first portal
            # (as deployed when both are measured).
            once = target.method.upper() != "GET" or target.signed_in
            for mode in (modes[:1] if once else modes):
                local = None
                if args.floor_each:
                    local = wrk(floor.base, floor_req, max(1.0, args.duration / 2),
                                args.connections, args.threads, workdir)
                name = target.name if mode == "on" or once or len(modes) == 1 else (
                    f"{target.name} (no page cache)")
                m = measure(name, short, reqs, portals[mode], target)
                m.page_cache = "n/a" if once else mode
                if local is not None:
                    m.floor_rps = local["requests"] / (local["duration_us"] / 1e6)
                rows.append(m)
        last_floor = measure("floor (after)", "floor", floor_req, floor, None)
    finally:
        for server in servers:
            server.stop()
        if redis_url:
            forget_redis(redis_url, env["REDIS_PREFIX"])
    floor_rps = (first_floor.rps + last_floor.rps) / 2
    for m in rows:
        m.floor_rps = m.floor_rps or floor_rps
        m.ratio = m.rps / m.floor_rps if m.floor_rps else None
        m.verdict = verdict(m)
        if m.errors:
            m.notes.append(f"{m.errors} answers were not 2xx/3xx")
    for m in (first_floor, last_floor):
        m.floor_rps = floor_rps
        m.ratio = m.rps / floor_rps if floor_rps else None
    everything = [first_floor, *rows, last_floor]
    print()
    print(table(everything, floor_rps))
    for m in rows:
        for note in m.notes:
            print(f"  ! {m.name}: {note}")
    for server in servers:
        log = server.log
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        if "Traceback" in text or "ERROR" in text:
            kept = RESULTS / f"{stamp}-{dialect}-{server.log.name}"
            kept.write_text(text, encoding="utf-8")
            print(f"  ! server errors logged: {kept.relative_to(REPO)}")

    meta = {"started": stamp, "db": dialect,
            "url": make_url(url).render_as_string(hide_password=True),
            "scale": state["scale"], "workers": args.workers, "threads": args.threads,
            "connections": args.connections, "duration": args.duration, "warmup": args.warmup,
            "git": git_head(), "loadavg": loadavg, "cpus": os.cpu_count(),
            "floor_rps": floor_rps, "page_cache": args.page_cache, "redis": redis_url or None}
    base = RESULTS / f"{stamp}-{dialect}"
    base.with_suffix(".json").write_text(
        json.dumps({"meta": meta, "rows": [asdict(m) for m in everything]}, indent=2),
        encoding="utf-8")
    base.with_suffix(".md").write_text(markdown(meta, everything), encoding="utf-8")
    print(f"results: {base.with_suffix('.md').relative_to(REPO)} (.json)")
    shutil.rmtree(workdir, ignore_errors=True)
    judged = [m for m in rows if m.page_cache != "off" or modes == ["off"]]
    return 0 if all(m.verdict == "PASS" for m in judged) else 1


if __name__ == "__main__":
    sys.exit(main())
