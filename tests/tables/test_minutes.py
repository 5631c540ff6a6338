"""Minutes and decisions: votes, quorum, approval, publication, immutability, corrections."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from portal.tables import services
from portal.tables.models import Decision, MinutesRevision
from tests.conftest import login, outbox


def _item_url(meeting, entry):
    return f"/sedute/{meeting.id}/verbale/punti/{entry.agenda_item_id}"


def test_votes_never_exceed_members_present(client, db, tables):
    """Favourable, against and abstained together cannot outnumber the members present."""
    t = tables.seated()
    meeting = tables.meeting(t)
    tables.attend(t, meeting, present=4)
    with client.application.test_request_context():
        minutes = services.minutes_for(meeting, create=True)
        db.session.commit()
    login(client, t.secretary.email)
    entry = minutes.items[0]
    page = client.form(_item_url(meeting, entry), {
        "outcome": "approved", "votes_for": "4", "votes_against": "1", "votes_abstained": "0"})
    assert page.status_code == 422
    assert "superano i componenti presenti" in page.get_data(as_text=True)
    ok = client.form(_item_url(meeting, entry), {
        "outcome": "approved", "votes_for": "3", "votes_against": "1", "votes_abstained": "0"})
    assert ok.status_code == 303
    db.session.expire_all()
    assert minutes.items[0].votes_for == 3


def test_without_quorum_only_postponement(client, db, tables):
    """With half or fewer of the members present the table can only postpone."""
    t = tables.seated(n_members=4)  # 6 seats: the quorum is 4
    meeting = tables.meeting(t)
    tables.attend(t, meeting, present=3)
    assert not services.quorum(meeting).reached
    assert services.quorum(meeting).needed == 4
    with client.application.test_request_context():
        minutes = services.minutes_for(meeting, create=True)
        db.session.commit()
    login(client, t.secretary.email)
    refused = client.form(_item_url(meeting, minutes.items[0]), {
        "outcome": "approved", "votes_for": "3", "votes_against": "0", "votes_abstained": "0"})
    assert refused.status_code == 422
    assert "Manca il numero legale" in refused.get_data(as_text=True)
    postponed = client.form(_item_url(meeting, minutes.items[0]), {"outcome": "postponed"})
    assert postponed.status_code == 303


def test_delegated_members_count_for_the_quorum(db, tables, app):
    """A member who delegated counts as present; a delegation needs the delegate's name."""
    t = tables.seated(n_members=1)  # 3 seats
    meeting = tables.meeting(t)
    seats = services.members(t.table)
    with app.test_request_context():
        with pytest.raises(services.TablesError):
            services.record_attendance(t.chair, meeting, {seats[0].id: ("delegated", None)})
        result = services.record_attendance(t.chair, meeting, {
            seats[0].id: ("present", None), seats[1].id: ("delegated", "Mario Rossi"),
            seats[2].id: ("absent", None)})
    assert (result.present, result.members, result.reached) == (2, 3, True)


def test_vote_result_must_match_the_outcome(db, tables, app):
    """An approval needs more votes for than against, a rejection the opposite."""
    t = tables.seated()
    meeting = tables.meeting(t)
    tables.attend(t, meeting, present=5)
    with app.test_request_context():
        minutes = services.minutes_for(meeting, create=True)
        with pytest.raises(services.TablesError, match="non è approvata"):
            services.save_item(t.secretary, minutes, minutes.items[0], {
                "outcome": "approved", "votes_for": 2, "votes_against": 2, "votes_abstained": 1})
        with pytest.raises(services.TablesError, match="Indica i voti"):
            services.save_item(t.secretary, minutes, minutes.items[0], {"outcome": "rejected"})


