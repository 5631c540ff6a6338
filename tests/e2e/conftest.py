"""End-to-end harness: the real portal under gunicorn, driven by headless Chromium, checked by axe.

Writing a test (`tests/e2e/test_<module>.py`)::

    import pytest
    from playwright.sync_api import expect

    from tests.e2e.conftest import PASSWORD, check_a11y, login, mail_link, visit

    pytestmark = pytest.mark.e2e


    def test_family_reads_a_practice(live, page):
        '''A verified family opens a good practice from the catalogue.'''
        comune = live.factory.comune("Seveso")                 # real rows, committed
        user = live.factory.user(email="anna@example.org")     # password: PASSWORD
        live.factory.household(user=user, comune=comune)      # verified by default
        login(page, "anna@example.org")
        visit(page, "/pratiche")                               # goto + axe + screenshot
        expect(page.get_by_role("heading", level=1)).to_contain_text("Buone pratiche")

Fixtures
    ``live``        The server of this test's backend (every e2e test runs on SQLite and, when
                    TEST_POSTGRESQL_URL is set, PostgreSQL), its database emptied before the test,
                    with an app context of the same database pushed in the test process:
                    ``live.url``, ``live.backend`` ("sqlite"/"postgresql"), ``live.factory`` (the
                    factories of tests/conftest.py: comune, association, user, household, grant,
                    table), ``live.db`` (Flask-SQLAlchemy; call ``live.refresh()`` before reading
                    rows the server changed), ``live.seed_demo()`` (the whole demo Rete, accounts
                    with DEMO_PASSWORD), ``live.log()`` (the server's output).
                    A server traceback during the test fails it; a failed test shows the
                    server's output (access log included).
    ``page``        A Chromium page (1280x900, it-IT, Europe/Rome) whose relative URLs go to
                    ``live``; a script error, a CSP violation or a missing stylesheet, script,
                    image or font fails the test.
    ``nojs_page``   The same with JavaScript disabled: the pages must work as plain HTML.
    ``phone_page``  A 390x844 touch viewport, as on a phone.
    ``nojs_phone_page``  The same phone with JavaScript disabled (old phones, data saving).
    ``new_page(**context_args)``  Another page in a fresh context (another user at once).

Helpers (module functions, import them)
    ``visit(page, path, status=200, a11y=True, shot=True)``  go to ``path``, check the HTTP
                    status, run axe and the layout check, take a screenshot. Returns the Response.
    ``check_layout(page)``  the page is no wider than the viewport (no sideways scrolling) and
                    no link or button of the header overlaps another element (axe sees neither).
    ``check_a11y(page)``  run axe-core (WCAG 2.1 A/AA) on the page as it is now, e.g. after an htmx
                    swap: fails on any serious or critical violation, listing them readably.
    ``screenshot(page, name, full_page=True)``  PNG in test-results/e2e/<test>/ (git-ignored).
    ``login(page, email, password=PASSWORD)`` / ``logout(page)``  through the real forms.
    ``outbox(to)`` the mail messages (rows) to ``to``; ``mail_link(to, "/conferma-email/")``
                    the path of the link in the newest mail to ``to`` that starts with the prefix.
    ``submit(page, label)``  click the submit button with that accessible name, wait for the load.
    ``tick(locator)``  tick a checkbox/radio by clicking its label (the input is styled away).

Run only these: ``make test PYTEST_ARGS="-m e2e"``; skip them: ``PYTEST_ARGS="-m 'not e2e'"``.
Without /usr/bin/chromium they are skipped (failed when CI=true).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, Response, expect
from sqlalchemy import inspect, text

from portal import caching
from portal.extensions import db as _db
from tests.conftest import (
    BACKENDS,
    PASSWORD,
    TEST_CONFIG,
    Factory,
    _drop_pg_database,
    _pg_database_url,
    link_in,
    make_app,
    upgrade,
)
from tests.conftest import outbox as _outbox

__all__ = ["PASSWORD", "DEMO_PASSWORD", "PHONE", "visit", "check_a11y", "check_layout",
           "screenshot", "login", "logout", "outbox", "mail_link", "submit", "tick"]

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
AXE_PATH = "/static/vendor/axe-core/axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = ("serious", "critical")
DEMO_PASSWORD = "demo-rete-2026"  # noqa: S105 - the documented demo password
TIMEOUT_MS = 10_000
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.hookimpl(trylast=True)  # after pytest's own reordering by fixture parameter
def pytest_collection_modifyitems(config, items):
    """Mark every test under tests/e2e as e2e, so that `-m 'not e2e'` never starts a browser;
    the HTML check, which reads the pages every other test saved, runs last."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
    last = [item for item in items if item.fspath.basename == VALID_HTML_TEST]
    items[:] = [item for item in items if item not in last] + last


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed e2e test shows what the server printed meanwhile."""
    report = yield
    server_log = getattr(item, "_e2e_server_log", None)
    if report.when == "call" and report.failed and server_log:
        server, start = server_log
        output = server.log(start).strip()
        if output:
            report.sections.append(("live server output", output[-6000:]))
    return report


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium (Playwright's own download is not available here)."""
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"],
    }


