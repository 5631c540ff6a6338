"""What a table's work writes into the activity stream and a proposal's history reads in the
reader's language; the people's words in it (the table's name, the responsible) as written."""

from datetime import date, timedelta

from portal.i18n import ROME
from portal.proposals.models import ProposalEvent
from tests.conftest import page_text


def _long(day: date, months: list[str]) -> str:
    return f"{day.day} {months[day.month - 1]} {day.year}"


IT = ["gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
      "settembre", "ottobre", "novembre", "dicembre"]
EN = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
      "October", "November", "December"]


def test_history_and_activity_of_a_decision_in_english_and_italian(client, db, tables):
    t = tables.seated()
    proposal, _author = tables.proposal(t.table)
    meeting = tables.meeting(t, proposals=[proposal])
    tables.attend(t, meeting, present=5)
    tables.decide(t, meeting, outcome="approved")
    db.session.expire_all()
    assert proposal.state == "in_progress"
    keys = [e.message for e in db.session.scalars(
        db.select(ProposalEvent).where(ProposalEvent.proposal_id == proposal.id)
        .order_by(ProposalEvent.id))]
    assert keys == ["history.on_agenda", "history.approved", "history.in_progress"]

    # the meeting was moved to an hour ago (held): its day in Rome
    day = db.session.merge(meeting).starts_at.astimezone(ROME).date()
    deadline = date.today() + timedelta(days=90)
    table = t.table.name

    client.get("/lingua/en")
    text = page_text(client.get(f"/proposte/{proposal.id}"))
    for line in (f"Approved by {table} at the meeting of {_long(day, EN)}.",
                 "Being implemented. Responsible: Ufficio Servizi Sociali; deadline: "
                 f"{_long(deadline, EN)}."):
        assert line in text, line
    assert "In realizzazione" not in text and "Approvata dal" not in text
    home = page_text(client.get("/"))
    assert f"Proposal approved: {proposal.title}" in home
    assert f"{table}: minutes of the meeting of {_long(day, EN)} published" in home

    client.get("/lingua/it")
    text = page_text(client.get(f"/proposte/{proposal.id}"))
    assert f"Approvata dal {table} nella seduta del {_long(day, IT)}." in text
    assert ("In realizzazione. Responsabile: Ufficio Servizi Sociali; scadenza: "
            f"{_long(deadline, IT)}.") in text
    assert f"{table}: pubblicato il verbale della seduta del {_long(day, IT)}" in page_text(
        client.get("/"))
