"""The ledger's service API: the one way money enters or leaves a fund.

The card and GAF modules post contributions, the support applications post grants, fund
managers post donations, allocations and reversals: all through the functions below, which
flush and never commit (the request, or the `flask` command, commits once).

Every write carries an idempotency key: the same key with the same content returns the first
transaction and writes nothing; the same key with other content raises IdempotencyConflict
(a view answers 409). Every write locks the fund's available account first — its row FOR
UPDATE on PostgreSQL, the database's write lock (BEGIN IMMEDIATE) on SQLite — and reads the
balance under that lock, so concurrent grants never overdraw and none is lost; the CHECK
constraint on the balance is the last guarantee. Balances, monthly totals and campaign totals
are moved in the same transaction, so that pages never sum the entries; `check()` does, and
reports every place where the kept figures and the entries disagree.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from portal.db_setup import utcnow
from portal.extensions import db
from portal.fund.models import (
    Fund,
    FundAccount,
    FundCampaign,
    FundEntry,
    FundMonthly,
    FundTransaction,
)
from portal.i18n import ROME

#: sources and categories are short identifiers, so that modules can add their own
CATEGORY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
KEY_MAX, MEMO_MAX, REF_MAX = 120, 300, 120
#: larger than any fund will hold (a hundred million euro), and far inside BIGINT
AMOUNT_MAX = 10_000_000_000


class LedgerError(Exception):
    """A write the ledger refuses; `field` names the form field at fault, if any."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class IdempotencyConflict(LedgerError):
    """The key was used before for a different write (a view answers 409)."""


class InsufficientFunds(LedgerError):
    """The available account would go negative."""


# --------------------------------------------------------------------------- funds


def find_fund(comune_id: int | None) -> Fund | None:
    """The fund of a Comune (None: the Rete's), or None if it was never used."""
    return db.session.scalar(select(Fund).where(Fund.scope_id == (comune_id or 0)))


def fund_for(comune_id: int | None) -> Fund:
    """The fund of a Comune (None: the Rete's), created with its available account on first
    use. Two requests creating it at once: the unique scope lets one insert through, the
    other reads that one."""
    fund = find_fund(comune_id)
    if fund is not None:
        return fund
    try:
        with db.session.begin_nested():
            fund = Fund(comune_id=comune_id, scope_id=comune_id or 0)
            db.session.add(fund)
            db.session.flush()
            db.session.add(FundAccount(fund_id=fund.id, kind="available", category="",
                                       balance_cents=0))
            db.session.flush()
    except IntegrityError:
        fund = find_fund(comune_id)
        if fund is None:
            raise
    return fund


def month_of(at: datetime) -> date:
    """The first day of the month, in Europe/Rome, a moment counts in."""
    local = at.astimezone(ROME)
    return date(local.year, local.month, 1)


# --------------------------------------------------------------------------- writes


def post_contribution(fund: Fund, *, source: str, amount_cents: int, key: str, memo: str = "",
                      ref: str | None = None, at: datetime | None = None,
                      campaign: FundCampaign | None = None) -> FundTransaction:
    """Money in from `source` (card, gaf, donation, allocation, campaign...). Flushes."""
    _check_category(source, "source")
    if campaign is not None and campaign.fund_id != fund.id:
        raise LedgerError(_("La raccolta fondi è di un altro fondo."), "campaign")
    return _post(fund, kind="contribution", category=source, amount_cents=amount_cents,
                 key=key, memo=memo, ref=ref, at=at, campaign_id=getattr(campaign, "id", None),
                 legs=(("available", "", 1), ("income", source, -1)))


def post_grant(fund: Fund, *, amount_cents: int, key: str, memo: str = "",
               ref: str | None = None, category: str = "support",
               at: datetime | None = None) -> FundTransaction:
    """Money out to a family or project; InsufficientFunds when the fund has not enough."""
    _check_category(category, "category")
    return _post(fund, kind="grant", category=category, amount_cents=amount_cents, key=key,
                 memo=memo, ref=ref, at=at, campaign_id=None,
                 legs=(("available", "", -1), ("expense", category, 1)))