@pytest.fixture
def browser_context_args(browser_context_args, live):
    return {
        **browser_context_args,
        "base_url": live.url,
        "locale": "it-IT",
        "timezone_id": "Europe/Rome",
        "viewport": {"width": 1280, "height": 900},
    }


class _Watch:
    """Browser-side faults seen by the pages of one test: script errors, CSP violations, and
    stylesheets, scripts, images or fonts that failed to load."""

    STATIC_TYPES = {"stylesheet", "script", "image", "font"}

    def __init__(self):
        self.errors: list[str] = []

    def attach(self, page: Page) -> Page:
        page.set_default_timeout(TIMEOUT_MS)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("response", self._response)
        page.on("requestfailed", self._request_failed)
        return page

    def _console(self, message):
        if message.type != "error":
            return
        where = message.location.get("url") or ""
        # Every console error fails the test, a CSP violation by a library included. HTTP
        # statuses are checked by the tests (a 422 page is an answer, not a fault) and failed
        # static files by _response.
        if message.text.startswith("Failed to load resource"):
            return
        self.errors.append(f"console error on {where}: {message.text}")

    def _response(self, response):
        if response.request.resource_type == "document":
            _keep_html(response)
        if response.status >= 400 and response.request.resource_type in self.STATIC_TYPES:
            self.errors.append(f"{response.request.resource_type} {response.url}: "
                               f"HTTP {response.status}")

    def _request_failed(self, request):
        # ERR_ABORTED: the page moved on before the file arrived, which is no fault.
        aborted = "ERR_ABORTED" in (request.failure or "")
        if request.resource_type in self.STATIC_TYPES and not aborted:
            self.errors.append(f"{request.resource_type} {request.url}: {request.failure}")


#: Every distinct HTML page the browser received in this run (its URL, the file holding it, in
#: pytest's temporary folder of this run): tests/e2e/test_valid_html.py, run last, gives them
#: all to the Nu HTML Checker at once.
HTML_PAGES: list[tuple[str, Path]] = []
VALID_HTML_TEST = "test_valid_html.py"
#: what changes between two loads of one page (CSRF tokens) is left out when comparing pages
_VOLATILE = re.compile(r'(?:name="csrf_token"[^>]*value|name="csrf-token" content)="[^"]*"')
_html_seen: set[str] = set()


def _keep_html(response) -> None:
    """Save the HTML of a page as the server sent it (not redirects, not downloads)."""
    if 300 <= response.status < 400 or "text/html" not in response.headers.get("content-type", ""):
        return
    try:
        body = response.text()
    except PlaywrightError:  # the browser moved on and dropped the body
        return
    key = hashlib.sha256(_VOLATILE.sub("", body).encode()).hexdigest()
    if key in _html_seen or _state.get("html") is None:
        return
    _html_seen.add(key)
    path = _state["html"] / f"{len(HTML_PAGES) + 1:04d}.html"
    path.write_text(body, encoding="utf-8")
    HTML_PAGES.append((response.url, path))


@pytest.fixture
def _watch():
    watch = _Watch()
    yield watch
    if watch.errors:
        pytest.fail("The browser reported errors (CSP violation, script error, missing file):\n  "
                    + "\n  ".join(watch.errors), pytrace=False)


@pytest.fixture
def page(context, _watch) -> Page:
    """A Chromium page on the live server (relative URLs), failing the test on browser errors."""
    return _watch.attach(context.new_page())


