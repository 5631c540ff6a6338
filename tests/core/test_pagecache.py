"""The micro-cache of public pages (portal/pagecache.py): fast for anonymous visitors, never
stale after a write, never shared with a signed-in visitor."""

from __future__ import annotations

import pytest

from portal.extensions import db as _db
from portal.pagecache import Generation
from tests.conftest import Factory, PortalClient, login


@pytest.fixture
def cached(app, fresh_app, tmp_path):
    """An app with the cache on (as in production), on the test database."""

    def _make(**overrides):
        config = {"PAGE_CACHE_SECONDS": 30, "PAGE_CACHE_FILE": str(tmp_path / "generation")}
        config.update(overrides)
        return fresh_app(**config)

    return _make


def _client(app) -> PortalClient:
    app.test_client_class = PortalClient
    return app.test_client()


def _write(app, name: str):
    """A write made by `app` (another request, another worker), committed."""
    with app.app_context():
        comune = Factory(app).comune(name=name)
        _db.session.remove()
        return comune


def test_an_anonymous_visitor_gets_the_stored_page_the_second_time(cached):
    app = cached()
    first = _client(app).get("/comuni")
    second = _client(app).get("/comuni")
    assert first.status_code == second.status_code == 200
    assert "Age" not in first.headers and "Age" in second.headers
    assert second.data == first.data
    # The security headers come with the stored answer too.
    assert "Content-Security-Policy" in second.headers
    assert app.extensions["page_cache"].hits == 1


def test_a_write_shows_at_once(cached):
    app = cached()
    assert "Paperopoli" not in _client(app).get("/comuni").get_data(as_text=True)
    _write(app, "Paperopoli")
    page = _client(app).get("/comuni")
    assert "Age" not in page.headers
    assert "Paperopoli" in page.get_data(as_text=True)


def test_a_write_by_another_worker_shows_at_once(cached):
    one, other = cached(), cached()
    assert "Topolinia" not in _client(one).get("/comuni").get_data(as_text=True)
    assert "Age" in _client(one).get("/comuni").headers
    _write(other, "Topolinia")
    assert "Topolinia" in _client(one).get("/comuni").get_data(as_text=True)


def test_a_page_rendered_when_the_generation_changes_already_shows_the_write(cached):
    """The generation moves only once the write is committed: a worker that sees it move and
    renders the page at that very moment reads the new rows, and never keeps an old page under
    the new generation (it would be served until the next write)."""
    one, other = cached(), cached()
    generation = other.extensions["rete_generation"]
    seen: list[bool] = []
    bump = generation.bump

    def bump_then_look():
        bump()
        seen.append("Topolinia" in _client(one).get("/comuni").get_data(as_text=True))

    generation.bump = bump_then_look
    assert "Topolinia" not in _client(one).get("/comuni").get_data(as_text=True)
    _write(other, "Topolinia")
    assert seen and all(seen)
    assert "Topolinia" in _client(one).get("/comuni").get_data(as_text=True)


def test_writes_no_public_page_shows_keep_the_pages(cached):
    from portal.core.services import send_mail

    app = cached()
    _client(app).get("/comuni")
    with app.app_context():
        send_mail("chi@example.org", "Oggetto", "Testo")
        _db.session.commit()
        _db.session.remove()
    assert "Age" in _client(app).get("/comuni").headers


def test_a_signed_in_visitor_never_gets_nor_leaves_a_stored_page(cached, factory):
    app = cached()
    anonymous = _client(app).get("/").get_data(as_text=True)
    assert "Accedi" in anonymous
    with app.app_context():
        user = Factory(app).user()
        email = user.email
        _db.session.remove()
    browser = _client(app)
    login(browser, email)
    cache = app.extensions["page_cache"]
    stored = len(cache.entries)
    page = browser.get("/")
    assert "Age" not in page.headers
    assert "La mia area" in page.get_data(as_text=True)
    assert "Accedi" not in page.get_data(as_text=True)
    assert len(cache.entries) == stored
    # ...and the next anonymous visitor does not get the signed-in page.
    assert "Accedi" in _client(app).get("/").get_data(as_text=True)


def test_pages_that_set_a_cookie_are_not_stored(cached):
    app = cached()
    for _ in range(2):
        form = _client(app).get("/aderisci")
        assert form.status_code == 200
        assert "Age" not in form.headers
        assert "rete_session=" in form.headers.get("Set-Cookie", "")


def test_language_and_htmx_requests_are_kept_apart(cached):
    app = cached()
    _client(app).get("/comuni")
    english = _client(app)
    english.set_cookie("lang", "en")
    assert '<html lang="en">' in english.get("/comuni").get_data(as_text=True)
    italian = _client(app).get("/comuni").get_data(as_text=True)
    assert '<html lang="it">' in italian
    partial = _client(app).get("/pratiche?q=asilo", headers={"HX-Request": "true"})
    full = _client(app).get("/pratiche?q=asilo")
    assert "<html" not in partial.get_data(as_text=True)
    assert "<html" in full.get_data(as_text=True)


