"""Comuni, associations and roles: queries and changes."""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import joinedload

from portal import authz
from portal.accounts.models import Household, HouseholdStatus, User
from portal.accounts.services import find_user_by_email
from portal.authz import NETWORK_ID, ROLE_SCOPE, Role, Scope
from portal.card.models import Merchant
from portal.core.models import Activity
from portal.core.services import activity, audit, send_mail
from portal.db_setup import utcnow
from portal.extensions import db
from portal.network import istat
from portal.network.models import (
    Association,
    Comune,
    JoinApplication,
    JoinStatus,
    RoleAssignment,
    association_comuni,
)
from portal.network.rows import page_columns, parts_statement, rows_by_part
from portal.tables.models import Table

ROME = ZoneInfo("Europe/Rome")


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


#: (expiry as monotonic seconds, summary): the home page's figures, per process and short-lived.
_summary_cache: tuple[float, NetworkSummary] | None = None


def network_summary() -> NetworkSummary:
    """The figures on the home page, kept for SUMMARY_CACHE_SECONDS in each worker.

    Counting 100,000 households on every visit of the home page would dominate its cost; the
    figures may lag by a minute. The cache is per process and holds no one's data.
    """
    global _summary_cache
    ttl = current_app.config.get("SUMMARY_CACHE_SECONDS", 60)
    now = time.monotonic()
    if ttl and not current_app.testing and _summary_cache and _summary_cache[0] > now:
        return _summary_cache[1]
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
    summary = NetworkSummary(
        comuni=[ComuneLink(*row) for row in rows],
        comuni_count=comuni_count,
        associations_count=associations_count or 0,
        households_count=households_count or 0,
        population=int(population or 0),
    )
    _summary_cache = (now + ttl, summary)
    return summary


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


_provinces_cache: tuple[float, list[str]] | None = None