def reverse(transaction: FundTransaction, *, key: str, memo: str = "",
            at: datetime | None = None) -> FundTransaction:
    """Undo a transaction with one that mirrors its entries. A transaction is reversed at
    most once; reversing money in that has been spent meanwhile is InsufficientFunds."""
    fund = db.session.get(Fund, transaction.fund_id)
    return _post(fund, kind="reversal", category=transaction.category,
                 amount_cents=transaction.amount_cents, key=key, memo=memo, ref=transaction.ref,
                 at=at, campaign_id=transaction.campaign_id, legs=None, reverses=transaction)


def _check_category(value, field: str) -> None:
    if not isinstance(value, str) or not CATEGORY_RE.match(value):
        raise LedgerError(_("Categoria non valida."), field)


def _check_text(key, memo, ref) -> None:
    if not isinstance(key, str) or not key.strip() or len(key) > KEY_MAX or "\x00" in key:
        raise LedgerError(_("Chiave di idempotenza non valida."), "key")
    if not isinstance(memo, str) or len(memo) > MEMO_MAX or "\x00" in memo:
        raise LedgerError(_("La descrizione può avere al massimo %(n)d caratteri.",
                            n=MEMO_MAX), "memo")
    if ref is not None and (not isinstance(ref, str) or len(ref) > REF_MAX or "\x00" in ref):
        raise LedgerError(_("Riferimento non valido."), "ref")


def _check_amount(amount) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise LedgerError(_("L'importo deve essere maggiore di zero."), "amount_cents")
    if amount > AMOUNT_MAX:
        raise LedgerError(_("L'importo è troppo grande."), "amount_cents")


def content_hash(content: dict) -> str:
    """The fingerprint of what a key stands for (not when it was posted)."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _content(tx_fund_id, kind, category, amount, memo, ref, reverses_id, campaign_id) -> dict:
    return {"fund": tx_fund_id, "kind": kind, "category": category, "amount": amount,
            "memo": memo, "ref": ref, "reverses": reverses_id, "campaign": campaign_id}


def transaction_hash(tx: FundTransaction) -> str:
    return content_hash(_content(tx.fund_id, tx.kind, tx.category, tx.amount_cents, tx.memo,
                                 tx.ref, tx.reverses_id, tx.campaign_id))


def find_by_key(key: str) -> FundTransaction | None:
    """The transaction posted under an idempotency key, if any."""
    return db.session.scalar(select(FundTransaction).where(FundTransaction.key == key))


def _by_key(key: str) -> FundTransaction | None:
    return db.session.scalar(select(FundTransaction).where(FundTransaction.key == key)
                             .execution_options(populate_existing=True))


def _replay(existing: FundTransaction, digest: str) -> FundTransaction:
    if existing.content_hash != digest:
        raise IdempotencyConflict(
            _("Questa operazione è già stata registrata con dati diversi."), "key")
    return existing


def _lock_available(fund_id: int) -> FundAccount:
    """Take the fund's write lock and read its available account as it is under the lock."""
    connection = db.session.connection()
    query = select(FundAccount).where(FundAccount.fund_id == fund_id,
                                      FundAccount.kind == "available")
    if connection.dialect.name == "sqlite":
        # pysqlite begins a transaction only at the first write: without BEGIN IMMEDIATE the
        # balance read here could be changed by another writer before ours
        if not connection.connection.dbapi_connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        query = query.with_for_update()
    account = db.session.scalar(query.execution_options(populate_existing=True))
    if account is None:
        raise LedgerError(_("Il fondo non ha un conto disponibilità."))
    return account


def _account(fund_id: int, kind: str, category: str) -> FundAccount:
    """An income or expense account, created on first use (under the fund's lock)."""
    account = db.session.scalar(select(FundAccount).where(
        FundAccount.fund_id == fund_id, FundAccount.kind == kind,
        FundAccount.category == category))
    if account is None:
        account = FundAccount(fund_id=fund_id, kind=kind, category=category, balance_cents=0)
        db.session.add(account)
        db.session.flush()
    return account


