"""Demo data: the seven Comuni of the Rete, its associations, tables, households and accounts.

Later modules add theirs with a `seed(ctx)` function in `portal/<module>/seed.py`, called in
the order of SEED_MODULES with the objects created so far.
"""

from __future__ import annotations

import importlib
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from portal.accounts.models import Household, HouseholdMember, HouseholdStatus, User
from portal.accounts.services import hash_password
from portal.authz import NETWORK_ID, Role, Scope
from portal.card.models import Merchant
from portal.core.services import activity
from portal.core.texts import text
from portal.extensions import db
from portal.network import istat
from portal.network.models import Association, Comune, RoleAssignment
from portal.network.services import create_comune, slugify
from portal.tables.models import Table

DEMO_PASSWORD = "demo-rete-2026"  # noqa: S105 - documented demo password
CONSTITUTION = date(2015, 11, 12)
COMUNI = [
    ("108008", "Besana in Brianza"),
    ("108012", "Brugherio"),
    ("108015", "Carate Brianza"),
    ("108024", "Giussano"),
    ("108027", "Limbiate"),
    ("108034", "Muggiò"),
    ("108040", "Seveso"),
]
ASSOCIATIONS = [
    ("AFI – Associazione delle Famiglie", "family", "Promuove la Famiglia Portavalori e "
     "l'associazionismo familiare.", None),
    ("Forum delle Associazioni Familiari della Lombardia", "family",
     "Rete regionale delle associazioni familiari.", None),
    ("Acli Lombardia", "third_sector", "Associazioni cristiane lavoratori italiani.", None),
    ("Scuola di Economia Civile", "third_sector", "Formazione e ricerca sull'economia civile.",
     None),
    ("Famiglie in Cammino Seveso", "family", "Mutuo aiuto tra famiglie di Seveso.", ["seveso"]),
    ("Banca del Tempo Brugherio", "third_sector", "Scambio di tempo e competenze.",
     ["brugherio"]),
    ("Cooperativa Il Germoglio", "enterprise", "Cooperativa sociale per l'infanzia.",
     ["giussano", "carate-brianza"]),
]
SURNAMES = ["Rossi", "Bianchi", "Colombo", "Brambilla", "Ferrari", "Galli", "Sala", "Villa",
            "Fumagalli", "Cattaneo", "Riva", "Mariani", "Longoni", "Mauri", "Redaelli", "Sironi",
            "Confalonieri", "Pozzi", "Viganò", "Meroni", "Crippa", "Molteni", "Radaelli",
            "Tagliabue", "Corbetta", "Arosio", "Ronchi", "Zappa", "Motta", "Vergani",
            "Cazzaniga", "Pirovano", "Frigerio", "Gatti", "Perego"]
FIRST_NAMES = ["Giulia", "Marco", "Chiara", "Luca", "Sara", "Andrea", "Francesca", "Paolo",
               "Elena", "Davide", "Anna", "Matteo", "Laura", "Stefano", "Silvia", "Giorgio"]


@dataclass
class SeedContext:
    """What the foundation created, for the modules' seeders."""

    rng: random.Random
    comuni: dict[str, Comune] = field(default_factory=dict)  # by slug
    associations: dict[str, Association] = field(default_factory=dict)  # by slug
    tables: dict[str, Table] = field(default_factory=dict)  # by Comune slug, "rete" for the Rete
    users: dict[str, User] = field(default_factory=dict)  # by e-mail
    households: list[Household] = field(default_factory=list)
    merchants: list[Merchant] = field(default_factory=list)
    password_hash: str = ""
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


#: the streets of the demo households' declared addresses (taken in turn, not at random, so
#: that the random sequence of the rest of the demo stays the same)
STREETS = ["Via Roma", "Via Giuseppe Garibaldi", "Via Alessandro Manzoni", "Piazza della Chiesa",
           "Via Vittorio Veneto", "Corso Milano", "Via dei Mille", "Via XXV Aprile"]
#: `name` seeds through portal/<name>/seed.py; a dotted name ending in "_seed" names the
#: module itself (the fund's support applications seed after its ledger)
SEED_MODULES = ("catalogue", "proposals", "voting", "tables", "fund", "fund.support_seed",
                "card", "gaf")


def _user(ctx: SeedContext, email: str, name: str) -> User:
    user = User(email=email, name=name, password_hash=ctx.password_hash,
                email_confirmed_at=ctx.now - timedelta(days=400),
                created_at=ctx.now - timedelta(days=400))
    db.session.add(user)
    ctx.users[email] = user
    return user


def _grant(user: User, role: Role, scope: Scope, scope_id: int) -> None:
    db.session.add(RoleAssignment(user=user, role=role, scope_type=scope, scope_id=scope_id))


def _household(ctx: SeedContext, comune: Comune, surname: str, verified: bool,
               officer: User | None, adults: int, children: int) -> Household:
    rng = ctx.rng
    created = ctx.now - timedelta(days=rng.randint(20, 700))
    n = len(ctx.households)
    household = Household(name=f"Famiglia {surname}", comune=comune, created_at=created,
                          street=STREETS[n % len(STREETS)], house_number=str(3 + 7 * n % 90))
    if verified:
        household.status = HouseholdStatus.VERIFIED
        household.verified_at = created + timedelta(days=rng.randint(1, 10))
        household.verified_by = officer
    this_year = ctx.now.year
    for i in range(adults):
        household.members.append(HouseholdMember(
            kind="adult", first_name=rng.choice(FIRST_NAMES),
            birth_year=this_year - rng.randint(30, 55) - i))
    for _ in range(children):
        household.members.append(HouseholdMember(
            kind="child", first_name=rng.choice(FIRST_NAMES),
            birth_year=this_year - rng.randint(1, 16), disability=rng.random() < 0.05))
    db.session.add(household)
    ctx.households.append(household)
    return household


