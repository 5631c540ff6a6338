"""The loop the portal exists for, in Chromium, each step by the person who takes it.

A family's proposal is published by a moderator, supported in a round, selected, put on a
Seveso table meeting, decided by the table (the authors are told), carried out by the Comune,
turned into a good practice, and adopted by another Comune. Every page passes axe-core.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import update

from portal.authz import Role
from portal.db_setup import utcnow
from tests.e2e.conftest import expect, login, logout, outbox, submit, visit

pytestmark = pytest.mark.e2e


def _setup(live):
    """Seveso and Giussano, a table with its seats, a family, a voter, a moderator, officers."""
    from portal.proposals.models import Proposal
    from portal.tables import services as tables

    f = live.factory
    seveso = f.comune("Seveso", "108040")
    giussano = f.comune("Giussano", "108024")
    table = f.table(seveso)
    association = f.association([seveso], name="Famiglie in Cammino Seveso")
    people = {
        "author": f.user("autrice@example.org", "Giulia Brambilla"),
        "voter": f.user("vicina@example.org", "Sara Colombo"),
        "moderator": f.user("moderatore@example.org", "Marta Moderatrice"),
        "chair": f.user("presidente@example.org", "Paola Presidente"),
        "secretary": f.user("segreteria@example.org", "Sergio Segretario"),
        "member": f.user("componente@example.org", "Luca Sala"),
        "officer": f.user("comune@example.org", "Roberto Ufficio"),
        "other_officer": f.user("giussano@example.org", "Elena Riva"),
    }
    household = f.household(people["author"], seveso, name="Famiglia Brambilla")
    f.household(people["voter"], seveso, name="Famiglia Colombo")
    f.grant(people["moderator"], Role.MODERATOR, association.id)
    f.grant(people["officer"], Role.COMUNE_OFFICER, seveso.id)
    f.grant(people["other_officer"], Role.COMUNE_OFFICER, giussano.id)
    with current_app.test_request_context():
        tables.add_member(None, table, "presidente@example.org", "chair", "comune", seveso.id)
        tables.add_member(None, table, "segreteria@example.org", "secretary", "families")
        tables.add_member(None, table, "componente@example.org", "member", "association",
                          association_id=association.id)
    proposal = Proposal(
        comune_id=seveso.id, table_id=table.id, household_id=household.id,
        author_id=people["author"].id, title="Pedibus per le scuole di Seveso",
        summary="Bambini a scuola a piedi, accompagnati a turno dai genitori.",
        body="Tre linee, dal lunedì al venerdì.", body_html="<p>Tre linee.</p>",
        estimated_cost_cents=480000, state="submitted", submitted_at=utcnow())
    live.db.session.add(proposal)
    live.db.session.commit()
    return seveso, giussano, table, proposal, people


def _open_round(live, table, proposal, secretary):
    from portal.voting import services as voting

    with current_app.test_request_context():
        round_ = voting.create_round(
            secretary, table, title="Votazione d'autunno", description=None,
            opens_at=utcnow().replace(second=0, microsecond=0),
            closes_at=utcnow() + timedelta(days=7), rule="supports", max_supports=3,
            threshold=1, proposal_ids=[proposal.id])
    live.db.session.commit()
    return round_.id


def _close_round(live, round_id):
    """The round's week passes: its closing time moves to the past."""
    from portal.voting.models import Round

    live.db.session.execute(update(Round).where(Round.id == round_id).values(
        opens_at=utcnow() - timedelta(days=8), closes_at=utcnow() - timedelta(minutes=1)))
    live.db.session.commit()


def _meeting_day_comes(live, meeting_path):
    """The evening of the meeting arrives: its start moves to an hour ago (minutes open then)."""
    from portal.tables.models import Meeting

    meeting_id = int(meeting_path.rsplit("/", 1)[1])
    live.db.session.execute(update(Meeting).where(Meeting.id == meeting_id).values(
        starts_at=utcnow() - timedelta(hours=1), ends_at=None))
    live.db.session.commit()


