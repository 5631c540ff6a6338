"""Comuni, associations and roles: queries and changes."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from blinker import Namespace
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload

from portal import authz
from portal.accounts.models import Household, HouseholdStatus, User
from portal.accounts.services import find_user_by_email
from portal.authz import NETWORK_ID, ROLE_SCOPE, Role, Scope
from portal.caching import remember
from portal.core.models import Activity
from portal.core.services import activity, audit, send_mail
from portal.core.texts import render, text
from portal.db_setup import utcnow
from portal.extensions import db
from portal.i18n import ROME
from portal.network import istat
from portal.network.models import (
    Association,
    Comune,
    JoinApplication,
    JoinStatus,
    RoleAssignment,
    association_comuni,
)
from portal.network.rows import page_columns
from portal.web import parse_int

__all__ = ["page_columns"]  # (for the catalogue's Comune panel, until it reads plain rows)

_signals = Namespace()
#: Sent with the new Comune (flushed, in the request's transaction) when it joins the Rete:
#: the modules above the Network add what every Comune has (its table, for one).
comune_created = _signals.signal("comune-created")


@dataclass(frozen=True)
class ComuneLink:
    """What the home page shows of a Comune: plain values, safe to keep between requests."""

    name: str
    slug: str
    joined_on: date


@dataclass(frozen=True)
class NetworkSummary:
    comuni: list[ComuneLink]
    comuni_count: int
    associations_count: int
    households_count: int
    population: int


def network_summary() -> NetworkSummary:
    """The figures on the home page, kept in the cache until the next write: counting every
    household on each visit of the home page would dominate its cost."""
    return remember("network.summary", _read_summary)


def _read_summary() -> NetworkSummary:
    rows = db.session.execute(
        db.select(Comune.name, Comune.slug, Comune.joined_on)
        .order_by(Comune.joined_on, Comune.name).limit(12)
    ).all()
    comuni_count, population = db.session.execute(
        db.select(func.count(Comune.id), func.coalesce(func.sum(Comune.population), 0))
    ).one()
    associations_count = db.session.scalar(db.select(func.count(Association.id)))
    households_count = db.session.scalar(
        db.select(func.count(Household.id)).where(
            Household.status == HouseholdStatus.VERIFIED, Household.anonymised_at.is_(None))
    )
    return NetworkSummary(
        comuni=[ComuneLink(*row) for row in rows],
        comuni_count=comuni_count,
        associations_count=associations_count or 0,
        households_count=households_count or 0,
        population=int(population or 0),
    )


# --------------------------------------------------------------------------- Comuni


class NetworkError(ValueError):
    """A rule about the Network was broken; the message is for the user."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def slugify(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


#: Comuni per page of /comuni.
COMUNI_PAGE_SIZE = 20


@dataclass(frozen=True)
class ComuniPage:
    """One page of the list of Comuni; the cursors are slugs (None: no such page)."""

    comuni: list[Comune]
    after: str | None
    before: str | None