def test_other_cookies_bypass_the_cache(cached):
    app = cached()
    _client(app).get("/comuni")
    visitor = _client(app)
    visitor.set_cookie("rete_session", "not-a-valid-session")
    assert "Age" not in visitor.get("/comuni").headers


def test_errors_and_private_pages_are_not_stored(cached):
    app = cached()
    for _ in range(2):
        missing = _client(app).get("/comuni/non-esiste")
        assert missing.status_code == 404 and "Age" not in missing.headers
        private = _client(app).get("/account")
        assert private.status_code in (302, 303) and "Age" not in private.headers


def test_stored_pages_expire(cached):
    """A page lives 80-100% of PAGE_CACHE_SECONDS: served at 3.9 s of 5, never at 5."""
    app = cached(PAGE_CACHE_SECONDS=5)
    cache = app.extensions["page_cache"]
    now = [1000.0]
    cache.clock = lambda: now[0]
    for spread in (0.0, 0.999):  # the shortest and the longest lifetime
        cache.spread = lambda spread=spread: spread
        _client(app).get("/comuni")
        now[0] += 3.9
        assert _client(app).get("/comuni").headers["Age"] == "3"
        now[0] += 1.1
        assert "Age" not in _client(app).get("/comuni").headers  # rendered again, stored


def test_pages_rendered_together_do_not_expire_together(cached):
    """Twenty pages stored at the same moment: some have expired at 90% of their time, some
    have not (a burst of renders after every write would otherwise come back every time)."""
    app = cached(PAGE_CACHE_SECONDS=10)
    cache = app.extensions["page_cache"]
    now = [1000.0]
    cache.clock = lambda: now[0]
    spreads = iter([i / 20 for i in range(20)])
    cache.spread = lambda: next(spreads)
    pages = [f"/comuni?pagina={i}" for i in range(1, 21)]
    for page in pages:
        assert "Age" not in _client(app).get(page).headers
    now[0] += 9
    cache.spread = lambda: 0.5  # pages rendered again from here on
    served = ["Age" in _client(app).get(page).headers for page in pages]
    assert served == [i / 20 > 0.5 for i in range(20)]


def test_the_cache_is_bounded(cached):
    app = cached(PAGE_CACHE_MAX_MB=0.02)  # about 20 KB: two or three pages
    cache = app.extensions["page_cache"]
    for page in ("/", "/comuni", "/accessibilita", "/privacy", "/pratiche"):
        _client(app).get(page)
    assert 0 < cache.size <= 0.02 * 1024 * 1024
    assert len(cache.entries) < 5


def test_the_suite_and_debug_run_without_it(app):
    assert "page_cache" not in app.extensions


def test_the_generation_changes_on_every_bump_even_past_its_size(tmp_path):
    generation = Generation(tmp_path / "generation")
    generation.MAX_SIZE = 3
    seen = {generation.current()}
    for _ in range(7):
        generation.bump()
        seen.add(generation.current())
    assert len(seen) == 8


# --------------------------------------------------------------------------- shared by Redis


@pytest.fixture
def redis_url():
    """Redis for the tests (TEST_REDIS_URL; CI sets it and then it must answer)."""
    import os

    import redis

    url = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        if os.environ.get("TEST_REDIS_URL"):
            raise
        pytest.skip(f"no Redis at {url} (set TEST_REDIS_URL to require one)")
    return url


@pytest.fixture
def nodes(app, fresh_app, tmp_path, redis_url):
    """Apps as on two servers: each its own generation file, one Redis, one database."""
    import uuid

    import redis

    prefix = f"test-{uuid.uuid4().hex}"

    def _make(name: str, **overrides):
        config = {"PAGE_CACHE_SECONDS": 30, "PAGE_CACHE_FILE": str(tmp_path / name),
                  "REDIS_URL": redis_url, "REDIS_PREFIX": prefix,
                  "PAGE_CACHE_SYNC_SECONDS": 30}
        config.update(overrides)
        return fresh_app(**config)

    yield _make
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


def test_a_page_rendered_by_one_server_is_served_by_the_other(nodes):
    one, other = nodes("one"), nodes("other")
    first = _client(one).get("/comuni")
    second = _client(other).get("/comuni")
    assert "Age" not in first.headers
    assert "Age" in second.headers
    assert second.data == first.data
    assert other.extensions["page_cache"].shared_hits == 1


def test_a_write_on_one_server_shows_at_once_on_the_other(nodes):
    one, other = nodes("one"), nodes("other")
    assert "Paperopoli" not in _client(other).get("/comuni").get_data(as_text=True)
    assert "Age" in _client(one).get("/comuni").headers  # stored in Redis by `other`
    _write(one, "Paperopoli")
    # `other`'s own file did not change, but the Rete-wide counter did; a node reads it at
    # least every PAGE_CACHE_SYNC_SECONDS (30 here), so this node's copy lives on meanwhile...
    assert "Paperopoli" not in _client(other).get("/comuni").get_data(as_text=True)
    # ...and the writer's node and every node once synced see the write.
    assert "Paperopoli" in _client(one).get("/comuni").get_data(as_text=True)
    synced = nodes("synced", PAGE_CACHE_SYNC_SECONDS=0)
    assert "Paperopoli" in _client(synced).get("/comuni").get_data(as_text=True)


