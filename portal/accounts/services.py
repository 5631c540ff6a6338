"""Accounts and households: every rule about them lives here; views only call these."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app, request, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal.accounts.models import (
    Household,
    HouseholdInvitation,
    HouseholdMember,
    HouseholdStatus,
    LoginSession,
    User,
)
from portal.core import personal as personal_data
from portal.core.services import absolute_url, audit, notify, send_mail
from portal.db_setup import utcnow
from portal.extensions import db, login_manager

log = logging.getLogger(__name__)



@cache
def _hasher(time_cost: int, memory_cost: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost)  # argon2id


def hasher() -> PasswordHasher:
    """argon2id; the library's recommended cost unless the configuration lowers it (tests)."""
    config = current_app.config
    return _hasher(config.get("ARGON2_TIME_COST", 3), config.get("ARGON2_MEMORY_COST", 65536))


@cache
def _dummy_hash(time_cost: int, memory_cost: int) -> str:
    """Verified against when the e-mail is unknown, so that timing does not reveal accounts."""
    return _hasher(time_cost, memory_cost).hash("not-a-real-password-0000")

MIN_PASSWORD = 10
INVITATION_DAYS = 14


class AccountError(ValueError):
    """A rule was broken; the message is shown to the user (already translated).

    `field` names the form field the message belongs to, when there is one.
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


# --------------------------------------------------------------------------- passwords


@cache
def _common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    return frozenset(line.strip() for line in path.read_text().splitlines() if line.strip())


def password_problem(password: str, email: str = "", name: str = "") -> str | None:
    """Why `password` is not acceptable, or None."""
    if len(password) < MIN_PASSWORD:
        return _("La password deve avere almeno %(n)s caratteri.", n=MIN_PASSWORD)
    if len(password) > 200:
        return _("La password può avere al massimo 200 caratteri.")
    lowered = password.lower()
    if lowered in _common_passwords() or len(set(lowered)) < 4:
        return _("Questa password è troppo comune o facile da indovinare: scegline un'altra.")
    local = email.split("@")[0].lower()
    if len(local) >= 4 and local in lowered:
        return _("La password non deve contenere il tuo indirizzo e-mail.")
    return None


def hash_password(password: str) -> str:
    return hasher().hash(password)


def check_password(user: User, password: str) -> bool:
    try:
        hasher().verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hasher().hash(password)
    return True


# --------------------------------------------------------------------------- signed tokens


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def make_token(salt: str, payload: dict) -> str:
    return _serializer(salt).dumps(payload)


def read_token(salt: str, token: str, max_age: int) -> dict:
    try:
        data = _serializer(salt).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise AccountError(_("Il link è scaduto: richiedine uno nuovo.")) from exc
    except BadSignature as exc:
        raise AccountError(_("Il link non è valido.")) from exc
    if not isinstance(data, dict):
        raise AccountError(_("Il link non è valido."))
    return data


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --------------------------------------------------------------------------- users


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(
        db.select(User).where(User.email == normalise_email(email), User.deleted_at.is_(None))
    )


def register(name: str, email: str, password: str) -> User | None:
    """Create an account and mail the confirmation link.

    If the address is taken, nothing is created and the owner is told by mail instead, so the
    form never reveals which addresses have an account: the password is checked first and
    hashed either way, so that answers and timings match. Returns the new user or None.
    """
    email = normalise_email(email)
    problem = password_problem(password, email, name)
    if problem:
        raise AccountError(problem, field="password")
    password_hash = hash_password(password)
    existing = db.session.scalar(db.select(User.id).where(User.email == email))
    if existing is None:
        user = User(name=name.strip(), email=email, password_hash=password_hash)
        try:
            with db.session.begin_nested():
                db.session.add(user)
        except IntegrityError:  # the same address registered a moment ago
            existing = True
    if existing is not None:
        send_mail(
            email,
            _("Tentativo di registrazione con il tuo indirizzo"),
            _(
                "Qualcuno ha provato a registrarsi al portale della Rete con questo indirizzo, "
                "che ha già un account. Se eri tu, accedi o reimposta la password: %(url)s",
                url=absolute_url(url_for("accounts.forgot_password")),
            ),
        )
        return None
    send_confirmation(user)
    audit("user.registered", user, actor=user)
    log.info("user %s registered", user.id)
    return user


def send_confirmation(user: User) -> None:
    token = make_token("confirm-email", {"u": user.id, "e": user.email})
    send_mail(
        user.email,
        _("Conferma il tuo indirizzo e-mail"),
        _(
            "Ciao %(name)s,\n\nper completare la registrazione al portale della Rete dei Comuni "
            "Amici della Famiglia apri questo link e premi \"Conferma\":\n\n%(url)s\n\n"
            "Il link vale tre giorni. Se non ti sei registrato, ignora questo messaggio.",
            name=user.name,
            url=absolute_url(url_for("accounts.confirm_email", token=token)),
        ),
    )


def check_confirmation_link(token: str, new_email: bool = False) -> None:
    """Raise AccountError unless the link is genuine and unexpired (changes nothing)."""
    read_token("change-email" if new_email else "confirm-email", token,
               current_app.config["EMAIL_TOKEN_MAX_AGE"])


def confirm_email(token: str) -> User:
    data = read_token("confirm-email", token, current_app.config["EMAIL_TOKEN_MAX_AGE"])
    user = db.session.get(User, data.get("u"))
    if user is None or user.deleted_at is not None or user.email != data.get("e"):
        raise AccountError(_("Il link non è valido."))
    if user.email_confirmed_at is None:
        user.email_confirmed_at = utcnow()
        audit("user.email_confirmed", user, actor=user)
    return user


def authenticate(email: str, password: str) -> User | None:
    user = find_user_by_email(email)
    if user is None:
        config = current_app.config
        try:
            hasher().verify(_dummy_hash(config.get("ARGON2_TIME_COST", 3),
                                        config.get("ARGON2_MEMORY_COST", 65536)), password)
        except VerificationError:
            pass
        return None
    return user if check_password(user, password) else None


def start_session(user: User) -> str:
    """Create a server-side login session and return its token (kept in the cookie)."""
    token = secrets.token_urlsafe(32)
    db.session.add(
        LoginSession(
            token_hash=_sha(token),
            user_id=user.id,
            ip=request.remote_addr,
            user_agent=(request.user_agent.string or "")[:200],
        )
    )
    user._session_token = token
    audit("user.login", user, actor=user)
    return token


def end_session(token: str | None) -> None:
    if token:
        db.session.execute(db.delete(LoginSession).where(LoginSession.token_hash == _sha(token)))


def end_other_sessions(user: User, keep_token: str | None) -> None:
    query = db.delete(LoginSession).where(LoginSession.user_id == user.id)
    if keep_token:
        query = query.where(LoginSession.token_hash != _sha(keep_token))
    db.session.execute(query)


def load_user(token: str) -> User | None:
    """Flask-Login's user loader: the session token names a live LoginSession, younger than
    `LOGIN_SESSION_DAYS`, of an account not deleted."""
    oldest = utcnow() - timedelta(days=current_app.config.get("LOGIN_SESSION_DAYS", 30))
    row = db.session.execute(
        db.select(User).join(LoginSession, LoginSession.user_id == User.id)
        .where(LoginSession.token_hash == _sha(token), LoginSession.created_at > oldest,
               User.deleted_at.is_(None))
    ).scalar_one_or_none()
    if row is not None:
        row._session_token = token
        # Loaded live: templates asking `is_authenticated` after a commit (which expires the
        # row) need no query to learn it again.
        row._loaded_active = True
    return row


def _password_seal(user: User) -> str:
    """An HMAC of the current password hash under the secret key, carried by a reset link:
    it changes with the password (so a used link stops working) and reveals nothing of the
    hash, which the link's readable payload would otherwise expose."""
    key = current_app.config["SECRET_KEY"]
    key = key if isinstance(key, bytes) else key.encode()
    return hmac.new(key, b"reset-password:" + user.password_hash.encode(),
                    hashlib.sha256).hexdigest()