@pytest.fixture
def new_page(browser, browser_context_args, _watch):
    """`new_page(**context_args)`: a page in a fresh browser context (a second user, a phone)."""
    contexts = []

    def _new_page(**context_args) -> Page:
        context = browser.new_context(**{**browser_context_args, **context_args})
        contexts.append(context)
        if context_args.get("java_script_enabled") is False:
            context._portal_nojs = True
        return _watch.attach(context.new_page())

    yield _new_page
    for context in contexts:
        context.close()


@pytest.fixture
def nojs_page(new_page) -> Page:
    """A page with JavaScript disabled: forms post and links navigate as plain HTML."""
    return new_page(java_script_enabled=False)


PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}


@pytest.fixture
def phone_page(new_page) -> Page:
    """A page the size of a phone (390 CSS pixels wide), with touch."""
    return new_page(**PHONE)


@pytest.fixture
def nojs_phone_page(new_page) -> Page:
    """A phone with JavaScript disabled: the menu and the pages must work as plain HTML."""
    return new_page(**PHONE, java_script_enabled=False)


# --------------------------------------------------------------------------- live server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """gunicorn serving the portal on a free port, with its own migrated database."""

    def __init__(self, backend: str, tmp: Path, log_dir: Path):
        self.backend = backend
        if backend == "sqlite":
            self.database_url = f"sqlite:///{tmp / 'e2e.db'}"
        else:
            self.database_url = _pg_database_url(f"e2e_{os.getpid()}")
        # Public pages are cached as in production, in the Redis of TEST_REDIS_URL: the writes
        # of the test process (factories, seed, cleaning) make the server's pages stale there.
        redis_url = os.environ.get("TEST_REDIS_URL", "")
        shared = {"REDIS_URL": redis_url,
                  "REDIS_PREFIX": f"e2e-{backend}-{os.getpid()}"} if redis_url else {}
        # The test process works on the same database through its own app.
        self.app = make_app(self.database_url, PAGE_CACHE_SECONDS=10, **shared)
        upgrade(self.app)
        with self.app.app_context():
            self._guards = self._guard_triggers()
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"server-{backend}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "SERVER_NAME"}}
        env.update({
            "DATABASE_URL": self.database_url,
            "SECRET_KEY": TEST_CONFIG["SECRET_KEY"],
            "FLASK_DEBUG": "0",
            "PORTAL_INSECURE_COOKIES": "1",  # plain http on 127.0.0.1
            "PREFERRED_URL_SCHEME": "http",
            "MAIL_PRINT": "0",
            "RATELIMIT_LOGIN": "1000 per minute",
            "RATELIMIT_RESET": "1000 per minute",
            "RATELIMIT_FORMS": "1000 per minute",
            "PYTHONUNBUFFERED": "1",
            "PAGE_CACHE_SECONDS": "10",
            **shared,
        })
        self.process = subprocess.Popen(  # noqa: S603 - fixed command line
            [sys.executable, "-m", "gunicorn", "--config", "python:tests.e2e.liveapp",
             "--no-control-socket",  # several servers at once: no shared control socket
             "--workers", "2", "--threads", "4",
             "--bind", f"127.0.0.1:{self.port}", "--timeout", "60", "--graceful-timeout", "2",
             "--access-logfile", "-",
             "tests.e2e.liveapp:create()"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                pytest.fail(f"the e2e server exited ({self.process.returncode}):\n{self.log()}",
                            pytrace=False)
            try:
                with urllib.request.urlopen(f"{self.url}/privacy", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"the e2e server did not answer within {timeout}s:\n{self.log()}",
                    pytrace=False)

    def log(self, start: int = 0) -> str:
        return self.log_path.read_text(errors="replace")[start:]

    def log_size(self) -> int:
        return len(self.log_path.read_text(errors="replace"))

    # ---- database

    def _guard_triggers(self) -> list[tuple[str, str]]:
        """SQLite triggers that refuse deletes (the append-only audit log): lifted to clean."""
        if self.backend != "sqlite":
            return []
        with _db.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
        return [(name, sql) for name, sql in rows if "RAISE(" in sql.upper()]

    def clean(self) -> None:
        """Empty every table but Alembic's, under the running server."""
        try:
            self._empty()
        finally:
            with self.app.app_context():
                caching.clear()

    def _empty(self) -> None:
        with self.app.app_context():
            _db.session.remove()
            tables = [t for t in inspect(_db.engine).get_table_names()
                      if t != "alembic_version" and not t.startswith("sqlite_")]
            if self.backend == "postgresql":
                names = ", ".join(f'"{t}"' for t in tables)
                with _db.engine.begin() as conn:
                    conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
                return
            with _db.engine.connect() as conn:
                # Outside a transaction, where SQLite honours it: no order to respect.
                conn.exec_driver_sql("PRAGMA foreign_keys = OFF")
                try:
                    for name, _sql in self._guards:
                        conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
                    # FTS5's own tables are emptied through their virtual table, never directly
                    shadows = {row[1] for row in conn.exec_driver_sql("PRAGMA table_list")
                               if row[2] == "shadow"}
                    for table in (t for t in tables if t not in shadows):
                        conn.exec_driver_sql(f'DELETE FROM "{table}"')  # noqa: S608 - our tables
                    for _name, sql in self._guards:
                        conn.exec_driver_sql(sql)
                    conn.commit()
                finally:
                    conn.rollback()
                    conn.exec_driver_sql("PRAGMA foreign_keys = ON")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()

    def close(self) -> None:
        self.stop()
        with self.app.app_context():
            _db.session.remove()
            _db.engine.dispose()
        if self.backend == "postgresql":
            _drop_pg_database(self.database_url)


@pytest.fixture(scope="session", params=BACKENDS)
def live_server(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"e2e-{request.param}")
    server = LiveServer(request.param, tmp, tmp)
    yield server
    server.close()


class Live:
    """What a test gets as `live`: the server's URL and its database."""

    def __init__(self, server: LiveServer):
        self.server = server
        self.url = server.url
        self.backend = server.backend
        self.app = server.app
        self.db = _db
        self.factory = Factory(server.app)

    def refresh(self) -> None:
        """Forget loaded rows and end the read transaction, to see the server's writes."""
        _db.session.rollback()
        _db.session.expire_all()

    def seed_demo(self) -> None:
        """Load the demo Rete (Comuni, accounts with DEMO_PASSWORD...) by `flask seed-demo`."""
        _db.session.remove()
        result = self.app.test_cli_runner().invoke(args=["seed-demo"])
        assert result.exit_code == 0, (
            f"flask seed-demo failed:\n{result.output}\n{result.exception!r}")
        _db.session.remove()

    def log(self) -> str:
        return self.server.log()


@pytest.fixture
def live(live_server, request):
    """The live server with an empty database, and its app context pushed in the test."""
    live_server.clean()
    start = live_server.log_size()
    request.node._e2e_server_log = (live_server, start)
    with live_server.app.app_context():
        yield Live(live_server)
        _db.session.remove()
    new_output = live_server.log(start)
    if "Traceback" in new_output:
        pytest.fail(f"the server logged an error during the test:\n{new_output[-6000:]}",
                    pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def _html_folder(tmp_path_factory):
    """Where the pages received are kept for the HTML check (one folder per pytest run)."""
    _state["html"] = tmp_path_factory.mktemp("html")


@pytest.fixture(autouse=True)
def _artifacts(request):
    """Where visit() and screenshot() put this test's screenshots: test-results/e2e/<test>/."""
    folder = ROOT / "test-results" / "e2e" / re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.nodeid
                                                     .removeprefix("tests/e2e/")).strip("-")[:150]
    shutil.rmtree(folder, ignore_errors=True)  # only this test's pictures of the last run
    _state["dir"] = folder
    _state["n"] = 0
    yield
    _state["dir"] = None


_state: dict = {"dir": None, "n": 0}


# --------------------------------------------------------------------------- helpers


def screenshot(page: Page, name: str | None = None, full_page: bool = True) -> Path | None:
    """Save a screenshot (whole page or viewport) as test-results/e2e/<test>/NN-<name>.png."""
    folder = _state["dir"]
    if folder is None:
        return None
    _state["n"] += 1
    if name is None:  # the page's path, without tokens
        path = page.url.split("//", 1)[-1].split("?", 1)[0].split("/")[1:]
        name = "-".join(part for part in path if len(part) <= 30)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name)
    path = folder / f"{_state['n']:02d}-{slug.strip('-')[:60] or 'home'}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=full_page)
    return path


def _format_violations(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:8]:
            target = " ".join(str(t) for t in node["target"])
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(f"    at {target}\n      {node['html'][:200]}\n      {summary[:300]}")
        if len(v["nodes"]) > 8:
            lines.append(f"    ... and {len(v['nodes']) - 8} more")
    return "\n".join(lines)


def _axe_source() -> str:
    if "axe" not in _state:
        _state["axe"] = (ROOT / "static" / AXE_PATH.removeprefix("/static/")).read_text()
    return _state["axe"]


_NOJS_TIMERS = """() => {
  const soon = fn => { Promise.resolve().then(fn); return 0; };
  window.setTimeout = (fn, ms, ...args) => soon(() => fn(...args));
  window.clearTimeout = () => {};
  window.requestAnimationFrame = fn => soon(() => fn(performance.now()));
}"""


#: Buttons and labels whose text has the very colour of what is behind it. axe can leave such a
#: case "incomplete" rather than a violation; two slipped through that way ("Nuova seduta" blue
#: on blue, a proposal's state white on white).
_INVISIBLE_LABELS = """() => {
  const behind = e => {
    for (let n = e; n; n = n.parentElement) {
      const bg = getComputedStyle(n).backgroundColor;
      if (bg && bg !== 'rgba(0, 0, 0, 0)' && bg !== 'transparent') return bg;
    }
    return 'rgb(255, 255, 255)';
  };
  return [...document.querySelectorAll('.btn, .badge')]
    .filter(e => e.offsetParent !== null && e.textContent.trim())
    .filter(e => getComputedStyle(e).color === behind(e))
    .map(e => e.outerHTML.slice(0, 200));
}"""


def check_a11y(page: Page, context: str | None = None) -> list[dict]:
    """Run axe-core (WCAG 2.1 A and AA) on the page now; fail on serious or critical violations,
    and on any button or label whose text has the colour of its background.

    Returns every violation found (minor and moderate included) for tests that want more.
    """
    invisible = page.evaluate(_INVISIBLE_LABELS)
    if invisible:
        pytest.fail(f"text drawn in the colour of its background on {context or page.url}:\n"
                    + "\n".join(invisible), pytrace=False)
    if page.evaluate("typeof window.axe === 'undefined'"):
        if getattr(page.context, "_portal_nojs", False):
            # Page scripts and timers do not run: evaluate the library in the page directly,
            # with timers that resolve as microtasks (axe waits on setTimeout).
            page.evaluate(_NOJS_TIMERS)
            page.evaluate(_axe_source())
        else:
            # Same origin, so the CSP (script-src 'self') lets it in.
            page.add_script_tag(url=AXE_PATH)
    results = page.evaluate(
        "tags => axe.run(document, "
        "{runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_TAGS,
    )
    violations = results["violations"]
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    if blocking:
        where = context or page.url
        pytest.fail(f"axe-core: {len(blocking)} serious/critical accessibility violation(s) on "
                    f"{where}:\n{_format_violations(blocking)}", pytrace=False)
    return violations


#: the innermost elements whose box or content reaches past the right edge of the viewport
#: (outside scrolling boxes, which hold theirs), to say in the failure what is too wide
_WIDE_ELEMENTS = r"""width => {
  // A box clips what it holds, except an absolutely placed element (a visually hidden label)
  // whose containing block is outside it: that one stretches the page from a scrolling table.
  const clipped = el => {
    const cb = getComputedStyle(el).position === 'absolute' ? el.offsetParent : null;
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (cb && up !== cb && cb.contains(up)) continue;
      if (getComputedStyle(up).overflowX !== 'visible') return true;
    }
    return false;
  };
  const right = el => {  // a scrolling box keeps its content inside
    const box = el.getBoundingClientRect();
    const scrolls = getComputedStyle(el).overflowX !== 'visible';
    return box.width > 0 ? Math.max(box.right, scrolls ? 0 : box.left + el.scrollWidth) : 0;
  };
  const reaches = el => right(el) > width + 1 && !clipped(el);
  const wide = [...document.body.querySelectorAll('*')]
    .filter(el => reaches(el) && ![...el.children].some(reaches));
  return wide.slice(0, 8).map(el => {
    const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
      + [...el.classList].map(c => '.' + c).join('');
    const text = (el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 60);
    return `${name} (to ${Math.round(right(el))}px): ${text}`;
  });
}"""

#: Links and buttons of the header drawn over something else: a menu spilling out of its bar
#: over the page's heading, two buttons on one another. Each visible header control is compared
#: with every visible element that shows something (text, a control, an icon), leaving out its
#: own ancestors and descendants.
_HEADER_OVERLAPS = r"""() => {
  const shown = el => {
    const r = el.getBoundingClientRect(), st = getComputedStyle(el);
    return r.width > 1 && r.height > 1 && st.visibility !== 'hidden' && st.opacity !== '0';
  };
  const label = el => el.tagName.toLowerCase() + ' "'
    + (el.textContent || el.getAttribute('aria-label') || '').replace(/\s+/g, ' ').trim()
      .slice(0, 40) + '"';
  const showsSomething = el => /^(A|BUTTON|INPUT|SELECT|TEXTAREA|IMG|svg|H[1-6])$/.test(el.tagName)
    || [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
  const controls = [...document.querySelectorAll('header a, header button')].filter(shown);
  const others = [...document.body.querySelectorAll('*')]
    .filter(el => showsSomething(el) && shown(el));
  const faults = [];
  for (const c of controls) {
    const a = c.getBoundingClientRect();
    for (const o of others) {
      if (o === c || o.contains(c) || c.contains(o)) continue;
      const b = o.getBoundingClientRect();
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 2 && h > 2) faults.push(`${label(c)} overlaps ${label(o)}`);
    }
  }
  return [...new Set(faults)].slice(0, 8);
}"""


def check_layout(page: Page, context: str | None = None) -> None:
    """Fail when the page scrolls sideways (wider than the viewport) or when a link or button
    of the header overlaps another element."""
    where = context or page.url
    viewport = page.evaluate("document.documentElement.clientWidth")
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > viewport:
        wide = "\n  ".join(page.evaluate(_WIDE_ELEMENTS, viewport))
        pytest.fail(f"{where} scrolls sideways: {width}px wide in a {viewport}px viewport. "
                    f"Too wide:\n  {wide}", pytrace=False)
    overlaps = page.evaluate(_HEADER_OVERLAPS)
    if overlaps:
        pytest.fail(f"the header of {where} overlaps itself or the page:\n  "
                    + "\n  ".join(overlaps), pytrace=False)


def visit(page: Page, path: str, status: int = 200, a11y: bool = True,
          shot: bool = True) -> Response:
    """Open `path` (relative to the live server), check its status, run axe, take a screenshot."""
    response = page.goto(path, wait_until="load")
    assert response is not None, f"no response for {path}"
    assert response.status == status, f"{path}: HTTP {response.status}, expected {status}"
    if a11y:
        check_a11y(page)
    if shot:  # before the layout check, so that a page found broken is there to look at
        screenshot(page)
    check_layout(page)
    return response


def submit(page: Page, label: str | re.Pattern) -> None:
    """Press the submit button named `label` and wait for the next page to load."""
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name=label, exact=isinstance(label, str)).click()


