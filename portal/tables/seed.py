"""Demo tables: members, ten years of history in short, published minutes, projects.

Runs after proposals and voting: the proposals those modules left decided (approved, in
progress, implemented, not approved) get the meetings and decisions that decided them; the
proposals selected by the Seveso round go on the agenda of an upcoming meeting.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import current_app

from portal.accounts.models import User
from portal.catalogue import services as catalogue
from portal.catalogue.models import GoodPractice
from portal.core.texts import text
from portal.extensions import db
from portal.i18n import ROME
from portal.proposals.models import Proposal
from portal.proposals.models import ProposalState as S
from portal.proposals.services import selected_for_table, transition
from portal.tables import loop, services
from portal.tables.models import (
    Decision,
    Meeting,
    MeetingStatus,
    Project,
    ProjectStatus,
    ProjectUpdate,
)

FREE_ITEMS = [
    ("Comunicazioni del presidente", "approved"),
    ("Calendario delle iniziative per le famiglie", "approved"),
    ("Aggiornamento sulla Family Card e sugli esercizi convenzionati", "approved"),
    ("Rendiconto del fondo solidale", "approved"),
    ("Proposta di regolamento per i contributi alle associazioni", "postponed"),
    ("Bando regionale per la conciliazione famiglia-lavoro", "approved_amended"),
    ("Verifica dei progetti in corso", "approved"),
]
PLACES = {
    "seveso": "Villa Dho, Sala consiliare, Corso Garibaldi 15, Seveso",
    "besana-in-brianza": "Villa Filippini, Via Viarana 4, Besana in Brianza",
    "brugherio": "Sala consiliare, Piazza Cesare Battisti 1, Brugherio",
    "carate-brianza": "Sala consiliare, Piazza Cesare Battisti 1, Carate Brianza",
    "giussano": "Sala consiliare, Piazzale Aldo Moro 1, Giussano",
    "limbiate": "Villa Mella, Via Dante 38, Limbiate",
    "muggio": "Villa Casati, Piazza Matteotti 1, Muggiò",
}
OFFICES = {
    "seveso": "Ufficio Servizi Sociali del Comune di Seveso",
}


def _user(ctx, email: str, name: str) -> User:
    user = ctx.users.get(email)
    if user is None:
        user = User(email=email, name=name, password_hash=ctx.password_hash,
                    email_confirmed_at=ctx.now - timedelta(days=400),
                    created_at=ctx.now - timedelta(days=400))
        db.session.add(user)
        db.session.flush()
        ctx.users[email] = user
    return user


def _families_of(ctx, comune) -> list[User]:
    return [u for email, u in sorted(ctx.users.items())
            if email.startswith("famiglia") and u.household is not None
            and u.household.comune_id == comune.id and u.household.is_verified]


def _seat_members(ctx) -> None:
    afi = next(a for s, a in ctx.associations.items() if s.startswith("afi"))
    forum = next(a for s, a in ctx.associations.items() if s.startswith("forum"))
    for slug, comune in ctx.comuni.items():
        table = ctx.tables[slug]
        if slug == "seveso":
            chair = ctx.users["presidente@example.org"]
            secretary = ctx.users["segreteria@example.org"]
        else:
            chair = _user(ctx, f"presidente.{slug}@example.org",
                          f"{ctx.rng.choice(['Anna', 'Marco', 'Elena', 'Luca'])} "
                          f"{ctx.rng.choice(['Sala', 'Villa', 'Riva', 'Galli'])}")
            secretary = _user(ctx, f"segreteria.{slug}@example.org",
                              f"{ctx.rng.choice(['Chiara', 'Paolo', 'Silvia'])} "
                              f"{ctx.rng.choice(['Mauri', 'Sironi', 'Pozzi'])}")
        joined = table.constituted_on or date(2015, 11, 12)
        services.add_member(None, table, chair.email, "chair", "comune", comune.id,
                            title="Assessore alle politiche per la famiglia", joined_on=joined)
        services.add_member(None, table, secretary.email, "secretary", "comune", comune.id,
                            title="Ufficio Servizi Sociali", joined_on=joined)
        if slug == "seveso":
            services.add_member(None, table, "moderatore@example.org", "member", "association",
                                association_id=afi.id, joined_on=joined)
            services.add_member(None, table, "famiglia@example.org", "member", "families",
                                joined_on=date(2024, 9, 1))
            services.add_member(None, table, "comune@example.org", "member", "comune",
                                comune.id, title="Responsabile Servizi Sociali", joined_on=joined)
        else:
            services.add_member(None, table, _user(
                ctx, f"forum.{slug}@example.org", f"Referente Forum {comune.name}").email,
                "member", "association", association_id=forum.id, joined_on=joined)
        for family in _families_of(ctx, comune)[:2]:
            services.add_member(None, table, family.email, "member", "families",
                                joined_on=joined + timedelta(days=400))
    rete = ctx.tables["rete"]
    services.add_member(None, rete, "admin@example.org", "chair", "association",
                        association_id=forum.id, title="Coordinatrice della Rete",
                        joined_on=date(2015, 11, 12))
    secretary = _user(ctx, "segreteria.rete@example.org", "Giorgio Confalonieri")
    services.add_member(None, rete, secretary.email, "secretary", "association",
                        association_id=afi.id, joined_on=date(2015, 11, 12))
    services.add_member(None, rete, "moderatore@example.org", "member", "association",
                        association_id=afi.id, joined_on=date(2015, 11, 12))
    for slug, comune in ctx.comuni.items():
        email = ("presidente@example.org" if slug == "seveso"
                 else f"presidente.{slug}@example.org")
        services.add_member(None, rete, email, "member", "comune", comune.id,
                            title=f"Delegato del Comune di {comune.name}",
                            joined_on=date(2015, 11, 12))
    db.session.flush()


def _rome(day: date, hour: int = 20, minute: int = 45) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ROME).astimezone(UTC)


def _past_meeting(ctx, table, starts_at: datetime, title: str, items: list[tuple],
                  intro: str, publish: bool = True, correction: str | None = None) -> Meeting:
    """A held meeting: items are (title, proposal or None, outcome, extra decision data)."""
    seats = services.members(table)
    chair = next(s.user for s in seats if s.role == "chair")
    secretary = next(s.user for s in seats if s.role == "secretary")
    place = PLACES.get(table.comune.slug if table.comune else "seveso")
    meeting = Meeting(table_id=table.id, title=title, starts_at=starts_at,
                      ends_at=starts_at + timedelta(hours=2), place=place,
                      status=MeetingStatus.CONVENED, convened_at=starts_at - timedelta(days=10),
                      created_at=starts_at - timedelta(days=14), created_by_id=chair.id)
    db.session.add(meeting)
    db.session.flush()
    for title_, proposal, _outcome, _extra in items:
        services.add_agenda_item(chair, meeting, title_, None)
        if proposal is not None:
            meeting.items[-1].proposal_id = proposal.id
    absent = ctx.rng.randint(0, max(0, len(seats) // 2 - 1))
    marks = {}
    for i, seat in enumerate(seats):
        status = "absent" if i >= len(seats) - absent else "present"
        if status == "absent" and ctx.rng.random() < 0.3:
            marks[seat.id] = ("delegated", "Mario Colombo")
        else:
            marks[seat.id] = (status, None)
    quorum = services.record_attendance(chair, meeting, marks)
    minutes = services.minutes_for(meeting, create=True)
    services.save_intro(secretary, minutes, intro)
    db.session.flush()
    for entry in minutes.items:
        _title, proposal, outcome, extra = items[entry.agenda_item.position - 1]
        present = quorum.present
        votes = {}
        if outcome != "postponed":
            against = 0 if outcome != "rejected" else present - 1
            abstained = 1 if present > 3 and outcome != "rejected" else 0
            votes = {"votes_for": present - against - abstained, "votes_against": against,
                     "votes_abstained": abstained}
        data = {"discussion": extra.get("discussion", "Il tavolo discute il punto; intervengono "
                                        "i rappresentanti delle famiglie e del Comune."),
                "outcome": outcome, **votes, **{k: v for k, v in extra.items()
                                                 if k != "discussion"}}
        services.save_item(secretary, minutes, entry, data)
    if publish:
        services.approve(chair, minutes)
        minutes.approved_at = starts_at + timedelta(days=7)
        services.publish(secretary, minutes, at=starts_at + timedelta(days=8))
        if correction:
            services.open_correction(secretary, minutes, correction)
            services.save_intro(secretary, minutes, intro + "\n\nPresente anche il "
                                "rappresentante della Consulta giovani, senza diritto di voto.")
            services.approve(chair, minutes)
            services.publish(secretary, minutes, at=starts_at + timedelta(days=30))
    db.session.flush()
    return meeting


def _constitution(ctx) -> None:
    rete = ctx.tables["rete"]
    _past_meeting(
        ctx, rete, _rome(date(2015, 11, 12), 17, 30), "Seduta di costituzione del tavolo "
        "intercomunale",
        [("Sottoscrizione dell'Accordo della Rete dei Comuni Amici della Famiglia", None,
          "approved", {"discussion": "I sindaci e gli assessori dei sette Comuni sottoscrivono "
                       "l'Accordo alla presenza di AFI, del Forum delle Associazioni Familiari "
                       "della Lombardia, di Acli Lombardia e della Scuola di Economia Civile."}),
         ("Costituzione del tavolo intercomunale e nomina del presidente e del segretario", None,
          "approved", {}),
         ("Programma di lavoro 2016: Family Card, fondo solidale, catalogo delle buone pratiche",
          None, "approved", {"responsible": "Tavolo intercomunale",
                             "deadline": date(2016, 12, 31)})],
        "Il tavolo intercomunale si riunisce per la prima volta a Seveso. Presiede la "
        "coordinatrice della Rete; verbalizza il segretario.\n\n*Welfare sussidiario e "
        "generativo*: le famiglie protagoniste.")
    for year, topic in ((2018, "Family Card in tutti i Comuni della Rete"),
                        (2021, "Ripartenza dopo la pandemia: i Patti Gener-Attivi"),
                        (2024, "Fattore Famiglia Comunale: criteri comuni")):
        _past_meeting(ctx, rete, _rome(date(year, 3, 14), 18, 0), f"Seduta di marzo {year}",
                      [("Comunicazioni della coordinatrice", None, "approved", {}),
                       (topic, None, "approved", {"responsible": "Tavolo intercomunale",
                                                  "deadline": date(year, 12, 31)})],
                      "Presiede la coordinatrice della Rete.")


def _decided_proposals(ctx):
    rows = db.session.scalars(db.select(Proposal).where(Proposal.state.in_(
        [S.APPROVED, S.IN_PROGRESS, S.IMPLEMENTED, S.NOT_APPROVED])).order_by(Proposal.id)).all()
    return rows


def _project(ctx, proposal, decision, status: str, progress: int) -> Project:
    started = decision.decided_on
    project = Project(proposal_id=proposal.id, decision_id=decision.id,
                      table_id=decision.table_id, comune_id=decision.table.comune_id,
                      title=proposal.title, responsible=decision.responsible or "-",
                      deadline=decision.deadline, amount_cents=decision.amount_cents,
                      started_on=started, status=ProjectStatus.IN_PROGRESS, progress=0)
    db.session.add(project)
    db.session.flush()
    if proposal.state == S.APPROVED:
        transition(proposal, S.IN_PROGRESS, None, text("history.in_progress_short"),
                   authorized=True, quiet=True)
    steps = [p for p in (25, 50, 80) if p <= progress] + ([progress] if progress not in
                                                         (25, 50, 80, 0) else [])
    if status == ProjectStatus.IMPLEMENTED:
        steps = [p for p in steps if p < 100]  # the last update says it is done
    notes = {25: "Avviato il gruppo di lavoro con le famiglie proponenti.",
             50: "Individuati gli spazi e firmata la convenzione con l'associazione partner.",
             80: "Attività avviate in via sperimentale; raccolte le prime adesioni."}
    for i, percent in enumerate(steps):
        db.session.add(ProjectUpdate(
            project_id=project.id, percent=percent,
            note=notes.get(percent, "Aggiornamento sullo stato dei lavori."),
            posted_by_name="Roberto Ufficio Servizi Sociali",
            created_at=datetime.combine(started + timedelta(days=40 * (i + 1)), time(10),
                                        tzinfo=UTC)))
    project.progress = steps[-1] if steps else 0
    if status == ProjectStatus.IMPLEMENTED:
        project.status = ProjectStatus.IMPLEMENTED
        project.progress = 100
        project.implemented_on = min(started + timedelta(days=200), ctx.now.date())
        db.session.add(ProjectUpdate(
            project_id=project.id, percent=100, note="Progetto realizzato e in funzione.",
            posted_by_name="Roberto Ufficio Servizi Sociali",
            created_at=datetime.combine(project.implemented_on, time(10), tzinfo=UTC)))
    db.session.flush()
    return project


def _history(ctx) -> list[Project]:
    """Every Comune table: past meetings with published minutes, deciding the proposals."""
    decided = _decided_proposals(ctx)
    by_table: dict[int, list] = {}
    for proposal in decided:
        by_table.setdefault(proposal.table_id, []).append(proposal)
    projects = []
    today = ctx.now.astimezone(ROME).date()
    for slug, table in ctx.tables.items():
        if slug == "rete":
            continue
        queue = list(by_table.get(table.id, []))
        for n, months_ago in enumerate((30, 22, 14, 8, 3)):
            day = today - timedelta(days=30 * months_ago)
            day = day.replace(day=min(day.day, 28))
            items = [(t, None, o, {}) for t, o in ctx.rng.sample(FREE_ITEMS, 2)]
            if n >= 2 and queue:
                proposal = queue.pop(0)
                outcome = "rejected" if proposal.state == S.NOT_APPROVED else "approved"
                extra = {"discussion": f"La famiglia proponente presenta «{proposal.title}». "
                                       "Il tavolo ne discute costi, tempi e partner."}
                if outcome == "approved":
                    extra.update(responsible=OFFICES.get(slug, f"Servizi Sociali del Comune di "
                                                         f"{table.comune.name}"),
                                 deadline=day + timedelta(days=ctx.rng.choice((120, 240, 365))),
                                 amount_cents=(proposal.estimated_cost_cents or 300000),
                                 funding_source="Bilancio comunale, politiche per la famiglia")
                else:
                    extra["motivation"] = ("Il tavolo non ha trovato una copertura per "
                                           "quest'anno; la proposta potrà essere ripresentata.")
                items.append((proposal.title, proposal, outcome, extra))
            meeting = _past_meeting(
                ctx, table, _rome(day), f"Seduta ordinaria del {day:%d/%m/%Y}", items,
                "Presiede l'assessore alle politiche per la famiglia; verbalizza l'Ufficio "
                "Servizi Sociali.", correction="Aggiunta una presenza non riportata"
                if (slug == "seveso" and n == 3) else None)
            for item in meeting.items:
                if item.proposal is None or item.proposal.state == S.NOT_APPROVED:
                    continue
                decision = services.current_version(_decision_of(meeting, item.id))
                status = (ProjectStatus.IMPLEMENTED if item.proposal.state == S.IMPLEMENTED
                          else ProjectStatus.IN_PROGRESS)
                progress = 100 if status == ProjectStatus.IMPLEMENTED else ctx.rng.choice(
                    (25, 50, 80))
                projects.append(_project(ctx, item.proposal, decision, status, progress))
    return projects


def _decision_of(meeting, agenda_item_id):
    return db.session.scalar(db.select(Decision).where(
        Decision.meeting_id == meeting.id, Decision.agenda_item_id == agenda_item_id))


def _upcoming(ctx) -> None:
    """Seveso convenes a meeting with the proposals selected by the round; the Rete too."""
    today = ctx.now.astimezone(ROME).date()
    for slug in ("seveso", "rete"):
        table = ctx.tables[slug]
        chair = next(s.user for s in services.members(table) if s.role == "chair")
        day = today + timedelta(days=12 if slug == "seveso" else 26)
        meeting = services.create_meeting(chair, table, {
            "title": "Seduta ordinaria: le proposte scelte dalle famiglie" if slug == "seveso"
            else "Seduta del tavolo intercomunale",
            "starts_at": _rome(day, 20, 45 if slug == "seveso" else 0),
            "place": PLACES["seveso"] if slug == "seveso" else
            "Sala consiliare del Comune di Carate Brianza",
            "online_url": "https://meet.example.org/tavolo-" + slug,
            "notes": "Ordine del giorno in allegato. La seduta è aperta al pubblico."})
        services.add_agenda_item(chair, meeting, "Comunicazioni del presidente", None)
        chosen = list(selected_for_table(table.id)) + list(db.session.scalars(
            db.select(Proposal).where(Proposal.table_id == table.id,
                                      Proposal.state == S.ON_AGENDA)))
        for proposal in chosen:
            services.add_agenda_item(chair, meeting, None, None, proposal.id)
        services.add_agenda_item(chair, meeting, "Verifica dei progetti in corso", None)
        services.convene(chair, meeting)


def _draft_in_progress(ctx) -> None:
    """Seveso: last week's meeting, attendance taken, the secretary's draft under way."""
    table = ctx.tables["seveso"]
    today = ctx.now.astimezone(ROME).date()
    _past_meeting(ctx, table, _rome(today - timedelta(days=6), 18, 30),
                  "Seduta straordinaria sul centro estivo",
                  [("Centro estivo comunale: tariffe con il Fattore Famiglia", None,
                    "approved_amended", {"responsible": OFFICES["seveso"],
                                         "deadline": today + timedelta(days=60)}),
                   ("Varie ed eventuali", None, "postponed", {})],
                  "Presiede Paola Presidente. Bozza in revisione da parte dei componenti.",
                  publish=False)


def _practice(ctx, projects: list[Project]) -> None:
    """The implemented project becomes a published practice, adopted by another Comune."""
    admin = ctx.users["admin@example.org"]
    for project in projects:
        if project.status != ProjectStatus.IMPLEMENTED:
            continue
        loop.start_practice(admin, project)
        db.session.flush()
        practice = db.session.get(GoodPractice, project.practice_id)
        catalogue.publish(admin, practice)
        other = next(c for s, c in ctx.comuni.items() if c.id != project.comune_id)
        catalogue.declare_adoption(admin, practice, other, "avvio",
                                   "Il tavolo ha deciso di adottare la pratica.",
                                   ctx.now.date() - timedelta(days=20))
        break


def seed(ctx) -> None:
    app = current_app._get_current_object()
    printing = app.config.get("MAIL_PRINT")
    app.config["MAIL_PRINT"] = False  # the demo's convocations stay in the outbox
    try:
        with app.test_request_context("/"):
            _seat_members(ctx)
            _constitution(ctx)
            projects = _history(ctx)
            _draft_in_progress(ctx)
            _upcoming(ctx)
            _practice(ctx, projects)
            db.session.flush()
    finally:
        app.config["MAIL_PRINT"] = printing
