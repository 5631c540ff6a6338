"""'Aderisci alla Rete': a Comune applies, a coordinator approves or rejects."""

import pytest

from portal.authz import Role
from portal.core.models import Activity, AuditLog
from portal.network.models import Comune, JoinApplication, JoinStatus
from portal.tables.models import Table
from tests.conftest import outbox, page_text

APPLICATION = {
    "comune_name": "Meda", "istat_code": "108030", "contact_name": "Laura Galli",
    "contact_role": "Assessore alle politiche familiari", "contact_email": "Galli@Comune.Meda.it",
    "council_act": "Delibera di Giunta Comunale n. 45 del 3 marzo 2026",
    "message": "Vorremmo portare il Tavolo delle famiglie anche a Meda.",
}


def apply(client, **changes):
    return client.form("/aderisci", {k: v for k, v in dict(APPLICATION, **changes).items()
                                     if v is not None})


@pytest.mark.parametrize(("changes", "message"), [
    ({"istat_code": "1080"}, "Il codice ISTAT ha 6 cifre, per esempio 108040."),
    ({"istat_code": "' OR 1=1 --"}, "Il codice ISTAT ha 6 cifre"),
    ({"istat_code": "999999"}, "Nessun Comune italiano ha questo codice ISTAT."),
    ({"comune_name": "Seregno"},
     "Il codice ISTAT 108030 corrisponde a Meda: controlla nome e codice."),
    ({"contact_email": "non-valida"}, "Inserisci un indirizzo e-mail valido."),
    ({"council_act": ""}, "Estremi dell'atto di adesione: Campo obbligatorio."),
    ({"contact_name": "x" * 10_000}, "Deve avere tra 2 e 120 caratteri."),
    ({"message": "ciao\x00"}, "Il testo contiene caratteri non ammessi."),
])
def test_bad_applications_are_explained(client, db, changes, message):
    response = apply(client, **changes)
    assert response.status_code == 422
    assert message in page_text(response)
    assert db.session.scalars(db.select(JoinApplication)).all() == []


def test_a_member_comune_or_a_pending_application_cannot_apply_again(client, factory, db):
    factory.comune("Seveso", "108040")
    response = apply(client, comune_name="seveso", istat_code="108040")
    assert response.status_code == 422
    assert "Seveso fa già parte della Rete." in page_text(response)

    assert apply(client).status_code == 303
    response = apply(client)
    assert response.status_code == 422
    assert "C'è già una richiesta di adesione in esame per Meda." in page_text(response)
    assert len(db.session.scalars(db.select(JoinApplication)).all()) == 1


def test_application_is_recorded_with_istat_data_and_coordinators_are_told(client, factory, db):
    coordinator = factory.grant(factory.user("coord@example.org"), Role.COORDINATOR)
    response = apply(client, comune_name="  meda ")
    assert response.status_code == 303
    assert "Richiesta inviata" in page_text(client.get(response.headers["Location"]))
    application = db.session.scalar(db.select(JoinApplication))
    assert (application.comune_name, application.province) == ("Meda", "Monza e della Brianza")
    assert application.population and application.contact_email == "galli@comune.meda.it"
    assert application.status == JoinStatus.PENDING
    [mail] = outbox(coordinator.email)
    assert "Meda" in mail.subject


def test_coordinator_approves_and_the_comune_appears_with_its_table(client, login_as, db):
    apply(client)
    application = db.session.scalar(db.select(JoinApplication))
    coordinator = login_as(Role.COORDINATOR)
    assert "Laura Galli" in page_text(client.get("/rete/adesioni"))
    response = client.form(f"/rete/adesioni/{application.id}", {"decision": "approve"})
    assert response.status_code == 303
    assert "Meda è entrato nella Rete, con il suo tavolo." in page_text(
        client.get("/rete/adesioni"))

    comune = db.session.scalar(db.select(Comune).where(Comune.istat_code == "108030"))
    assert comune.slug == "meda" and comune.province == "Monza e della Brianza"
    table = db.session.scalar(db.select(Table).where(Table.comune_id == comune.id))
    assert table.name == "Tavolo delle famiglie in rete di Meda"
    db.session.expire_all()
    application = db.session.get(JoinApplication, application.id)
    assert application.status == JoinStatus.APPROVED
    assert application.decided_by_id == coordinator.id and application.comune_id == comune.id
    assert db.session.scalar(db.select(Activity.kind).where(Activity.comune_id == comune.id)) \
        == "comune.joined"
    assert "approvata" in outbox("galli@comune.meda.it")[-1].body
    assert db.session.scalar(db.select(AuditLog.action).where(
        AuditLog.object_type == "joinapplication", AuditLog.action.like("%approved")))

    client.form("/esci")
    assert "Meda" in page_text(client.get("/comuni"))
    assert "Meda entra nella Rete" in page_text(client.get("/"))
    assert "Meda entra nella Rete" in page_text(client.get("/comuni/meda"))

    again = client.form(f"/rete/adesioni/{application.id}", {"decision": "approve"})
    assert again.headers["Location"].startswith("/accedi")


def test_rejection_needs_a_reason(client, login_as, db):
    apply(client)
    application = db.session.scalar(db.select(JoinApplication))
    login_as(Role.COORDINATOR)
    response = client.form(f"/rete/adesioni/{application.id}", {"decision": "reject"})
    assert response.status_code == 422
    assert "Indica il motivo del rifiuto." in page_text(response)
    response = client.form(f"/rete/adesioni/{application.id}", {"decision": ""})
    assert response.status_code == 422
    assert "Scegli una decisione." in page_text(response)

    response = client.form(f"/rete/adesioni/{application.id}", {
        "decision": "reject", "note": "Manca la delibera di adesione all'Accordo."})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(JoinApplication, application.id).status == JoinStatus.REJECTED
    assert db.session.scalars(db.select(Comune)).all() == []
    assert "Manca la delibera" in outbox("galli@comune.meda.it")[-1].body

    response = client.form(f"/rete/adesioni/{application.id}", {"decision": "approve"})
    assert response.status_code == 422
    assert "Questa richiesta è già stata decisa." in page_text(response)


def test_only_coordinators_decide(client, login_as, factory, db):
    apply(client)
    application = db.session.scalar(db.select(JoinApplication))
    seveso = factory.comune("Seveso", "108040")
    login_as(Role.COMUNE_OFFICER, seveso.id)
    assert client.get("/rete/adesioni").status_code == 403
    assert client.form(f"/rete/adesioni/{application.id}", {"decision": "approve"}
                       ).status_code == 403
    assert db.session.scalars(db.select(Comune).where(Comune.istat_code == "108030")).all() == []


def test_applications_to_join_are_rate_limited(client):
    """Each application mails the coordinators: after five a minute, the Italian 429 page,
    while other forms of the portal are not counted against the visitor."""
    for _ in range(5):
        client.form("/aderisci", {"comune_name": "Seveso", "istat_code": "abc"})  # refused: 422
    response = client.form("/aderisci", {"comune_name": "Seveso", "istat_code": "108040"})
    assert response.status_code == 429
    assert "Troppi tentativi" in response.get_data(as_text=True)
    assert client.form("/password-dimenticata", {"email": "x@example.org"}).status_code == 303
