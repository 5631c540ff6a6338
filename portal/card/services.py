"""Family Card services: cards and their requests, merchants and offers, the till.

Functions flush and never commit (the request, or a `flask` command, commits once). Errors
are CardError naming the form field at fault.

Money is integer cents, rounded half up to the cent: the discount on the amount before
discount, the fund's share on the amount paid (after the discount). A purchase is posted to the
fund of the merchant's Comune with the idempotency key ``card-purchase:<merchant>:<receipt>``;
the unique (merchant, receipt) pair makes a retried receipt one purchase, also when two tills
send it at once (the second insert waits for the first and then finds it).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.iso7064 import mod_97_10
from stdnum.it import iva

from portal import authz
from portal.accounts.models import Household, MemberKind
from portal.authz import ROLE_SCOPE, Role
from portal.card.models import (
    Card,
    CardRequest,
    CardRule,
    CardStatus,
    Merchant,
    MerchantStatus,
    Offer,
    Purchase,
    RequestStatus,
)
from portal.core.services import audit
from portal.db_setup import utcnow
from portal.extensions import db
from portal.fund import ledger
from portal.fund.models import FundTransaction
from portal.i18n import ROME
from portal.network.models import RoleAssignment

VALID_YEARS = 2
#: a card can be renewed from this many days before it expires
RENEW_WINDOW_DAYS = 60
#: the QR token's life: the Family Pay page makes a fresh one at every visit; the offline copy
#: keeps working this long
TOKEN_MAX_AGE = 7 * 24 * 3600
QR_SALT = "family-card-qr"
CANCEL_WINDOW = timedelta(hours=24)
RECEIPT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/._-]{0,39}$")
#: badges of an offer, by discount in basis points
FRIEND_BP, SUPPORTER_BP = 500, 2000
CATEGORIES = ("Alimentari", "Abbigliamento", "Farmacia e salute", "Libri e cartoleria",
              "Sport e tempo libero", "Casa e ferramenta", "Ristorazione", "Servizi alla persona",
              "Infanzia e giocattoli", "Altro")


class CardError(Exception):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ReceiptConflict(CardError):
    """The receipt number was used before for another purchase (a view answers 409)."""


# --------------------------------------------------------------------------- numbers, tokens


def new_number() -> str:
    """14 random digits and two ISO 7064 mod 97-10 check digits: a mistyped digit is caught at
    the till, and a made-up number passes the check once in 97 and matches a card almost
    never (10^14 numbers for each issued card)."""
    body = f"{secrets.randbelow(10**14):014d}"
    return body + mod_97_10.calc_check_digits(body)


def clean_number(value) -> str | None:
    """The 16 digits of a typed number (spaces and dashes allowed), or None."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    digits = re.sub(r"[\s-]", "", value)
    if not re.fullmatch(r"[0-9]{16}", digits):  # ASCII digits only
        return None
    return digits


def number_is_valid(value) -> bool:
    digits = clean_number(value)
    return digits is not None and mod_97_10.is_valid(digits)


def format_number(number: str) -> str:
    return " ".join(number[i:i + 4] for i in range(0, len(number), 4))


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=QR_SALT)


def make_token(card: Card) -> str:
    """The QR code's content: the card's id and version, signed and timed (not the number)."""
    return _serializer().dumps([card.id, card.token_version])


def card_from_token(token, max_age: int = TOKEN_MAX_AGE) -> Card | None:
    if not isinstance(token, str) or len(token) > 300:
        return None
    try:
        payload = _serializer().loads(token, max_age=max_age)
    except (SignatureExpired, BadSignature):
        return None
    if (not isinstance(payload, list) or len(payload) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in payload)):
        return None
    card = db.session.get(Card, payload[0])
    if card is None or card.token_version != payload[1]:
        return None
    return card


# --------------------------------------------------------------------------- cards


def rome_today() -> date:
    return datetime.now(UTC).astimezone(ROME).date()


def effective_status(card: Card, today: date | None = None) -> str:
    today = today or rome_today()
    if card.status == CardStatus.ACTIVE and card.expires_on < today:
        return CardStatus.EXPIRED
    return card.status


def card_of(household_id: int | None) -> Card | None:
    if household_id is None:
        return None
    return db.session.scalar(select(Card).where(Card.household_id == household_id))


