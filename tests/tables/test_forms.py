"""Bad input on every tables form: a clear message and a 4xx, never a 500 nor a lost record."""

from __future__ import annotations

import pytest

from tests.conftest import login

HOSTILE = ["\x00", "a" * 10000, "' OR 1=1 --", "%", "_", "-1", "99999999999999999999", "<b>",
           "31/02/2026", "25:99"]


@pytest.fixture
def setup(tables, db, app):
    from portal.tables import services

    t = tables.seated()
    proposal, _author = tables.proposal(t.table)
    meeting = tables.meeting(t, proposals=[proposal])
    tables.attend(t, meeting, present=5)
    with app.test_request_context():
        minutes = services.minutes_for(meeting, create=True)
        db.session.commit()
    draft = tables.meeting(t, convene=False)
    second, _author = tables.proposal(t.table, title="Orti condivisi")
    done = tables.meeting(t, proposals=[second])
    tables.attend(t, done, present=5)
    tables.decide(t, done)
    project = services.project_for_proposal(second.id)
    return t, meeting, minutes, draft, done, project


FORMS = {
    "member": ("chair", lambda s: f"/tavoli/{s[0].table.slug}/componenti",
               ["email", "role", "body_kind", "comune_id", "association_id", "title"]),
    "meeting": ("chair", lambda s: f"/tavoli/{s[0].table.slug}/sedute/nuova",
                ["title", "day", "start_time", "ends_time", "place", "online_url", "notes"]),
    "edit_meeting": ("chair", lambda s: f"/sedute/{s[3].id}/modifica",
                     ["title", "day", "start_time", "place", "online_url"]),
    "item": ("chair", lambda s: f"/sedute/{s[3].id}/punti",
             ["title", "description", "proposal_id"]),
    "move": ("chair", lambda s: f"/sedute/{s[3].id}/punti/{s[3].items[0].id}/sposta",
             ["direction"]),
    "cancel": ("chair", lambda s: f"/sedute/{s[3].id}/annulla", ["reason"]),
    "attendance": ("secretary", lambda s: f"/sedute/{s[1].id}/presenze",
                   ["status_1", "delegate_1"]),
    "intro": ("secretary", lambda s: f"/sedute/{s[1].id}/verbale/apertura", ["intro"]),
    "minute_item": ("secretary",
                    lambda s: f"/sedute/{s[1].id}/verbale/punti/{s[2].items[0].agenda_item_id}",
                    ["discussion", "outcome", "votes_for", "votes_against", "votes_abstained",
                     "amount", "funding_source", "responsible", "deadline", "motivation"]),
    "comment": ("secretary", lambda s: f"/sedute/{s[1].id}/verbale/commenti", ["body"]),
    "correct": ("secretary", lambda s: f"/sedute/{s[4].id}/verbale/correggi", ["reason"]),
    "progress": ("chair", lambda s: f"/progetti/{s[5].id}/avanzamento", ["percent", "note"]),
    "done": ("chair", lambda s: f"/progetti/{s[5].id}/realizzato", ["done-note"]),
}


@pytest.mark.parametrize("name", sorted(FORMS))
def test_hostile_input_never_breaks_a_form(client, db, setup, name):
    """Each field with NUL, 10,000 chars, SQL, %, _, bad numbers, dates and times: no 500."""
    who, url, fields = FORMS[name]
    user = setup[0].chair if who == "chair" else setup[0].secretary
    login(client, user.email)
    path = url(setup)
    for field in fields:
        for value in HOSTILE:
            response = client.form(path, {field: value})
            assert response.status_code < 500, (name, field, value[:20], response.status_code)
            if value == "\x00" and response.status_code == 422:
                assert "non ammessi" in response.get_data(as_text=True) or field not in (
                    "title", "reason", "body", "note", "intro", "discussion"), (name, field)


def test_meeting_form_explains_each_error(client, tables):
    """A new meeting without place, with an http link and a bad date says what is wrong."""
    t = tables.seated()
    login(client, t.chair.email)
    page = client.form(f"/tavoli/{t.table.slug}/sedute/nuova", {
        "title": "Seduta", "day": "2026-02-31", "start_time": "18:00"})
    assert page.status_code == 422
    assert "Inserisci una data valida" in page.get_data(as_text=True)
    page = client.form(f"/tavoli/{t.table.slug}/sedute/nuova", {
        "title": "Seduta", "day": "2030-03-10", "start_time": "18:00",
        "online_url": "http://meet.example.org/x"})
    assert page.status_code == 422
    assert "https://" in page.get_data(as_text=True)
    page = client.form(f"/tavoli/{t.table.slug}/sedute/nuova", {
        "title": "Seduta", "day": "2030-03-10", "start_time": "18:00"})
    assert "Indica il luogo o il collegamento online." in page.get_data(as_text=True)
    ok = client.form(f"/tavoli/{t.table.slug}/sedute/nuova", {
        "title": "Seduta di marzo", "day": "2030-03-10", "start_time": "18:00",
        "place": "Villa Dho"})
    assert ok.status_code == 303


def test_member_form_keeps_one_chair(client, db, tables, factory):
    """A second chair is refused with a message; the seat and roles stay consistent."""
    t = tables.seated()
    newcomer = factory.user()
    login(client, t.chair.email)
    page = client.form(f"/tavoli/{t.table.slug}/componenti", {
        "email": newcomer.email, "role": "chair", "body_kind": "families"})
    assert page.status_code == 422 and "già un presidente" in page.get_data(as_text=True)
    ok = client.form(f"/tavoli/{t.table.slug}/componenti", {
        "email": newcomer.email, "role": "member", "body_kind": "comune",
        "comune_id": str(t.comune.id)})
    assert ok.status_code == 303
    from portal import authz
    from portal.authz import Role

    assert authz.has_role(newcomer, Role.TABLE_MEMBER, t.table.id)


def test_editing_a_meeting_keeps_rome_time(client, db, tables):
    """Date and time are entered in Italian time and stored in UTC; the form shows them back."""
    t = tables.seated()
    meeting = tables.meeting(t, convene=False)
    login(client, t.chair.email)
    response = client.form(f"/sedute/{meeting.id}/modifica", {
        "title": "Seduta d'estate", "day": "2031-07-10", "start_time": "21:00",
        "place": "Parco di Villa Dho"})
    assert response.status_code == 303
    db.session.expire_all()
    assert meeting.title == "Seduta d'estate"
    assert meeting.starts_at.isoformat() == "2031-07-10T19:00:00+00:00"  # CEST is UTC+2
    form = client.get(f"/sedute/{meeting.id}/modifica").get_data(as_text=True)
    assert 'value="21:00"' in form and 'value="2031-07-10"' in form