def provinces() -> list[str]:
    """The provinces that have a Comune in the Rete, for the filter of /comuni.

    Kept for SUMMARY_CACHE_SECONDS in each worker, like the home figures: a province appears
    only when a Comune joins, and a minute's delay on a filter list harms nobody.
    """
    global _provinces_cache
    ttl = current_app.config.get("SUMMARY_CACHE_SECONDS", 60)
    now = time.monotonic()
    if ttl and not current_app.testing and _provinces_cache and _provinces_cache[0] > now:
        return _provinces_cache[1]
    result = list(db.session.scalars(
        db.select(Comune.province).distinct().order_by(Comune.province)))
    _provinces_cache = (now + ttl, result)
    return result


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
    """Add a Comune to the Rete together with its municipal table."""
    if db.session.scalar(db.select(Comune.id).where(Comune.istat_code == istat_code)):
        raise NetworkError(_("Questo Comune fa già parte della Rete."), "istat_code")
    comune = Comune(name=name, slug=_free_slug(name, istat_code), istat_code=istat_code,
                    province=province, population=population, joined_on=joined_on)
    db.session.add(comune)
    db.session.flush()
    db.session.add(Table(
        # content, not interface: stored in Italian whatever the officer's language
        name=f"Tavolo delle famiglie in rete di {name}",
        slug=f"tavolo-{comune.slug}", comune_id=comune.id, constituted_on=joined_on,
    ))
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
        activity("comune.joined", _("%(name)s entra nella Rete", name=comune.name),
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


def scope_choices(user) -> list[tuple[str, str]]:
    """Scopes on which `user` may grant roles, as ("type:id", label)."""
    coordinator = authz.is_coordinator(user)
    comune_ids = None if coordinator else authz.scope_ids(user, Role.COMUNE_OFFICER)
    choices: list[tuple[str, str]] = []
    if coordinator:
        choices.append((f"{Scope.NETWORK}:{NETWORK_ID}", _("La Rete")))
    comuni = db.select(Comune).order_by(Comune.name)
    tables = db.select(Table).order_by(Table.name)
    merchants = db.select(Merchant).order_by(Merchant.name)
    if comune_ids is not None:
        comuni = comuni.where(Comune.id.in_(comune_ids or {-1}))
        tables = tables.where(Table.comune_id.in_(comune_ids or {-1}))
        merchants = merchants.where(Merchant.comune_id.in_(comune_ids or {-1}))
    choices += [(f"{Scope.COMUNE}:{c.id}", _("Comune di %(n)s", n=c.name))
                for c in db.session.scalars(comuni)]
    choices += [(f"{Scope.TABLE}:{t.id}", t.name) for t in db.session.scalars(tables)]
    choices += [(f"{Scope.MERCHANT}:{m.id}", m.name) for m in db.session.scalars(merchants)]
    if coordinator:
        choices += [(f"{Scope.ASSOCIATION}:{a.id}", a.name)
                    for a in db.session.scalars(db.select(Association).order_by(Association.name))]
    return choices


def grantable_roles(user) -> list[Role]:
    if authz.is_coordinator(user):
        return list(Role)
    return [r for r in Role if r not in (Role.COORDINATOR, Role.MODERATOR)]


def _scope_in_reach(user, scope_type: str, scope_id: int) -> bool:
    return f"{scope_type}:{scope_id}" in {value for value, _label in scope_choices(user)}


def grant_role(granter, email: str, role: str, scope: str) -> RoleAssignment:
    if role not in Role._value2member_map_ or Role(role) not in grantable_roles(granter):
        raise NetworkError(_("Non puoi assegnare questo ruolo."), "role")
    role_enum = Role(role)
    try:
        scope_type, raw_id = scope.split(":", 1)
        scope_id = int(raw_id)
    except ValueError as exc:
        raise NetworkError(_("Ambito non valido."), "scope") from exc
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
    labels.update({f"{Scope.TABLE}:{i}": n
                   for i, n in db.session.execute(db.select(Table.id, Table.name))})
    labels.update({f"{Scope.MERCHANT}:{i}": n
                   for i, n in db.session.execute(db.select(Merchant.id, Merchant.name))})
    labels.update({f"{Scope.ASSOCIATION}:{i}": n
                   for i, n in db.session.execute(db.select(Association.id, Association.name))})
    return labels


# --------------------------------------------------------------------------- a Comune's page
#
# The page is read in one statement: a UNION ALL of same-shaped rows (the Comune with its count
# of verified households, its associations, its latest activity, and the rows of the panels
# other modules add), built once per set of panels. Building a select and its cache key costs
# more than running it, and on PostgreSQL each round trip costs ~0.5 ms of CPU (see rows.py).


@dataclass(frozen=True)
class ComunePanel:
    """A section another module adds to a Comune's page, read in the page's statement.

    - `parts(comune_id)`: the selects of the panel's rows, each with `page_columns(...)`;
      `comune_id` is the SQL expression of the Comune's id. Their parameters are those
      `params()` returns (prefix their names with the module's).
    - `build(comune, rows)`: `rows` holds each part's rows in order (attributes i1.., s1..,
      d1, t1); returns the template's `panel` context, or None for no panel.
    """

    template: str
    parts: Callable[[Any], Sequence[Select]]
    build: Callable[[ComuneView, list[list]], dict | None]
    params: Callable[[], dict] = dict


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
    panels: list[tuple[str, dict]]


#: Latest public events on a Comune's page.
COMUNE_EVENTS = 8


def _own_parts(comune_id) -> list[Select]:
    households = _verified_households(Comune.id).scalar_subquery()
    comune = (select(*page_columns(
        i=(Comune.id, Comune.population, households),
        s=(Comune.name, Comune.slug, Comune.istat_code, Comune.province, Comune.description),
        d=(Comune.joined_on,))).where(Comune.slug == bindparam("slug")))
    associations = (select(*page_columns(s=(Association.name,), order_by=(Association.name,)))
                    .join(association_comuni,
                          association_comuni.c.association_id == Association.id)
                    .where(association_comuni.c.comune_id == comune_id))
    latest = (Activity.at.desc(), Activity.id.desc())
    events = (select(*page_columns(s=(Activity.title, Activity.link), t=(Activity.at,),
                                   order_by=latest))
              .where(Activity.comune_id == comune_id).order_by(*latest).limit(COMUNE_EVENTS))
    return [comune, associations, events]


_page_statements: dict[tuple, tuple] = {}


def _page_statement(panels: tuple[ComunePanel, ...]):
    """The Comune page's statement for these panels, its number of parts and the span of
    each panel's parts (built once per set of panels)."""
    found = _page_statements.get(panels)
    if found is not None:
        return found
    by_slug = select(Comune.id).where(Comune.slug == bindparam("slug")).cte("c")  # looked up once
    comune_id = select(by_slug.c.id).scalar_subquery()
    parts = _own_parts(comune_id)
    spans = {}
    for panel in panels:
        start = len(parts)
        parts.extend(panel.parts(comune_id))
        spans[panel] = (start, len(parts))
    found = _page_statements[panels] = (parts_statement(parts), len(parts), spans)
    return found


def comune_page(slug: str) -> ComunePage | None:
    """Everything a Comune's page shows, in one statement for the Comune and the panels that
    read their rows with it (see `ComunePanel`), one call each for the others."""
    providers = list(_COMUNE_PANELS)
    panels = tuple(p for p in providers if isinstance(p, ComunePanel))
    statement, count, spans = _page_statement(panels)
    params = {"slug": slug}
    for panel in panels:
        params.update(panel.params())
    rows = rows_by_part(db.session.connection().execute(statement, params), count)
    if not rows[0]:
        return None
    c = rows[0][0]
    comune = ComuneView(c.i1, c.s1, c.s2, c.s3, c.s4, c.i2, c.d1, c.s5)
    built = []
    for provider in providers:  # in the order they were registered
        if isinstance(provider, ComunePanel):
            start, end = spans[provider]
            context = provider.build(comune, rows[start:end])
            panel = None if context is None else (provider.template, context)
        else:
            panel = provider(comune)
        if panel is not None:
            built.append(panel)
    return ComunePage(
        comune=comune, households=c.i3 or 0,
        associations=[r.s1 for r in rows[1]],
        events=[EventLine(r.s1, r.s2, r.t1) for r in rows[2]],
        panels=built,
    )


def comune_panels(comune) -> list[tuple[str, dict]]:
    """Sections other modules add to a Comune's page: (template, context) pairs.

    A module registers a provider with `register_comune_panel(provider)`: a `ComunePanel`
    (its rows are read in the page's one statement, see `comune_page`) or a function
    fn(comune) returning (template, context) or None. Keeps this module free of imports from
    later modules.
    """
    page = comune_page(comune.slug)
    return page.panels if page is not None else []


_COMUNE_PANELS: list = []


def register_comune_panel(provider) -> None:
    if provider not in _COMUNE_PANELS:
        _COMUNE_PANELS.append(provider)