def initials_of(household: Household) -> str:
    """The holder's initials: the first adult's first name and the family's name."""
    first = next((m.first_name for m in household.members
                  if m.kind == MemberKind.ADULT and m.first_name), None)
    surname = household.name.removeprefix("Famiglia ").strip()
    letters = [w[0] for w in (first or "", surname) if w]
    return ".".join(letters).upper() + "." if letters else ""


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def issue_card(household: Household) -> Card:
    """The household's card: a new one, or the existing one renewed."""
    card = card_of(household.id)
    if card is not None:
        return renew_card(card, force=True)
    for _attempt in range(5):
        card = Card(household_id=household.id, comune_id=household.comune_id,
                    number=new_number(), status=CardStatus.ACTIVE, issued_at=utcnow(),
                    expires_on=_add_years(rome_today(), VALID_YEARS),
                    initials=initials_of(household), token_version=1)
        try:
            with db.session.begin_nested():
                db.session.add(card)
                db.session.flush()
            return card
        except IntegrityError:
            existing = card_of(household.id)  # a request issued it meanwhile
            if existing is not None:
                return existing
    raise CardError(_("Non è stato possibile emettere la carta: riprova."))


def can_renew(card: Card, today: date | None = None) -> bool:
    today = today or rome_today()
    return (card.status in (CardStatus.ACTIVE, CardStatus.EXPIRED)
            and card.expires_on - today <= timedelta(days=RENEW_WINDOW_DAYS))


def renew_card(card: Card, force: bool = False) -> Card:
    """Two more years from today; older QR codes stop working."""
    if not force and not can_renew(card):
        raise CardError(_("La carta si può rinnovare negli ultimi %(n)d giorni di validità.",
                          n=RENEW_WINDOW_DAYS))
    if card.status == CardStatus.REVOKED and not force:
        raise CardError(_("La carta è stata revocata."))
    card.status = CardStatus.ACTIVE
    card.expires_on = _add_years(rome_today(), VALID_YEARS)
    card.token_version += 1
    db.session.flush()
    return card


def set_card_status(actor, card: Card, status: str) -> Card:
    if status not in (CardStatus.ACTIVE, CardStatus.SUSPENDED, CardStatus.REVOKED):
        raise CardError(_("Stato non valido."), "status")
    if card.status == CardStatus.REVOKED:
        raise CardError(_("La carta è stata revocata."), "status")
    card.status = status
    card.token_version += 1
    db.session.flush()
    audit("card.status", card, {"status": status}, actor=actor)
    return card


# --------------------------------------------------------------------------- eligibility


def rule_for(comune_id: int) -> CardRule:
    rule = db.session.scalar(select(CardRule).where(CardRule.comune_id == comune_id))
    return rule or CardRule(comune_id=comune_id, min_children=1, child_max_age=25,
                            isee_ceiling_cents=None)


def set_rule(officer, comune_id: int, *, min_children: int, child_max_age: int,
             isee_ceiling_cents: int | None) -> CardRule:
    if isee_ceiling_cents is not None and isee_ceiling_cents <= 0:
        raise CardError(_("Il limite ISEE deve essere maggiore di zero."), "isee_ceiling")
    rule = db.session.scalar(select(CardRule).where(CardRule.comune_id == comune_id))
    if rule is None:
        rule = CardRule(comune_id=comune_id)
        db.session.add(rule)
    rule.min_children, rule.child_max_age = min_children, child_max_age
    rule.isee_ceiling_cents = isee_ceiling_cents
    db.session.flush()
    audit("card.rule", rule, {"min_children": min_children, "child_max_age": child_max_age,
                              "isee_ceiling_cents": isee_ceiling_cents}, actor=officer)
    return rule


def young_members(household: Household, max_age: int, year: int) -> int:
    """Children whose age this year is at most `max_age` (under 26: at most 25)."""
    return sum(1 for m in household.members
               if m.kind == MemberKind.CHILD and year - m.birth_year <= max_age)