def request_password_reset(email: str) -> None:
    """Mail a reset link if the address has an account; say nothing either way."""
    user = find_user_by_email(email)
    if user is None:
        return
    token = make_token("reset-password", {"u": user.id, "h": _password_seal(user)})
    send_mail(
        user.email,
        _("Reimposta la password"),
        _(
            "Ciao %(name)s,\n\nhai chiesto di reimpostare la password del portale della Rete. "
            "Apri questo link entro un'ora:\n\n%(url)s\n\nSe non sei stato tu, ignora questo "
            "messaggio: la password resta quella di prima.",
            name=user.name,
            url=absolute_url(url_for("accounts.reset_password", token=token)),
        ),
    )
    audit("user.reset_requested", user, actor=user)


def user_from_reset_token(token: str) -> User:
    data = read_token("reset-password", token, current_app.config["RESET_TOKEN_MAX_AGE"])
    user = db.session.get(User, data.get("u"))
    # The token carries a seal of the current hash: once used, it stops working.
    if user is None or user.deleted_at is not None or not hmac.compare_digest(
            _password_seal(user), str(data.get("h", ""))):
        raise AccountError(_("Il link non è valido o è già stato usato."))
    return user


def reset_password(token: str, password: str) -> User:
    user = user_from_reset_token(token)
    problem = password_problem(password, user.email, user.name)
    if problem:
        raise AccountError(problem)
    user.password_hash = hash_password(password)
    if user.email_confirmed_at is None:  # the mail reached them: the address works
        user.email_confirmed_at = utcnow()
    end_other_sessions(user, None)
    audit("user.password_reset", user, actor=user)
    return user


