"""`flask seed-demo` builds the demo Rete on either database, once, with working accounts."""

from portal.accounts.models import Household, HouseholdStatus, User
from portal.authz import Role, has_role, is_coordinator
from portal.network.models import Association, Comune
from portal.seed import COMUNI, DEMO_PASSWORD
from portal.tables.models import Table
from tests.conftest import login, page_text

DEMO_ACCOUNTS = ("admin@example.org", "famiglia@example.org", "moderatore@example.org",
                 "segreteria@example.org", "presidente@example.org", "comune@example.org",
                 "facilitatore@example.org", "esercente@example.org", "famiglia1@example.org")


def test_seed_demo_builds_the_rete_once_and_every_demo_account_logs_in(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo", "--if-empty"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "Dati dimostrativi caricati." in result.output

    comuni = {c.istat_code: c for c in db.session.scalars(db.select(Comune))}
    assert {code for code, _name in COMUNI} <= set(comuni)
    assert comuni["108040"].name == "Seveso"
    assert comuni["108040"].province == "Monza e della Brianza"
    rete = db.session.scalar(db.select(Table).where(Table.comune_id.is_(None)))
    assert rete.constituted_on.isoformat() == "2015-11-12"
    names = set(db.session.scalars(db.select(Association.name)))
    assert {"AFI – Associazione delle Famiglie", "Acli Lombardia", "Scuola di Economia Civile",
            "Forum delle Associazioni Familiari della Lombardia"} <= names
    assert db.session.scalar(db.select(db.func.count(Household.id))) >= 24

    counts = {model: db.session.scalar(db.select(db.func.count()).select_from(model))
              for model in (Comune, User, Household, Association)}
    again = runner.invoke(args=["seed-demo", "--if-empty"])
    assert again.exit_code == 0 and "già popolato" in again.output
    refused = runner.invoke(args=["seed-demo"])
    assert refused.exit_code != 0 and "--if-empty" in refused.output
    assert counts == {model: db.session.scalar(db.select(db.func.count()).select_from(model))
                      for model in counts}

    family = db.session.scalar(db.select(User).where(User.email == "famiglia@example.org"))
    assert family.household.comune.name == "Seveso"
    assert family.household.status == HouseholdStatus.VERIFIED
    admin = db.session.scalar(db.select(User).where(User.email == "admin@example.org"))
    assert is_coordinator(admin)
    officer = db.session.scalar(db.select(User).where(User.email == "comune@example.org"))
    assert has_role(officer, Role.COMUNE_OFFICER, comuni["108040"].id)

    for email in DEMO_ACCOUNTS:
        client = app.test_client()
        login(client, email, DEMO_PASSWORD)
        assert client.get("/account").status_code == 200, email

    home = page_text(app.test_client().get("/"))
    assert "Seveso" in home and "Seveso entra nella Rete" in home