def _post(fund: Fund, *, kind: str, category: str, amount_cents: int, key: str, memo: str,
          ref: str | None, at: datetime | None, campaign_id: int | None,
          legs: tuple | None, reverses: FundTransaction | None = None) -> FundTransaction:
    _check_amount(amount_cents)
    _check_text(key, memo, ref)
    memo = memo.strip()
    if at is not None and at.tzinfo is None:
        raise LedgerError(_("Data non valida."), "at")
    digest = content_hash(_content(fund.id, kind, category, amount_cents, memo, ref,
                                   getattr(reverses, "id", None), campaign_id))
    existing = _by_key(key)
    if existing is not None:
        return _replay(existing, digest)

    available = _lock_available(fund.id)
    existing = _by_key(key)  # posted by a writer we waited for
    if existing is not None:
        return _replay(existing, digest)

    if reverses is not None:
        legs = _reversal_legs(reverses)
    else:
        accounts = {"available": available}
        legs = [(accounts.get(k) or _account(fund.id, k, c), sign * amount_cents)
                for k, c, sign in legs]
    for account, amount in legs:
        if account.kind == "available" and account.balance_cents + amount < 0:
            raise InsufficientFunds(
                _("Il fondo non ha disponibilità sufficiente: disponibili %(euro)s €.",
                  euro=euro(account.balance_cents)), "amount_cents")

    now = at or utcnow()
    tx = FundTransaction(fund_id=fund.id, key=key, kind=kind, category=category,
                         amount_cents=amount_cents, memo=memo, ref=ref,
                         reverses_id=getattr(reverses, "id", None), campaign_id=campaign_id,
                         created_at=now, month=month_of(now), content_hash=digest)
    try:
        with db.session.begin_nested():
            db.session.add(tx)
            db.session.flush()
    except IntegrityError:
        # the key was taken meanwhile by a write to another fund (ours is locked), or the
        # transaction was reversed meanwhile
        existing = _by_key(key)
        if existing is not None:
            return _replay(existing, digest)
        raise LedgerError(_("Questo movimento è già stato stornato."), "transaction") from None
    db.session.add_all([FundEntry(transaction_id=tx.id, account_id=account.id,
                                  amount_cents=amount) for account, amount in legs])
    for account, amount in legs:
        db.session.execute(update(FundAccount).where(FundAccount.id == account.id)
                           .values(balance_cents=FundAccount.balance_cents + amount))
        _move_monthly(fund.id, tx.month, account, amount)
    if campaign_id is not None:
        raised = sum(-amount for account, amount in legs if account.kind == "income")
        db.session.execute(update(FundCampaign).where(FundCampaign.id == campaign_id).values(
            raised_cents=FundCampaign.raised_cents + raised,
            donations=FundCampaign.donations + (1 if raised > 0 else -1)))
    db.session.flush()
    return tx


def _reversal_legs(original: FundTransaction) -> list[tuple[FundAccount, int]]:
    already = db.session.scalar(select(FundTransaction.id).where(
        FundTransaction.reverses_id == original.id))
    if already is not None:
        raise LedgerError(_("Questo movimento è già stato stornato."), "transaction")
    rows = db.session.execute(
        select(FundAccount, FundEntry.amount_cents).join(FundEntry.account)
        .where(FundEntry.transaction_id == original.id).order_by(FundEntry.id)
        .execution_options(populate_existing=True)).all()
    return [(account, -amount) for account, amount in rows]


def _direction(account: FundAccount, amount: int) -> tuple[str, int] | None:
    """Which monthly total an entry moves, and by how much (None: the available account)."""
    if account.kind == "income":
        return "in", -amount
    if account.kind == "expense":
        return "out", amount
    return None


def _move_monthly(fund_id: int, month: date, account: FundAccount, amount: int) -> None:
    moved = _direction(account, amount)
    if moved is None:
        return
    direction, value = moved
    dialect = db.session.connection().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(FundMonthly).values(
        fund_id=fund_id, month=month, direction=direction, category=account.category,
        amount_cents=value, movements=1 if value > 0 else -1)
    db.session.execute(statement.on_conflict_do_update(
        index_elements=["fund_id", "month", "direction", "category"],
        set_={"amount_cents": FundMonthly.amount_cents + statement.excluded.amount_cents,
              "movements": FundMonthly.movements + statement.excluded.movements}))


