"""Public pages and feeds of the tables: table page, meeting, calendars, Atom, PDF, API."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

from icalendar import Calendar

from portal.db_setup import utcnow
from portal.tables import services
from tests.conftest import login


def test_table_page_shows_members_meetings_and_decisions(client, tables):
    """Anyone sees who sits at the table, what they represent, meetings and decisions."""
    t = tables.seated()
    meeting = tables.meeting(t)
    tables.attend(t, meeting, present=5)
    tables.decide(t, meeting)
    page = client.get(f"/tavoli/{t.table.slug}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Paola Presidente" in html and "Presidente" in html
    assert "Comune di Seveso" in html and "le famiglie" in html
    assert "Comunicazioni del presidente" in html  # the decision
    assert f"/sedute/{meeting.id}" in html
    assert client.get("/tavoli").status_code == 200
    assert client.get("/tavoli/nessuno").status_code == 404


def test_draft_meeting_is_not_public(client, tables):
    """A meeting still being prepared is hidden from the public, its feed and the API."""
    t = tables.seated()
    meeting = tables.meeting(t, convene=False)
    assert client.get(f"/sedute/{meeting.id}").status_code == 403
    assert client.get(f"/api/v1/sedute/{meeting.id}").status_code == 404
    assert b"Seduta ordinaria" not in client.get(f"/tavoli/{t.table.slug}/calendario.ics").data
    login(client, t.secretary.email)
    assert client.get(f"/sedute/{meeting.id}").status_code == 200


def test_calendar_feeds_parse_with_icalendar(client, tables):
    """Table, Comune and single-meeting feeds are valid iCalendar with the meeting in UTC."""
    t = tables.seated()
    meeting = tables.meeting(t)
    for path in (f"/tavoli/{t.table.slug}/calendario.ics", "/comuni/seveso/sedute.ics",
                 f"/sedute/{meeting.id}.ics"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.content_type.startswith("text/calendar")
        calendar = Calendar.from_ical(response.data)
        events = [c for c in calendar.walk("VEVENT")]
        assert len(events) == 1, path
        event = events[0]
        assert event["summary"].endswith("Seduta ordinaria")
        assert event["location"] == "Sala consiliare"
        assert event.decoded("dtstart") == meeting.starts_at.replace(microsecond=0) or \
            abs(event.decoded("dtstart") - meeting.starts_at) < timedelta(seconds=1)
    assert client.get("/comuni/nessuno/sedute.ics").status_code == 404


def test_atom_feed_of_decisions(client, tables):
    """The Atom feed lists the table's decisions and is well-formed XML."""
    t = tables.seated()
    meeting = tables.meeting(t)
    tables.attend(t, meeting, present=5)
    tables.decide(t, meeting)
    response = client.get(f"/tavoli/{t.table.slug}/delibere.atom")
    assert response.content_type.startswith("application/atom+xml")
    root = ET.fromstring(response.data)  # noqa: S314 - our own feed
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [e.find("a:title", ns).text for e in root.findall("a:entry", ns)]
    assert titles == ["Comunicazioni del presidente – approvata"]


def test_minutes_printable_and_pdf(client, tables):
    """The published minutes exist as a printable page and as a PDF naming the hash."""
    t = tables.seated()
    meeting = tables.meeting(t)
    tables.attend(t, meeting, present=5)
    revision = tables.decide(t, meeting, funding_source="Fondo € sociale")
    printable = client.get(f"/sedute/{meeting.id}/verbale/stampa")
    assert printable.status_code == 200 and revision.content_hash in printable.get_data(
        as_text=True)
    pdf = client.get(f"/sedute/{meeting.id}/verbale.pdf")
    assert pdf.status_code == 200 and pdf.content_type == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    assert client.get(f"/sedute/{meeting.id}/verbale.pdf?revisione=9").status_code == 404
    assert client.get(f"/sedute/{meeting.id}/verbale/revisioni/9").status_code == 404


def test_api_tables_meeting_and_decisions(client, tables):
    """The open data API exposes tables, a meeting with its minutes, and decisions."""
    t = tables.seated()
    meeting = tables.meeting(t)
    tables.attend(t, meeting, present=5)
    revision = tables.decide(t, meeting)
    data = client.get("/api/v1/tavoli").get_json()["data"]
    assert {"slug": t.table.slug, "componenti": 5}.items() <= data[0].items()
    seduta = client.get(f"/api/v1/sedute/{meeting.id}").get_json()
    assert seduta["verbale"]["sha256"] == revision.content_hash
    assert seduta["verbale"]["delibere"][0]["voti"] == {"favorevoli": 3, "contrari": 1,
                                                        "astenuti": 0}
    delibere = client.get(f"/api/v1/delibere?tavolo={t.table.slug}").get_json()
    assert [d["oggetto"] for d in delibere["data"]] == ["Comunicazioni del presidente"]
    for bad in ("?tavolo=x", "?esito=forse", "?prima=ieri_1", "?prima=%00"):
        assert client.get("/api/v1/delibere" + bad).status_code == 400
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/tavoli", "/sedute/{id}", "/delibere"} <= set(paths)