def comuni_page(after: str | None = None, before: str | None = None,
                province: str | None = None, size: int = COMUNI_PAGE_SIZE) -> ComuniPage:
    """A page of Comuni in alphabetical order, by keyset on the slug.

    The slug is the name without accents and case, so its order is the alphabetical order of
    the names; being unique, it is a keyset cursor that costs the same at any depth
    (indexes on slug and on province + slug).
    """
    query = db.select(Comune)
    if province:
        query = query.where(Comune.province == province)
    backwards = before is not None and after is None
    if backwards:
        query = query.where(Comune.slug < before).order_by(Comune.slug.desc())
    else:
        if after is not None:
            query = query.where(Comune.slug > after)
        query = query.order_by(Comune.slug)
    rows = list(db.session.scalars(query.limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
        return ComuniPage(rows, after=rows[-1].slug if rows else None,
                          before=rows[0].slug if more and rows else None)
    return ComuniPage(rows, after=rows[-1].slug if more else None,
                      before=rows[0].slug if after is not None and rows else None)


def provinces() -> list[str]:
    """The provinces that have a Comune in the Rete, for the filter of /comuni (kept until the
    next write: a province appears only when a Comune joins)."""
    return list(remember("network.provinces", lambda: tuple(db.session.scalars(
        db.select(Comune.province).distinct().order_by(Comune.province)))))


def _verified_households(comune_id):
    """The Comune's verified, not anonymised households: count(*) over the covering index
    (index-only scan; Milano's 11,000 households read no table page)."""
    return (select(func.count()).select_from(Household)
            .where(Household.comune_id == comune_id,
                   Household.status == HouseholdStatus.VERIFIED.value,
                   Household.anonymised_at.is_(None)))


def rome_today() -> date:
    """Today's date in Italy (the server may run in UTC)."""
    return utcnow().astimezone(ROME).date()


def _free_slug(name: str, istat_code: str) -> str:
    """The Comune's slug; a name shared by two Comuni gets its province's abbreviation."""
    base = slugify(name)
    taken = set(db.session.scalars(
        db.select(Comune.slug).where((Comune.slug == base) | Comune.slug.like(f"{base}-%"))))
    if base not in taken:
        return base
    info = istat.lookup(istat_code)
    candidates = [f"{base}-{info.sigla.lower()}"] if info else []
    candidates += [f"{base}-{istat_code}"] + [f"{base}-{istat_code}-{n}" for n in range(2, 100)]
    return next(c for c in candidates if c not in taken)


def create_comune(name: str, istat_code: str, province: str, population: int | None,
                  joined_on: date) -> Comune:
    """Add a Comune to the Rete; the modules listening to `comune_created` add their part
    (the tables: its municipal table)."""
    if db.session.scalar(db.select(Comune.id).where(Comune.istat_code == istat_code)):
        raise NetworkError(_("Questo Comune fa già parte della Rete."), "istat_code")
    comune = Comune(name=name, slug=_free_slug(name, istat_code), istat_code=istat_code,
                    province=province, population=population, joined_on=joined_on)
    db.session.add(comune)
    db.session.flush()
    comune_created.send(comune)
    return comune


# --------------------------------------------------------------------------- joining the Rete


def submit_application(data: dict) -> JoinApplication:
    """Record a Comune's application; the ISTAT code must exist and not be a member yet."""
    found = istat.lookup(data["istat_code"])
    if found is None:
        raise NetworkError(_("Nessun Comune italiano ha questo codice ISTAT."), "istat_code")
    if slugify(found.name) != slugify(data["comune_name"]):
        raise NetworkError(
            _("Il codice ISTAT %(code)s corrisponde a %(name)s: controlla nome e codice.",
              code=found.code, name=found.name), "istat_code")
    if db.session.scalar(db.select(Comune.id).where(Comune.istat_code == found.code)):
        raise NetworkError(_("%(name)s fa già parte della Rete.", name=found.name), "istat_code")
    pending = db.session.scalar(
        db.select(JoinApplication.id).where(
            JoinApplication.istat_code == found.code, JoinApplication.status == JoinStatus.PENDING
        )
    )
    if pending:
        raise NetworkError(_("C'è già una richiesta di adesione in esame per %(name)s.",
                             name=found.name), "istat_code")
    application = JoinApplication(
        comune_name=found.name, istat_code=found.code, province=found.province,
        population=found.population, contact_name=data["contact_name"],
        contact_role=data["contact_role"], contact_email=data["contact_email"].lower(),
        council_act=data["council_act"], message=data.get("message") or None,
    )
    db.session.add(application)
    db.session.flush()
    audit("network.application_submitted", application, {"comune": found.name})
    for email in coordinator_emails():
        send_mail(email, _("Nuova richiesta di adesione: %(name)s", name=found.name),
                  _("%(name)s chiede di aderire alla Rete. Referente: %(contact)s (%(role)s).",
                    name=found.name, contact=application.contact_name,
                    role=application.contact_role))
    return application


def coordinator_emails() -> list[str]:
    return list(db.session.scalars(
        db.select(User.email).join(RoleAssignment, RoleAssignment.user_id == User.id).where(
            RoleAssignment.role == Role.COORDINATOR, User.deleted_at.is_(None))
    ))


def pending_applications() -> list[JoinApplication]:
    return list(db.session.scalars(
        db.select(JoinApplication).order_by(
            (JoinApplication.status == JoinStatus.PENDING).desc(), JoinApplication.created_at.desc()
        ).limit(200)
    ))


def decide_application(coordinator, application: JoinApplication, approve: bool,
                       note: str | None) -> Comune | None:
    if application.status != JoinStatus.PENDING:
        raise NetworkError(_("Questa richiesta è già stata decisa."))
    if not approve and not (note or "").strip():
        raise NetworkError(_("Indica il motivo del rifiuto."), "note")
    application.decided_at = utcnow()
    application.decided_by_id = coordinator.id
    application.decision_note = (note or "").strip() or None
    comune = None
    if approve:
        comune = create_comune(application.comune_name, application.istat_code,
                               application.province, application.population, rome_today())
        application.comune_id = comune.id
        application.status = JoinStatus.APPROVED
        activity("comune.joined", text("comune.joined", name=comune.name),
                 url_for("network.comune", slug=comune.slug), comune.id)
    else:
        application.status = JoinStatus.REJECTED
    audit("network.application_" + application.status, application,
          {"comune": application.comune_name, "note": application.decision_note})
    send_mail(
        application.contact_email,
        _("Adesione alla Rete: %(name)s", name=application.comune_name),
        _("La richiesta di adesione di %(name)s è stata approvata: benvenuti nella Rete!",
          name=application.comune_name) if approve else
        _("La richiesta di adesione di %(name)s non è stata accolta. Motivo: %(note)s",
          name=application.comune_name, note=application.decision_note),
    )
    return comune


# --------------------------------------------------------------------------- roles

ROLE_LABELS = {
    Role.COORDINATOR: _l("Coordinatore della Rete"),
    Role.COMUNE_OFFICER: _l("Referente del Comune"),
    Role.MODERATOR: _l("Moderatore dell'associazione"),
    Role.TABLE_CHAIR: _l("Presidente del tavolo"),
    Role.TABLE_SECRETARY: _l("Segretario del tavolo"),
    Role.TABLE_MEMBER: _l("Componente del tavolo"),
    Role.MERCHANT_OPERATOR: _l("Operatore dell'esercizio convenzionato"),
    Role.FUND_MANAGER: _l("Gestore del fondo solidale"),
    Role.FACILITATOR: _l("Facilitatore di comunità"),
}


def role_label(role: str) -> str:
    return str(ROLE_LABELS[Role(role)]) if role in Role._value2member_map_ else role


#: Scopes of roles owned by modules above the Network (a table, a merchant):
#: (scope type, rows(comune_ids)) where rows gives (id, name) of the scopes in those Comuni,
#: or of every one when comune_ids is None; registered at init_app.
_SCOPES: list[tuple[str, Callable[[set[int] | None], Sequence[tuple[int, str]]]]] = []


def register_scope(scope_type: str,
                   rows: Callable[[set[int] | None], Sequence[tuple[int, str]]]) -> None:
    """Let roles be granted on a module's own scopes (see `_SCOPES`)."""
    if all(kind != scope_type for kind, _rows in _SCOPES):
        _SCOPES.append((scope_type, rows))


def scope_choices(user) -> list[tuple[str, str]]:
    """Scopes on which `user` may grant roles, as ("type:id", label)."""
    coordinator = authz.is_coordinator(user)
    comune_ids = None if coordinator else authz.scope_ids(user, Role.COMUNE_OFFICER)
    choices: list[tuple[str, str]] = []
    if coordinator:
        choices.append((f"{Scope.NETWORK}:{NETWORK_ID}", _("La Rete")))
    comuni = db.select(Comune).order_by(Comune.name)
    if comune_ids is not None:
        comune_ids = set(comune_ids)
        comuni = comuni.where(Comune.id.in_(comune_ids))
    choices += [(f"{Scope.COMUNE}:{c.id}", _("Comune di %(n)s", n=c.name))
                for c in db.session.scalars(comuni)]
    for scope_type, rows in _SCOPES:
        choices += [(f"{scope_type}:{i}", name) for i, name in rows(comune_ids)]
    if coordinator:
        choices += [(f"{Scope.ASSOCIATION}:{a.id}", a.name)
                    for a in db.session.scalars(db.select(Association).order_by(Association.name))]
    return choices


#: roles only the coordinator grants and revokes: a Comune officer who could revoke another
#: officer of the same Comune could lock the rest out
COORDINATOR_GRANTS = (Role.COORDINATOR, Role.MODERATOR, Role.COMUNE_OFFICER)


def grantable_roles(user) -> list[Role]:
    """The roles `user` may grant and revoke (on the scopes within their reach)."""
    if authz.is_coordinator(user):
        return list(Role)
    return [r for r in Role if r not in COORDINATOR_GRANTS]


def _scope_in_reach(user, scope_type: str, scope_id: int) -> bool:
    return f"{scope_type}:{scope_id}" in {value for value, _label in scope_choices(user)}


def grant_role(granter, email: str, role: str, scope: str) -> RoleAssignment:
    if role not in Role._value2member_map_ or Role(role) not in grantable_roles(granter):
        raise NetworkError(_("Non puoi assegnare questo ruolo."), "role")
    role_enum = Role(role)
    scope_type, _sep, raw_id = scope.partition(":")
    scope_id = parse_int(raw_id, 0)  # the Rete's own scope is number 0
    if scope_id is None:
        raise NetworkError(_("Ambito non valido."), "scope")
    if scope_type != ROLE_SCOPE[role_enum]:
        raise NetworkError(_("Questo ruolo non vale su questo tipo di ambito."), "scope")
    if not _scope_in_reach(granter, scope_type, scope_id):
        raise NetworkError(_("Non puoi assegnare ruoli su questo ambito."), "scope")
    user = find_user_by_email(email)
    if user is None:
        raise NetworkError(_("Nessun account con questo indirizzo e-mail."), "email")
    exists = db.session.scalar(db.select(RoleAssignment).where(
        RoleAssignment.user_id == user.id, RoleAssignment.role == role,
        RoleAssignment.scope_type == scope_type, RoleAssignment.scope_id == scope_id))
    if exists:
        raise NetworkError(_("La persona ha già questo ruolo."), "role")
    assignment = RoleAssignment(user_id=user.id, role=role, scope_type=scope_type,
                                scope_id=scope_id, granted_by_id=granter.id)
    db.session.add(assignment)
    db.session.flush()
    audit("role.granted", assignment, {"user": user.id, "role": role, "scope": scope})
    authz.forget_roles(user)
    return assignment


def revoke_role(revoker, assignment: RoleAssignment) -> None:
    if not can_manage_assignment(revoker, assignment):
        raise NetworkError(_("Non puoi revocare questo ruolo."))
    if assignment.user_id == revoker.id and assignment.role == Role.COORDINATOR:
        raise NetworkError(_("Non puoi revocare a te stesso il ruolo di coordinatore."))
    audit("role.revoked", assignment, {"user": assignment.user_id, "role": assignment.role,
                                       "scope": f"{assignment.scope_type}:{assignment.scope_id}"})
    db.session.delete(assignment)


def can_manage_assignment(user, assignment: RoleAssignment) -> bool:
    return (Role(assignment.role) in grantable_roles(user)
            and _scope_in_reach(user, assignment.scope_type, assignment.scope_id))


def assignments_visible_to(user) -> list[RoleAssignment]:
    reach = {value for value, _label in scope_choices(user)}
    rows = db.session.scalars(
        db.select(RoleAssignment).options(joinedload(RoleAssignment.user))
        .order_by(RoleAssignment.scope_type, RoleAssignment.scope_id, RoleAssignment.role)
    ).all()
    return [r for r in rows if f"{r.scope_type}:{r.scope_id}" in reach]


def scope_labels() -> dict[str, str]:
    """Every scope's label, for showing assignments."""
    labels = {f"{Scope.NETWORK}:{NETWORK_ID}": _("La Rete")}
    labels.update({f"{Scope.COMUNE}:{i}": _("Comune di %(n)s", n=n)
                   for i, n in db.session.execute(db.select(Comune.id, Comune.name))})
    for scope_type, rows in _SCOPES:
        labels.update({f"{scope_type}:{i}": name for i, name in rows(None)})
    labels.update({f"{Scope.ASSOCIATION}:{i}": n
                   for i, n in db.session.execute(db.select(Association.id, Association.name))})
    return labels


# --------------------------------------------------------------------------- a Comune's page
#
# The page shows the Comune, its verified households, its associations and latest activity,
# then the sections other modules add (their tables, practices...): each module registers a
# panel with `register_comune_panel` at init_app, so that the Network imports none of them.


@dataclass(frozen=True, slots=True)
class ComuneView:
    """A Comune as its page and its panels show it (no ORM entity)."""

    id: int
    name: str
    slug: str
    istat_code: str
    province: str
    population: int | None
    joined_on: date
    description: str | None


@dataclass(frozen=True)
class ComunePanel:
    """A panel whose rows are read by `parts(comune_id)` (selects, run one after the other)
    and turned by `build(comune, rows)` into the template's `panel` context (None: no panel).

    Prefer a plain function fn(comune) -> (template, context) | None; this form stays for the
    panels written before it."""

    template: str
    parts: Callable[[Any], Sequence[Select]]
    build: Callable[[ComuneView, list[list]], Any]
    params: Callable[[], dict] = dict

    def __call__(self, comune: ComuneView) -> tuple[str, Any] | None:
        params = self.params()
        rows = [db.session.execute(part, params).all() for part in self.parts(comune.id)]
        context = self.build(comune, rows)
        return None if context is None else (self.template, context)


@dataclass(frozen=True, slots=True)
class EventLine:
    title: str
    link: str
    at: datetime


@dataclass(frozen=True)
class ComunePage:
    comune: ComuneView
    households: int
    associations: list[str]
    events: list[EventLine]
    panels: list[tuple[str, Any]]


#: Latest public events on a Comune's page.
COMUNE_EVENTS = 8


def comune_page(slug: str) -> ComunePage | None:
    """Everything a Comune's page shows (None when no Comune has this slug)."""
    row = db.session.execute(
        select(Comune.id, Comune.name, Comune.slug, Comune.istat_code, Comune.province,
               Comune.population, Comune.joined_on, Comune.description,
               _verified_households(Comune.id).scalar_subquery().label("households"))
        .where(Comune.slug == slug)).first()
    if row is None:
        return None
    comune = ComuneView(row.id, row.name, row.slug, row.istat_code, row.province,
                        row.population, row.joined_on, row.description)
    associations = list(db.session.scalars(
        select(Association.name)
        .join(association_comuni, association_comuni.c.association_id == Association.id)
        .where(association_comuni.c.comune_id == comune.id).order_by(Association.name)))
    recent = db.session.execute(
        select(Activity.title, Activity.message, Activity.params, Activity.link, Activity.at)
        .where(Activity.comune_id == comune.id)
        .order_by(Activity.at.desc(), Activity.id.desc()).limit(COMUNE_EVENTS))
    # told in the reader's language (older events: as they were written)
    events = [EventLine(render(r.message, r.params, r.title), r.link, r.at) for r in recent]
    return ComunePage(comune=comune, households=row.households or 0,
                      associations=associations, events=events, panels=comune_panels(comune))


def comune_panels(comune: ComuneView) -> list[tuple[str, Any]]:
    """The sections other modules add to a Comune's page, in the order they registered:
    (template, context) pairs; a provider returning None adds nothing."""
    return [panel for panel in (provider(comune) for provider in _COMUNE_PANELS)
            if panel is not None]


_COMUNE_PANELS: list = []


def register_comune_panel(provider) -> None:
    """Add a section to every Comune's page: provider(comune) -> (template, context) or None
    (the template reads the context as `panel`)."""
    if provider not in _COMUNE_PANELS:
        _COMUNE_PANELS.append(provider)


def role_rows(user_id: int) -> list:
    """A user's (role, scope_type, scope_id) rows, for portal.authz."""
    return db.session.execute(
        select(RoleAssignment.role, RoleAssignment.scope_type, RoleAssignment.scope_id)
        .where(RoleAssignment.user_id == user_id)).all()