def assess(household: Household, rule: CardRule, declared_isee_cents: int | None,
           year: int | None = None) -> tuple[str, str]:
    """(approved | refused | pending, reason): what the rule decides alone."""
    year = year or rome_today().year
    children = young_members(household, rule.child_max_age, year)
    if children < rule.min_children:
        return RequestStatus.REFUSED, _(
            "Il Comune rilascia la carta alle famiglie con almeno %(n)d figli fino a "
            "%(age)d anni.", n=rule.min_children, age=rule.child_max_age)
    if rule.isee_ceiling_cents is not None:
        if declared_isee_cents is None:
            raise CardError(_("Il tuo Comune chiede l'ISEE: indica il valore dell'attestazione."),
                            "isee")
        if declared_isee_cents > rule.isee_ceiling_cents:
            return RequestStatus.REFUSED, _(
                "L'ISEE dichiarato supera il limite fissato dal Comune (%(euro)s €).",
                euro=ledger.euro(rule.isee_ceiling_cents))
        return RequestStatus.PENDING, _("L'ufficio del Comune verifica l'attestazione ISEE.")
    return RequestStatus.APPROVED, ""


def open_request(household_id: int) -> CardRequest | None:
    return db.session.scalar(select(CardRequest).where(
        CardRequest.household_id == household_id,
        CardRequest.status == RequestStatus.PENDING))


def request_card(user, household: Household, declared_isee_cents: int | None = None
                 ) -> CardRequest:
    if household is None or not household.is_verified:
        raise CardError(_("La carta si chiede dopo che il Comune ha verificato la residenza "
                          "della famiglia."))
    card = card_of(household.id)
    if card is not None and effective_status(card) == CardStatus.ACTIVE:
        raise CardError(_("La famiglia ha già una Family Card valida."))
    if open_request(household.id) is not None:
        raise CardError(_("La richiesta è già all'esame del Comune."))
    if declared_isee_cents is not None and not 0 <= declared_isee_cents <= ledger.AMOUNT_MAX:
        raise CardError(_("Valore ISEE non valido."), "isee")
    rule = rule_for(household.comune_id)
    status, note = assess(household, rule, declared_isee_cents)
    request = CardRequest(household_id=household.id, comune_id=household.comune_id,
                          requested_by_id=user.id, status=status, note=note or None,
                          declared_isee_cents=declared_isee_cents, created_at=utcnow())
    if status != RequestStatus.PENDING:
        request.decided_at = utcnow()
    db.session.add(request)
    db.session.flush()
    if status == RequestStatus.APPROVED:
        issue_card(household)
    return request


def decide_request(officer, request: CardRequest, approve: bool, note: str = "") -> CardRequest:
    if request.status != RequestStatus.PENDING:
        raise CardError(_("La richiesta è già stata decisa."))
    if not approve and not note.strip():
        raise CardError(_("Scrivi alla famiglia il motivo del rifiuto."), "note")
    request.status = RequestStatus.APPROVED if approve else RequestStatus.REFUSED
    request.note = note.strip() or None
    request.decided_at = utcnow()
    request.decided_by_id = officer.id
    db.session.flush()
    if approve:
        issue_card(db.session.get(Household, request.household_id))
    audit("card.request.decided", request, {"approve": approve}, actor=officer)
    return request


def pending_requests(comune_ids: set[int] | None) -> list[CardRequest]:
    query = select(CardRequest).where(CardRequest.status == RequestStatus.PENDING)
    if comune_ids is not None:
        query = query.where(CardRequest.comune_id.in_(comune_ids))
    return list(db.session.scalars(query.order_by(CardRequest.created_at).limit(200)))


# --------------------------------------------------------------------------- the till: check


@dataclass(frozen=True)
class CheckResult:
    valid: bool
    expires_on: date | None = None
    initials: str = ""
    card: Card | None = None


