"""What fund managers record (donations, allocations, campaigns, reversals) and what the
public pages read (balances, totals by category and month, campaigns, movements).

Every write goes through `portal.fund.ledger`; the figures read here are the ones the ledger
keeps (account balances, monthly totals, campaign totals): a page reads a few rows, never
every entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal import authz
from portal.authz import Role
from portal.core.services import audit
from portal.db_setup import utcnow
from portal.extensions import db
from portal.fund import ledger
from portal.fund.ledger import LedgerError
from portal.fund.models import (
    Fund,
    FundAccount,
    FundCampaign,
    FundDonation,
    FundEntry,
    FundMonthly,
    FundTransaction,
)
from portal.network.models import Comune
from portal.proposals.models import Proposal, ProposalState

#: the slug of the Rete's own fund in URLs (no Comune has it)
RETE = "rete"
#: proposals a campaign may raise money for: approved by a table, under way or done
CAMPAIGN_STATES = (ProposalState.APPROVED, ProposalState.IN_PROGRESS,
                   ProposalState.IMPLEMENTED)
#: how families supported are counted: net support grants; fewer are not shown
MIN_SHOWN = 3

CATEGORY_LABELS = {
    "card": _l("Family Card (quota degli acquisti)"),
    "gaf": _l("Gruppi di acquisto (GAF)"),
    "donation": _l("Donazioni"),
    "campaign": _l("Raccolte fondi"),
    "allocation": _l("Stanziamenti del Comune"),
    "support": _l("Sostegno alle famiglie"),
    "project": _l("Progetti"),
    "timebank": _l("Banca del tempo"),
}
KIND_LABELS = {"contribution": _l("Entrata"), "grant": _l("Uscita"),
               "reversal": _l("Storno")}


def category_label(category: str) -> str:
    return str(CATEGORY_LABELS.get(category, category))


# --------------------------------------------------------------------------- places


@dataclass(frozen=True)
class Place:
    """Whose fund a URL names: a Comune's, or the Rete's (comune None)."""

    slug: str
    name: str
    comune: Comune | None

    @property
    def comune_id(self) -> int | None:
        return self.comune.id if self.comune is not None else None


def place_for(slug: str) -> Place | None:
    if slug == RETE:
        return Place(RETE, _("Rete dei Comuni Amici della Famiglia"), None)
    if len(slug) > 140:
        return None
    comune = db.session.scalar(select(Comune).where(Comune.slug == slug))
    return Place(comune.slug, comune.name, comune) if comune is not None else None


def place_of(fund: Fund) -> Place:
    if fund.comune_id is None:
        return place_for(RETE)
    comune = db.session.get(Comune, fund.comune_id)
    return Place(comune.slug, comune.name, comune)


def may_manage(user, comune_id: int | None) -> bool:
    """The Rete's fund: the coordinator; a Comune's: its fund managers and the coordinator."""
    if authz.is_coordinator(user):
        return True
    return comune_id is not None and authz.has_role(user, Role.FUND_MANAGER, comune_id)


def managed_places(user) -> list[Place]:
    """The funds `user` manages, for the dashboard."""
    places = []
    if authz.is_coordinator(user):
        places.append(place_for(RETE))
    ids = authz.scope_ids(user, Role.FUND_MANAGER)
    if ids:
        places += [Place(c.slug, c.name, c) for c in db.session.scalars(
            select(Comune).where(Comune.id.in_(ids)).order_by(Comune.name))]
    return places


# --------------------------------------------------------------------------- writes


def _audited(key: str, post, action: str, details: dict, actor) -> FundTransaction:
    """Post through the ledger; write the audit entry only the first time (not on a retry)."""
    first = ledger.find_by_key(key) is None
    tx = post()
    if first:
        audit(action, tx, dict(details, amount_cents=tx.amount_cents, fund_id=tx.fund_id),
              actor=actor)
    return tx


def record_donation(fund: Fund, *, amount_cents: int, key: str, donor_name: str | None = None,
                    memo: str = "", campaign: FundCampaign | None = None,
                    actor=None) -> FundTransaction:
    """A donation, anonymous unless `donor_name` is given; linked to a campaign if any."""
    if campaign is not None and campaign.fund_id != fund.id:
        raise LedgerError(_("La raccolta fondi è di un altro fondo."), "campaign")
    donor_name = (donor_name or "").strip() or None
    if donor_name is not None and len(donor_name) > 160:
        raise LedgerError(_("Il nome può avere al massimo 160 caratteri."), "donor_name")
    source = "campaign" if campaign is not None else "donation"
    tx = _audited(key, lambda: ledger.post_contribution(
        fund, source=source, amount_cents=amount_cents, key=key, memo=memo,
        campaign=campaign), "fund.donation",
        {"campaign_id": getattr(campaign, "id", None), "named": donor_name is not None}, actor)
    if donor_name is not None and db.session.get(FundDonation, tx.id) is None:
        db.session.add(FundDonation(transaction_id=tx.id, donor_name=donor_name))
        db.session.flush()
    return tx


def record_allocation(fund: Fund, *, amount_cents: int, key: str, memo: str = "",
                      actor=None) -> FundTransaction:
    """Money the Comune (or the Rete) puts into its fund."""
    return _audited(key, lambda: ledger.post_contribution(
        fund, source="allocation", amount_cents=amount_cents, key=key, memo=memo),
        "fund.allocation", {}, actor)


def reverse_movement(tx: FundTransaction, *, reason: str, key: str,
                     actor=None) -> FundTransaction:
    """Correct a movement with a reversing transaction; the reason is its memo (public)."""
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise LedgerError(_("Scrivi il motivo dello storno (almeno 5 caratteri)."), "reason")
    return _audited(key, lambda: ledger.reverse(tx, key=key, memo=reason), "fund.reversal",
                    {"reverses": tx.id, "reason": reason}, actor)


def campaign_proposals(fund: Fund | None, comune_id: int | None = None) -> list[Proposal]:
    """Approved projects a campaign of this fund (or of the Comune's fund, not used yet)
    may raise money for."""
    if fund is not None:
        comune_id = fund.comune_id
    query = (select(Proposal).where(Proposal.state.in_([s.value for s in CAMPAIGN_STATES]),
                                    Proposal.hidden_at.is_(None))
             .order_by(Proposal.title).limit(200))
    if comune_id is not None:
        query = query.where(Proposal.comune_id == comune_id)
    return list(db.session.scalars(query))


def create_campaign(fund: Fund, *, proposal_id: int, title: str, target_cents: int,
                    opens_on: date, closes_on: date | None = None,
                    description: str | None = None, actor=None) -> FundCampaign:
    proposal = db.session.get(Proposal, proposal_id)
    if proposal is None or proposal.id not in {p.id for p in campaign_proposals(fund)}:
        raise LedgerError(_("Scegli un progetto approvato di questo Comune."), "proposal_id")
    if not isinstance(target_cents, int) or target_cents <= 0:
        raise LedgerError(_("L'obiettivo deve essere maggiore di zero."), "target")
    if target_cents > ledger.AMOUNT_MAX:
        raise LedgerError(_("L'importo è troppo grande."), "target")
    if closes_on is not None and closes_on < opens_on:
        raise LedgerError(_("La chiusura non può precedere l'apertura."), "closes_on")
    campaign = FundCampaign(fund_id=fund.id, proposal_id=proposal.id, title=title.strip(),
                            description=(description or "").strip() or None,
                            target_cents=target_cents, raised_cents=0, donations=0,
                            opens_on=opens_on, closes_on=closes_on)
    db.session.add(campaign)
    db.session.flush()
    audit("fund.campaign", campaign, {"fund_id": fund.id, "proposal_id": proposal.id,
                                      "target_cents": target_cents}, actor=actor)
    return campaign


def open_campaigns(fund: Fund | None, today: date) -> list[FundCampaign]:
    if fund is None:
        return []
    return list(db.session.scalars(
        select(FundCampaign).where(FundCampaign.fund_id == fund.id,
                                   FundCampaign.opens_on <= today,
                                   (FundCampaign.closes_on.is_(None))
                                   | (FundCampaign.closes_on >= today))
        .order_by(FundCampaign.id)))


# --------------------------------------------------------------------------- reading


@dataclass
class Summary:
    """What a fund's page shows, from the rows the ledger keeps."""

    available_cents: int = 0
    income: list[tuple[str, int]] = field(default_factory=list)
    expense: list[tuple[str, int]] = field(default_factory=list)
    months: list[dict] = field(default_factory=list)
    families: int = 0

    @property
    def income_cents(self) -> int:
        return sum(v for _c, v in self.income)

    @property
    def expense_cents(self) -> int:
        return sum(v for _c, v in self.expense)

    @property
    def families_shown(self) -> str | None:
        """The count of families supported, or None when too few to be shown."""
        return None if self.families < MIN_SHOWN else self.families

    @property
    def chart_max(self) -> int:
        return max([1] + [max(m["in"], m["out"]) for m in self.months])


def summary(fund: Fund | None, months: int = 12, today: date | None = None) -> Summary:
    result = Summary()
    if fund is None:
        return result
    for kind, category, balance in db.session.execute(
            select(FundAccount.kind, FundAccount.category, FundAccount.balance_cents)
            .where(FundAccount.fund_id == fund.id).order_by(FundAccount.category)):
        if kind == "available":
            result.available_cents = balance
        elif kind == "income" and balance:
            result.income.append((category, -balance))
        elif kind == "expense" and balance:
            result.expense.append((category, balance))
    today = today or ledger.month_of(utcnow())
    first = _months_back(date(today.year, today.month, 1), months - 1)
    by_month: dict[date, dict] = {}
    cursor = first
    for _i in range(months):
        by_month[cursor] = {"month": cursor, "in": 0, "out": 0}
        cursor = _months_back(cursor, -1)
    for month, direction, amount in db.session.execute(
            select(FundMonthly.month, FundMonthly.direction, func.sum(FundMonthly.amount_cents))
            .where(FundMonthly.fund_id == fund.id, FundMonthly.month >= first)
            .group_by(FundMonthly.month, FundMonthly.direction)):
        if month in by_month:
            by_month[month][direction] += int(amount)
    result.months = list(by_month.values())
    result.families = int(db.session.scalar(
        select(func.coalesce(func.sum(FundMonthly.movements), 0))
        .where(FundMonthly.fund_id == fund.id, FundMonthly.direction == "out",
               FundMonthly.category == "support")) or 0)
    return result


def _months_back(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 - n
    return date(index // 12, index % 12 + 1, 1)


def campaigns(fund: Fund | None) -> list[FundCampaign]:
    if fund is None:
        return []
    return list(db.session.scalars(select(FundCampaign).where(FundCampaign.fund_id == fund.id)
                                   .order_by(FundCampaign.opens_on.desc(),
                                             FundCampaign.id.desc())))


def movements(fund: Fund | None, before_id: int | None = None, limit: int = 25
              ) -> tuple[list[FundTransaction], int | None]:
    """The newest movements before `before_id`, and the cursor of the next page (or None)."""
    if fund is None:
        return [], None
    query = select(FundTransaction).where(FundTransaction.fund_id == fund.id)
    if before_id is not None:
        query = query.where(FundTransaction.id < before_id)
    rows = list(db.session.scalars(query.order_by(FundTransaction.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def reversed_ids(transactions: list[FundTransaction]) -> set[int]:
    """Which of `transactions` have been reversed."""
    ids = [t.id for t in transactions]
    if not ids:
        return set()
    return set(db.session.scalars(select(FundTransaction.reverses_id)
                                  .where(FundTransaction.reverses_id.in_(ids))))


def donors(transactions: list[FundTransaction]) -> dict[int, str]:
    """The names of the named donors among `transactions` (managers only)."""
    ids = [t.id for t in transactions]
    if not ids:
        return {}
    return dict(db.session.execute(select(FundDonation.transaction_id, FundDonation.donor_name)
                                   .where(FundDonation.transaction_id.in_(ids),
                                          FundDonation.donor_name.is_not(None))).all())


def public_memo(tx: FundTransaction) -> str:
    """The memo everyone may read: support to families is never described, whoever wrote
    it, so that no family can be recognised."""
    if tx.category == "support":
        return ""
    return tx.memo


def _available_id(fund: Fund) -> int | None:
    return db.session.scalar(select(FundAccount.id).where(FundAccount.fund_id == fund.id,
                                                          FundAccount.kind == "available"))


def signed_amounts(fund: Fund, transactions: list[FundTransaction]) -> dict[int, int]:
    """Each transaction's move of the available account: positive in, negative out."""
    ids = [t.id for t in transactions]
    if not ids:
        return {}
    return dict(db.session.execute(
        select(FundEntry.transaction_id, FundEntry.amount_cents)
        .where(FundEntry.transaction_id.in_(ids),
               FundEntry.account_id == _available_id(fund))).all())


def public_rows(fund: Fund) -> Callable[[int], Iterator[tuple]]:
    """A reader of every movement of the fund, oldest first, as (moment, kind, category,
    signed amount, memo) with nothing that names a family or a donor. The reader holds only
    ids, so that it can run after the request's view returned (a streamed answer)."""
    fund_id, available_id = fund.id, _available_id(fund)

    def read(batch: int = 2000) -> Iterator[tuple]:
        query = (select(FundTransaction.created_at, FundTransaction.kind,
                        FundTransaction.category, FundEntry.amount_cents, FundTransaction.memo)
                 .join(FundEntry, (FundEntry.transaction_id == FundTransaction.id)
                       & (FundEntry.account_id == available_id))
                 .where(FundTransaction.fund_id == fund_id).order_by(FundTransaction.id))
        for created_at, kind, category, amount, memo in db.session.execute(
                query.execution_options(yield_per=batch)):
            yield created_at, kind, category, amount, "" if category == "support" else memo

    return read


def funds_overview(page: int = 1, per_page: int = 50
                   ) -> tuple[list[tuple[Place, Fund, int]], int]:
    """The Comuni whose fund is in use, by name, a page at a time, with the available
    balance; and how many there are."""
    total = db.session.scalar(select(func.count(Fund.id)).where(Fund.comune_id.is_not(None)))
    rows = db.session.execute(
        select(Comune, Fund, FundAccount.balance_cents)
        .join(Fund, Fund.comune_id == Comune.id)
        .join(FundAccount, (FundAccount.fund_id == Fund.id)
              & (FundAccount.kind == "available"))
        .order_by(Comune.name, Comune.id).offset((page - 1) * per_page).limit(per_page)).all()
    return [(Place(c.slug, c.name, c), f, balance) for c, f, balance in rows], total


def totals_by_fund() -> dict[int, tuple[int, int, int]]:
    """Every fund's (available, money in, money out) from its accounts, in one query."""
    totals: dict[int, list[int]] = {}
    for fund_id, kind, balance in db.session.execute(
            select(FundAccount.fund_id, FundAccount.kind, func.sum(FundAccount.balance_cents))
            .group_by(FundAccount.fund_id, FundAccount.kind)):
        row = totals.setdefault(fund_id, [0, 0, 0])
        index = {"available": 0, "income": 1, "expense": 2}[kind]
        row[index] = int(balance) * (-1 if kind == "income" else 1)
    return {k: tuple(v) for k, v in totals.items()}
