"""Object-level authorization of every tables endpoint: who may, who may not."""

from __future__ import annotations

import pytest

from portal.authz import Role
from tests.conftest import login


@pytest.fixture
def world(tables, db, app):
    """Two tables; a meeting with draft minutes and a published project in the first."""
    from portal.tables import services

    t = tables.seated()
    proposal, _author = tables.proposal(t.table)
    meeting = tables.meeting(t, proposals=[proposal])
    tables.attend(t, meeting, present=5)
    tables.decide(t, meeting)
    project = services.project_for_proposal(proposal.id)
    draft_meeting = tables.meeting(t)
    tables.attend(t, draft_meeting, present=5)
    with app.test_request_context():
        services.minutes_for(draft_meeting, create=True)
        db.session.commit()
    other = tables.seated(name="Giussano", istat="108024")
    return t, meeting, draft_meeting, project, other


def _routes(t, meeting, draft, project):
    """(method, path, data, who may) for every endpoint that needs a role."""
    seat = t.table
    entry = draft.minutes.items[0].agenda_item_id
    item = meeting.items[0].id
    from portal.tables import services

    member_id = next(m.id for m in services.members(seat) if m.user_id == t.others[-1].id)
    return [
        ("GET", f"/tavoli/{seat.slug}/componenti", None, {"chair"}),
        ("POST", f"/tavoli/{seat.slug}/componenti", {"email": "x"}, {"chair"}),
        ("POST", f"/tavoli/{seat.slug}/componenti/{member_id}/rimuovi", {}, {"chair"}),
        ("GET", f"/tavoli/{seat.slug}/sedute/nuova", None, {"chair", "secretary"}),
        ("POST", f"/tavoli/{seat.slug}/sedute/nuova", {}, {"chair", "secretary"}),
        ("GET", f"/sedute/{draft.id}/modifica", None, {"chair", "secretary"}),
        ("GET", f"/sedute/{draft.id}/ordine-del-giorno", None, {"chair", "secretary"}),
        ("POST", f"/sedute/{draft.id}/punti", {"title": "Varie"}, {"chair", "secretary"}),
        ("POST", f"/sedute/{meeting.id}/punti/{item}/sposta", {"direction": "up"},
         {"chair", "secretary"}),
        ("POST", f"/sedute/{meeting.id}/punti/{item}/rimuovi", {}, {"chair", "secretary"}),
        ("POST", f"/sedute/{draft.id}/convoca", {}, {"chair", "secretary"}),
        ("POST", f"/sedute/{draft.id}/annulla", {"reason": ""}, {"chair", "secretary"}),
        ("GET", f"/sedute/{draft.id}/presenze", None, {"chair", "secretary"}),
        ("GET", f"/sedute/{draft.id}/verbale/bozza", None, {"chair", "secretary", "member"}),
        ("POST", f"/sedute/{meeting.id}/verbale", {}, {"secretary"}),
        ("POST", f"/sedute/{draft.id}/verbale/apertura", {"intro": "x"}, {"secretary"}),
        ("GET", f"/sedute/{draft.id}/verbale/punti/{entry}", None, {"secretary"}),
        ("POST", f"/sedute/{draft.id}/verbale/commenti", {"body": "ok"},
         {"chair", "secretary", "member"}),
        ("POST", f"/sedute/{draft.id}/verbale/approva", {}, {"chair"}),
        ("POST", f"/sedute/{draft.id}/verbale/pubblica", {}, {"chair", "secretary"}),
        ("POST", f"/sedute/{meeting.id}/verbale/correggi", {"reason": ""},
         {"chair", "secretary"}),
        ("POST", f"/progetti/{project.id}/avanzamento", {"percent": "x"},
         {"chair", "secretary", "officer"}),
        ("POST", f"/progetti/{project.id}/realizzato", {"note": ""},
         {"chair", "secretary", "officer"}),
        ("POST", f"/progetti/{project.id}/buona-pratica", {}, set()),
    ]


def _call(client, method, path, data):
    if method == "GET":
        return client.get(path)
    return client.form(path, data)


def test_anonymous_is_sent_to_log_in(client, world):
    """Without an account every non-public tables endpoint redirects to the login."""
    t, meeting, draft, project, _other = world
    for method, path, data, _who in _routes(t, meeting, draft, project):
        response = _call(client, method, path, data)
        assert response.status_code in (302, 303), (method, path, response.status_code)
        assert "/accedi" in response.headers["Location"]


@pytest.mark.parametrize("who", ["other_chair", "other_secretary", "plain", "member",
                                 "officer_elsewhere"])
def test_roles_on_another_scope_are_refused(client, factory, world, who):
    """A chair or secretary of another table, or a plain member, gets 403 where not allowed."""
    t, meeting, draft, project, other = world
    user = {"other_chair": other.chair, "other_secretary": other.secretary,
            "member": t.others[0]}.get(who)
    if who == "plain":
        user = factory.user()
    if who == "officer_elsewhere":
        user = factory.grant(factory.user(), Role.COMUNE_OFFICER, other.comune.id)
    login(client, user.email)
    role = "member" if who == "member" else None
    for method, path, data, allowed in _routes(t, meeting, draft, project):
        if role in allowed:
            continue
        response = _call(client, method, path, data)
        assert response.status_code == 403, (who, method, path, response.status_code)


@pytest.mark.parametrize("who", ["chair", "secretary", "officer"])
def test_allowed_roles_get_through(client, factory, world, who):
    """The right role on the right table is never refused (4xx other than 403 is fine)."""
    t, meeting, draft, project, _other = world
    user = {"chair": t.chair, "secretary": t.secretary}.get(who)
    if who == "officer":
        user = factory.grant(factory.user(), Role.COMUNE_OFFICER, t.comune.id)
    login(client, user.email)
    for method, path, data, allowed in _routes(t, meeting, draft, project):
        if who not in allowed:
            continue
        response = _call(client, method, path, data)
        assert response.status_code != 403 and response.status_code < 500, (
            who, method, path, response.status_code)
