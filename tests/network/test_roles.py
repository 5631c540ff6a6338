"""Roles: the coordinator manages every role, a Comune officer those of their Comune."""

import pytest

from portal.authz import Role
from portal.core.models import AuditLog
from portal.network.models import RoleAssignment
from tests.conftest import login, page_text


@pytest.fixture
def places(factory):
    return factory.comune("Seveso", "108040"), factory.comune("Giussano", "108024")


def assignments(db, user):
    return {(r.role, r.scope_type, r.scope_id) for r in db.session.scalars(
        db.select(RoleAssignment).where(RoleAssignment.user_id == user.id))}


def audit_actions(db):
    return [a for a in db.session.scalars(db.select(AuditLog.action).order_by(AuditLog.id))
            if a.startswith("role.")]


def test_coordinator_grants_and_revokes_any_role_and_both_are_audited(app, client, login_as,
                                                                       factory, db, places):
    seveso, _giussano = places
    person = factory.user("nuovo.referente@example.org", name="Nuovo Referente")
    login_as(Role.COORDINATOR)
    response = client.form("/rete/ruoli", {"email": person.email, "role": "comune_officer",
                                           "scope": f"comune:{seveso.id}"})
    assert response.status_code == 303
    assert "Ruolo assegnato." in page_text(client.get("/rete/ruoli"))
    assert assignments(db, person) == {("comune_officer", "comune", seveso.id)}

    # The new officer can now open the verification queue.
    officer = app.test_client()
    login(officer, person.email)
    assert officer.get("/comune/verifiche").status_code == 200

    response = client.form("/rete/ruoli", {"email": person.email, "role": "coordinator",
                                           "scope": "network:0"})
    assert response.status_code == 303
    response = client.form("/rete/ruoli", {"email": person.email, "role": "coordinator",
                                           "scope": "network:0"})
    assert response.status_code == 422
    assert "La persona ha già questo ruolo." in page_text(response)

    assignment = db.session.scalar(db.select(RoleAssignment).where(
        RoleAssignment.user_id == person.id, RoleAssignment.role == "comune_officer"))
    response = client.form(f"/rete/ruoli/{assignment.id}/revoca")
    assert response.status_code == 303
    assert "Ruolo revocato." in page_text(client.get("/rete/ruoli"))
    db.session.expire_all()
    assert assignments(db, person) == {("coordinator", "network", 0)}
    assert audit_actions(db) == ["role.granted", "role.granted", "role.revoked"]
    entry = db.session.scalar(db.select(AuditLog).where(AuditLog.action == "role.revoked"))
    assert entry.details["user"] == person.id and entry.actor_id is not None
    assert officer.get("/comune/verifiche").status_code == 200  # now a coordinator


@pytest.mark.parametrize(("data", "field_message"), [
    ({"role": "table_secretary", "scope": "comune:{seveso}"},
     "Questo ruolo non vale su questo tipo di ambito."),
    ({"role": "boss", "scope": "comune:{seveso}"}, "Ruolo:"),
    ({"role": "comune_officer", "scope": "comune:abc"}, "Ambito:"),
    ({"role": "comune_officer", "scope": "comune:{seveso}", "email": "nessuno@example.org"},
     "Nessun account con questo indirizzo e-mail."),
    ({"role": "comune_officer", "scope": "comune:{seveso}", "email": "' OR 1=1 --"},
     "Nessun account con questo indirizzo e-mail."),
])
def test_bad_grants_are_explained(client, login_as, factory, db, places, data, field_message):
    seveso = places[0]
    person = factory.user()
    login_as(Role.COORDINATOR)
    data = {"email": person.email, **data}
    data["scope"] = data["scope"].format(seveso=seveso.id)
    response = client.form("/rete/ruoli", data)
    assert response.status_code == 422
    assert field_message in page_text(response)
    assert assignments(db, person) == set()