def test_secretary_drafts_members_comment_chair_approves_and_publishes(client, db, tables):
    """The whole path through the pages: draft, comment, approve, publish, public page."""
    t = tables.seated()
    meeting = tables.meeting(t)
    tables.attend(t, meeting, present=5)
    login(client, t.secretary.email)
    assert client.form(f"/sedute/{meeting.id}/verbale").status_code == 303
    db.session.expire_all()
    entry = meeting.minutes.items[0]
    assert client.form(f"/sedute/{meeting.id}/verbale/apertura",
                       {"intro": "Presiede **Paola Presidente**. <script>x</script>"}
                       ).status_code == 303
    assert client.form(_item_url(meeting, entry), {
        "discussion": "Si discute del calendario.", "outcome": "approved", "votes_for": "4",
        "votes_against": "0", "votes_abstained": "1"}).status_code == 303
    client.form("/esci")
    login(client, t.others[0].email)
    assert client.form(f"/sedute/{meeting.id}/verbale/commenti",
                       {"body": "Manca il mio intervento."}).status_code == 303
    assert "Manca il mio intervento." in client.get(
        f"/sedute/{meeting.id}/verbale/bozza").get_data(as_text=True)
    # A member may not approve: that is the chair's.
    assert client.form(f"/sedute/{meeting.id}/verbale/approva").status_code == 403
    client.form("/esci")
    login(client, t.chair.email)
    assert client.form(f"/sedute/{meeting.id}/verbale/approva").status_code == 303
    assert client.form(f"/sedute/{meeting.id}/verbale/pubblica").status_code == 303
    client.form("/esci")
    page = client.get(f"/sedute/{meeting.id}").get_data(as_text=True)
    db.session.expire_all()
    revision = meeting.minutes.current_revision
    assert revision.number == 1
    assert revision.content_hash in page
    assert "<strong>Paola Presidente</strong>" in page
    assert "<script>x</script>" not in page
    assert "4 favorevoli, 0 contrari, 1 astenuto" in page


def test_publishing_requires_the_chairs_approval(db, tables, app):
    """Unapproved minutes cannot be published; an edit after approval withdraws it."""
    t = tables.seated()
    meeting = tables.meeting(t)
    tables.attend(t, meeting, present=5)
    with app.test_request_context():
        minutes = services.minutes_for(meeting, create=True)
        with pytest.raises(services.TablesError, match="Manca l'esito"):
            services.approve(t.chair, minutes)
        services.save_item(t.secretary, minutes, minutes.items[0], {"outcome": "postponed"})
        with pytest.raises(services.TablesError, match="approvato dal presidente"):
            services.publish(t.secretary, minutes)
        services.approve(t.chair, minutes)
        services.save_intro(t.secretary, minutes, "Cambiata dopo l'approvazione")
        assert minutes.status == "draft"
        with pytest.raises(services.TablesError):
            services.publish(t.secretary, minutes)


def test_published_minutes_refused_by_the_service(db, tables, app):
    """After publishing, the service refuses any change to the text or the decisions."""
    t = tables.seated()
    meeting = tables.meeting(t)
    tables.attend(t, meeting, present=5)
    revision = tables.decide(t, meeting)
    minutes = meeting.minutes
    with app.test_request_context():
        with pytest.raises(services.TablesError, match="non si modifica"):
            services.save_item(t.secretary, minutes, minutes.items[0], {"outcome": "rejected",
                               "votes_for": 1, "votes_against": 3, "votes_abstained": 0})
        with pytest.raises(services.TablesError):
            services.save_intro(t.secretary, minutes, "riscritto")
        with pytest.raises(services.TablesError):
            services.record_attendance(t.chair, meeting, {})
    revision.reason = "ritocco"
    with pytest.raises(RuntimeError, match="immutable"):
        db.session.flush()
    db.session.rollback()
    decision = db.session.scalar(db.select(Decision))
    db.session.delete(decision)
    with pytest.raises(RuntimeError, match="immutable"):
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize("statement", [
    "UPDATE minutes_revisions SET content_hash = 'x'",
    "DELETE FROM minutes_revisions",
    "UPDATE decisions SET outcome = 'rejected'",
    "DELETE FROM decisions",
])
def test_published_minutes_refused_by_the_database(db, tables, statement):
    """The database's triggers refuse UPDATE and DELETE of published revisions and decisions."""
    t = tables.seated()
    meeting = tables.meeting(t)
    tables.attend(t, meeting, present=5)
    revision = tables.decide(t, meeting)
    stored_hash = revision.content_hash
    with pytest.raises(DBAPIError, match="immutable"):
        db.session.execute(text(statement))
    db.session.rollback()
    assert db.session.scalar(text("SELECT content_hash FROM minutes_revisions")) == stored_hash
    assert db.session.scalar(text("SELECT count(*) FROM decisions")) == 1


