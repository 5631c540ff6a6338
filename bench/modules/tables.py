"""Tables at scale: ten years of meetings for every table, each with published minutes.

Every table gets its members (from the table roles the foundation granted), a meeting each
quarter for `years` years with three agenda items, attendance, the working copy of the
minutes, one published revision (canonical JSON and its SHA-256, as the service writes it)
and its decisions; plus one convened meeting ahead. When the proposals module ran too, up
to `projects` proposals become projects (the accountability pages), each approved by one of
its table's decisions: a third implemented, the others in progress, some overdue.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text

from bench.context import Context, Target
from portal.tables.documents import canonical_json, content_hash
from portal.tables.views import PROJECTS_PAGE

ORDER = 40
SCALE = {"table_years": 10, "meetings_per_year": 4, "projects": 10_000}
SMALL_SCALE = {"table_years": 3, "meetings_per_year": 4, "projects": 500}

ROME = ZoneInfo("Europe/Rome")
CHUNK = 20_000
ITEMS = (
    ("Comunicazioni del presidente", "approved"),
    ("Calendario delle iniziative per le famiglie", "approved"),
    ("Aggiornamento sulla Family Card", "approved"),
    ("Rendiconto del fondo solidale", "approved"),
    ("Regolamento per i contributi alle associazioni", "postponed"),
    ("Bando regionale per la conciliazione famiglia-lavoro", "approved_amended"),
    ("Verifica dei progetti in corso", "approved"),
    ("Richiesta di contributo per il centro estivo", "rejected"),
)
DISCUSSION = ("Il tavolo discute il punto. Intervengono i rappresentanti delle famiglie e del "
              "Comune; si chiede di **coinvolgere le associazioni** del territorio.\n\n"
              "- tempi di realizzazione\n- costi e coperture")


def _members(ctx: Context) -> dict[int, list[tuple[int, str, str]]]:
    """Table id -> [(user id, role, name)] from the table roles the foundation granted."""
    rows = ctx.conn.execute(text(
        "SELECT r.scope_id, r.user_id, r.role, u.name FROM role_assignments r "
        "JOIN users u ON u.id = r.user_id WHERE r.scope_type = 'table' "
        "ORDER BY r.scope_id, r.user_id")).all()
    roles: dict[int, dict[int, tuple[str, str]]] = {}
    rank = {"table_chair": "chair", "table_secretary": "secretary", "table_member": "member"}
    for table_id, user_id, role, name in rows:
        seats = roles.setdefault(table_id, {})
        current = seats.get(user_id, ("member", name))[0]
        new = rank[role]
        if current == "member" or new != "member":
            seats[user_id] = (new if new != "member" else current, name)
    return {t: [(u, r, n) for u, (r, n) in seats.items()] for t, seats in roles.items()}


def generate(ctx: Context) -> None:
    rng = ctx.rng
    now = ctx.now
    tables = ctx.ids["tables"]  # comune id (None: the Rete) -> table id
    names = dict(ctx.conn.execute(text("SELECT id, name FROM tables")).all())
    members = _members(ctx)
    comune_names = dict(ctx.conn.execute(text("SELECT id, name FROM comuni")).all())

    seat_rows, seats_of = [], {}
    for comune_id, table_id in tables.items():
        seats = members.get(table_id, [])
        seats_of[table_id] = []
        for user_id, role, name in seats:
            sid = ctx.next_id("table_members")
            kind = "comune" if comune_id is not None and role != "member" else "families"
            seat_rows.append({
                "id": sid, "table_id": table_id, "user_id": user_id, "role": role,
                "body_kind": kind, "comune_id": comune_id if kind == "comune" else None,
                "association_id": None, "title": None, "joined_on": date(2015, 11, 12),
                "left_on": None})
            represents = (f"Comune di {comune_names[comune_id]}" if kind == "comune"
                          else "le famiglie")
            seats_of[table_id].append((sid, role, name, represents))
    for start in range(0, len(seat_rows), CHUNK):
        ctx.bulk_insert("table_members", seat_rows[start:start + CHUNK])

    years = ctx.scale["table_years"]
    per_year = ctx.scale["meetings_per_year"]
    today = now.astimezone(ROME).date()
    buffers: dict[str, list[dict]] = {k: [] for k in (
        "meetings", "agenda_items", "attendances", "minutes_revisions", "decisions",
        "minutes", "minute_items")}
    order = ("meetings", "agenda_items", "attendances", "minutes_revisions", "decisions",
             "minutes", "minute_items")

    def flush(force: bool = False) -> None:
        if not force and len(buffers["agenda_items"]) < CHUNK:
            return
        for name in order:
            ctx.bulk_insert(name, buffers[name])
            buffers[name].clear()

    approved: dict[int, list[tuple[int, date, str]]] = {}  # table id -> decisions
    for table_id in tables.values():
        seats = seats_of[table_id]
        chair = next((n for _s, r, n, _b in seats if r == "chair"), "Il presidente")
        secretary = next((n for _s, r, n, _b in seats if r == "secretary"), "Il segretario")
        for k in range(years * per_year, -1, -1):
            day = today - timedelta(days=int(k * 365 / per_year) + rng.randint(3, 20))
            upcoming = k == 0
            if upcoming:
                day = today + timedelta(days=rng.randint(5, 40))
            local = datetime.combine(day, time(20, 45), tzinfo=ROME)
            starts = local.astimezone(UTC)
            mid = ctx.next_id("meetings")
            buffers["meetings"].append({
                "id": mid, "table_id": table_id, "title": f"Seduta ordinaria del "
                f"{day:%d/%m/%Y}", "starts_at": starts, "ends_at": starts + timedelta(hours=2),
                "place": "Sala consiliare del Comune", "online_url": None, "notes": None,
                "status": "convened", "convened_at": starts - timedelta(days=10),
                "created_at": starts - timedelta(days=14), "created_by_id": None,
                "minutes_revision": 0 if upcoming else 1})
            chosen = rng.sample(ITEMS, 3)
            item_ids = []
            for position, (title, _outcome) in enumerate(chosen, start=1):
                iid = ctx.next_id("agenda_items")
                item_ids.append(iid)
                buffers["agenda_items"].append({
                    "id": iid, "meeting_id": mid, "position": position, "title": title,
                    "description": None, "proposal_id": None})
            if upcoming:
                continue
            attendance = []
            present = 0
            for sid, role, name, represents in seats:
                status = "absent" if rng.random() < 0.2 and role == "member" else "present"
                present += status == "present"
                buffers["attendances"].append({"meeting_id": mid, "member_id": sid,
                                               "status": status, "delegate": None})
                attendance.append({"name": name, "role": role, "represents": represents,
                                   "status": status, "delegate": None})
            attendance.sort(key=lambda a: a["name"])
            reached = present > len(seats) // 2
            published = starts + timedelta(days=8)
            items = []
            for position, ((title, outcome), iid) in enumerate(zip(chosen, item_ids,
                                                                     strict=True), start=1):
                if not reached:
                    outcome = "postponed"
                votes = {"votes_for": None, "votes_against": None, "votes_abstained": None}
                if outcome != "postponed":
                    against = present - 1 if outcome == "rejected" else 0
                    votes = {"votes_for": present - against, "votes_against": against,
                             "votes_abstained": 0}
                decision = {"outcome": outcome, **votes, "amount_cents": None,
                            "funding_source": None,
                            "responsible": "Ufficio Servizi Sociali"
                            if outcome.startswith("approved") else None,
                            "deadline": (day + timedelta(days=180)).isoformat()
                            if outcome.startswith("approved") else None,
                            "motivation": "Manca la copertura di bilancio."
                            if outcome == "rejected" else None}
                items.append({"agenda_item_id": iid, "position": position, "title": title,
                              "proposal_id": None, "discussion": DISCUSSION,
                              "decision": decision})
            content = {
                "format": 1, "table": {"id": table_id, "name": names[table_id]},
                "meeting": {"id": mid, "title": f"Seduta ordinaria del {day:%d/%m/%Y}",
                            "starts_at": starts.isoformat(), "local_date": f"{day:%d/%m/%Y}",
                            "local_time": "20:45", "place": "Sala consiliare del Comune",
                            "online_url": None},
                "revision": 1, "reason": None, "previous_hash": None,
                "quorum": {"present": present, "members": len(seats), "reached": reached},
                "attendance": attendance,
                "intro": f"Presiede {chair}; verbalizza {secretary}.",
                "items": items, "approved_by": chair, "published_by": secretary,
                "published_at": published.isoformat(),
            }
            serialised = canonical_json(content)
            rid = ctx.next_id("minutes_revisions")
            buffers["minutes_revisions"].append({
                "id": rid, "meeting_id": mid, "number": 1, "published_at": published,
                "reason": None, "content": serialised,
                "content_hash": content_hash(serialised), "published_by": secretary,
                "approved_by": chair})
            minutes_id = ctx.next_id("minutes")
            buffers["minutes"].append({
                "id": minutes_id, "meeting_id": mid, "status": "published",
                "intro": content["intro"], "correction_reason": None, "approved_by_id": None,
                "approved_at": published - timedelta(days=1), "updated_at": published,
                "current_revision_id": rid})
            for item in items:
                d = item["decision"]
                deadline = date.fromisoformat(d["deadline"]) if d["deadline"] else None
                decision_id = ctx.next_id("decisions")
                if d["outcome"].startswith("approved"):
                    approved.setdefault(table_id, []).append((decision_id, day, item["title"]))
                buffers["decisions"].append({
                    "id": decision_id, "revision_id": rid, "meeting_id": mid,
                    "table_id": table_id, "agenda_item_id": item["agenda_item_id"],
                    "proposal_id": None, "revision_number": 1, "position": item["position"],
                    "title": item["title"], "outcome": d["outcome"],
                    "votes_for": d["votes_for"], "votes_against": d["votes_against"],
                    "votes_abstained": d["votes_abstained"], "amount_cents": None,
                    "funding_source": None, "responsible": d["responsible"],
                    "deadline": deadline, "motivation": d["motivation"], "decided_on": day,
                    "published_at": published})
                buffers["minute_items"].append({
                    "id": ctx.next_id("minute_items"), "minutes_id": minutes_id,
                    "agenda_item_id": item["agenda_item_id"], "discussion": DISCUSSION,
                    "outcome": d["outcome"], "votes_for": d["votes_for"],
                    "votes_against": d["votes_against"],
                    "votes_abstained": d["votes_abstained"], "amount_cents": None,
                    "funding_source": None, "responsible": d["responsible"],
                    "deadline": deadline, "motivation": d["motivation"]})
            flush()
    flush(force=True)
    _projects(ctx, approved, today)


def _projects(ctx: Context, approved: dict[int, list[tuple[int, date, str]]],
              today: date) -> None:
    """Projects for proposals of the Comuni (if the proposals module generated any)."""
    has_proposals = ctx.conn.execute(text(
        "SELECT 1 FROM proposals WHERE table_id IS NOT NULL LIMIT 1")).first()
    if has_proposals is None:
        return
    rng = ctx.rng
    rows = ctx.conn.execute(text(
        "SELECT id, table_id, comune_id, title FROM proposals WHERE table_id IS NOT NULL "
        "ORDER BY id LIMIT :n"), {"n": ctx.scale["projects"]}).all()
    projects = []
    for proposal_id, table_id, comune_id, title in rows:
        decisions = approved.get(table_id)
        if not decisions:
            continue
        decision_id, day, _item = rng.choice(decisions)
        deadline = day + timedelta(days=rng.randint(90, 720))
        done = rng.random() < 0.33
        progress = 100 if done else rng.randint(0, 95)
        projects.append({
            "id": ctx.next_id("projects"), "proposal_id": proposal_id,
            "decision_id": decision_id, "table_id": table_id, "comune_id": comune_id,
            "title": title[:200], "responsible": "Ufficio Servizi Sociali",
            "deadline": deadline, "amount_cents": None,
            "status": "implemented" if done else "in_progress", "progress": progress,
            "started_on": day, "updated_at": datetime.combine(
                min(deadline, today), time(12), tzinfo=UTC),
            "implemented_on": min(deadline, today) if done else None, "practice_id": None})
    for start in range(0, len(projects), CHUNK):
        ctx.bulk_insert("projects", projects[start:start + CHUNK])


def targets(ctx: Context) -> list[Target]:
    slugs = ctx.conn.execute(text(
        "SELECT id, slug FROM tables WHERE comune_id IS NOT NULL ORDER BY id")).all()
    sample = slugs[:: max(1, len(slugs) // 200)]
    table_ids = [t.id for t in sample]
    meetings = []
    for table_id in table_ids:
        rows = ctx.conn.execute(text(
            "SELECT id FROM meetings WHERE table_id = :t AND minutes_revision > 0 "
            "ORDER BY starts_at"), {"t": table_id}).scalars().all()
        if rows:
            meetings.extend(rows[:: max(1, len(rows) // 3)][:3])
    return [
        Target("tables: index", "/tavoli"),
        Target("table page (10 years of meetings)", f"/tavoli/{sample[0].slug}",
               variants=[(f"/tavoli/{s.slug}", None) for s in sample]),
        Target("meeting page (published minutes)", f"/sedute/{meetings[0]}",
               variants=[(f"/sedute/{m}", None) for m in meetings]),
        Target("table archive by year", f"/tavoli/{sample[0].slug}/sedute?anno=2020",
               variants=[(f"/tavoli/{s.slug}/sedute?anno=2020", None) for s in sample]),
        Target("decisions API", "/api/v1/delibere"),
        *_project_targets(ctx),
    ]


def _project_targets(ctx: Context) -> list[Target]:
    """The accountability pages, when projects were generated: the Rete's and the Comuni
    with the most projects."""
    top = ctx.conn.execute(text(
        "SELECT c.slug FROM projects p JOIN comuni c ON c.id = p.comune_id "
        "GROUP BY c.slug ORDER BY count(*) DESC, c.slug LIMIT 20")).scalars().all()
    if not top:
        return []
    # The overdue section's last pages: overdue is judged on the day the portal runs.
    overdue = ctx.conn.execute(text(
        "SELECT count(*) FROM projects WHERE status = 'in_progress' AND deadline < :today"),
        {"today": datetime.now(ROME).date()}).scalar()
    pages = max(1, -(-overdue // PROJECTS_PAGE))
    deep = list(range(max(1, pages - 29), pages + 1))
    return [
        Target("accountability: the Rete's projects", "/progetti"),
        Target("accountability: a Comune's projects", f"/comuni/{top[0]}/progetti",
               variants=[(f"/comuni/{slug}/progetti", None) for slug in top]),
        # a whole section a page at a time: the deepest pages of the largest section
        Target("accountability: a section, deep page",
               f"/progetti?sezione=in-ritardo&pagina={deep[0]}",
               variants=[(f"/progetti?sezione=in-ritardo&pagina={n}", None) for n in deep]),
    ]
