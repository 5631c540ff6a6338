"""The one cache (portal/caching.py): public pages served from it to anonymous visitors, fresh
after every committed write, never shared with a signed-in visitor, a form or an error."""

from __future__ import annotations

import itertools
import os
import uuid
from datetime import date

import pytest

from portal import caching
from portal.extensions import cache
from portal.extensions import db as _db
from portal.network.models import Comune
from tests.conftest import Factory, PortalClient, login


@pytest.fixture
def cached(app, fresh_app):
    """An app with the page cache on (as in production), on the test database."""

    def _make(**overrides):
        return fresh_app(**{"PAGE_CACHE_SECONDS": 30, **overrides})

    return _make


def _client(app) -> PortalClient:
    app.test_client_class = PortalClient
    return app.test_client()


def _text(app, path: str = "/comuni", **kwargs) -> str:
    response = _client(app).get(path, **kwargs)
    assert response.status_code == 200
    return response.get_data(as_text=True)


_ISTAT = itertools.count(800001)


def _write(app, name: str) -> None:
    """A committed write made through `app` (another request, another worker)."""
    with app.app_context():
        Factory(app).comune(name=name, istat_code=str(next(_ISTAT)))
        _db.session.remove()


def _unseen_rename(app, old: str, new: str) -> None:
    """Rename a Comune as if the cache had not learnt of it (the generation put back): what a
    visitor sees afterwards tells whether the page came from the cache."""
    with app.app_context():
        before = cache.get(caching.GENERATION_KEY)
        comune = _db.session.scalar(_db.select(Comune).where(Comune.name == old))
        comune.name = new
        _db.session.commit()
        cache.set(caching.GENERATION_KEY, before, timeout=0)
        _db.session.remove()


def test_an_anonymous_visitor_is_served_the_stored_page(cached):
    app = cached()
    _write(app, "Paperopoli")
    assert "Paperopoli" in _text(app)
    _unseen_rename(app, "Paperopoli", "Topolinia")
    assert "Paperopoli" in _text(app)  # the page kept
    # ...but not in another language, nor for another page (the key is the whole request).
    english = _client(app)
    english.set_cookie("lang", "en")
    page = english.get("/comuni").get_data(as_text=True)
    assert '<html lang="en">' in page and "Topolinia" in page
    assert "Topolinia" in _text(app, "/comuni?provincia=")


def test_a_committed_write_shows_at_once(cached):
    app = cached()
    assert "Paperopoli" not in _text(app)
    assert "Paperopoli" not in _text(app, "/")
    _write(app, "Paperopoli")
    assert "Paperopoli" in _text(app)
    assert "Paperopoli" in _text(app, "/")  # the home page's figures (remember()) too


def test_a_signed_in_visitor_never_gets_a_stored_page(cached, db):
    app = cached()
    with app.app_context():
        email = Factory(app).user().email
        _db.session.remove()
    _write(app, "Paperopoli")
    assert "Paperopoli" in _text(app)
    _unseen_rename(app, "Paperopoli", "Topolinia")
    client = _client(app)
    login(client, email)
    page = client.get("/comuni").get_data(as_text=True)
    assert "Topolinia" in page and "Paperopoli" not in page
    # ...nor is what it was shown kept for the anonymous visitors.
    assert "Paperopoli" in _text(app)


def test_an_htmx_request_gets_its_partial_not_the_stored_page(cached):
    app = cached()
    full = _text(app, "/pratiche")
    assert "<html" in full
    partial = _client(app).htmx("/pratiche")
    assert partial.status_code == 200
    assert "<html" not in partial.get_data(as_text=True)
    assert "<html" in _text(app, "/pratiche")  # and the page is still the page


def test_a_form_is_never_served_from_the_cache(cached):
    """The login form carries a CSRF token tied to the visitor's new session: each visitor
    gets their own (a stored copy would carry someone else's, and no cookie)."""
    app = cached()
    first, second = _client(app).get("/accedi"), _client(app).get("/accedi")
    assert "Set-Cookie" in first.headers and "Set-Cookie" in second.headers
    assert first.data != second.data


def test_an_error_page_is_never_stored(cached):
    app = cached()
    assert _client(app).get("/comuni/paperopoli").status_code == 404
    with app.app_context():
        before = cache.get(caching.GENERATION_KEY)
        Factory(app).comune(name="Paperopoli")
        cache.set(caching.GENERATION_KEY, before, timeout=0)
        _db.session.remove()
    assert _client(app).get("/comuni/paperopoli").status_code == 200


def test_the_page_cache_is_off_with_zero_seconds(cached):
    app = cached(PAGE_CACHE_SECONDS=0)
    _write(app, "Paperopoli")
    assert "Paperopoli" in _text(app)
    _unseen_rename(app, "Paperopoli", "Topolinia")
    assert "Topolinia" in _text(app)