def test_comune_officer_manages_roles_only_within_their_comune(client, login_as, factory, db,
                                                               places):
    seveso, giussano = places
    person = factory.user()
    login_as(Role.COMUNE_OFFICER, seveso.id)
    table = factory.table(seveso)

    page = page_text(client.get("/rete/ruoli"))
    assert "Comune di Seveso" in page and "Comune di Giussano" not in page

    response = client.form("/rete/ruoli", {"email": person.email, "role": "table_secretary",
                                           "scope": f"table:{table.id}"})
    assert response.status_code == 303
    for role, scope in (("facilitator", f"comune:{giussano.id}"),
                        ("table_secretary", f"table:{factory.table(giussano).id}"),
                        ("coordinator", "network:0")):
        response = client.form("/rete/ruoli", {"email": person.email, "role": role,
                                               "scope": scope})
        assert response.status_code == 422, (role, scope)
    db.session.expire_all()
    assert assignments(db, person) == {("table_secretary", "table", table.id)}

    elsewhere = factory.grant(factory.user(), Role.COMUNE_OFFICER, giussano.id)
    foreign = db.session.scalar(db.select(RoleAssignment).where(
        RoleAssignment.user_id == elsewhere.id))
    assert "Comune di Giussano" not in page_text(client.get("/rete/ruoli"))
    assert client.form(f"/rete/ruoli/{foreign.id}/revoca").status_code == 403
    assert db.session.get(RoleAssignment, foreign.id) is not None
    assert audit_actions(db) == ["role.granted"]


def test_only_the_coordinator_grants_and_revokes_the_comune_officer_role(
        client, login_as, factory, db, places):
    """One officer of a Comune cannot revoke another officer of the same Comune (nor grant
    the role): the officer role is the coordinator's to give and take."""
    seveso, _giussano = places
    colleague = factory.grant(factory.user(), Role.COMUNE_OFFICER, seveso.id)
    theirs = db.session.scalar(db.select(RoleAssignment).where(
        RoleAssignment.user_id == colleague.id))
    newcomer = factory.user()
    login_as(Role.COMUNE_OFFICER, seveso.id)
    page = client.get("/rete/ruoli").get_data(as_text=True)
    assert f"/rete/ruoli/{theirs.id}/revoca" not in page
    assert client.form(f"/rete/ruoli/{theirs.id}/revoca").status_code == 403
    assert client.form("/rete/ruoli", {"email": newcomer.email, "role": "comune_officer",
                                       "scope": f"comune:{seveso.id}"}).status_code == 422
    db.session.expire_all()
    assert db.session.get(RoleAssignment, theirs.id) is not None
    assert assignments(db, newcomer) == set()
    client.form("/esci")
    login_as(Role.COORDINATOR, 0)
    assert client.form(f"/rete/ruoli/{theirs.id}/revoca").status_code == 303
    assert client.form("/rete/ruoli", {"email": newcomer.email, "role": "comune_officer",
                                       "scope": f"comune:{seveso.id}"}).status_code == 303


def test_people_without_a_managing_role_get_403(client, login_as, factory, places):
    seveso = places[0]
    login_as(Role.TABLE_SECRETARY, factory.table(seveso).id)
    assert client.get("/rete/ruoli").status_code == 403
    assert client.form("/rete/ruoli", {"email": "x@example.org", "role": "coordinator",
                                       "scope": "network:0"}).status_code == 403


def test_revoking_an_unknown_assignment_is_404(client, login_as):
    login_as(Role.COORDINATOR)
    assert client.form("/rete/ruoli/999999/revoca").status_code == 404


def test_coordinator_cannot_revoke_their_own_coordinator_role(client, login_as, db):
    me = login_as(Role.COORDINATOR)
    mine = db.session.scalar(db.select(RoleAssignment).where(RoleAssignment.user_id == me.id))
    client.form(f"/rete/ruoli/{mine.id}/revoca")
    assert "Non puoi revocare a te stesso il ruolo di coordinatore." in page_text(
        client.get("/rete/ruoli"))
    assert db.session.get(RoleAssignment, mine.id) is not None