def test_content_hash_is_sha256_of_the_canonical_content(db, tables):
    """The hash shown is the SHA-256 of the stored canonical JSON, and revisions chain."""
    t = tables.seated()
    meeting = tables.meeting(t)
    tables.attend(t, meeting, present=5)
    revision = tables.decide(t, meeting)
    assert revision.content_hash == hashlib.sha256(revision.content.encode()).hexdigest()
    assert services.verify(revision)
    assert '"previous_hash":null' in revision.content


def test_correction_is_a_new_public_revision_with_reason_and_diff(client, db, tables, app):
    """A correction publishes revision 2 with its reason; both stay public with the diff."""
    t = tables.seated()
    meeting = tables.meeting(t)
    tables.attend(t, meeting, present=5)
    first = tables.decide(t, meeting, outcome="postponed")
    login(client, t.secretary.email)
    assert client.form(f"/sedute/{meeting.id}/verbale/correggi", {"reason": ""}
                       ).status_code == 422
    assert client.form(f"/sedute/{meeting.id}/verbale/correggi",
                       {"reason": "Errore materiale nei voti"}).status_code == 303
    db.session.expire_all()
    entry = meeting.minutes.items[0]
    assert client.form(_item_url(meeting, entry), {
        "discussion": "Il tavolo discute a lungo.", "outcome": "postponed"}).status_code == 303
    client.form("/esci")
    login(client, t.chair.email)
    client.form(f"/sedute/{meeting.id}/verbale/approva")
    assert client.form(f"/sedute/{meeting.id}/verbale/pubblica").status_code == 303
    client.form("/esci")
    db.session.expire_all()
    revisions = db.session.scalars(db.select(MinutesRevision).order_by(MinutesRevision.number)
                                   ).all()
    assert [r.number for r in revisions] == [1, 2]
    assert revisions[0].content_hash == first.content_hash
    assert f'"previous_hash":"{first.content_hash}"' in revisions[1].content
    page = client.get(f"/sedute/{meeting.id}/verbale/revisioni/2").get_data(as_text=True)
    assert "Errore materiale nei voti" in page
    assert "Rimosso:</span> Il tavolo discute." in page
    assert "Aggiunto:</span> Il tavolo discute a lungo." in page
    assert client.get(f"/sedute/{meeting.id}/verbale/revisioni/1").status_code == 200
    assert "revisione 2" in client.get(f"/sedute/{meeting.id}").get_data(as_text=True)


def test_decision_on_a_proposal_closes_the_loop(client, db, tables):
    """Approval moves the proposal to in progress with a project; authors are notified."""
    t = tables.seated()
    proposal, author = tables.proposal(t.table)
    meeting = tables.meeting(t, proposals=[proposal])
    db.session.expire_all()
    assert proposal.state == "on_agenda"
    tables.attend(t, meeting, present=5)
    tables.decide(t, meeting, outcome="approved", amount_cents=1250000,
                  funding_source="Bilancio comunale 2026")
    db.session.expire_all()
    assert proposal.state == "in_progress"
    project = services.project_for_proposal(proposal.id)
    assert project.responsible == "Ufficio Servizi Sociali" and project.amount_cents == 1250000
    subjects = [m.subject for m in outbox(author.email)]
    assert any("approvata" in s.lower() or "Approvata" in s for s in subjects), subjects
    page = client.get(f"/progetti/{project.id}").get_data(as_text=True)
    assert "Ufficio Servizi Sociali" in page