def test_remember_keeps_a_value_until_the_next_commit_that_changed_rows(app, db, factory):
    calls = []

    def count():
        calls.append(1)
        return db.session.scalar(db.select(db.func.count(Comune.id)))

    assert caching.remember("test.count", count) == 0
    assert caching.remember("test.count", count) == 0
    assert len(calls) == 1
    factory.comune()
    assert caching.remember("test.count", count) == 1
    assert len(calls) == 2
    # A commit that changed nothing a page shows (the mail outbox) keeps it.
    from portal.core.services import send_mail

    send_mail("a@example.org", "Oggetto", "Testo")
    db.session.commit()
    assert caching.remember("test.count", count) == 1
    assert len(calls) == 2


def test_remember_does_not_keep_what_an_uncommitted_transaction_saw(app, db, factory):
    factory.comune()
    db.session.add(Comune(name="Bozza", slug="bozza", istat_code="999999",
                          province="Milano", population=1, joined_on=date(2026, 1, 1)))
    db.session.flush()

    def names():
        return tuple(db.session.scalars(db.select(Comune.name).order_by(Comune.name)))

    assert "Bozza" in caching.remember("test.names", names)
    db.session.rollback()
    assert "Bozza" not in caching.remember("test.names", names)


# --------------------------------------------------------------------------- Redis


@pytest.fixture
def redis_url():
    """TEST_REDIS_URL (required when set), else a local Redis if one answers, else skip."""
    import redis

    url = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
        client.ping()
        client.close()
    except redis.RedisError:
        if os.environ.get("TEST_REDIS_URL"):
            raise
        pytest.skip(f"no Redis at {url} (set TEST_REDIS_URL to require one)")
    return url


@pytest.fixture
def nodes(app, fresh_app, redis_url):
    """Apps as on two servers: one Redis, one database, a prefix of this test's own."""
    import redis

    prefix = f"test-{uuid.uuid4().hex}"

    def _make(**overrides):
        return fresh_app(**{"PAGE_CACHE_SECONDS": 30, "REDIS_URL": redis_url,
                            "REDIS_PREFIX": prefix, **overrides})

    yield _make
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


def test_two_servers_share_pages_and_one_write_makes_both_fresh(nodes):
    one, other = nodes(), nodes()
    _write(one, "Paperopoli")
    assert "Paperopoli" in _text(one)
    _unseen_rename(one, "Paperopoli", "Topolinia")
    assert "Paperopoli" in _text(other)  # the page `one` rendered, from Redis
    _write(other, "Zio Paperone")
    page = _text(one)
    assert "Zio Paperone" in page and "Topolinia" in page


def test_a_redis_that_does_not_answer_still_serves_fresh_pages(app, fresh_app, caplog):
    # Nothing listens on port 1: every Redis call fails at once.
    lonely = fresh_app(PAGE_CACHE_SECONDS=30, REDIS_URL="redis://127.0.0.1:1/0")
    assert _text(lonely, "/") and _text(lonely)
    _write(lonely, "Paperopoli")
    assert "Paperopoli" in _text(lonely)
    assert "Paperopoli" in _text(lonely, "/")


# --------------------------------------------------------------------------- fragments


def test_a_signed_in_page_reuses_the_shared_parts_and_keeps_its_own(cached, db):
    """What is the same for everyone (the home page's body, the menu, the footer) is rendered
    once until the next write, for signed-in visitors too; what is theirs (the CSRF token of
    their session, the account links) is not shared."""
    app = cached()
    with app.app_context():
        factory = Factory(app)
        emails = [factory.user().email for _ in range(2)]
        _db.session.remove()
    _write(app, "Paperopoli")
    first, second = _client(app), _client(app)
    login(first, emails[0])
    login(second, emails[1])
    assert "Paperopoli" in first.get("/").get_data(as_text=True)
    _unseen_rename(app, "Paperopoli", "Topolinia")
    page = second.get("/").get_data(as_text=True)
    assert "Paperopoli" in page and "Topolinia" not in page  # the body was kept...
    assert first.csrf() != second.csrf()  # ...but each page carries its own session's token
    assert "La mia area" in page and "Registrati" not in page
    assert second.form("/esci").status_code in (302, 303)  # and that token works
    assert "Registrati" in _client(app).get("/").get_data(as_text=True)
    _write(app, "Paperinia")  # a committed write: the next page is fresh
    page = first.get("/").get_data(as_text=True)
    assert "Topolinia" in page and "Paperinia" in page


def test_a_fragment_is_kept_per_language(cached, db):
    app = cached()
    italian, english = _client(app), _client(app)
    english.set_cookie("lang", "en")
    assert "Dichiarazione di accessibilità" in italian.get("/").get_data(as_text=True)
    page = english.get("/").get_data(as_text=True)
    assert "Dichiarazione di accessibilità" not in page and "Accessibility statement" in page
    assert "Le proposte delle famiglie" not in page  # the home page's body, in English too
