"""portal/memo.py: reference data kept per worker until the next write, never past it."""

from __future__ import annotations

from datetime import date

from portal.extensions import db as _db
from portal.memo import memo
from tests.conftest import Factory


def _counting(app):
    """A memo of the number of Comuni, and how many times it was really computed."""
    from portal.network.models import Comune

    computed = []

    def count():
        computed.append(1)
        return _db.session.query(Comune).count()

    def read():
        with app.test_request_context("/"):
            try:
                return memo("comuni-count", count)
            finally:
                _db.session.remove()

    return read, computed


def test_a_value_is_kept_until_a_write_anywhere(app, fresh_app, tmp_path):
    worker = fresh_app(MEMO_SECONDS=60, PAGE_CACHE_FILE=str(tmp_path / "generation"))
    read, computed = _counting(worker)
    assert read() == 0
    assert read() == 0
    assert len(computed) == 1
    # Another worker (another app on the same database and generation file) writes.
    other = fresh_app(MEMO_SECONDS=60, PAGE_CACHE_FILE=str(tmp_path / "generation"))
    with other.app_context():
        Factory(other).comune(name="Paperopoli")
        _db.session.remove()
    assert read() == 1
    assert len(computed) == 2


def test_a_request_that_wrote_does_not_keep_what_it_computed(app, fresh_app, tmp_path):
    from portal.network.models import Comune

    worker = fresh_app(MEMO_SECONDS=60, PAGE_CACHE_FILE=str(tmp_path / "generation"))
    read, computed = _counting(worker)
    with worker.test_request_context("/"):
        _db.session.add(Comune(name="Topolinia", slug="topolinia", istat_code="999001",
                               province="Monza e della Brianza", joined_on=date(2026, 1, 1)))
        _db.session.flush()
        # The uncommitted row is counted here, but must not reach other requests...
        assert memo("comuni-count", lambda: _db.session.query(Comune).count()) == 1
        _db.session.rollback()
    # ...which compute again and do not see it.
    assert read() == 0
    assert len(computed) == 1


def test_off_with_zero_seconds(app, fresh_app):
    worker = fresh_app(MEMO_SECONDS=0, PAGE_CACHE_SECONDS=0)
    read, computed = _counting(worker)
    read(), read()
    assert len(computed) == 2
