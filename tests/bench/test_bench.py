"""The benchmark's plumbing: bulk inserts the portal reads back, the foundation generator, and
the requests the runner builds (no timing here: performance is measured by bench.run)."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, timedelta, timezone
from html import unescape
from urllib.parse import urlsplit

from sqlalchemy import text

from bench.context import Context, Target
from bench.generate import move_sequences
from bench.modules import foundation
from bench.run import Request, expand, lua_string
from portal.accounts.models import Household, User
from portal.network.models import Comune
from portal.tables.models import Table

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def make_ctx(db, **scale) -> Context:
    return Context(conn=db.session.connection(), url=str(db.engine.url),
                   dialect=db.engine.dialect.name, scale=scale, rng=random.Random(7), now=NOW,
                   password_hash="not-a-real-hash")


def test_bulk_insert_rows_read_back_like_orm_rows(db):
    """Dates and aware datetimes inserted in bulk (COPY / executemany) come back equal and UTC."""
    ctx = make_ctx(db)
    cid = ctx.next_id("comuni")
    ctx.bulk_insert("comuni", [{
        "id": cid, "name": "Seveso", "slug": "seveso", "istat_code": "108040",
        "province": "Monza e della Brianza", "population": 23_000,
        "joined_on": date(2015, 11, 12), "description": "Una riga con 'apici', \\ e\ttab",
        "website": None}])
    rome = timezone(timedelta(hours=1))
    created = datetime(2024, 1, 31, 23, 30, 15, 123456, tzinfo=rome)
    hid = ctx.next_id("households")
    ctx.bulk_insert("households", [{
        "id": hid, "name": "Famiglia Brambilla", "comune_id": cid, "created_at": created,
        "status": "verified", "verified_by_id": None, "verified_at": None, "review_note": None,
        "anonymised_at": None}])
    db.session.commit()
    db.session.expire_all()

    comune = db.session.get(Comune, cid)
    assert comune.joined_on == date(2015, 11, 12)
    assert comune.description == "Una riga con 'apici', \\ e\ttab"
    household = db.session.get(Household, hid)
    assert household.created_at == created
    assert household.created_at.tzinfo is not None and household.created_at.utcoffset() == \
        timedelta(0)
    assert household.is_verified


def test_next_id_reserves_consecutive_ids_after_existing_rows(db, factory):
    """Explicit ids never collide with rows already there, nor with each other."""
    existing = factory.comune("Seveso", "108040")
    ctx = make_ctx(db)
    first = ctx.next_id("comuni", 3)
    assert first == existing.id + 1
    assert ctx.next_id("comuni") == first + 3


def test_foundation_generates_a_consistent_network(db, client):
    """Real Comuni (Lombardy first), a table each plus the Rete's, households with members and
    accounts, roles; the pages read them, and the app can still add rows afterwards."""
    ctx = make_ctx(db, comuni=12, households=80, associations=5, merchants=6)
    foundation.generate(ctx)
    move_sequences(db.session.connection())
    db.session.commit()

    comuni = db.session.scalars(db.select(Comune).order_by(Comune.id)).all()
    assert len(comuni) == 12
    assert all(c.istat_code.startswith(("012", "013", "014", "015", "016", "017", "018", "019",
                                        "020", "097", "098", "108")) for c in comuni)
    tables = db.session.scalars(db.select(Table)).all()
    assert {t.comune_id for t in tables} == {c.id for c in comuni} | {None}
    households = db.session.scalars(db.select(Household)).all()
    assert len(households) == 80
    assert all(h.members and h.users for h in households)
    assert set(ctx.ids["verified_households"]) == {h.id for h in households if h.is_verified}
    for hid, user_ids in ctx.ids["household_users"].items():
        assert {u.household_id for u in db.session.scalars(
            db.select(User).where(User.id.in_(user_ids)))} == {hid}

    slug = ctx.ids["comune_slugs"][comuni[0].id]
    response = client.get(f"/comuni/{slug}")
    assert response.status_code == 200
    assert comuni[0].name in response.get_data(as_text=True)

    # Sequences were moved past the explicit ids: the ORM can insert again.
    user = User(email="nuovo@example.org", name="Nuovo", password_hash="x", created_at=NOW)
    db.session.add(user)
    db.session.commit()
    assert user.id > max(u for ids in ctx.ids["household_users"].values() for u in ids)


def test_foundation_targets_are_public_pages_that_answer(db, client):
    """Every foundation target answers 200 on a generated database."""
    ctx = make_ctx(db, comuni=30, households=40, associations=3, merchants=2)
    foundation.generate(ctx)
    db.session.commit()
    ctx.conn = db.session.connection()
    for target in foundation.targets(ctx):
        for path, _body in target.variants or [(target.path, None)]:
            assert client.get(path).status_code == 200, (target.name, path)


def test_requests_rotate_users_and_carry_their_csrf_token():
    """Variant i goes as user i % len(users), with that user's cookie and token in the body."""
    target = Target("vote", "/x", method="POST", body="csrf_token={csrf}", as_users=[1, 2],
                    variants=[("/a", "csrf_token={csrf}&v=1"), ("/b", "csrf_token={csrf}"),
                              ("/c", None)])
    sessions = {1: ("cookie-one", "token-one"), 2: ("cookie-two", "token-two")}
    reqs = expand(target, sessions, "rete_session")
    assert [(r.path, r.headers["Cookie"], r.body) for r in reqs] == [
        ("/a", "rete_session=cookie-one", "csrf_token=token-one&v=1"),
        ("/b", "rete_session=cookie-two", "csrf_token=token-two"),
        ("/c", "rete_session=cookie-one", None),
    ]
    assert reqs[0].headers["X-CSRFToken"] == "token-one"
    assert reqs[0].headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Content-Type" not in reqs[2].headers


