"""Proposals and voting at scale: 100,000 proposals with their history, themes and comments,
yearly voting rounds (five years) of every table with 2,000,000 votes, and one open round of the
inter-municipal table where the benchmark's households vote.

SQLite gets a smaller set by default (see SQLITE_SCALE); `--scale` overrides both.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import text

from bench.context import VOTE_BAR, Context, Target
from portal.proposals.services import render_markdown

ORDER = 20
SCALE = {"proposals": 100_000, "votes": 2_000_000}
SMALL_SCALE = {"proposals": 5_000, "votes": 100_000}
#: SQLite is the embedded default, not the province's server: a smaller world unless told
SQLITE_SCALE = {"proposals": 50_000, "votes": 500_000}
CHUNK = 20_000
ROUND_YEARS = 5
MAX_SUPPORTS = 5
OPEN_ROUND_ENTRIES = 200
VOTERS = 500

STATES = (("published", 62), ("selected", 4), ("on_agenda", 3), ("approved", 5),
          ("not_approved", 3), ("in_progress", 3), ("implemented", 5), ("submitted", 5),
          ("changes_requested", 2), ("draft", 3), ("rejected", 2), ("withdrawn", 2),
          ("merged", 1))
PATHS = {
    "draft": [], "submitted": ["submitted"], "changes_requested": ["submitted",
                                                                  "changes_requested"],
    "published": ["submitted", "published"], "rejected": ["submitted", "rejected"],
    "withdrawn": ["submitted", "published", "withdrawn"], "merged": ["submitted", "merged"],
    "selected": ["submitted", "published", "selected"],
    "on_agenda": ["submitted", "published", "selected", "on_agenda"],
    "approved": ["submitted", "published", "selected", "on_agenda", "approved"],
    "not_approved": ["submitted", "published", "selected", "on_agenda", "not_approved"],
    "in_progress": ["submitted", "published", "selected", "on_agenda", "approved",
                    "in_progress"],
    "implemented": ["submitted", "published", "selected", "on_agenda", "approved",
                    "in_progress", "implemented"],
}
PUBLIC = {"published", "selected", "on_agenda", "approved", "not_approved", "in_progress",
          "implemented"}
SUBJECTS = ("Pedibus", "Doposcuola", "Ludoteca", "Orto condiviso", "Banca del tempo",
            "Centro estivo", "Sportello per genitori", "Banco del riuso", "Gruppo di cammino",
            "Ciclofficina", "Cineforum per famiglie", "Spazio compiti", "Navetta del sabato",
            "Feste di cortile", "Baby parking", "Corso di educazione finanziaria")
PLACES = ("in biblioteca", "al parco", "all'oratorio", "a scuola", "in sala civica",
          "nel quartiere", "in piazza", "al centro sportivo")
SUMMARY = ("Una proposta delle famiglie per {what} {where}: tempi, spazi e volontari per "
           "farla partire insieme al Comune e alle associazioni.")
BODY = ("Molte famiglie del quartiere ne sentono il bisogno.\n\nProponiamo **{what}** {where}, "
        "con un calendario condiviso e il coinvolgimento dei nonni.\n\n- costi contenuti\n"
        "- volontari formati\n- aperto a tutti")
COMMENTS = ("Ottima idea, ci siamo!", "Potremmo aiutare il sabato mattina.",
            "Serve però uno spazio coperto d'inverno.", "Anche noi, con due figli alle medie.",
            "Chi si occupa dell'assicurazione dei volontari?")


def _sizes(ctx: Context) -> tuple[int, int]:
    proposals, votes = ctx.scale["proposals"], ctx.scale["votes"]
    if ctx.dialect == "sqlite" and (proposals, votes) == tuple(SCALE.values()):
        proposals, votes = SQLITE_SCALE["proposals"], SQLITE_SCALE["votes"]
    return proposals, votes


def _themes(ctx: Context) -> list[str]:
    try:
        rows = ctx.conn.execute(text("SELECT slug FROM themes WHERE active ORDER BY id")).all()
    except Exception:  # noqa: BLE001 - no catalogue: our own list
        rows = []
    if rows:
        return [r[0] for r in rows]
    from portal.proposals.themes import DEFAULT_THEMES

    return list(DEFAULT_THEMES)


def generate(ctx: Context) -> None:
    rng, now = ctx.rng, ctx.now
    total, total_votes = _sizes(ctx)
    tables: dict = ctx.ids["tables"]  # comune id (None: the Rete) -> table id
    rete_table = tables[None]
    household_comune = dict(ctx.conn.execute(text("SELECT id, comune_id FROM households")).all())
    verified = ctx.ids["verified_households"]
    by_comune: dict[int, list[int]] = defaultdict(list)
    for hid in verified:
        by_comune[household_comune[hid]].append(hid)
    users = ctx.ids["household_users"]
    moderators: dict = ctx.ids["users"]["moderators"]  # association id -> user id
    association_ids = list(moderators)
    theme_slugs = _themes(ctx)
    states = [s for s, _w in STATES]
    weights = [w for _s, w in STATES]
    proposers = rng.choices(verified, k=total)
    first = ctx.next_id("proposals", total)
    ids = list(range(first, first + total))
    bodies = {}

    # ----------------------------------------------------------------- proposals
    meta: dict[int, tuple[int, str, object, int]] = {}  # id -> (table, state, published, cid)
    for start in range(0, total, CHUNK):
        proposals, themes, events, comments = [], [], [], []
        for pid, hid in zip(ids[start:start + CHUNK], proposers[start:start + CHUNK],
                            strict=True):
            cid = household_comune[hid]
            table_id = rete_table if rng.random() < 0.08 else tables[cid]
            state = rng.choices(states, weights=weights)[0]
            what, where = rng.choice(SUBJECTS), rng.choice(PLACES)
            created = now - timedelta(days=rng.randint(3, ROUND_YEARS * 365),
                                      minutes=rng.randint(0, 1439))
            key = (what, where)
            if key not in bodies:
                body = BODY.format(what=what.lower(), where=where)
                bodies[key] = (body, render_markdown(body))
            body, html = bodies[key]
            at = created
            submitted = published = None
            author = users[hid][0]
            for step in PATHS[state]:
                at = at + timedelta(days=rng.randint(1, 9), hours=rng.randint(0, 12))
                if step == "submitted" and submitted is None:
                    submitted = at
                if step == "published":
                    published = at
                actor = (moderators[rng.choice(association_ids)]
                         if step in ("published", "changes_requested", "rejected", "merged")
                         else author if step in ("submitted", "withdrawn") else None)
                events.append({"id": ctx.next_id("proposal_events"), "proposal_id": pid,
                               "at": at, "kind": "state", "from_state": None,
                               "to_state": step, "actor_id": actor, "association_id": None,
                               "table_id": None, "note": None, "details": None})
            listed = state in PUBLIC
            cost = None if rng.random() < 0.2 else rng.randint(5, 400) * 10_000
            proposals.append({
                "id": pid, "comune_id": cid, "table_id": table_id, "household_id": hid,
                "author_id": author, "title": f"{what} {where}",
                "summary": SUMMARY.format(what=what.lower(), where=where), "body": body,
                "body_html": html, "estimated_cost_cents": cost,
                "own_contribution": "Turni di volontari tra le famiglie proponenti.",
                "state": state, "created_at": created, "updated_at": at,
                "submitted_at": submitted, "published_at": published, "state_changed_at": at,
                "listed": listed,
                "comment_count": 0, "merged_into_id": None, "on_behalf_by_id": None,
                "on_behalf_consent": None, "on_behalf_consent_at": None, "hidden_at": None,
                "hidden_reason": None, "hidden_by_association_id": None})
            for slug in rng.sample(theme_slugs, rng.randint(1, 2)):
                themes.append({"proposal_id": pid, "theme": slug})
            if listed:
                n = rng.choices((0, 1, 2, 3, 6), weights=(35, 30, 20, 10, 5))[0]
                for i in range(n):
                    comments.append({
                        "id": ctx.next_id("proposal_comments"), "proposal_id": pid,
                        "parent_id": None, "author_id": users[rng.choice(verified)][0],
                        "body": rng.choice(COMMENTS), "created_at": published + timedelta(
                            hours=3 + 7 * i), "edited_at": None, "hidden_at": None,
                        "hidden_reason": None, "hidden_by_association_id": None})
                proposals[-1]["comment_count"] = n
            meta[pid] = (table_id, state, published, cid)
        ctx.bulk_insert("proposals", proposals)
        ctx.bulk_insert("proposal_supports",
                        [{"proposal_id": p["id"], "support_count": 0} for p in proposals])
        ctx.bulk_insert("proposal_themes", themes)
        ctx.bulk_insert("proposal_events", events)
        ctx.bulk_insert("proposal_comments", comments)

    # ----------------------------------------------------------------- rounds and votes
    # One round a year for every table; each published proposal joins the round after it
    # was published (the years before now), so that votes spread over four years.
    rounds: dict[tuple[int, int], int] = {}  # (table, year index) -> round id
    entries: dict[int, list[int]] = defaultdict(list)  # round -> proposal ids
    round_rows = []
    table_comune = {t: c for c, t in tables.items()}
    for pid, (table_id, state, published, _cid) in meta.items():
        if published is None or state == "withdrawn":
            continue
        years_ago = min(ROUND_YEARS - 1, (now - published).days // 365)
        key = (table_id, years_ago)
        if key not in rounds:
            rid = ctx.next_id("voting_rounds")
            rounds[key] = rid
            opens = now - timedelta(days=365 * years_ago + 40)
            round_rows.append({
                "id": rid, "table_id": table_id, "title": f"Votazione {now.year - years_ago}",
                "description": None, "opens_at": opens, "closes_at": opens + timedelta(days=14),
                "rule": "supports", "max_supports": MAX_SUPPORTS, "threshold": 5,
                "budget_cents": None, "salt": f"{rng.getrandbits(128):032x}",
                "created_by_id": None, "created_at": opens - timedelta(days=7),
                "results_at": None, "results": None, "ballot_count": 0})
        entries[rounds[key]].append(pid)
    round_table = {rid: table for (table, _y), rid in rounds.items()}

    # The open round where the benchmark votes: the Rete's, any verified household votes.
    open_id = ctx.next_id("voting_rounds")
    rete_published = [pid for pid, m in meta.items() if m[0] == rete_table and m[1] == "published"]
    open_entries = rete_published[:OPEN_ROUND_ENTRIES]
    round_rows.append({
        "id": open_id, "table_id": rete_table, "title": "Proposte intercomunali (aperta)",
        "description": None, "opens_at": now - timedelta(days=10),
        "closes_at": now + timedelta(days=365), "rule": "supports",
        "max_supports": MAX_SUPPORTS, "threshold": 500, "budget_cents": None,
        "salt": f"{rng.getrandbits(128):032x}", "created_by_id": None,
        "created_at": now - timedelta(days=20), "results_at": None, "results": None,
        "ballot_count": 0})
    ctx.bulk_insert("voting_rounds", round_rows)

    # Capacity of each closed round: its voters times the supports each may give.
    voters_of: dict[int, list[int]] = {}
    capacity = 0
    for rid, pids in entries.items():
        cid = table_comune[round_table[rid]]
        pool = by_comune.get(cid, []) if cid is not None else verified
        if cid is None and len(pool) > 5_000:
            pool = rng.sample(pool, 5_000)
        voters_of[rid] = pool
        capacity += len(pool) * min(len(pids), MAX_SUPPORTS)
    ratio = min(1.0, total_votes / max(capacity, 1))
    counts: dict[tuple[int, int], int] = defaultdict(int)
    batch = []
    first_vote = next_vote = ctx.next_id("votes", 0)
    written = 0
    for rid, pids in entries.items():
        room = min(len(pids), MAX_SUPPORTS)
        for hid in voters_of[rid]:
            want = room * ratio
            k = int(want) + (1 if rng.random() < want - int(want) else 0)
            if k == 0:
                continue
            for pid in rng.sample(pids, k):
                batch.append({"id": next_vote, "round_id": rid, "household_id": hid,
                              "proposal_id": pid, "user_id": users[hid][0],
                              "created_at": now - timedelta(days=30)})
                next_vote += 1
                counts[(rid, pid)] += 1
            if len(batch) >= 50_000:
                written += ctx.bulk_insert("votes", batch)
                batch = []
    written += ctx.bulk_insert("votes", batch)
    ctx.next_id("votes", next_vote - first_vote)

    entry_rows = [{"round_id": rid, "proposal_id": pid, "vote_count": counts.get((rid, pid), 0),
                   "selected": None, "cost_cents": None}
                  for rid, pids in entries.items() for pid in pids]
    entry_rows += [{"round_id": open_id, "proposal_id": pid, "vote_count": 0, "selected": None,
                    "cost_cents": None} for pid in open_entries]
    for start in range(0, len(entry_rows), 50_000):
        ctx.bulk_insert("voting_entries", entry_rows[start:start + 50_000])
    # Each proposal shows the supports of its round.
    support = defaultdict(int)
    for (_rid, pid), n in counts.items():
        support[pid] += n
    for pid in open_entries:
        support[pid] = 0  # their counter shows the open round
    _update_supports(ctx, support)
    ctx.ids.update({"proposals_open_round": open_id, "proposals_open_entries": open_entries,
                    "proposals_votes": written})


def _update_supports(ctx: Context, support: dict[int, int]) -> None:
    """Write the denormalised counters through a temporary table (one statement)."""
    ctx.conn.execute(text("CREATE TEMPORARY TABLE bench_support (id INTEGER PRIMARY KEY, "
                          "n INTEGER NOT NULL)"))
    rows = [{"id": pid, "n": n} for pid, n in support.items()]
    for start in range(0, len(rows), 50_000):
        ctx.bulk_insert("bench_support", rows[start:start + 50_000])
    ctx.conn.execute(text("UPDATE proposal_supports SET support_count = (SELECT n "
                          "FROM bench_support b WHERE b.id = proposal_supports.proposal_id) "
                          "WHERE proposal_id IN (SELECT id FROM bench_support)"))
    ctx.conn.execute(text("DROP TABLE bench_support"))


def targets(ctx: Context) -> list[Target]:
    conn = ctx.conn
    open_id = ctx.ids.get("proposals_open_round") or conn.execute(text(
        "SELECT max(id) FROM voting_rounds")).scalar()
    entries = ctx.ids.get("proposals_open_entries") or [r[0] for r in conn.execute(text(
        "SELECT proposal_id FROM voting_entries WHERE round_id = :r ORDER BY proposal_id"),
        {"r": open_id})]
    # The Comune with the most listed proposals, and a theme, for the filtered list.
    comune = conn.execute(text(
        "SELECT comune_id FROM proposals WHERE listed GROUP BY comune_id "
        "ORDER BY count(*) DESC LIMIT 1")).scalar()
    theme = conn.execute(text("SELECT theme FROM proposal_themes GROUP BY theme "
                              "ORDER BY count(*) DESC LIMIT 1")).scalar()
    sample = [r[0] for r in conn.execute(text(
        "SELECT id FROM proposals WHERE listed AND comment_count > 0 ORDER BY id LIMIT 20000"))]
    sample = sample[:: max(1, len(sample) // 200)][:200]
    cursor = conn.execute(text(
        "SELECT published_at, id FROM proposals WHERE listed "
        "ORDER BY published_at DESC, id DESC LIMIT 1 OFFSET 2000")).first()
    verified = ctx.ids.get("verified_households")
    users_of = ctx.ids.get("household_users")
    if verified is None or users_of is None:
        rows = conn.execute(text(
            "SELECT u.id, h.id FROM users u JOIN households h ON h.id = u.household_id "
            "WHERE h.status = 'verified' ORDER BY h.id LIMIT 5000")).all()
        voters = [(uid, hid) for uid, hid in rows][::10][:VOTERS]
        htmx_voters = [(uid, hid) for uid, hid in rows][5::10][:VOTERS]
    else:
        step = max(1, len(verified) // VOTERS)
        voters = [(users_of[hid][0], hid) for hid in verified[::step][:VOTERS]]
        # the htmx target votes with other households: the two cycles never meet
        htmx_voters = [(users_of[hid][0], hid) for hid in verified[1::step][:VOTERS]]
    user_ids = [uid for uid, _hid in voters]
    htmx_ids = [uid for uid, _hid in htmx_voters]
    # variant i is sent as user i % len(users): user k votes for its proposal, then, one lap
    # later, withdraws the vote, so that every request writes.
    vote_paths = [(f"/votazioni/{open_id}/proposte/{entries[k % len(entries)]}/voto",
                   "csrf_token={csrf}") for k in range(len(user_ids))]
    withdraw_paths = [(f"/votazioni/{open_id}/proposte/{entries[k % len(entries)]}/ritira",
                       "csrf_token={csrf}") for k in range(len(user_ids))]
    targets = [
        Target("proposals list", "/proposte"),
        Target("proposals by supports", "/proposte?ordina=sostegni"),
        Target("proposals filtered", f"/proposte?comune={comune}&tema={theme}"),
        Target("proposals filtered (htmx)", f"/proposte?tema={theme}&stato=published",
               headers={"HX-Request": "true"}),
        Target("proposal page", f"/proposte/{sample[0]}",
               variants=[(f"/proposte/{pid}", None) for pid in sample]),
        Target("proposals api", "/api/v1/proposte"),
        Target("vote POST", vote_paths[0][0], method="POST", body="csrf_token={csrf}",
               as_users=user_ids, variants=vote_paths + withdraw_paths,
               **VOTE_BAR),
        # The same with JavaScript: htmx sends the token in a header and gets the vote box.
        Target("vote POST (htmx)", vote_paths[0][0], method="POST", body="",
               headers={"HX-Request": "true"}, as_users=htmx_ids,
               variants=[(p, "") for p, _b in vote_paths[:len(htmx_ids)]]
               + [(p, "") for p, _b in withdraw_paths[:len(htmx_ids)]],
               **VOTE_BAR),
    ]
    if cursor is not None:
        from datetime import UTC

        published = cursor[0]
        if isinstance(published, str):
            from datetime import datetime

            published = datetime.fromisoformat(published)
        key = int(published.replace(tzinfo=UTC).timestamp() * 1_000_000)
        targets.insert(2, Target("proposals page 100", f"/proposte?dopo={key}_{cursor[1]}"))
    return targets