def seed_foundation(ctx: SeedContext) -> None:
    for code, name in COMUNI:
        info = istat.lookup(code)
        comune = create_comune(name, code, info.province if info else "Monza e della Brianza",
                               info.population if info else None, CONSTITUTION)
        ctx.comuni[comune.slug] = comune
    db.session.flush()
    for table in db.session.scalars(db.select(Table)):
        ctx.tables[table.comune.slug] = table
    rete_table = Table(name="Tavolo intercomunale della Rete", slug="tavolo-intercomunale",
                       comune_id=None, constituted_on=CONSTITUTION,
                       description="Sindaci, assessori e referenti dei Comuni della Rete con "
                                   "le associazioni familiari promotrici.")
    db.session.add(rete_table)
    ctx.tables["rete"] = rete_table

    for name, kind, description, where in ASSOCIATIONS:
        association = Association(name=name, slug=slugify(name), kind=kind,
                                  description=description)
        association.comuni = [ctx.comuni[s] for s in (where or ctx.comuni)]
        db.session.add(association)
        ctx.associations[association.slug] = association
    db.session.flush()

    seveso = ctx.comuni["seveso"]
    afi = ctx.associations[next(s for s in ctx.associations if s.startswith("afi"))]
    admin = _user(ctx, "admin@example.org", "Carla Coordinatrice")
    _grant(admin, Role.COORDINATOR, Scope.NETWORK, NETWORK_ID)
    officer = _user(ctx, "comune@example.org", "Roberto Ufficio Servizi Sociali")
    _grant(officer, Role.COMUNE_OFFICER, Scope.COMUNE, seveso.id)
    _grant(officer, Role.FUND_MANAGER, Scope.COMUNE, seveso.id)
    moderator = _user(ctx, "moderatore@example.org", "Marta Moderatrice")
    _grant(moderator, Role.MODERATOR, Scope.ASSOCIATION, afi.id)
    secretary = _user(ctx, "segreteria@example.org", "Sergio Segretario")
    _grant(secretary, Role.TABLE_SECRETARY, Scope.TABLE, ctx.tables["seveso"].id)
    _grant(secretary, Role.TABLE_MEMBER, Scope.TABLE, ctx.tables["seveso"].id)
    chair = _user(ctx, "presidente@example.org", "Paola Presidente")
    _grant(chair, Role.TABLE_CHAIR, Scope.TABLE, ctx.tables["seveso"].id)
    _grant(chair, Role.TABLE_MEMBER, Scope.TABLE, ctx.tables["seveso"].id)
    _grant(admin, Role.TABLE_CHAIR, Scope.TABLE, ctx.tables["rete"].id)
    # A second Comune's officer: the README's loop ends with another Comune adopting a practice.
    giussano_officer = _user(ctx, "comune.giussano@example.org", "Gianna Ufficio Giussano")
    _grant(giussano_officer, Role.COMUNE_OFFICER, Scope.COMUNE, ctx.comuni["giussano"].id)
    facilitator = _user(ctx, "facilitatore@example.org", "Fabio Facilitatore")
    _grant(facilitator, Role.FACILITATOR, Scope.COMUNE, seveso.id)

    merchant = Merchant(name="Panificio Il Chicco", comune=seveso, address="Via Manzoni 12",
                        category="Alimentari")
    db.session.add(merchant)
    ctx.merchants.append(merchant)
    db.session.flush()
    merchant_user = _user(ctx, "esercente@example.org", "Elisa Esercente")
    _grant(merchant_user, Role.MERCHANT_OPERATOR, Scope.MERCHANT, merchant.id)

    # The demo family in Seveso, verified.
    family = _user(ctx, "famiglia@example.org", "Giulia Brambilla")
    household = _household(ctx, seveso, "Brambilla", True, officer, 2, 2)
    household.members[0].first_name = "Giulia"
    family.household = household

    # A few dozen more households across the Comuni; most verified, some waiting.
    surnames = iter(SURNAMES)
    n = 0
    for slug, comune in ctx.comuni.items():
        for i in range(5 if slug != "seveso" else 8):
            surname = next(surnames, None) or f"Rossi {n}"
            verified = i != 0  # the first of each Comune waits for the officer
            hh = _household(ctx, comune, surname, verified, officer if slug == "seveso" else admin,
                            ctx.rng.randint(1, 2), ctx.rng.randint(0, 3))
            n += 1
            user = _user(ctx, f"famiglia{n}@example.org",
                         f"{ctx.rng.choice(FIRST_NAMES)} {surname}")
            user.household = hh
    db.session.flush()
    for slug, comune in ctx.comuni.items():
        activity("comune.joined", text("comune.joined", name=comune.name), f"/comuni/{slug}",
                 comune.id).at = datetime(2015, 11, 12, 17, 0, tzinfo=UTC)


def seed_all(seed: int = 2026) -> SeedContext:
    ctx = SeedContext(rng=random.Random(seed), password_hash=hash_password(DEMO_PASSWORD))
    seed_foundation(ctx)
    for name in SEED_MODULES:
        path = f"portal.{name}" if name.endswith("_seed") else f"portal.{name}.seed"
        try:
            module = importlib.import_module(path)
        except ModuleNotFoundError as exc:
            if exc.name is None or not path.startswith(exc.name):
                raise
            continue
        module.seed(ctx)
        db.session.flush()
    return ctx
