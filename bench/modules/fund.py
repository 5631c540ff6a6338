"""The fondi solidali at scale: a million ledger entries, and the pages that must not sum them.

Half a million transactions (two entries each) over three years: most in the fund of the
Comune with the most households (the one the targets open), the rest in the Rete's fund and
in `funds` other Comuni's. Contributions from the card, GAF, donations and allocations, grants
for support and projects, a few reversals; each fund's available balance never goes negative
in time order. Balances, monthly totals and fingerprints are written as the ledger writes them,
so `flask fund check` passes on the generated database. On PostgreSQL the deferred trigger that
checks each transaction's balance at commit is switched off while copying (the generator builds
balanced transactions) and on again after.

Targets: the fund's public page and the Rete's (anonymous, through the page cache), the fund
manager's page (signed in, rendered per request), and a donation POST (reported).
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text

from bench.context import SIGNED_IN_BAR, Context, Target
from portal.fund.ledger import _content, content_hash

ORDER = 60
SCALE = {"fund_transactions": 500_000, "funds": 50}
SMALL_SCALE = {"fund_transactions": 20_000, "funds": 10}

ROME = ZoneInfo("Europe/Rome")
CHUNK = 20_000
MANAGER = "bench-fondo@example.org"
PASSWORD = "demo-rete-2026"  # noqa: S105 - a generated benchmark account
SOURCES = ("card", "card", "card", "gaf", "donation")
MEMOS = {"card": "Quota degli acquisti con la Family Card",
         "gaf": "Quota degli ordini dei gruppi di acquisto", "donation": "Donazione al fondo",
         "allocation": "Dotazione del Comune", "support": "Sostegno al reddito familiare",
         "project": "Laboratorio di comunità"}
#: distinct idempotency keys of the donation POST: each request records a new donation
DONATIONS = 20_000
ACCOUNTS = (("available", ""), ("income", "card"), ("income", "gaf"), ("income", "donation"),
            ("income", "allocation"), ("expense", "support"), ("expense", "project"))


def _big_comune(ctx: Context) -> int:
    row = ctx.conn.execute(text(
        "SELECT comune_id FROM households GROUP BY comune_id ORDER BY count(*) DESC, "
        "comune_id LIMIT 1")).first()
    return row[0] if row else ctx.ids["comuni"][0]


def _pg_triggers(ctx: Context, enable: bool) -> None:
    if ctx.dialect != "postgresql":
        return
    verb = "ENABLE" if enable else "DISABLE"
    ctx.conn.execute(text(f"ALTER TABLE fund_entries {verb} TRIGGER fund_entries_balanced"))
    ctx.conn.execute(text(f"ALTER TABLE fund_transactions {verb} TRIGGER "
                          "fund_transactions_balanced"))


def generate(ctx: Context) -> None:
    rng, now = ctx.rng, ctx.now
    total = ctx.scale["fund_transactions"]
    big = _big_comune(ctx)
    others = [c for c in ctx.ids["comuni"] if c != big][:ctx.scale["funds"]]
    # the big fund takes 80%, the Rete's 10%, the other Comuni the rest
    shares = [(big, int(total * 0.8)), (None, int(total * 0.1))]
    rest = total - sum(n for _c, n in shares)
    shares += [(c, rest // len(others) + (1 if i < rest % len(others) else 0))
               for i, c in enumerate(others)] if others else []
    _pg_triggers(ctx, enable=False)

    funds: list[dict] = []
    tx_rows: list[dict] = []
    entry_rows: list[dict] = []
    ids = {"fund": {}, "manager": None}
    start = now - timedelta(days=3 * 365)

    def flush(force: bool = False) -> None:
        if tx_rows and (force or len(tx_rows) >= CHUNK):
            ctx.bulk_insert("fund_transactions", tx_rows)
            ctx.bulk_insert("fund_entries", entry_rows)
            tx_rows.clear()
            entry_rows.clear()

    monthly: dict[tuple, list[int]] = {}
    for comune_id, count in shares:
        fid = ctx.next_id("funds")
        funds.append({"id": fid, "comune_id": comune_id, "scope_id": comune_id or 0,
                      "created_at": start})
        ids["fund"][comune_id] = fid
        account_ids: dict[tuple[str, str], int] = {}
        for key in ACCOUNTS:
            account_ids[key] = ctx.next_id("fund_accounts")
        balances = dict.fromkeys(account_ids.values(), 0)
        available = account_ids[("available", "")]
        # the fund and its accounts before their transactions (foreign keys); the balances
        # are set once every transaction is written
        ctx.bulk_insert("funds", [funds[-1]])
        ctx.bulk_insert("fund_accounts", [
            {"id": aid, "fund_id": fid, "kind": kind, "category": category, "balance_cents": 0}
            for (kind, category), aid in account_ids.items()])
        step = (now - start) / max(count, 1)
        first_tx = ctx.next_id("fund_transactions", count)
        first_entry = ctx.next_id("fund_entries", 2 * count)
        grants: list[tuple[int, int, str]] = []  # (tx id, amount, category) not reversed yet
        for n in range(count):
            at = start + step * n
            tx_id, e1 = first_tx + n, first_entry + 2 * n
            roll = rng.random()
            reverses = None
            if n % 120 == 0:
                kind, category, amount = "contribution", "allocation", rng.randint(5, 20) * 100_000
            elif roll < 0.55 or balances[available] < 60_000:
                kind, category = "contribution", rng.choice(SOURCES)
                amount = rng.randint(500, 15_000)
            elif roll < 0.995 or not grants:
                kind = "grant"
                category = "support" if roll < 0.97 else "project"
                amount = min(rng.choice((15_000, 25_000, 40_000, 60_000)), balances[available])
            else:
                original, amount, category = grants.pop(rng.randrange(len(grants)))
                kind, reverses = "reversal", original
            if kind == "contribution":
                legs = ((available, amount), (account_ids[("income", category)], -amount))
            elif kind == "grant":
                legs = ((available, -amount), (account_ids[("expense", category)], amount))
                grants.append((tx_id, amount, category))
            else:  # a reversal of a grant: the money comes back
                legs = ((available, amount), (account_ids[("expense", category)], -amount))
            memo = "Correzione: importo errato" if kind == "reversal" else MEMOS[category]
            ref = f"bench:{tx_id}" if category == "support" else None
            local = at.astimezone(ROME)
            month = date(local.year, local.month, 1)
            tx_rows.append({
                "id": tx_id, "fund_id": fid, "key": f"bench:{tx_id}", "kind": kind,
                "category": category, "amount_cents": amount, "memo": memo, "ref": ref,
                "reverses_id": reverses, "campaign_id": None, "created_at": at,
                "month": month, "content_hash": content_hash(_content(
                    fid, kind, category, amount, memo, ref, reverses, None))})
            for i, (aid, value) in enumerate(legs):
                entry_rows.append({"id": e1 + i, "transaction_id": tx_id, "account_id": aid,
                                   "amount_cents": value})
                balances[aid] += value
            direction = "out" if kind != "contribution" else "in"
            value = amount if kind != "reversal" else -amount
            totals = monthly.setdefault((fid, month, direction, category), [0, 0])
            totals[0] += value
            totals[1] += 1 if value > 0 else -1
            flush()
        flush(force=True)
        for aid, balance in balances.items():
            ctx.conn.execute(text("UPDATE fund_accounts SET balance_cents = :b WHERE id = :i"),
                             {"b": balance, "i": aid})

    ctx.bulk_insert("fund_monthly", [
        {"fund_id": f, "month": m, "direction": d, "category": c, "amount_cents": v[0],
         "movements": v[1]} for (f, m, d, c), v in monthly.items()])
    _pg_triggers(ctx, enable=True)

    uid = ctx.next_id("users")
    created = now - timedelta(days=500)
    ctx.bulk_insert("users", [{
        "id": uid, "email": MANAGER, "name": "Bianca Gestione Fondo",
        "password_hash": ctx.password_hash, "email_confirmed_at": created,
        "created_at": created, "household_id": None, "deleted_at": None}])
    ctx.bulk_insert("role_assignments", [{
        "id": ctx.next_id("role_assignments"), "user_id": uid, "role": "fund_manager",
        "scope_type": "comune", "scope_id": big, "granted_by_id": None, "granted_at": created}])
    ids["manager"] = uid
    ids["comune"] = big
    ctx.ids["fund"] = ids


def targets(ctx: Context) -> list[Target]:
    info = ctx.ids.get("fund")
    if not info:
        return []
    slug = ctx.ids["comune_slugs"][info["comune"]]
    body = "amount=12,50&memo=Donazione&key=bench{n:08d}x"
    return [
        Target("fund page (1M entries)", f"/fondo/{slug}"),
        Target("fund: the Rete and every Comune", "/fondo"),
        Target("signed in: fund manager", f"/fondo/{slug}/gestione",
               login=(MANAGER, PASSWORD), **SIGNED_IN_BAR),
        Target("signed in: fund manager, older movements",
               f"/fondo/{slug}/gestione?prima=250000", login=(MANAGER, PASSWORD),
               **SIGNED_IN_BAR),
        Target("fund donation POST", f"/fondo/{slug}/gestione/donazione", method="POST",
               as_users=[info["manager"]],
               variants=[(f"/fondo/{slug}/gestione/donazione", body.format(n=n))
                         for n in range(DONATIONS)],
               min_ratio=0.02, max_p95_ms=None),
    ]