def test_more_users_than_variants_sends_every_user():
    target = Target("page", "/p", as_users=[1, 2, 3])
    sessions = {u: (f"c{u}", f"t{u}") for u in (1, 2, 3)}
    reqs = expand(target, sessions, "s")
    assert [r.headers["Cookie"] for r in reqs] == ["s=c1", "s=c2", "s=c3"]
    assert all(isinstance(r, Request) and r.path == "/p" for r in reqs)


def test_lua_strings_escape_quotes_newlines_and_accents():
    """What the wrk script embeds decodes back to the original bytes."""
    value = 'città "Milano"\n\\ fine'
    literal = lua_string(value)
    assert literal.startswith('"') and literal.endswith('"')
    inner = literal[1:-1]
    assert '"' not in inner and "\n" not in inner and "\\\\" not in inner.replace("\\092", "")
    decoded = re.sub(rb"\\(\d{3})", lambda m: bytes([int(m.group(1))]), inner.encode())
    assert decoded.decode("utf-8") == value


def test_catalogue_generator_builds_the_index_the_portal_would(db, client):
    """The full-text index the generator fills in bulk holds what `search.rebuild_index`
    writes from the practices themselves, and the catalogue's search finds them: the benchmark
    searches the index the portal keeps."""
    from bench.modules import catalogue
    from portal.catalogue import search
    from portal.catalogue.models import FTS_TABLE
    from portal.catalogue.services import ensure_default_themes

    ensure_default_themes()  # (a clean test database has none; migration 0002 seeds them)
    db.session.commit()
    ctx = make_ctx(db, comuni=12, households=20, associations=3, merchants=2, practices=40)
    foundation.generate(ctx)
    catalogue.generate(ctx)
    db.session.commit()

    def index() -> list:
        if db.engine.dialect.name == "postgresql":
            statement = ("SELECT id, CAST(search_vector AS text) FROM good_practices "
                         "ORDER BY id")
        else:
            statement = (f"SELECT rowid, title, tags, summary, body FROM {FTS_TABLE} "  # noqa: S608
                         "ORDER BY rowid")
        return [tuple(r) for r in db.session.execute(text(statement))]

    generated = index()
    published = len(ctx.ids["practices"])
    assert published and len([r for r in generated if r[1] is not None]) == published
    assert search.rebuild_index() == published
    db.session.commit()
    db.session.expire_all()
    assert index() == generated

    response = client.get("/pratiche?q=doposcuola")
    assert response.status_code == 200
    titles = db.session.execute(text(
        "SELECT title FROM good_practices WHERE published_at IS NOT NULL "
        "AND title LIKE 'Doposcuola%'")).scalars().all()
    assert titles and all(t in unescape(response.get_data(as_text=True)) for t in titles[:5])


def test_the_table_shows_the_databases_cpu_and_the_idle_share_where_measured():
    from bench.run import Measure, table

    vote = Measure(name="vote POST", path="/v", method="POST", module="proposals", rps=800,
                   cpu_ms=1.5, db_cpu_ms=0.54, idle=0.16, ratio=0.11, floor_rps=7000,
                   verdict="FAIL")
    page = Measure(name="home", path="/", module="foundation", rps=7000, cpu_ms=0.2,
                   ratio=1.0, floor_rps=7000, verdict="PASS")
    head, _rule, vote_row, page_row, _legend = table([vote, page], 7000).splitlines()
    assert head.split()[-5:] == ["ms", "db", "ms", "idle", "result"]
    assert vote_row.split()[-4:] == ["1.50", "0.54", "16%", "FAIL"]
    assert page_row.split()[-2:] == ["0.20", "PASS"]  # SQLite, or not measured: blank