def find_card(value) -> Card | None:
    """The card a typed number or a scanned QR token names (None: none, or not valid)."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    number = clean_number(value)
    if number is not None:
        if not mod_97_10.is_valid(number):
            return None
        return db.session.scalar(select(Card).where(Card.number == number))
    return card_from_token(value)


def check_card(value) -> CheckResult:
    """Only valid or not, the expiry and the initials: nothing else about the family."""
    card = find_card(value)
    if card is None:
        return CheckResult(False)
    if effective_status(card) != CardStatus.ACTIVE:
        return CheckResult(False, card.expires_on, card.initials)
    return CheckResult(True, card.expires_on, card.initials, card)


# --------------------------------------------------------------------------- merchants, offers


def clean_vat(value) -> str:
    if not isinstance(value, str) or len(value) > 20 or not value.isascii():
        raise CardError(_("Indica una partita IVA di 11 cifre."), "vat_number")
    try:
        return iva.validate(value.upper().removeprefix("IT"))
    except StdnumError:
        raise CardError(_("La partita IVA non è valida: controlla le 11 cifre."),
                        "vat_number") from None


def apply_merchant(user, *, name: str, vat_number: str, address: str, category: str,
                   comune_id: int, contact_email: str, contact_phone: str = "",
                   description: str = "") -> Merchant:
    vat = clean_vat(vat_number)
    if category not in CATEGORIES:
        raise CardError(_("Scegli una categoria dall'elenco."), "category")
    if db.session.scalar(select(Merchant.id).where(Merchant.vat_number == vat)):
        raise CardError(_("Un esercizio con questa partita IVA è già iscritto o in attesa."),
                        "vat_number")
    merchant = Merchant(name=name.strip(), vat_number=vat, address=address.strip(),
                        category=category, comune_id=comune_id,
                        contact_email=contact_email.strip().lower(),
                        contact_phone=contact_phone.strip() or None,
                        description=description.strip() or None,
                        status=MerchantStatus.APPLIED, applied_at=utcnow(),
                        applied_by_id=getattr(user, "id", None))
    try:
        with db.session.begin_nested():
            db.session.add(merchant)
            db.session.flush()
    except IntegrityError:
        raise CardError(_("Un esercizio con questa partita IVA è già iscritto o in attesa."),
                        "vat_number") from None
    return merchant


def grant_operator(user_id: int, merchant: Merchant, granter=None) -> None:
    role = Role.MERCHANT_OPERATOR
    exists_ = db.session.scalar(select(RoleAssignment.id).where(
        RoleAssignment.user_id == user_id, RoleAssignment.role == role,
        RoleAssignment.scope_type == ROLE_SCOPE[role], RoleAssignment.scope_id == merchant.id))
    if exists_:
        return
    db.session.add(RoleAssignment(user_id=user_id, role=role, scope_type=ROLE_SCOPE[role],
                                  scope_id=merchant.id,
                                  granted_by_id=getattr(granter, "id", None)))
    db.session.flush()


def decide_merchant(officer, merchant: Merchant, approve: bool) -> Merchant:
    """Approve (the applicant becomes the shop's operator) or refuse an application."""
    if merchant.status != MerchantStatus.APPLIED:
        raise CardError(_("La domanda è già stata decisa."))
    merchant.status = MerchantStatus.APPROVED if approve else MerchantStatus.REFUSED
    merchant.decided_at = utcnow()
    if approve and merchant.applied_by_id is not None:
        grant_operator(merchant.applied_by_id, merchant, officer)
    db.session.flush()
    audit("merchant.decided", merchant, {"approve": approve}, actor=officer)
    return merchant


def pending_merchants(comune_ids: set[int] | None) -> list[Merchant]:
    query = select(Merchant).where(Merchant.status == MerchantStatus.APPLIED)
    if comune_ids is not None:
        query = query.where(Merchant.comune_id.in_(comune_ids))
    return list(db.session.scalars(query.order_by(Merchant.applied_at).limit(200)))


def badge(discount_bp: int) -> str | None:
    if discount_bp >= SUPPORTER_BP:
        return _("Sostenitore della famiglia")
    if discount_bp >= FRIEND_BP:
        return _("Amico della famiglia")
    return None


def _current(today: date):
    return and_(Offer.valid_from <= today,
                or_(Offer.valid_until.is_(None), Offer.valid_until >= today))


def current_offers(merchant_id: int, today: date | None = None) -> list[Offer]:
    today = today or rome_today()
    return list(db.session.scalars(select(Offer).where(
        Offer.merchant_id == merchant_id, _current(today)).order_by(Offer.discount_bp.desc())))


def best_offer(merchant_id: int, today: date | None = None) -> Offer | None:
    offers = current_offers(merchant_id, today)
    return offers[0] if offers else None


def comune_offers(comune_id: int, today: date | None = None) -> list[tuple[Offer, Merchant]]:
    today = today or rome_today()
    rows = db.session.execute(select(Offer, Merchant).join(Merchant).where(
        Merchant.comune_id == comune_id, Merchant.status == MerchantStatus.APPROVED,
        _current(today)).order_by(Offer.discount_bp.desc(), Merchant.name).limit(60))
    return [(o, m) for o, m in rows]


def directory(*, comune_id: int | None = None, category: str | None = None,
              min_discount_bp: int | None = None, page: int = 1, per_page: int = 20
              ) -> tuple[list[tuple[Merchant, int]], bool]:
    """Approved merchants with their best current discount, filtered; (rows, has_more)."""
    today = rome_today()
    best = (select(func.max(Offer.discount_bp)).where(Offer.merchant_id == Merchant.id,
                                                      _current(today))
            .correlate(Merchant).scalar_subquery())
    query = select(Merchant, best.label("best")).where(
        Merchant.status == MerchantStatus.APPROVED)
    if comune_id is not None:
        query = query.where(Merchant.comune_id == comune_id)
    if category:
        query = query.where(Merchant.category == category)
    if min_discount_bp:
        query = query.where(exists().where(Offer.merchant_id == Merchant.id, _current(today),
                                           Offer.discount_bp >= min_discount_bp))
    rows = db.session.execute(query.order_by(Merchant.name, Merchant.id)
                              .offset((page - 1) * per_page).limit(per_page + 1)).all()
    return [(m, b or 0) for m, b in rows[:per_page]], len(rows) > per_page


# --------------------------------------------------------------------------- the till: purchases


def cents_of(amount_cents: int, bp: int) -> int:
    """`bp` basis points of an amount, rounded half up to the cent."""
    return (amount_cents * bp + 5000) // 10000


def split(amount_cents: int, offer: Offer | None) -> tuple[int, int]:
    """(discount, fund share): the discount on the amount, the share on what is paid."""
    if offer is None:
        return 0, 0
    discount = cents_of(amount_cents, offer.discount_bp)
    return discount, cents_of(amount_cents - discount, offer.fund_share_bp)


def purchase_key(merchant_id: int, receipt: str) -> str:
    return f"card-purchase:{merchant_id}:{receipt}"


def clean_receipt(value) -> str:
    value = value.strip() if isinstance(value, str) else ""
    if not RECEIPT_RE.match(value):
        raise CardError(_("Il numero di scontrino ha lettere, cifre, / . _ - (al massimo 40)."),
                        "receipt")
    return value


def _existing(merchant_id: int, receipt: str) -> Purchase | None:
    return db.session.scalar(select(Purchase).where(
        Purchase.merchant_id == merchant_id, Purchase.receipt == receipt)
        .execution_options(populate_existing=True))


def _same(purchase: Purchase, card: Card, amount_cents: int) -> Purchase:
    if purchase.card_id != card.id or purchase.amount_cents != amount_cents:
        raise ReceiptConflict(_("Questo scontrino è già registrato per un altro acquisto."),
                              "receipt")
    return purchase


def record_purchase(operator, merchant: Merchant, card_value: str, amount_cents: int,
                    receipt: str, at: datetime | None = None) -> tuple[Purchase, bool]:
    """(purchase, created). The same receipt with the same card and amount is the first
    purchase again (created False); with other data it is a ReceiptConflict."""
    if merchant.status != MerchantStatus.APPROVED:
        raise CardError(_("L'esercizio non è ancora convenzionato."))
    if (isinstance(amount_cents, bool) or not isinstance(amount_cents, int)
            or amount_cents <= 0):
        raise CardError(_("L'importo deve essere maggiore di zero."), "amount")
    if amount_cents > 10_000_000:
        raise CardError(_("L'importo è troppo grande per un acquisto."), "amount")
    receipt = clean_receipt(receipt)
    result = check_card(card_value)
    if not result.valid:
        raise CardError(_("La carta non è valida."), "card")
    card = result.card
    existing = _existing(merchant.id, receipt)
    if existing is not None:
        return _same(existing, card, amount_cents), False
    offer = best_offer(merchant.id, (at or utcnow()).astimezone(ROME).date())
    discount, share = split(amount_cents, offer)
    purchase = Purchase(card_id=card.id, merchant_id=merchant.id,
                        offer_id=getattr(offer, "id", None), receipt=receipt,
                        amount_cents=amount_cents, discount_cents=discount,
                        fund_share_cents=share, operator_id=getattr(operator, "id", None),
                        created_at=at or utcnow())
    try:
        with db.session.begin_nested():
            db.session.add(purchase)
            db.session.flush()
    except IntegrityError:
        # another till sent the same receipt: its insert went first, ours waited for it
        existing = _existing(merchant.id, receipt)
        if existing is None:
            raise
        return _same(existing, card, amount_cents), False
    if share > 0:
        tx = ledger.post_contribution(
            ledger.fund_for(merchant.comune_id), source="card", amount_cents=share,
            key=purchase_key(merchant.id, receipt), memo=_("Family Card: %(name)s",
                                                           name=merchant.name)[:300],
            ref=f"merchant:{merchant.id}", at=purchase.created_at)
        purchase.fund_transaction_id = tx.id
        db.session.flush()
    return purchase, True


def cancel_purchase(operator, purchase: Purchase, now: datetime | None = None) -> Purchase:
    """Undo a purchase within 24 hours: the fund's share is reversed in the ledger."""
    now = now or utcnow()
    if purchase.cancelled_at is not None:
        raise CardError(_("L'acquisto è già stato annullato."))
    if now - purchase.created_at > CANCEL_WINDOW:
        raise CardError(_("Un acquisto si può annullare entro 24 ore."))
    if purchase.fund_transaction_id is not None:
        tx = db.session.get(FundTransaction, purchase.fund_transaction_id)
        ledger.reverse(tx, key=f"card-cancel:{purchase.merchant_id}:{purchase.receipt}",
                       memo=_("Annullato: scontrino %(n)s", n=purchase.receipt))
    purchase.cancelled_at = now
    db.session.flush()
    audit("card.purchase.cancelled", purchase, {"receipt": purchase.receipt}, actor=operator)
    return purchase


def merchant_purchases(merchant_id: int, limit: int = 20) -> list[Purchase]:
    return list(db.session.scalars(select(Purchase).where(Purchase.merchant_id == merchant_id)
                                   .order_by(Purchase.created_at.desc(), Purchase.id.desc())
                                   .limit(limit)))


# --------------------------------------------------------------------------- totals, statements


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """A month in Rome, as UTC instants [start, end)."""
    start = datetime.combine(date(year, month, 1), time(), ROME)
    end = datetime.combine(date(year + month // 12, month % 12 + 1, 1), time(), ROME)
    return start.astimezone(UTC), end.astimezone(UTC)


def _sums(where) -> tuple[int, int, int]:
    row = db.session.execute(select(
        func.count(Purchase.id), func.coalesce(func.sum(Purchase.discount_cents), 0),
        func.coalesce(func.sum(Purchase.fund_share_cents), 0)).where(
        Purchase.cancelled_at.is_(None), *where)).one()
    return int(row[0]), int(row[1]), int(row[2])


def household_totals(card: Card) -> dict:
    """What the family saved and gave to the fund this month and this year."""
    today = rome_today()
    m_start, m_end = month_bounds(today.year, today.month)
    y_start = month_bounds(today.year, 1)[0]
    y_end = month_bounds(today.year, 12)[1]
    month = _sums([Purchase.card_id == card.id, Purchase.created_at >= m_start,
                   Purchase.created_at < m_end])
    year = _sums([Purchase.card_id == card.id, Purchase.created_at >= y_start,
                  Purchase.created_at < y_end])
    return {"month": {"count": month[0], "saved": month[1], "given": month[2]},
            "year": {"count": year[0], "saved": year[1], "given": year[2]}}


def statement(*, year: int, month: int, merchant_id: int | None = None,
              card_id: int | None = None) -> tuple[list[Purchase], tuple[int, int, int, int]]:
    """A month's purchases of a merchant or of a card, and (count, amount, discount, share)
    of those not cancelled."""
    start, end = month_bounds(year, month)
    where = [Purchase.created_at >= start, Purchase.created_at < end]
    if merchant_id is not None:
        where.append(Purchase.merchant_id == merchant_id)
    if card_id is not None:
        where.append(Purchase.card_id == card_id)
    rows = list(db.session.scalars(select(Purchase).where(*where)
                                   .order_by(Purchase.created_at, Purchase.id).limit(5000)))
    live = [p for p in rows if p.cancelled_at is None]
    totals = (len(live), sum(p.amount_cents for p in live),
              sum(p.discount_cents for p in live), sum(p.fund_share_cents for p in live))
    return rows, totals


def operated_merchants(user) -> list[Merchant]:
    ids = authz.scope_ids(user, Role.MERCHANT_OPERATOR)
    if not ids:
        return []
    return list(db.session.scalars(select(Merchant).where(Merchant.id.in_(ids))
                                   .order_by(Merchant.name)))
