"""A verified household that signs in, and the pages it opens while its Comune votes.

The generator adds one household with a known account (EMAIL, the demo password) to the Comune
whose table has the most published proposals, and gives that table an open voting round of up
to `round_proposals` of them, where up to `round_voters` households of the Comune have already
voted (their supports concentrated on a few proposals, as in a real round) and the known
household has used two of its five supports. Two more open rounds of other proposals, of
`small_round` and of up to `large_round`, show whether a round's page grows with the round
(issue 24). The first round's most supported proposal gets `proposal_comments` more comments, a
third of them replies.

The targets sign in through the login form (`Target.login`) and are never served from the page
cache: each is rendered for every request. Their bar is issue 17's for signed-in pages.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from bench.context import SIGNED_IN_BAR, Context, Target

ORDER = 50
SCALE = {"round_proposals": 200, "small_round": 10, "large_round": 2_000,
         "round_voters": 3_000, "proposal_comments": 60}
SMALL_SCALE = {"round_voters": 500}

EMAIL = "bench-famiglia@example.org"
#: the demo password, which ctx.password_hash is a hash of (portal.seed.DEMO_PASSWORD)
PASSWORD = "demo-rete-2026"  # noqa: S105 - a generated benchmark account
MAX_SUPPORTS = 5
OWN_SUPPORTS = 2
COMMENTS = ("Siamo in tanti a volerla: speriamo passi.", "Noi ci siamo per i turni del sabato.",
            "Chi tiene le chiavi della sala?", "Perfetta per chi lavora fino a tardi.",
            "Si potrebbe partire già a settembre.", "Serve l'assicurazione per i volontari.",
            "Mio figlio ne parla da mesi!", "Costa poco e aiuta molte famiglie.")


def _comune(ctx: Context) -> tuple[int, int]:
    """(Comune, its table) whose table has the most published proposals (or, without the
    proposals module, the most verified households)."""
    tables: dict = ctx.ids["tables"]
    row = ctx.conn.execute(text(
        "SELECT t.comune_id FROM proposals p JOIN tables t ON t.id = p.table_id "
        "WHERE p.state = 'published' AND p.listed AND t.comune_id IS NOT NULL "
        "GROUP BY t.comune_id ORDER BY count(*) DESC, t.comune_id LIMIT 1")).first()
    if row is None:
        row = ctx.conn.execute(text(
            "SELECT comune_id FROM households WHERE status = 'verified' "
            "GROUP BY comune_id ORDER BY count(*) DESC, comune_id LIMIT 1")).first()
    return row[0], tables[row[0]]


def generate(ctx: Context) -> None:
    rng, now = ctx.rng, ctx.now
    comune_id, table_id = _comune(ctx)
    officer = ctx.ids["users"]["officers"][comune_id]

    # ----------------------------------------------------------------- the household
    hid = ctx.next_id("households")
    created = now - timedelta(days=400)
    ctx.bulk_insert("households", [{
        "id": hid, "name": "Famiglia Panzeri", "comune_id": comune_id, "created_at": created,
        "status": "verified", "verified_by_id": officer,
        "verified_at": created + timedelta(days=3), "review_note": None,
        "anonymised_at": None}])
    ctx.bulk_insert("household_members", [
        {"id": ctx.next_id("household_members"), "household_id": hid, "first_name": name,
         "kind": kind, "birth_year": now.year - age, "disability": False}
        for name, kind, age in (("Giulia", "adult", 41), ("Marco", "adult", 43),
                                ("Sofia", "child", 9), ("Luca", "child", 6))])
    uid = ctx.next_id("users")
    ctx.bulk_insert("users", [{
        "id": uid, "email": EMAIL, "name": "Giulia Panzeri", "password_hash": ctx.password_hash,
        "email_confirmed_at": created + timedelta(minutes=5), "created_at": created,
        "household_id": hid, "deleted_at": None}])
    info = {"email": EMAIL, "household": hid, "user": uid, "comune": comune_id,
            "table": table_id, "round": None, "proposal": None}
    ctx.ids["signed_in"] = info

    # ----------------------------------------------------------------- the open rounds
    # A round of `round_proposals`, one of `small_round` and one of up to `large_round`
    # (issue 24: a round of 2,000 as fast as one of 10), each of different proposals, the most
    # recently published first.
    wanted = tuple(ctx.scale.get(k, SCALE[k])
                   for k in ("round_proposals", "small_round", "large_round"))
    candidates = ctx.conn.execute(text(
        "SELECT id FROM proposals WHERE table_id = :t AND state = 'published' AND listed "
        "ORDER BY published_at DESC, id DESC LIMIT :n"),
        {"t": table_id, "n": sum(wanted)}).scalars().all()
    if not candidates:
        return  # no proposals generated: the household still signs in
    # Households of the Comune that vote (the known one too, with two supports).
    voters = ctx.conn.execute(text(
        "SELECT h.id, min(u.id) FROM households h JOIN users u ON u.household_id = h.id "
        "WHERE h.comune_id = :c AND h.status = 'verified' AND h.id <> :own "
        "GROUP BY h.id ORDER BY h.id LIMIT :n"),
        {"c": comune_id, "own": hid, "n": ctx.scale.get("round_voters", SCALE["round_voters"])}
    ).all()
    ballots = [(h, u, rng.randint(1, MAX_SUPPORTS)) for h, u in voters]
    ballots.append((hid, uid, OWN_SUPPORTS))
    main_n, small_n, large_n = wanted
    # The small round's proposals are set aside first, so that a small world (--small) still
    # has it beside a main round of nearly `round_proposals`; the large one takes what is left.
    small = candidates[:small_n] if len(candidates) > 2 * small_n else []
    rest = candidates[len(small):]
    slices = [(rest[:main_n], "Le proposte delle famiglie (aperta)"),
              (small, None), (rest[main_n:main_n + large_n], None)]
    rounds, counts = [], {}
    for entries, title in slices:
        if not entries:
            continue
        rid = _open_round(ctx, table_id, officer, sorted(entries), ballots, counts,
                          title or f"Votazione aperta di {len(entries)} proposte")
        rounds.append((rid, len(entries)))
    # Each proposal's supports counter shows its open round, as the vote keeps it.
    ctx.conn.execute(text("CREATE TEMPORARY TABLE bench_round_support "
                          "(id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
    ctx.bulk_insert("bench_round_support", [{"id": p, "n": c} for p, c in counts.items()])
    ctx.conn.execute(text(
        "UPDATE proposal_supports SET support_count = (SELECT n FROM bench_round_support b "
        "WHERE b.id = proposal_supports.proposal_id) "
        "WHERE proposal_id IN (SELECT id FROM bench_round_support)"))
    ctx.conn.execute(text("DROP TABLE bench_round_support"))

    # ----------------------------------------------------------------- a discussed proposal
    main_round, main_size = rounds[0]
    top = max(rest[:main_n], key=lambda p: (counts[p], -p))
    published = ctx.conn.execute(text("SELECT published_at FROM proposals WHERE id = :p"),
                                 {"p": top}).scalar()
    start_at = now - timedelta(days=20)
    if published is not None and not isinstance(published, str):
        start_at = max(start_at, published.replace(tzinfo=now.tzinfo) + timedelta(hours=1))
    authors = [u for _h, u in voters] or [uid]
    comments, top_level = [], []
    for i in range(ctx.scale.get("proposal_comments", SCALE["proposal_comments"])):
        cid = ctx.next_id("proposal_comments")
        parent = rng.choice(top_level) if top_level and i % 3 == 2 else None
        if parent is None:
            top_level.append(cid)
        comments.append({
            "id": cid, "proposal_id": top, "parent_id": parent,
            "author_id": uid if i == 7 else rng.choice(authors), "body": rng.choice(COMMENTS),
            "created_at": start_at + timedelta(hours=2 * i), "edited_at": None,
            "hidden_at": None, "hidden_reason": None, "hidden_by_association_id": None})
    ctx.bulk_insert("proposal_comments", comments)
    ctx.conn.execute(text("UPDATE proposals SET comment_count = (SELECT count(*) FROM "
                          "proposal_comments c WHERE c.proposal_id = proposals.id AND "
                          "c.hidden_at IS NULL) WHERE id = :p"), {"p": top})
    info.update(round=main_round, round_size=main_size, round_ballots=len(ballots),
                rounds=rounds, proposal=top, proposal_supports=counts[top])
    print(f"  signed in: {EMAIL} in Comune {comune_id}; open rounds "
          + ", ".join(f"{r} ({size} proposals)" for r, size in rounds)
          + f", {len(ballots)} ballots each; proposal {top} with {counts[top]} supports",
          flush=True)


def _open_round(ctx: Context, table_id: int, officer: int, entries: list[int],
                ballots: list[tuple[int, int, int]], counts: dict[int, int], title: str) -> int:
    """An open round of `entries` where every ballot (household, user, supports) is cast;
    adds each entry's votes to `counts` and returns the round's id."""
    rng, now = ctx.rng, ctx.now
    rid = ctx.next_id("voting_rounds")
    # Supports drawn with weights 1/rank: a few proposals gather most of them.
    ranked = rng.sample(entries, len(entries))
    weights = [1.0 / (1 + i) for i in range(len(ranked))]
    counts.update(dict.fromkeys(entries, 0))
    votes = []
    for voter, user, k in ballots:
        chosen: set[int] = set()
        while len(chosen) < min(k, len(ranked)):
            chosen.update(rng.choices(ranked, weights, k=k - len(chosen)))
        for pid in sorted(chosen):
            votes.append({"id": ctx.next_id("votes"), "round_id": rid, "household_id": voter,
                          "proposal_id": pid, "user_id": user,
                          "created_at": now - timedelta(hours=rng.randint(1, 120))})
            counts[pid] += 1
    ctx.bulk_insert("voting_rounds", [{
        "id": rid, "table_id": table_id, "title": title,
        "description": "Ogni famiglia residente sostiene fino a cinque proposte.",
        "opens_at": now - timedelta(days=6), "closes_at": now + timedelta(days=30),
        "rule": "supports", "max_supports": MAX_SUPPORTS, "threshold": 50,
        "budget_cents": None, "salt": f"{rng.getrandbits(128):032x}", "created_by_id": officer,
        "created_at": now - timedelta(days=8), "results_at": None, "results": None,
        "ballot_count": len(ballots)}])
    ctx.bulk_insert("voting_entries", [
        {"round_id": rid, "proposal_id": pid, "vote_count": counts[pid], "selected": None,
         "cost_cents": None} for pid in entries])
    for start in range(0, len(votes), 50_000):
        ctx.bulk_insert("votes", votes[start:start + 50_000])
    return rid


def targets(ctx: Context) -> list[Target]:
    info = ctx.ids.get("signed_in")
    if not info:
        return []
    login = (info["email"], PASSWORD)
    slug = ctx.conn.execute(text("SELECT slug FROM tables WHERE id = :t"),
                            {"t": info["table"]}).scalar()
    out = [
        Target("signed in: home", "/", login=login, **SIGNED_IN_BAR),
        Target("signed in: proposals list", "/proposte", login=login, **SIGNED_IN_BAR),
    ]
    if info["proposal"]:
        out.append(Target("signed in: proposal (comments, supports)",
                          f"/proposte/{info['proposal']}", login=login, **SIGNED_IN_BAR))
    for n, (rid, size) in enumerate(info.get("rounds") or []):
        name = ("signed in: open round of the Comune" if n == 0
                else f"signed in: open round of {size:,} proposals")
        out.append(Target(name, f"/votazioni/{rid}", login=login, **SIGNED_IN_BAR))
    out += [
        Target("signed in: catalogue search", "/pratiche?q=famiglia", login=login,
               **SIGNED_IN_BAR),
        Target("signed in: table page", f"/tavoli/{slug}", login=login, **SIGNED_IN_BAR),
        Target("signed in: account", "/account", login=login, **SIGNED_IN_BAR),
    ]
    return out