def change_password(user: User, current: str, new: str, keep_token: str | None) -> None:
    if not check_password(user, current):
        raise AccountError(_("La password attuale non è corretta."), field="current")
    problem = password_problem(new, user.email, user.name)
    if problem:
        raise AccountError(problem)
    user.password_hash = hash_password(new)
    end_other_sessions(user, keep_token)
    audit("user.password_changed", user)


def request_email_change(user: User, password: str, new_email: str) -> None:
    new_email = normalise_email(new_email)
    if not check_password(user, password):
        raise AccountError(_("La password non è corretta."), field="password")
    if new_email == user.email:
        raise AccountError(_("È già il tuo indirizzo attuale."))
    if db.session.scalar(db.select(User.id).where(User.email == new_email)) is not None:
        raise AccountError(_("Questo indirizzo è già usato da un altro account."))
    token = make_token("change-email", {"u": user.id, "e": new_email, "old": user.email})
    send_mail(
        new_email,
        _("Conferma il nuovo indirizzo e-mail"),
        _(
            "Ciao %(name)s,\n\nper usare questo indirizzo sul portale della Rete apri il link e "
            "premi \"Conferma\":\n\n%(url)s",
            name=user.name,
            url=absolute_url(url_for("accounts.confirm_new_email", token=token)),
        ),
    )
    send_mail(
        user.email,
        _("Richiesta di cambio indirizzo e-mail"),
        _("È stato chiesto di cambiare l'indirizzo del tuo account in %(new)s. Se non sei stato "
          "tu, cambia subito la password.", new=new_email),
    )


def confirm_email_change(token: str) -> User:
    data = read_token("change-email", token, current_app.config["EMAIL_TOKEN_MAX_AGE"])
    user = db.session.get(User, data.get("u"))
    if user is None or user.deleted_at is not None or user.email != data.get("old"):
        raise AccountError(_("Il link non è valido o è già stato usato."))
    new_email = data.get("e", "")
    if db.session.scalar(db.select(User.id).where(User.email == new_email)) is not None:
        raise AccountError(_("Questo indirizzo è già usato da un altro account."))
    # The audit log outlives the account: it records the change, not the addresses.
    audit("user.email_changed", user, actor=user)
    user.email = new_email
    user.email_confirmed_at = utcnow()
    return user


# --------------------------------------------------------------------------- households


#: a street: letters first ("Via Roma", "P.za dell'Addolorata", "Corso Vittorio Emanuele II")
STREET_RE = re.compile(r"[^\W\d_][\w .,'’/()-]*")
#: a house number: "12", "12/A", "12 bis", "5-7", or "snc" (senza numero civico)
HOUSE_NUMBER_RE = re.compile(r"[0-9]{1,5}( ?[/-]? ?[A-Za-z0-9]{1,3})?|s\.?n\.?c\.?", re.IGNORECASE)