def test_from_proposal_to_adopted_practice(live, page):
    """Published, voted, selected, on the agenda, decided, notified, done, practice, adopted."""
    seveso, giussano, table, proposal, people = _setup(live)
    pid = proposal.id

    # 1. The moderator publishes the family's proposal.
    login(page, "moderatore@example.org")
    visit(page, f"/proposte/{pid}")
    # By keyboard: the note's label overlaps the radio buttons for the mouse (reported).
    page.locator("input[name=decision][value=published]").focus()
    page.keyboard.press("Space")
    submit(page, "Registra la decisione")
    logout(page)

    # 2. A round opens; a neighbouring family supports the proposal; the round closes.
    round_id = _open_round(live, table, proposal, people["secretary"])
    login(page, "vicina@example.org")
    visit(page, f"/votazioni/{round_id}")
    page.get_by_role("button", name=re.compile("^Sostieni")).first.click()
    expect(page.get_by_role("button", name=re.compile("^Ritira il sostegno"))).to_be_visible()
    logout(page)
    _close_round(live, round_id)
    visit(page, f"/votazioni/{round_id}")
    expect(page.get_by_text("La votazione è chiusa.")).to_be_visible()
    # Readers see the results at once; cron's `flask voting close` stores them.
    assert "1 votazioni" in live.app.test_cli_runner().invoke(args=["voting", "close"]).output
    live.refresh()
    assert live.db.session.get(type(proposal), pid).state == "selected"

    # 3. The secretary schedules a meeting, puts the selected proposal on it, convenes it.
    login(page, "segreteria@example.org")
    visit(page, f"/tavoli/{table.slug}")
    new_meeting = page.get_by_role("link", name="Nuova seduta")
    text, background = new_meeting.evaluate(
        "e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]")
    assert text != background, "the button's label must show on its background"
    new_meeting.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nuova seduta")
    day = (utcnow() + timedelta(days=10)).astimezone().date()
    page.get_by_label("Titolo della seduta").fill("Seduta ordinaria di novembre")
    page.get_by_label("Giorno").fill(day.isoformat())
    page.get_by_label("Ora di inizio").fill("20:45")
    page.get_by_label("Luogo").fill("Villa Dho, Sala consiliare")
    submit(page, "Salva la seduta")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ordine del giorno")
    page.get_by_role("button", name="Aggiungi Pedibus per le scuole di Seveso").click()
    expect(page.locator("#agenda ol")).to_contain_text("Pedibus per le scuole di Seveso")
    meeting_path = re.search(r"/sedute/\d+", page.url).group(0)
    submit(page, "Convoca e avvisa")
    visit(page, meeting_path)
    expect(page.get_by_role("link", name="Aggiungi al calendario")).to_be_visible()
    assert any(m.subject.startswith("Convocazione") for m in outbox("autrice@example.org"))

    # 4. The meeting: attendance, the secretary's minutes item by item.
    _meeting_day_comes(live, meeting_path)
    visit(page, f"{meeting_path}/presenze")
    for select in page.locator("main select").all():
        select.select_option("present")
    submit(page, "Registra le presenze")
    submit(page, "Inizia il verbale")
    page.get_by_role("link", name="Scrivi il punto 1").click()
    page.get_by_label("Discussione").fill("La famiglia Brambilla presenta le tre linee.")
    page.get_by_label("Esito").select_option("approved")
    page.get_by_label("Voti favorevoli").fill("3")
    page.get_by_label("Voti contrari").fill("0")
    page.get_by_label("Astenuti").fill("0")
    page.get_by_label("Spesa impegnata in euro (facoltativa)").fill("4.800,00")
    page.get_by_label("Fonte del finanziamento").fill("Bilancio comunale 2027")
    page.get_by_label("Responsabile della realizzazione").fill("Ufficio Servizi Sociali")
    page.get_by_label("Scadenza").fill((day + timedelta(days=120)).isoformat())
    submit(page, "Salva il punto")
    logout(page)

    # 5. A member comments; the chair approves and publishes.
    login(page, "componente@example.org")
    visit(page, f"{meeting_path}/verbale/bozza")
    page.get_by_label("Il tuo commento").fill("Va bene per me.")
    submit(page, "Commenta")
    logout(page)
    login(page, "presidente@example.org")
    visit(page, f"{meeting_path}/verbale/bozza")
    submit(page, "Approva il verbale")
    submit(page, "Pubblica il verbale")
    logout(page)

    # 6. Everyone reads the minutes with revision and hash; the authors were told.
    visit(page, meeting_path)
    expect(page.get_by_role("heading", name=re.compile("Verbale"))).to_contain_text("revisione 1")
    expect(page.locator("pre.hash")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    live.refresh()
    assert live.db.session.get(type(proposal), pid).state == "in_progress"
    bodies = " ".join(m.subject + m.body for m in outbox("autrice@example.org"))
    assert "Approvata" in bodies or "approvata" in bodies, bodies[:500]
    # (the whole section, a page at a time, lists it too)
    visit(page, "/comuni/seveso/progetti?sezione=in-corso")
    expect(page.get_by_role("link", name="Pedibus per le scuole di Seveso")).to_be_visible()
    visit(page, "/comuni/seveso/progetti")
    page.get_by_role("link", name="Pedibus per le scuole di Seveso").click()
    project_path = re.search(r"/progetti/\d+", page.url).group(0)

    # 7. The Comune's officer reports progress, then the project is done: a good practice.
    login(page, "comune@example.org")
    visit(page, project_path)
    page.get_by_label("Avanzamento (%)").fill("60")
    page.get_by_label("Cosa è stato fatto").fill("Tracciate le tre linee con la Polizia Locale.")
    submit(page, "Pubblica l'aggiornamento")
    page.get_by_label("Com'è andata").fill("Il Pedibus accompagna 80 bambini ogni mattina.")
    submit(page, "Segna come realizzato")
    submit(page, "Crea buona pratica")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    submit(page, "Pubblica")
    live.refresh()
    from portal.catalogue.models import GoodPractice
    from portal.tables.models import Project

    project = live.db.session.scalar(live.db.select(Project).where(Project.proposal_id == pid))
    practice = live.db.session.get(GoodPractice, project.practice_id)
    assert practice.is_published and project.status == "implemented"
    logout(page)

    # 8. Giussano adopts it; the practice, the decision and the proposal link to each other.
    login(page, "giussano@example.org")
    visit(page, f"/pratiche/{practice.slug}")
    expect(page.locator(f"main a[href='{project_path}']")).to_have_count(1)
    page.get_by_label("Stato dell'adozione").select_option("avvio")
    submit(page, "Salva l'adozione")
    live.refresh()
    assert [a.comune_id for a in practice.adoptions] == [giussano.id]
    logout(page)
    visit(page, project_path)
    expect(page.get_by_role("link", name="La buona pratica nel catalogo")).to_be_visible()
    page.get_by_role("link", name=re.compile("La delibera del")).click()
    expect(page.get_by_role("link", name=re.compile("La proposta delle famiglie"))).to_be_visible()
    expect(page.get_by_role("link", name="La buona pratica nata da questo progetto")
           ).to_be_visible()
    visit(page, page.url.replace(live.url, ""))
