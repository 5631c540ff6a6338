"""The foundation at scale: real Comuni (Lombardy first), their tables, associations,
households with members and accounts, and the role assignments of a working Rete."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import text

from bench.context import Context, Target
from portal.network.services import slugify

ORDER = 0
SCALE = {"comuni": 1_500, "households": 100_000, "associations": 300, "merchants": 3_000}
SMALL_SCALE = {"comuni": 200, "households": 5_000, "associations": 40, "merchants": 300}

REPO = Path(__file__).resolve().parents[2]
CSV_PLACES = (REPO.parent / "shared" / "data" / "comuni_istat.csv",
              REPO / "portal" / "network" / "data" / "comuni_istat.csv")
FIRST_REGION = "Lombardia"
CONSTITUTION = date(2015, 11, 12)
CHUNK = 10_000

SURNAMES = (
    "Rossi Bianchi Colombo Brambilla Ferrari Galli Sala Villa Fumagalli Cattaneo Riva Mariani "
    "Longoni Mauri Redaelli Sironi Confalonieri Pozzi Viganò Meroni Crippa Molteni Radaelli "
    "Tagliabue Corbetta Arosio Ronchi Zappa Motta Vergani Cazzaniga Pirovano Frigerio Gatti "
    "Perego Bassi Bonfanti Brivio Canzi Casati Cereda Colnaghi Corti Fossati Gerosa Grassi "
    "Lissoni Lurati Maggioni Mandelli Manzoni Marelli Mazza Monti Nava Oggioni Origgi Parravicini "
    "Pessina Pozzoli Rigamonti Rivolta Rota Ruffini Scotti Spreafico Stucchi Tremolada Valtorta "
    "Vimercati Zanetti Ghezzi Bernasconi Cappelletti Agostoni Bianchini Lombardi Moretti Barbieri"
).split()
FIRST_NAMES = (
    "Giulia Marco Chiara Luca Sara Andrea Francesca Paolo Elena Davide Anna Matteo Laura Stefano "
    "Silvia Giorgio Alessandro Martina Federico Valentina Simone Roberta Lorenzo Elisa Riccardo "
    "Alessia Gabriele Ilaria Tommaso Beatrice Pietro Giorgia Filippo Camilla Edoardo Sofia "
    "Leonardo Aurora Emma Mattia Greta Nicolò Alice Samuele Ginevra Diego Noemi Michele"
).split()
ASSOCIATION_KINDS = ("family", "third_sector", "enterprise", "public_body")
MERCHANT_KINDS = (("Panificio", "Alimentari"), ("Farmacia", "Salute"),
                  ("Libreria", "Cultura"), ("Cartoleria", "Scuola"), ("Ottica", "Salute"),
                  ("Piscina comunale", "Sport"), ("Ludoteca", "Tempo libero"),
                  ("Negozio di calzature", "Abbigliamento"), ("Pizzeria", "Ristorazione"),
                  ("Centro sportivo", "Sport"), ("Abbigliamento bimbi", "Abbigliamento"))
STREETS = ("Via Roma", "Via Manzoni", "Via Garibaldi", "Via Mazzini", "Corso Italia",
           "Via Dante", "Piazza della Libertà", "Via Verdi", "Via Cavour", "Via XXV Aprile")


def _istat_rows(count: int) -> list[dict]:
    """The first `count` Comuni of the ISTAT list, Lombardy first."""
    path = next(p for p in CSV_PLACES if p.exists())
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows.sort(key=lambda r: r["regione"] != FIRST_REGION)  # stable: keeps ISTAT order
    if count > len(rows):
        raise SystemExit(f"only {len(rows)} Comuni in {path}")
    return rows[:count]


def _days_between(ctx: Context, start: date, end: date) -> date:
    return start + timedelta(days=ctx.rng.randint(0, max((end - start).days, 0)))


def generate(ctx: Context) -> None:
    rng, now = ctx.rng, ctx.now
    today = now.date()
    pw = ctx.password_hash

    # ----------------------------------------------------------------- Comuni and tables
    istat_rows = _istat_rows(ctx.scale["comuni"])
    first_comune = ctx.next_id("comuni", len(istat_rows))
    comuni, slugs, seen = [], {}, set()
    for i, row in enumerate(istat_rows):
        slug = slugify(row["nome"])
        if slug in seen:  # the same name in two provinces
            slug = f"{slug}-{row['sigla'].lower()}"
        seen.add(slug)
        cid = first_comune + i
        slugs[cid] = slug
        comuni.append({
            "id": cid, "name": row["nome"], "slug": slug, "istat_code": row["codice_istat"],
            "province": row["provincia"],
            "population": int(row["popolazione_2011"]) if row["popolazione_2011"] else None,
            "joined_on": CONSTITUTION if i < 7 else _days_between(ctx, CONSTITUTION,
                                                                   today - timedelta(days=30)),
            "description": f"{row['nome']} aderisce alla Rete dei Comuni Amici della Famiglia "
                           f"e promuove politiche per le famiglie del territorio.",
            "website": f"https://www.comune.{slug}.{row['sigla'].lower()}.it",
        })
    ctx.bulk_insert("comuni", comuni)
    comune_ids = [c["id"] for c in comuni]
    by_province = defaultdict(list)
    for c in comuni:
        by_province[c["province"]].append(c["id"])

    first_table = ctx.next_id("tables", len(comuni) + 1)
    tables = [{"id": first_table, "name": "Tavolo intercomunale della Rete",
               "slug": "tavolo-intercomunale", "comune_id": None,
               "constituted_on": CONSTITUTION,
               "description": "Sindaci, assessori e referenti dei Comuni della Rete con le "
                              "associazioni familiari promotrici."}]
    for i, c in enumerate(comuni, start=1):
        tables.append({"id": first_table + i, "name": f"Tavolo delle famiglie in rete di "
                       f"{c['name']}", "slug": f"tavolo-{c['slug']}", "comune_id": c["id"],
                       "constituted_on": c["joined_on"], "description": None})
    ctx.bulk_insert("tables", tables)
    table_ids = {t["comune_id"]: t["id"] for t in tables}

    ctx.bulk_insert("activity", [
        {"id": ctx.next_id("activity"), "at": _at(c["joined_on"]), "kind": "comune.joined",
         "title": f"{c['name']} entra nella Rete", "link": f"/comuni/{c['slug']}",
         "comune_id": c["id"]} for c in comuni])

    # ----------------------------------------------------------------- staff accounts
    users: list[dict] = []
    roles: list[dict] = []

    def add_user(email: str, name: str, household_id: int | None = None,
                 created=None) -> int:
        uid = ctx.next_id("users")
        created = created or now - timedelta(days=rng.randint(30, 3000))
        users.append({"id": uid, "email": email, "name": name, "password_hash": pw,
                      "email_confirmed_at": created + timedelta(minutes=rng.randint(2, 600)),
                      "created_at": created, "household_id": household_id,
                      "deleted_at": None})
        return uid

    def grant(user_id: int, role: str, scope_type: str, scope_id: int, by: int | None) -> None:
        roles.append({"id": ctx.next_id("role_assignments"), "user_id": user_id, "role": role,
                      "scope_type": scope_type, "scope_id": scope_id, "granted_by_id": by,
                      "granted_at": now - timedelta(days=rng.randint(1, 2000))})

    def person() -> str:
        return f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"

    coordinator = add_user("coordinamento@bench.example.org", "Carla Coordinatrice")
    grant(coordinator, "coordinator", "network", 0, None)
    grant(coordinator, "table_chair", "table", table_ids[None], coordinator)
    officers = {}
    for c in comuni:
        uid = add_user(f"servizi.sociali@{c['slug']}.bench.example.org",
                       f"{person()} (Servizi sociali)")
        officers[c["id"]] = uid
        grant(uid, "comune_officer", "comune", c["id"], coordinator)
        grant(uid, "fund_manager", "comune", c["id"], coordinator)
        if rng.random() < 0.3:
            grant(uid, "facilitator", "comune", c["id"], coordinator)
        grant(uid, "table_member", "table", table_ids[None], coordinator)

    # ----------------------------------------------------------------- associations
    association_rows, links, moderators = [], [], {}
    names: set[str] = set()
    provinces = list(by_province)
    for n in range(ctx.scale["associations"]):
        kind = ASSOCIATION_KINDS[0] if n % 3 == 0 else rng.choice(ASSOCIATION_KINDS)
        home = rng.choice(comune_ids)
        home_name = comuni[home - first_comune]["name"]
        if n < len(provinces) and n % 3 == 0:
            name = f"Forum delle Associazioni Familiari di {provinces[n]}"
            members = by_province[provinces[n]]
        else:
            stem = {"family": rng.choice(("Famiglie in Cammino", "Associazione Genitori",
                                          "Famiglie Insieme", "Mamme e Papà")),
                    "third_sector": rng.choice(("Banca del Tempo", "Acli", "Centro Aiuto "
                                                "alla Vita", "Oratorio")),
                    "enterprise": rng.choice(("Cooperativa Il Germoglio", "Cooperativa "
                                              "L'Arcobaleno", "Asilo nido Il Girotondo")),
                    "public_body": rng.choice(("Consultorio familiare", "Istituto "
                                               "comprensivo", "Azienda speciale"))}[kind]
            name = f"{stem} {home_name}"
            province = comuni[home - first_comune]["province"]
            near = by_province[province]
            members = sorted({home, *rng.sample(near, min(len(near), rng.randint(0, 4)))})
        if name in names or slugify(name) in names:
            name = f"{name} ({n})"
        names.update((name, slugify(name)))
        aid = ctx.next_id("associations")
        association_rows.append({
            "id": aid, "name": name, "slug": slugify(name), "kind": kind,
            "description": f"{name}: attività e servizi per le famiglie del territorio.",
            "website": None})
        links.extend({"association_id": aid, "comune_id": cid} for cid in members)
        mid = add_user(f"moderazione{aid}@bench.example.org", f"{person()} (Moderazione)")
        moderators[aid] = mid
        grant(mid, "moderator", "association", aid, coordinator)
    ctx.bulk_insert("associations", association_rows)
    ctx.bulk_insert("association_comuni", links)
    ctx.bulk_insert("users", users)
    users.clear()

    # ----------------------------------------------------------------- merchants
    merchant_rows = []
    for _ in range(ctx.scale["merchants"]):
        label, category = rng.choice(MERCHANT_KINDS)
        cid = rng.choice(comune_ids)
        merchant_rows.append({"id": ctx.next_id("merchants"),
                              "name": f"{label} {rng.choice(SURNAMES)}", "comune_id": cid,
                              "address": f"{rng.choice(STREETS)} {rng.randint(1, 120)}",
                              "category": category})
    ctx.bulk_insert("merchants", merchant_rows)

    # ----------------------------------------------------------------- households
    weights = [c["population"] or 1_000 for c in comuni]
    total = ctx.scale["households"]
    placed = rng.choices(comune_ids, weights=weights, k=total)
    first_household = ctx.next_id("households", total)
    household_ids = list(range(first_household, first_household + total))
    verified: list[int] = []
    household_users: dict[int, list[int]] = {}
    table_staff: dict[int, list[int]] = defaultdict(list)  # comune id -> user ids
    year = now.year
    for start in range(0, total, CHUNK):
        households, members = [], []
        for hid, cid in zip(household_ids[start:start + CHUNK], placed[start:start + CHUNK],
                            strict=True):
            surname = rng.choice(SURNAMES)
            created = now - timedelta(days=rng.randint(1, 1500), minutes=rng.randint(0, 1439))
            roll = rng.random()
            status = "verified" if roll < 0.85 else "pending" if roll < 0.97 else "rejected"
            decided = status != "pending"
            households.append({
                "id": hid, "name": f"Famiglia {surname}", "comune_id": cid,
                "created_at": created, "status": status,
                "verified_by_id": officers[cid] if decided else None,
                "verified_at": created + timedelta(days=rng.randint(1, 15)) if decided else None,
                "review_note": "La residenza non risulta all'anagrafe comunale."
                               if status == "rejected" else None,
                "anonymised_at": None})
            if status == "verified":
                verified.append(hid)
            adults = 2 if rng.random() < 0.7 else 1
            children = rng.choices((0, 1, 2, 3, 4), weights=(15, 30, 35, 15, 5))[0]
            account_names = []
            for a in range(adults):
                first = rng.choice(FIRST_NAMES)
                account_names.append(first)
                members.append({"id": ctx.next_id("household_members"), "household_id": hid,
                                "first_name": first, "kind": "adult",
                                "birth_year": year - rng.randint(28, 58) - a,
                                "disability": rng.random() < 0.02})
            for _ in range(children):
                members.append({"id": ctx.next_id("household_members"), "household_id": hid,
                                "first_name": rng.choice(FIRST_NAMES), "kind": "child",
                                "birth_year": year - rng.randint(0, 17),
                                "disability": rng.random() < 0.04})
            accounts = [add_user(f"famiglia{hid}@bench.example.org",
                                 f"{account_names[0]} {surname}", hid, created)]
            if adults == 2 and rng.random() < 0.35:
                accounts.append(add_user(f"famiglia{hid}.2@bench.example.org",
                                         f"{account_names[1]} {surname}", hid, created))
            household_users[hid] = accounts
            if status == "verified" and len(table_staff[cid]) < 6:
                table_staff[cid].append(accounts[0])
        ctx.bulk_insert("households", households)
        ctx.bulk_insert("household_members", members)
        ctx.bulk_insert("users", users)
        users.clear()

    # ----------------------------------------------------------------- tables' members
    for cid, staff in table_staff.items():
        tid = table_ids[cid]
        for n, uid in enumerate(staff):
            if n == 0:
                grant(uid, "table_chair", "table", tid, officers[cid])
            elif n == 1:
                grant(uid, "table_secretary", "table", tid, officers[cid])
            grant(uid, "table_member", "table", tid, officers[cid])
    ctx.bulk_insert("role_assignments", roles)

    ctx.ids.update({
        "comuni": comune_ids,
        "comune_slugs": slugs,
        "tables": table_ids,
        "associations": [a["id"] for a in association_rows],
        "households": household_ids,
        "verified_households": verified,
        "household_users": household_users,
        "users": {"coordinator": coordinator, "officers": officers, "moderators": moderators},
    })


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 17, 0, tzinfo=UTC)


def targets(ctx: Context) -> list[Target]:
    rows = ctx.conn.execute(text("SELECT slug, province FROM comuni ORDER BY slug")).all()
    slugs = [r.slug for r in rows]
    provinces = Counter(r.province for r in rows)
    biggest_province = provinces.most_common(1)[0][0]
    in_province = [r.slug for r in rows if r.province == biggest_province]
    largest = ctx.conn.execute(text(
        "SELECT slug FROM comuni ORDER BY population DESC NULLS LAST LIMIT 1"
        if ctx.dialect == "postgresql" else
        "SELECT slug FROM comuni ORDER BY population IS NULL, population DESC LIMIT 1")).scalar()
    # A spread of Comuni, big and small, so that no single row stays hot in a cache; the
    # most populous (the most households to count) is always among them.
    sample = [largest, *slugs[:: max(1, len(slugs) // 200)]]
    return [
        Target("home", "/"),
        Target("comuni: first page", "/comuni"),
        Target("comuni: deep page", f"/comuni?dopo={slugs[len(slugs) * 3 // 4]}"),
        Target("comuni: province, deep", f"/comuni?provincia={quote(biggest_province)}"
               f"&dopo={in_province[len(in_province) * 3 // 4]}"),
        Target("comune page", f"/comuni/{sample[0]}",
               variants=[(f"/comuni/{s}", None) for s in sample]),
        Target("aderisci (form)", "/aderisci"),
        Target("accessibilita", "/accessibilita"),
    ]