def euro(cents: int) -> str:
    """Cents as Italian euro without the symbol: 1234567 -> '12.345,67'."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole:,}".replace(",", ".") + f",{rest:02d}"


# --------------------------------------------------------------------------- invariants


def check(*, hashes: bool = True) -> list[str]:
    """Every violated invariant of every fund, as a sentence; [] when the ledger is sound.

    Recomputes from the entries what the ledger keeps (balances, monthly totals, campaign
    totals) and checks each transaction: entries that sum to zero on accounts of its own fund,
    its amount, a reversal that mirrors what it reverses, and (`hashes`) that its content still
    matches the fingerprint written with it.
    """
    problems: list[str] = []
    session = db.session
    e, t, a = FundEntry, FundTransaction, FundAccount

    positive_part = func.coalesce(func.sum(case((e.amount_cents > 0, e.amount_cents),
                                                else_=0)), 0)
    total_part = func.coalesce(func.sum(e.amount_cents), 0)
    for tx_id, total, count, positive, amount in session.execute(
            select(t.id, total_part, func.count(e.id), positive_part, t.amount_cents)
            .outerjoin(e, e.transaction_id == t.id).group_by(t.id, t.amount_cents)
            .having(or_(total_part != 0, func.count(e.id) < 2,
                        positive_part != t.amount_cents))
            .order_by(t.id)):
        if count < 2:
            problems.append(f"transazione {tx_id}: {count} scritture (almeno 2)")
        if total != 0:
            problems.append(f"transazione {tx_id}: le scritture sommano a {total}, non a 0")
        if positive != amount:
            problems.append(f"transazione {tx_id}: importo {amount}, scritture per {positive}")

    for entry_id, tx_id in session.execute(
            select(e.id, t.id).join(t, e.transaction_id == t.id).join(a, e.account_id == a.id)
            .where(a.fund_id != t.fund_id).order_by(e.id)):
        problems.append(f"scrittura {entry_id}: conto di un altro fondo della transazione "
                        f"{tx_id}")

    for account_id, kind, category, kept, summed in session.execute(
            select(a.id, a.kind, a.category, a.balance_cents,
                   func.coalesce(func.sum(e.amount_cents), 0))
            .outerjoin(e, e.account_id == a.id)
            .group_by(a.id, a.kind, a.category, a.balance_cents)
            .having(a.balance_cents != func.coalesce(func.sum(e.amount_cents), 0))
            .order_by(a.id)):
        problems.append(f"conto {account_id} ({kind}:{category}): saldo {kept}, "
                        f"scritture {summed}")

    for account_id, kind, balance in session.execute(
            select(a.id, a.kind, a.balance_cents).where(or_(
                and_(a.kind == "available", a.balance_cents < 0),
                and_(a.kind == "income", a.balance_cents > 0),
                and_(a.kind == "expense", a.balance_cents < 0))).order_by(a.id)):
        problems.append(f"conto {account_id} ({kind}): saldo {balance} di segno sbagliato")

    problems += _check_monthly()
    problems += _check_campaigns()
    problems += _check_reversals()
    if hashes:
        for tx in session.execute(select(t.id, t.fund_id, t.kind, t.category, t.amount_cents,
                                         t.memo, t.ref, t.reverses_id, t.campaign_id,
                                         t.content_hash).order_by(t.id)).yield_per(5000):
            expected = content_hash(_content(tx.fund_id, tx.kind, tx.category, tx.amount_cents,
                                             tx.memo, tx.ref, tx.reverses_id, tx.campaign_id))
            if expected != tx.content_hash:
                problems.append(f"transazione {tx.id}: contenuto cambiato dopo la scrittura")
    problems += _check_triggers()
    return problems


def _is_sqlite() -> bool:
    return db.session.get_bind().dialect.name == "sqlite"


def _check_monthly() -> list[str]:
    e, t, a = FundEntry, FundTransaction, FundAccount
    value = func.sum(e.amount_cents)
    summed: dict[tuple, list[int]] = {}
    for fund_id, month, kind, category, total, plus, minus in db.session.execute(
            select(t.fund_id, t.month, a.kind, a.category, value,
                   func.sum(_case_count(e, a, positive=True)),
                   func.sum(_case_count(e, a, positive=False)))
            .join(e, e.transaction_id == t.id).join(a, e.account_id == a.id)
            .where(a.kind != "available")
            .group_by(t.fund_id, t.month, a.kind, a.category)):
        direction = "in" if kind == "income" else "out"
        amount = -total if kind == "income" else total
        summed[(fund_id, month, direction, category)] = [amount, plus - minus]
    kept = {(m.fund_id, m.month, m.direction, m.category): [m.amount_cents, m.movements]
            for m in db.session.scalars(select(FundMonthly))}
    problems = []
    for group in sorted(set(summed) | set(kept), key=lambda g: (g[0], g[1], g[2], g[3])):
        mine, theirs = kept.get(group, [0, 0]), summed.get(group, [0, 0])
        if mine != theirs:
            fund_id, month, direction, category = group
            problems.append(
                f"fondo {fund_id}, {month:%Y-%m} {direction}:{category}: totale mensile "
                f"{mine[0]} ({mine[1]} movimenti), scritture {theirs[0]} ({theirs[1]})")
    return problems


def _case_count(e, a, positive: bool):
    """1 for an entry that moves its monthly total up (positive) or down, else 0."""
    up = or_(and_(a.kind == "income", e.amount_cents < 0),
             and_(a.kind == "expense", e.amount_cents > 0))
    return case((up, 1), else_=0) if positive else case((up, 0), else_=1)


def _check_campaigns() -> list[str]:
    e, t, a, c = FundEntry, FundTransaction, FundAccount, FundCampaign
    raised = (select(t.campaign_id, (-func.sum(e.amount_cents)).label("raised"))
              .join(e, e.transaction_id == t.id).join(a, e.account_id == a.id)
              .where(a.kind == "income", t.campaign_id.is_not(None))
              .group_by(t.campaign_id).subquery())
    problems = []
    for campaign_id, kept, summed in db.session.execute(
            select(c.id, c.raised_cents, func.coalesce(raised.c.raised, 0))
            .outerjoin(raised, raised.c.campaign_id == c.id).order_by(c.id)):
        if kept != summed:
            problems.append(f"raccolta {campaign_id}: raccolti {kept}, donazioni {summed}")
    for tx_id, in db.session.execute(
            select(t.id).join(c, t.campaign_id == c.id).where(c.fund_id != t.fund_id)):
        problems.append(f"transazione {tx_id}: raccolta di un altro fondo")
    return problems


def _check_reversals() -> list[str]:
    e, t = FundEntry, FundTransaction
    original = db.aliased(FundTransaction)
    problems = [f"storno {tx_id}: non rispecchia la transazione {reverses_id}"
                for tx_id, reverses_id in db.session.execute(
                    select(t.id, t.reverses_id).join(original, t.reverses_id == original.id)
                    .where(or_(original.fund_id != t.fund_id,
                               original.amount_cents != t.amount_cents,
                               original.category != t.category))
                    .order_by(t.id))]
    mirrored = (select(t.id, t.reverses_id)
                .join(e, or_(e.transaction_id == t.id, e.transaction_id == t.reverses_id))
                .where(t.reverses_id.is_not(None))
                .group_by(t.id, t.reverses_id, e.account_id)
                .having(func.sum(e.amount_cents) != 0))
    for tx_id, reverses_id in db.session.execute(mirrored):
        line = f"storno {tx_id}: non rispecchia la transazione {reverses_id}"
        if line not in problems:
            problems.append(line)
    return problems


_PG_TRIGGERS = ("fund_transactions_immutable", "fund_entries_immutable",
                "fund_transactions_balanced", "fund_entries_balanced")


def _check_triggers() -> list[str]:
    """PostgreSQL: the triggers that keep the ledger immutable and balanced are in place."""
    if _is_sqlite():
        return []
    present = set(db.session.scalars(text(
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D' "
        "AND tgrelid IN ('fund_transactions'::regclass, 'fund_entries'::regclass)")))
    return [f"trigger {name} mancante o disattivato" for name in _PG_TRIGGERS
            if name not in present]


__all__ = ["LedgerError", "IdempotencyConflict", "InsufficientFunds", "fund_for",
           "find_fund", "post_contribution", "post_grant", "reverse", "check"]