def clean_address(street: str | None, house_number: str | None) -> tuple[str, str]:
    """The declared address, trimmed; AccountError naming the field when it is not one."""
    street = " ".join((street or "").split())
    house_number = " ".join((house_number or "").split())
    if not 3 <= len(street) <= 120 or not STREET_RE.fullmatch(street):
        raise AccountError(_("Indica la via o la piazza, per esempio \"Via Roma\"."), "street")
    if len(house_number) > 12 or not HOUSE_NUMBER_RE.fullmatch(house_number):
        raise AccountError(_("Indica il numero civico, per esempio \"12\" o \"12/A\" "
                             "(\"snc\" se non c'è)."), "house_number")
    return street, house_number


def create_household(user: User, name: str, comune_id: int, birth_year: int,
                     first_name: str | None = None, *, street: str | None = None,
                     house_number: str | None = None) -> Household:
    """A household of `user` waiting for its Comune's check; the address is what the officer
    checks against the anagrafe (asked of every household the form creates)."""
    if user.household_id is not None:
        raise AccountError(_("Fai già parte di un nucleo familiare."))
    if not user.can_take_part:
        raise AccountError(_("Conferma prima il tuo indirizzo e-mail."))
    if street is not None or house_number is not None:
        street, house_number = clean_address(street, house_number)
    household = Household(name=name.strip(), comune_id=comune_id, street=street,
                          house_number=house_number)
    household.members.append(
        HouseholdMember(kind="adult", birth_year=birth_year, first_name=first_name or user.name)
    )
    db.session.add(household)
    db.session.flush()
    user.household_id = household.id
    audit("household.created", household)
    return household


def declare_address(household: Household, street: str, house_number: str) -> None:
    """Record the address a household declares (one created before it was asked, or one the
    Comune could not verify: it goes back to the officer's queue). A verified residence
    stays as the Comune checked it."""
    if household.is_verified:
        raise AccountError(_("La residenza è già verificata: per un nuovo indirizzo rivolgiti "
                             "all'anagrafe del tuo Comune."), "street")
    household.street, household.house_number = clean_address(street, house_number)
    if household.status == HouseholdStatus.REJECTED:
        household.status = HouseholdStatus.PENDING
    db.session.flush()
    audit("household.address", household)


def add_member(household: Household, kind: str, birth_year: int, first_name: str | None,
               disability: bool) -> HouseholdMember:
    if len(household.members) >= 20:
        raise AccountError(_("Un nucleo può avere al massimo 20 componenti."))
    this_year = utcnow().year
    if kind == "child" and this_year - birth_year >= 18:
        raise AccountError(_("Un figlio minore deve avere meno di 18 anni."))
    if kind == "adult" and this_year - birth_year < 18:
        raise AccountError(_("Un adulto deve avere almeno 18 anni."))
    member = HouseholdMember(kind=kind, birth_year=birth_year, first_name=first_name or None,
                             disability=disability)
    household.members.append(member)
    db.session.flush()
    audit("household.member_added", household)
    return member


def remove_member(household: Household, member_id: int) -> None:
    member = next((m for m in household.members if m.id == member_id), None)
    if member is None:
        raise AccountError(_("Componente non trovato."))
    adults = [m for m in household.members if m.kind == "adult"]
    if member.kind == "adult" and len(adults) == 1:
        raise AccountError(_("Il nucleo deve avere almeno un adulto."))
    household.members.remove(member)
    audit("household.member_removed", household)


def invite_to_household(user: User) -> str:
    """Create an invitation link; returns the token (only its hash is stored)."""
    if user.household_id is None:
        raise AccountError(_("Crea prima il tuo nucleo familiare."))
    token = secrets.token_urlsafe(24)
    db.session.add(
        HouseholdInvitation(
            household_id=user.household_id,
            token_hash=_sha(token),
            created_by_id=user.id,
            expires_at=utcnow() + timedelta(days=INVITATION_DAYS),
        )
    )
    audit("household.invitation_created", user.household)
    return token