def test_decisions_list_paginates_by_cursor(client, db, tables):
    """Decisions list newest first, twenty a page, with a cursor link to the next ones."""
    t = tables.seated()
    meeting = tables.meeting(t, items=[f"Punto {i}" for i in range(22)])
    tables.attend(t, meeting, present=5)
    tables.decide(t, meeting, outcome="postponed")
    first = client.get(f"/tavoli/{t.table.slug}/delibere").get_data(as_text=True)
    assert first.count("/delibere/") >= 20 and "rel=\"next\"" in first
    assert client.get(f"/tavoli/{t.table.slug}/delibere?prima=garbage").status_code == 200
    # All decided the same day: the cursor's id breaks the tie, each decision shows once.
    ids = re.compile(r'href="/delibere/(\d+)"')
    second = client.get(_next(first)).get_data(as_text=True)
    seen = ids.findall(first) + ids.findall(second)
    assert len(seen) == 22 and len(set(seen)) == 22 and "rel=\"next\"" not in second
    everything = client.get("/api/v1/delibere").get_json()["data"]
    assert len(everything) == 22
    tenth = everything[9]
    after = client.get(f"/api/v1/delibere?prima={tenth['data']}_{tenth['id']}").get_json()
    assert after["data"] == everything[10:]


def _next(html: str) -> str:
    return re.search(r'href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")


def test_comune_page_shows_the_table_panel(client, tables):
    """A Comune's page shows its table, the next meeting and the calendar link."""
    t = tables.seated()
    tables.meeting(t)
    html = client.get("/comuni/seveso").get_data(as_text=True)
    assert "Il tavolo del Comune" in html and "/comuni/seveso/sedute.ics" in html


def test_comune_page_panel_links_the_next_meeting_and_the_latest_decisions(client, tables, db):
    """The panel's links: the table, the next convened meeting (not a past one), the
    latest decisions in force, newest first, with their outcome in the visitor's language."""
    import re

    t = tables.seated()
    past = tables.meeting(t, items=["Bilancio", "Pedibus"], when=utcnow() + timedelta(days=1))
    tables.attend(t, past, present=5)
    tables.decide(t, past, outcome="postponed")
    past.starts_at = utcnow() - timedelta(days=30)  # it took place a month ago
    db.session.commit()
    upcoming = tables.meeting(t)
    html = client.get("/comuni/seveso").get_data(as_text=True)
    panel = html[html.index('id="table-panel-title"'):]
    assert f'href="/tavoli/{t.table.slug}"' in panel
    assert f'Prossima seduta: <a href="/sedute/{upcoming.id}">' in panel
    assert f'href="/sedute/{past.id}"' not in panel
    decisions = re.findall(r'<a href="/delibere/(\d+)">([^<]+)</a>', panel)
    assert [title for _id, title in decisions] == ["Pedibus", "Bilancio"]
    assert int(decisions[0][0]) > int(decisions[1][0]) and "Rinviata" in panel
    client.set_cookie("lang", "en")
    assert "Postponed" in client.get("/comuni/seveso").get_data(as_text=True)


def test_accountability_highlights_overdue_projects(client, db, tables, app):
    """Projects past their deadline are listed first and marked overdue."""
    t = tables.seated()
    proposal, _author = tables.proposal(t.table)
    meeting = tables.meeting(t, proposals=[proposal])
    tables.attend(t, meeting, present=5)
    tables.decide(t, meeting)
    project = services.project_for_proposal(proposal.id)
    project.deadline = (utcnow() - timedelta(days=3)).date()
    db.session.commit()
    for path in ("/progetti", "/comuni/seveso/progetti"):
        html = client.get(path).get_data(as_text=True)
        assert "In ritardo (1)" in html and "in ritardo</span>" in html


def test_officer_posts_progress_and_marks_implemented(client, db, tables, factory):
    """The Comune's officer posts progress; families are told; then the project is done."""
    from portal.authz import Role

    t = tables.seated()
    proposal, author = tables.proposal(t.table)
    meeting = tables.meeting(t, proposals=[proposal])
    tables.attend(t, meeting, present=5)
    tables.decide(t, meeting)
    project = services.project_for_proposal(proposal.id)
    officer = factory.grant(factory.user(name="Roberto Ufficio"), Role.COMUNE_OFFICER,
                            t.comune.id)
    login(client, officer.email)
    assert client.form(f"/progetti/{project.id}/avanzamento",
                       {"percent": "140", "note": "Troppo"}).status_code == 422
    assert client.form(f"/progetti/{project.id}/avanzamento",
                       {"percent": "40", "note": "Percorsi tracciati."}).status_code == 303
    assert client.form(f"/progetti/{project.id}/realizzato",
                       {"done-note": "Il Pedibus parte a settembre."}).status_code == 303
    db.session.expire_all()
    assert project.status == "implemented" and proposal.state == "implemented"
    assert "Percorsi tracciati." in client.get(f"/progetti/{project.id}").get_data(as_text=True)


def test_practice_from_a_project_names_its_comune_and_partners_as_promoters(
        client, db, tables, factory):
    """"Crea buona pratica" fills the catalogue's triangle of promoters: the Comune whose table
    decided it leads, the proposal's partner associations take part."""
    from portal.authz import Role
    from portal.catalogue.models import GoodPractice
    from portal.proposals.models import ProposalPartner

    t = tables.seated()
    proposal, _author = tables.proposal(t.table)
    partner = factory.association([t.comune], name="Genitori in Cammino")
    db.session.add(ProposalPartner(proposal_id=proposal.id, association_id=partner.id))
    db.session.commit()
    meeting = tables.meeting(t, proposals=[proposal])
    tables.attend(t, meeting, present=5)
    tables.decide(t, meeting)
    project = services.project_for_proposal(proposal.id)
    officer = factory.grant(factory.user(), Role.COMUNE_OFFICER, t.comune.id)
    login(client, officer.email)
    assert client.form(f"/progetti/{project.id}/realizzato",
                       {"done-note": "Fatto."}).status_code == 303
    assert client.form(f"/progetti/{project.id}/buona-pratica", {}).status_code == 303
    db.session.expire_all()
    practice = db.session.get(GoodPractice, project.practice_id)
    assert sorted((p.kind, p.name, p.role) for p in practice.promoters) == [
        ("association", "Genitori in Cammino", "partner"),
        ("comune", f"Comune di {t.comune.name}", "capofila")]


def test_the_secretary_who_starts_a_practice_finishes_the_draft(client, db, tables, factory):
    """The table's secretary presses "Crea buona pratica" on a completed project: the draft
    they created opens for editing and they save it (they hold no catalogue role); once it is
    published, it is the owner Comune's."""
    from portal.authz import Role
    from portal.catalogue import services as catalogue
    from portal.catalogue.models import GoodPractice

    t = tables.seated()
    proposal, _author = tables.proposal(t.table)
    meeting = tables.meeting(t, proposals=[proposal])
    tables.attend(t, meeting, present=5)
    tables.decide(t, meeting)
    project = services.project_for_proposal(proposal.id)
    officer = factory.grant(factory.user(), Role.COMUNE_OFFICER, t.comune.id)
    login(client, officer.email)
    assert client.form(f"/progetti/{project.id}/realizzato",
                       {"done-note": "Fatto."}).status_code == 303
    client.form("/esci")
    login(client, t.secretary.email)
    started = client.form(f"/progetti/{project.id}/buona-pratica", {})
    assert started.status_code == 303
    edit_url = started.headers["Location"]
    assert client.get(edit_url).status_code == 200
    db.session.expire_all()
    practice = db.session.get(GoodPractice, project.practice_id)
    saved = client.form(edit_url, {
        "title": "Pedibus di Seveso", "summary": "A scuola a piedi.", "body": "Testo.",
        "status": "attiva", "owner": "", "comuni": [str(t.comune.id)]})
    assert saved.status_code == 303
    db.session.expire_all()
    practice = db.session.get(GoodPractice, practice.id)
    assert practice.title == "Pedibus di Seveso"
    with client.application.test_request_context("/"):
        catalogue.publish(officer, practice)
        db.session.commit()
    assert client.get(f"/pratiche/{practice.slug}/modifica").status_code == 403


def test_proposal_page_links_meeting_decision_and_project(client, db, tables):
    """A decided proposal's page links its meeting, decision and project; a proposal no
    table has met about has no such section."""
    t = tables.seated()
    proposal, _author = tables.proposal(t.table)
    other, _other_author = tables.proposal(t.table, title="Ludoteca di quartiere")
    meeting = tables.meeting(t, proposals=[proposal])
    tables.attend(t, meeting, present=5)
    tables.decide(t, meeting)
    project = services.project_for_proposal(proposal.id)
    html = client.get(f"/proposte/{proposal.id}").get_data(as_text=True)
    assert f'href="/sedute/{meeting.id}"' in html
    assert f'href="/progetti/{project.id}"' in html
    assert "Delibera: Approvata" in html
    assert "Al tavolo" not in client.get(f"/proposte/{other.id}").get_data(as_text=True)


def test_account_area_lists_my_tables(client, tables):
    """A member's account area shows the tables where they sit, with their role."""
    t = tables.seated()
    login(client, t.secretary.email)
    html = client.get("/account").get_data(as_text=True)
    assert "I miei tavoli" in html and t.table.name in html and "Segretario" in html
