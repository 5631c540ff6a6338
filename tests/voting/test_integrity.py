"""Vote integrity under load: real gunicorn workers, many households voting at the same moment.

The households are logged in by creating their login sessions in the database and signing
their session cookies with the test secret (as the server would after the login form), so
that the load is the vote POST alone.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from itsdangerous import URLSafeTimedSerializer

from portal.accounts.models import LoginSession
from portal.proposals.models import Proposal, ProposalState
from portal.voting.models import RoundEntry, Vote
from tests.conftest import TEST_CONFIG
from tests.proposals.helpers import make_proposal
from tests.voting.helpers import make_round

ROOT = Path(__file__).resolve().parents[2]
PORTS = range(5560, 5600)  # this module's share of the team's 5501-5599
HOUSEHOLDS = 200
IDENTICAL = 50


def _port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail("no free port in 5560-5599")


@pytest.fixture
def server(app, tmp_path):
    """gunicorn with four sync workers on the test database."""
    port = _port()
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "SERVER_NAME"}}
    env.update({"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
                "SECRET_KEY": TEST_CONFIG["SECRET_KEY"], "FLASK_DEBUG": "0",
                "PORTAL_INSECURE_COOKIES": "1", "MAIL_PRINT": "0", "PYTHONUNBUFFERED": "1",
                # its own generation file: the test's writes are not seen by other servers
                "PAGE_CACHE_FILE": str(tmp_path / "page-cache.generation")})
    log_path = tmp_path / "gunicorn.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(  # noqa: S603 - fixed command line
        [sys.executable, "-m", "gunicorn", "--workers", "4", "--bind", f"127.0.0.1:{port}",
         "--timeout", "120", "--backlog", "1024", "--no-control-socket",
         "tests.e2e.liveapp:create()"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/privacy")
            if conn.getresponse().status == 200:
                break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            log.close()
            pytest.fail(f"gunicorn did not start:\n{log_path.read_text()}")
        time.sleep(0.2)
    yield port, log_path
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)
    log.close()


def _session(app, user_id: int, db) -> tuple[str, str]:
    """A live login session of the user: (cookie header, CSRF token)."""
    token = secrets.token_urlsafe(32)
    db.session.add(LoginSession(token_hash=hashlib.sha256(token.encode()).hexdigest(),
                                user_id=user_id))
    raw_csrf = secrets.token_hex(20)
    signer = app.session_interface.get_signing_serializer(app)
    cookie = signer.dumps({"_user_id": token, "_fresh": True, "csrf_token": raw_csrf})
    csrf = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="wtf-csrf-token").dumps(raw_csrf)
    return f"{app.config['SESSION_COOKIE_NAME']}={cookie}", csrf


def _families(db, comune, n: int):
    """`n` users, each in a verified household of `comune` (one flush, no password hashing)."""
    from portal.accounts.models import Household, HouseholdStatus, User
    from portal.db_setup import utcnow

    users = []
    for i in range(n):
        household = Household(name=f"Famiglia {i}", comune_id=comune.id,
                              status=HouseholdStatus.VERIFIED, verified_at=utcnow())
        user = User(email=f"famiglia{i}@example.org", name=f"Famiglia {i}",
                    password_hash="not-a-hash", email_confirmed_at=utcnow(), household=household)
        db.session.add_all([household, user])
        users.append(user)
    db.session.flush()
    return users


def _post(port: int, path: str, cookie: str, csrf: str, results: list, barrier) -> None:
    body = urlencode({"csrf_token": csrf})
    barrier.wait()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("POST", path, body=body, headers={
            "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
        response = conn.getresponse()
        response.read()
        results.append(response.status)
    except OSError as exc:  # pragma: no cover - reported by the assertion below
        results.append(repr(exc))


def _fire(port: int, requests: list[tuple[str, str, str]]) -> list:
    results: list = []
    barrier = threading.Barrier(len(requests))
    threads = [threading.Thread(target=_post, args=(port, path, cookie, csrf, results, barrier))
               for path, cookie, csrf in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return results


def test_two_hundred_households_vote_at_once(app, db, factory, server):
    """200 households, two votes each, all at once: exact tallies, no duplicates, no 500."""
    port, log_path = server
    comune = factory.comune("Seveso")
    table = factory.table(comune)
    proposals = [make_proposal(factory, comune=comune, state=ProposalState.PUBLISHED,
                               title=f"Proposta {i}") for i in range(5)]
    round_ = make_round(table, proposals, max_supports=3)
    requests = []
    expected = {p.id: 0 for p in proposals}
    for i, user in enumerate(_families(db, comune, HOUSEHOLDS)):
        cookie, csrf = _session(app, user.id, db)
        for p in (proposals[i % 5], proposals[(i + 1) % 5]):
            requests.append((f"/votazioni/{round_.id}/proposte/{p.id}/voto", cookie, csrf))
            expected[p.id] += 1
    db.session.commit()

    results = _fire(port, requests)

    assert results.count(303) == len(requests), sorted(set(map(str, results)))
    db.session.expire_all()
    rows = dict(db.session.execute(db.select(Vote.proposal_id, db.func.count(Vote.id))
                                   .group_by(Vote.proposal_id)).all())
    assert rows == expected
    for p in proposals:
        assert db.session.get(RoundEntry, (round_.id, p.id)).vote_count == expected[p.id]
        assert db.session.get(Proposal, p.id).support_count == expected[p.id]
    assert "Traceback" not in log_path.read_text()


def test_fifty_identical_requests_give_one_vote(app, db, factory, server):
    """One household sends the same vote 50 times in parallel: exactly one row, count one."""
    port, log_path = server
    comune = factory.comune("Seveso")
    proposal = make_proposal(factory, comune=comune, state=ProposalState.PUBLISHED)
    round_ = make_round(factory.table(comune), [proposal])
    user = factory.user()
    factory.household(user=user, comune=comune)
    cookie, csrf = _session(app, user.id, db)
    db.session.commit()
    path = f"/votazioni/{round_.id}/proposte/{proposal.id}/voto"

    results = _fire(port, [(path, cookie, csrf)] * IDENTICAL)

    assert results == [303] * IDENTICAL
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count(Vote.id))) == 1
    assert db.session.get(RoundEntry, (round_.id, proposal.id)).vote_count == 1
    assert db.session.get(Proposal, proposal.id).support_count == 1
    assert "Traceback" not in log_path.read_text()