def invitation_for(token: str) -> HouseholdInvitation:
    invitation = db.session.scalar(
        db.select(HouseholdInvitation).where(HouseholdInvitation.token_hash == _sha(token))
    )
    if invitation is None or invitation.used_at is not None or invitation.expires_at < utcnow():
        raise AccountError(_("L'invito non è valido, è scaduto o è già stato usato."))
    return invitation


def join_household(user: User, token: str) -> Household:
    invitation = invitation_for(token)
    if user.household_id is not None:
        raise AccountError(_("Fai già parte di un nucleo familiare: esci prima da quello."))
    if not user.can_take_part:
        raise AccountError(_("Conferma prima il tuo indirizzo e-mail."))
    invitation.used_at = utcnow()
    invitation.used_by_id = user.id
    user.household_id = invitation.household_id
    audit("household.joined", invitation.household)
    return invitation.household


def leave_household(user: User) -> None:
    household = user.household
    if household is None:
        raise AccountError(_("Non fai parte di alcun nucleo."))
    user.household_id = None
    db.session.flush()
    audit("household.left", household)
    if not household.users:
        _anonymise_household(household)


def _anonymise_household(household: Household) -> None:
    """Keep the row (counted votes point to it) but drop every personal detail."""
    household.name = _("Nucleo rimosso")
    household.street = household.house_number = None
    household.members.clear()
    household.anonymised_at = utcnow()
    db.session.execute(
        db.delete(HouseholdInvitation).where(HouseholdInvitation.household_id == household.id)
    )


def pending_households(comune_ids: set[int] | None, limit: int = 200) -> list[Household]:
    """The verification queue: oldest first; None means every Comune (coordinator)."""
    query = (
        db.select(Household)
        .options(selectinload(Household.comune), selectinload(Household.members),
                 selectinload(Household.users))
        .where(Household.status == HouseholdStatus.PENDING, Household.anonymised_at.is_(None))
        .order_by(Household.created_at, Household.id)
        .limit(limit)
    )
    if comune_ids is not None:
        query = query.where(Household.comune_id.in_(comune_ids or {-1}))
    return list(db.session.scalars(query))


def review_household(officer: User, household: Household, approve: bool, note: str | None) -> None:
    if household.anonymised_at is not None:
        raise AccountError(_("Questo nucleo non esiste più."))
    if not approve and not (note or "").strip():
        raise AccountError(_("Indica il motivo per cui la residenza non è verificata."))
    household.status = HouseholdStatus.VERIFIED if approve else HouseholdStatus.REJECTED
    household.verified_by_id = officer.id
    household.verified_at = utcnow()
    household.review_note = (note or "").strip() or None
    audit("household.verified" if approve else "household.rejected", household,
          {"note": household.review_note})
    # the body says only what the title does not
    if approve:
        title = _("Residenza verificata: il nucleo \"%(name)s\" può votare", name=household.name)
        body = _("Ora potete votare e richiedere la Family Card.")
    else:
        title = _("Residenza non verificata per il nucleo \"%(name)s\"", name=household.name)
        body = _("Motivo indicato dal Comune: %(note)s", note=household.review_note)
    notify(household.users, "household.verified" if approve else "household.rejected", title,
           link=url_for("accounts.household"), body=body)


# --------------------------------------------------------------------------- GDPR


def export_data(user: User) -> dict[str, Any]:
    """Everything the portal holds about `user` and their household, as plain data: the
    sections of every module's registered personal data (portal/core/personal.py)."""
    return personal_data.export_all(user)


def delete_account(user: User, password: str) -> None:
    """Delete the account: every module deletes or anonymises what it holds (counted votes
    stay, anonymous), then the account row keeps only its id."""
    if not check_password(user, password):
        raise AccountError(_("La password non è corretta."))
    personal_data.delete_all(user)
    audit("user.deleted", user, actor=user)
    user.name = _("Utente eliminato")
    user.email = f"deleted-{user.id}-{secrets.token_hex(4)}@invalid.example"
    user.password_hash = "!"  # noqa: S105 - not a hash: matches no password
    user.deleted_at = utcnow()


def init_login(app: Flask) -> None:
    login_manager.user_loader(load_user)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None