def test_rejection_needs_a_motivation_and_tells_the_authors(db, tables, app):
    """A proposal not approved carries the motivation to its authors."""
    t = tables.seated()
    proposal, author = tables.proposal(t.table)
    meeting = tables.meeting(t, items=(), proposals=[proposal])
    tables.attend(t, meeting, present=5)
    with app.test_request_context():
        minutes = services.minutes_for(meeting, create=True)
        with pytest.raises(services.TablesError, match="Motiva"):
            services.save_item(t.secretary, minutes, minutes.items[0], {
                "outcome": "rejected", "votes_for": 1, "votes_against": 3,
                "votes_abstained": 0})
        db.session.rollback()
    tables.decide(t, meeting, outcome="rejected", votes=(1, 3, 0))
    db.session.expire_all()
    assert proposal.state == "not_approved"
    assert any("Manca la copertura di bilancio." in m.body for m in outbox(author.email))


def test_convocation_notifies_members_and_authors(client, db, tables):
    """Convening sends the agenda to every member and to the authors of the proposals."""
    t = tables.seated()
    proposal, author = tables.proposal(t.table)
    tables.meeting(t, proposals=[proposal])
    for user in (t.chair, t.secretary, *t.others, author):
        messages = [m for m in outbox(user.email) if m.subject.startswith("Convocazione")]
        assert len(messages) == 1, user.email
        assert "Pedibus per la scuola" in messages[0].body


def test_minutes_open_only_once_the_meeting_has_started(client, db, tables):
    """A meeting that has not started yet has no minutes to write, approve or publish, and a
    meeting whose minutes are open does not move into the future."""
    from datetime import timedelta

    from portal.db_setup import utcnow

    t = tables.seated()
    meeting = tables.meeting(t)
    login(client, t.secretary.email)
    response = client.form(f"/sedute/{meeting.id}/verbale", follow_redirects=True)
    assert "Il verbale si apre quando la seduta è iniziata." in response.get_data(as_text=True)
    db.session.expire_all()
    assert services.minutes_for(db.session.get(type(meeting), meeting.id)) is None
    held = tables.held(meeting)
    with client.application.test_request_context():
        minutes = services.minutes_for(held, create=True)
        db.session.commit()
        held.starts_at = utcnow() + timedelta(days=1)  # as if the date were moved ahead
        with pytest.raises(services.TablesError, match="iniziata"):
            services.approve(t.chair, minutes)
        db.session.rollback()
        with pytest.raises(services.TablesError, match="futuro"):
            services.update_meeting(t.chair, held, {
                "title": held.title, "starts_at": utcnow() + timedelta(days=1),
                "place": "Sala"})
        db.session.rollback()


def test_a_secretary_records_a_meeting_already_held(client, db, tables):
    """A meeting held before it was entered: a past date is accepted, it becomes public with
    no convocation sent, says it was recorded afterwards, and takes attendance and minutes."""
    from datetime import date, timedelta

    t = tables.seated()
    login(client, t.secretary.email)
    day = (date.today() - timedelta(days=10)).isoformat()
    created = client.form(f"/tavoli/{t.table.slug}/sedute/nuova", {
        "title": "Seduta di ieri l'altro", "day": day, "start_time": "18:00",
        "place": "Sala consiliare"})
    assert created.status_code == 303
    meeting = db.session.scalars(db.select(services.Meeting)).one()
    with client.application.test_request_context():
        services.add_agenda_item(t.secretary, meeting, "Comunicazioni", None)
        db.session.commit()
    sent = len(outbox())
    assert client.form(f"/sedute/{meeting.id}/convoca").status_code == 303
    assert len(outbox()) == sent  # no convocation for a meeting already held
    page = client.get(f"/sedute/{meeting.id}").get_data(as_text=True)
    assert "Seduta registrata dopo essersi svolta" in page
    db.session.expire_all()
    tables.attend(t, meeting, present=4)
    assert client.form(f"/sedute/{meeting.id}/verbale").status_code == 303
    db.session.expire_all()
    assert services.minutes_for(db.session.get(services.Meeting, meeting.id)) is not None
