"""`flask seed-demo` builds the demo Rete on either database, once, with working accounts."""

from portal import seed as seed_module
from portal.accounts.models import Household, HouseholdStatus, User
from portal.authz import Role, has_role, is_coordinator
from portal.core.models import Activity
from portal.network.models import Association, Comune
from portal.seed import COMUNI, DEMO_PASSWORD
from portal.tables.models import Table
from tests.conftest import login, page_text

DEMO_ACCOUNTS = ("admin@example.org", "famiglia@example.org", "moderatore@example.org",
                 "segreteria@example.org", "presidente@example.org", "comune@example.org",
                 "facilitatore@example.org", "esercente@example.org", "famiglia1@example.org")


def counts(db) -> dict:
    return {model.__name__: db.session.scalar(db.select(db.func.count()).select_from(model))
            for model in (Comune, User, Household, Association, Activity)}


def test_foundation_demo_data_and_every_demo_account(app, db, monkeypatch):
    """The seven Comuni, the inter-municipal table, the associations, households, accounts."""
    monkeypatch.setattr(seed_module, "SEED_MODULES", ())  # the other modules test their own
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo", "--if-empty"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "Dati dimostrativi caricati." in result.output

    comuni = {c.istat_code: c for c in db.session.scalars(db.select(Comune))}
    assert set(comuni) == {code for code, _name in COMUNI}
    assert comuni["108040"].name == "Seveso"
    assert {c.province for c in comuni.values()} == {"Monza e della Brianza"}
    rete = db.session.scalar(db.select(Table).where(Table.comune_id.is_(None)))
    assert rete.constituted_on.isoformat() == "2015-11-12"
    assert db.session.scalar(db.select(db.func.count(Table.id))) == 8
    names = set(db.session.scalars(db.select(Association.name)))
    assert {"AFI – Associazione delle Famiglie", "Acli Lombardia", "Scuola di Economia Civile",
            "Forum delle Associazioni Familiari della Lombardia"} <= names
    assert db.session.scalar(db.select(db.func.count(Household.id))) >= 24

    family = db.session.scalar(db.select(User).where(User.email == "famiglia@example.org"))
    assert family.household.comune.name == "Seveso"
    assert family.household.status == HouseholdStatus.VERIFIED
    assert is_coordinator(db.session.scalar(db.select(User).where(
        User.email == "admin@example.org")))
    officer = db.session.scalar(db.select(User).where(User.email == "comune@example.org"))
    assert has_role(officer, Role.COMUNE_OFFICER, comuni["108040"].id)

    for email in DEMO_ACCOUNTS:
        client = app.test_client()
        login(client, email, DEMO_PASSWORD)
        assert client.get("/account").status_code == 200, email
    home = page_text(app.test_client().get("/"))
    assert "Seveso" in home and "Seveso entra nella Rete" in home


def test_seed_demo_is_idempotent_with_if_empty(app, db, monkeypatch):
    """`--if-empty` on a seeded database changes nothing; without it the command refuses."""
    monkeypatch.setattr(seed_module, "SEED_MODULES", ())
    runner = app.test_cli_runner()
    runner.invoke(args=["seed-demo", "--if-empty"])
    before = counts(db)
    again = runner.invoke(args=["seed-demo", "--if-empty"])
    assert again.exit_code == 0 and "già popolato" in again.output
    refused = runner.invoke(args=["seed-demo"])
    assert refused.exit_code != 0 and "--if-empty" in refused.output
    assert counts(db) == before


def test_full_demo_with_every_module(app, db):
    """The whole `flask seed-demo`, every module's demo data included, on this backend."""
    result = app.test_cli_runner().invoke(args=["seed-demo", "--if-empty"])
    assert result.exit_code == 0, (result.output, result.exception)
    for email in ("admin@example.org", "famiglia@example.org"):
        client = app.test_client()
        login(client, email, DEMO_PASSWORD)
        assert client.get("/account").status_code == 200
        assert client.get("/").status_code == 200
    # The feed tells the demo's history on the days it happened, not at the moment of seeding:
    # a practice's publication on its day, a meeting's minutes on theirs.
    from portal.catalogue.models import GoodPractice

    practice = db.session.scalars(db.select(GoodPractice).where(
        GoodPractice.first_published_at.is_not(None)).order_by(GoodPractice.id)).first()
    published = db.session.scalars(db.select(Activity).where(
        Activity.kind == "practice.published", Activity.link == f"/pratiche/{practice.slug}"
    )).all()  # one event per Comune where it runs
    assert published and {event.at for event in published} == {practice.first_published_at}
    days = {event.at.date() for event in db.session.scalars(db.select(Activity).where(
        Activity.kind.in_(("practice.published", "practice.adopted", "minutes.published"))))}
    assert len(days) > 20