def test_without_redis_each_worker_goes_on_alone(app, fresh_app, tmp_path):
    # Nothing listens on port 9: every Redis call fails fast.
    lonely = fresh_app(PAGE_CACHE_SECONDS=30, PAGE_CACHE_FILE=str(tmp_path / "g"),
                       REDIS_URL="redis://127.0.0.1:9/0")
    assert _client(lonely).get("/comuni").status_code == 200
    again = _client(lonely).get("/comuni")
    assert again.status_code == 200 and "Age" in again.headers
    _write(lonely, "Paperopoli")
    assert "Paperopoli" in _client(lonely).get("/comuni").get_data(as_text=True)


def test_a_write_reaches_redis_after_redis_closed_the_connection(nodes, caplog):
    """The write counter's connection is the worker's own: when Redis dropped it (a restart,
    an idle timeout), the next write opens another and still moves the counter, once."""
    import redis

    one = nodes("one")
    counter = one.extensions["rete_generation"].shared
    _write(one, "Paperopoli")
    client = redis.Redis.from_url(one.config["REDIS_URL"])
    before = int(client.get(counter.key))
    host, port = counter._connection._sock.getsockname()[:2]
    assert client.client_kill_filter(addr=f"{host}:{port}") == 1
    with caplog.at_level("WARNING", logger="portal.pagecache"), one.app_context():
        Factory(one).comune(name="Topolinia", istat_code="999001")
        _db.session.remove()
    assert int(client.get(counter.key)) == before + 1
    assert "could not tell Redis" not in caplog.text
    synced = nodes("synced", PAGE_CACHE_SYNC_SECONDS=0)
    assert "Topolinia" in _client(synced).get("/comuni").get_data(as_text=True)
    client.close()


def test_requests_that_look_for_no_page_do_not_ask_redis_after_a_local_write(nodes):
    """A POST (or a signed-in visitor) never looks for a page in Redis, so it does not read
    the Rete-wide counter again when this node's file moved; the next anonymous page still
    does, and never gets a page stored before this node's write."""
    one = nodes("one")
    other_worker = nodes("one")  # a second worker of the same server: the same file
    elsewhere = nodes("elsewhere")
    assert "Paperopoli" not in _client(elsewhere).get("/comuni").get_data(as_text=True)
    assert "Age" in _client(other_worker).get("/comuni").headers  # from Redis
    counter = other_worker.extensions["rete_generation"].shared
    reads = []
    get = counter.client.get
    counter.client.get = lambda key: (key == counter.key and reads.append(key)) or get(key)
    _write(one, "Paperopoli")
    assert _client(other_worker).post("/aderisci").status_code == 400  # no CSRF token
    assert reads == []
    page = _client(other_worker).get("/comuni")
    assert len(reads) == 1
    assert "Paperopoli" in page.get_data(as_text=True)


def test_a_write_is_kept_and_answered_even_if_the_generation_cannot_move(cached, caplog):
    """The generation moves after the commit: if its file cannot be written (a full disk), the
    write stays committed and the commit returns normally (a request would not turn into an
    error page after its change was saved); the failure is logged."""
    app = cached()
    generation = app.extensions["rete_generation"]

    def broken_bump():
        raise OSError(28, "No space left on device")

    generation.bump = broken_bump
    with caplog.at_level("ERROR", logger="portal.pagecache"):
        _write(app, "Paperopoli")
    assert "could not move the generation" in caplog.text
    fresh = cached(PAGE_CACHE_SECONDS=0)
    assert "Paperopoli" in _client(fresh).get("/comuni").get_data(as_text=True)


def test_a_vote_shows_at_once_on_a_stored_proposal_page(cached):
    """The vote runs on the driver's connection, outside SQLAlchemy's statement events: it
    still tells the page cache, and the next visitor sees the new count."""
    from tests.proposals.helpers import make_proposal
    from tests.voting.helpers import make_round

    app = cached()
    with app.app_context():
        factory = Factory(app)
        comune = factory.comune("Seveso")
        proposal = make_proposal(factory, comune=comune, state="published", title="Pedibus")
        round_ = make_round(factory.table(comune), [proposal])
        voter = factory.user()
        factory.household(user=voter, comune=comune)
        page, vote, email = (f"/proposte/{proposal.id}",
                             f"/votazioni/{round_.id}/proposte/{proposal.id}/voto", voter.email)
        _db.session.remove()

    def count_on_the_page():
        response = _client(app).get(page)
        html = response.get_data(as_text=True)
        return "Age" in response.headers, html.split('class="vote-number"')[1].split(">")[1][0]

    assert count_on_the_page() == (False, "0")
    assert count_on_the_page() == (True, "0")  # stored
    family = _client(app)
    login(family, email)
    assert family.form(vote).status_code == 303
    assert count_on_the_page() == (False, "1")