def test_signed_in_pages_are_judged_on_p99_and_heavy_pages_are_flagged():
    """A signed-in row passes on its ratio and p99 (no p95 bar); a page over 100 KB shows its
    size with a flag, whatever its verdict."""
    from bench.context import SIGNED_IN_BAR
    from bench.run import Measure, bar_text, table, verdict

    def row(**figures) -> Measure:
        return Measure(name="signed in: round", path="/votazioni/1", module="signed_in",
                       requests=500, floor_rps=5000, min_ratio=SIGNED_IN_BAR["min_ratio"],
                       max_p95_ms=SIGNED_IN_BAR["max_p95_ms"],
                       max_p99_ms=SIGNED_IN_BAR["max_p99_ms"], **figures)

    fast = row(rps=600, ratio=0.12, p95=80.0, p99=95.0, size=40 * 1024)
    slow_tail = row(rps=600, ratio=0.12, p95=80.0, p99=130.0, size=250 * 1024)
    too_few = row(rps=400, ratio=0.08, p95=20.0, p99=30.0, size=40 * 1024)
    assert [verdict(m) for m in (fast, slow_tail, too_few)] == ["PASS", "FAIL", "FAIL"]
    assert bar_text(fast) == "10% p99<100"
    assert bar_text(Measure(name="home", path="/")) == "25% p95<25"
    fast.verdict = "PASS"
    slow_tail.verdict = "FAIL"
    lines = table([fast, slow_tail], 5000).splitlines()
    assert lines[0].split().index("KB")
    assert "40" in lines[2].split() and "40!" not in lines[2].split()
    assert "250!" in lines[3].split()


def test_a_login_target_carries_the_cookie_its_sign_in_got():
    target = Target("signed in: home", "/", login=("a@example.org", "pw"))
    reqs = expand(target, {}, "rete_session", {("a@example.org", "pw"): "rete_session=abc"})
    assert [(r.path, r.headers["Cookie"]) for r in reqs] == [("/", "rete_session=abc")]
    assert "X-CSRFToken" not in reqs[0].headers and target.signed_in


def test_the_known_household_signs_in_through_the_form_and_opens_its_pages(db, client, app):
    """The generated household signs in with the login form (its CSRF token, its password);
    with the cookie it got, every signed-in target answers 200 as that household: its name in
    the header, each open round of its Comune listing that round's proposals."""
    from bench.modules import proposals, signed_in
    from bench.run import client_send, sign_in
    from portal.accounts.services import hash_password

    ctx = make_ctx(db, comuni=8, households=120, associations=3, merchants=2,
                   proposals=400, votes=1_000, round_proposals=12, small_round=3,
                   large_round=20, round_voters=30, proposal_comments=9)
    ctx.password_hash = hash_password(signed_in.PASSWORD)
    foundation.generate(ctx)
    proposals.generate(ctx)
    signed_in.generate(ctx)
    move_sequences(db.session.connection())
    db.session.commit()
    info = ctx.ids["signed_in"]
    assert info["round"] and info["proposal"] and info["round_size"] == 12
    assert [size for _rid, size in info["rounds"]] == [12, 3, 20]

    ctx.conn = db.session.connection()
    targets = signed_in.targets(ctx)
    assert {t.login for t in targets} == {(signed_in.EMAIL, signed_in.PASSWORD)}
    assert len(targets) == 9
    # As deployed, the portal answers only the host of its BASE_URL: so do the bench's clients.
    base = app.config["BASE_URL"]
    app.config["TRUSTED_HOSTS"] = [urlsplit(base).hostname]
    cookie = sign_in(client_send(app.test_client(use_cookies=False)), signed_in.EMAIL,
                     signed_in.PASSWORD)
    visitor = app.test_client(use_cookies=False)
    for target in targets:
        (request,) = expand(target, {}, "unused", {target.login: cookie})
        response = visitor.get(request.path, headers=request.headers, base_url=base)
        assert response.status_code == 200, (target.name, request.path)
        assert "Giulia Panzeri" in response.get_data(as_text=True), target.name
    for rid, size in info["rounds"]:
        round_page = visitor.get(f"/votazioni/{rid}", headers={"Cookie": cookie},
                                 base_url=base)
        titles = db.session.execute(text(
            "SELECT p.title FROM voting_entries e JOIN proposals p ON p.id = e.proposal_id "
            "WHERE e.round_id = :r"), {"r": rid}).scalars().all()
        shown = unescape(round_page.get_data(as_text=True))
        # (a round's page may show its proposals a page at a time)
        assert len(titles) == size
        assert sum(title in shown for title in titles) >= min(size, 10)


def test_signing_in_with_a_wrong_password_stops_the_run(db, app):
    import pytest

    from bench.run import client_send, sign_in

    with pytest.raises(SystemExit, match="answered 422"):
        sign_in(client_send(app.test_client(use_cookies=False)), "nobody@example.org",
                "wrong-password")