def tick(field: Locator) -> None:
    """Tick a checkbox or radio by its label, as a user does (Bootstrap Italia hides the input)."""
    field_id = field.get_attribute("id")
    assert field_id, "the field has no id, so no <label for>"
    field.page.locator(f"label[for='{field_id}']").click()
    expect(field).to_be_checked()


def login(page: Page, email: str, password: str = PASSWORD) -> None:
    """Log in through the real form and check that it worked."""
    visit(page, "/accedi", a11y=False, shot=False)
    page.locator("main form input[name=email]").fill(email)
    page.locator("main form input[name=password]").fill(password)
    with page.expect_navigation(wait_until="load"):
        page.locator("main form button[type=submit]").click()
    assert "/accedi" not in page.url, f"login as {email} failed: {page.url}"


def logout(page: Page) -> None:
    """Log out with the header button."""
    with page.expect_navigation(wait_until="load"):
        page.locator("header form[action$='/esci'] button").click()


def outbox(to: str | None = None) -> list:
    """The mail messages in the outbox (to `to`), oldest first, as the server wrote them."""
    _db.session.rollback()
    _db.session.expire_all()
    try:
        return _outbox(to)
    finally:
        _db.session.rollback()


def mail_link(to: str, path_prefix: str) -> str:
    """The path of the newest mailed link to `to` that starts with `path_prefix`."""
    messages = [m for m in outbox(to) if path_prefix in m.body]
    assert messages, f"no mail to {to} with a link {path_prefix}: {[m.subject for m in outbox(to)]}"
    return link_in(messages[-1], path_prefix)


__all__ += ["expect"]
