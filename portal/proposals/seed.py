"""Demo proposals: every state, across the Comuni, with their history, comments and reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import url_for

from portal.core.services import activity
from portal.core.texts import text as portal_text
from portal.extensions import db
from portal.proposals.models import (
    Comment,
    CoProposer,
    CoProposerStatus,
    EventKind,
    Proposal,
    ProposalEvent,
    ProposalPartner,
    ProposalState,
    Report,
)
from portal.proposals.services import _request_context, render_markdown

S = ProposalState

#: The path each final state takes through the graph.
PATHS = {
    S.DRAFT: [],
    S.SUBMITTED: [S.SUBMITTED],
    S.CHANGES_REQUESTED: [S.SUBMITTED, S.CHANGES_REQUESTED],
    S.PUBLISHED: [S.SUBMITTED, S.PUBLISHED],
    S.REJECTED: [S.SUBMITTED, S.REJECTED],
    S.WITHDRAWN: [S.SUBMITTED, S.PUBLISHED, S.WITHDRAWN],
    S.MERGED: [S.SUBMITTED, S.MERGED],
    S.SELECTED: [S.SUBMITTED, S.PUBLISHED, S.SELECTED],
    S.ON_AGENDA: [S.SUBMITTED, S.PUBLISHED, S.SELECTED, S.ON_AGENDA],
    S.APPROVED: [S.SUBMITTED, S.PUBLISHED, S.SELECTED, S.ON_AGENDA, S.APPROVED],
    S.NOT_APPROVED: [S.SUBMITTED, S.PUBLISHED, S.SELECTED, S.ON_AGENDA, S.NOT_APPROVED],
    S.IN_PROGRESS: [S.SUBMITTED, S.PUBLISHED, S.SELECTED, S.ON_AGENDA, S.APPROVED,
                    S.IN_PROGRESS],
    S.IMPLEMENTED: [S.SUBMITTED, S.PUBLISHED, S.SELECTED, S.ON_AGENDA, S.APPROVED,
                    S.IN_PROGRESS, S.IMPLEMENTED],
}
MODERATOR_STEPS = {S.PUBLISHED, S.CHANGES_REQUESTED, S.REJECTED, S.MERGED}
TABLE_STEPS = {S.ON_AGENDA, S.APPROVED, S.NOT_APPROVED, S.IN_PROGRESS, S.IMPLEMENTED}
NOTES = {
    S.CHANGES_REQUESTED: "Bella idea! Potete indicare dove si svolgerebbe e con quali orari? "
                         "Aggiungete anche una stima dei costi, serve per il bilancio "
                         "partecipativo.",
    S.REJECTED: "La proposta riguarda un servizio già attivo in Comune (lo sportello "
                "«Informafamiglie»): vi mettiamo in contatto con gli operatori.",
    S.MERGED: "Molto simile a un'altra proposta già pubblicata: le uniamo perché i sostegni "
              "contino insieme.",
    S.WITHDRAWN: "Ci siamo accordati direttamente con la parrocchia, che ospiterà l'iniziativa.",
    S.ON_AGENDA: "Inserita all'ordine del giorno della prossima seduta del tavolo.",
    S.APPROVED: "Approvata all'unanimità: il Comune mette a disposizione gli spazi, le "
                "associazioni il coordinamento.",
    S.NOT_APPROVED: "Il tavolo non ha trovato una copertura per quest'anno; la proposta potrà "
                    "essere ripresentata con il prossimo bando regionale.",
    S.IN_PROGRESS: "Avviata: primo incontro con le famiglie fissato.",
    S.IMPLEMENTED: "Realizzata: il progetto è attivo e le famiglie lo gestiscono insieme "
                   "all'associazione.",
}


@dataclass
class Idea:
    where: str  # Comune slug; the table is the Comune's unless `rete`
    title: str
    summary: str
    body: str
    themes: tuple[str, ...]
    cost_eur: int | None
    own: str | None
    state: ProposalState
    rete: bool = False
    days_ago: int = 60


IDEAS = [
    # --- Seveso: the demo Comune, every step of the way
    Idea("seveso", "Pedibus per le scuole di Seveso",
         "Accompagnare a piedi i bambini delle primarie lungo tre linee sicure, con genitori e "
         "nonni volontari.",
         "Ogni mattina molte famiglie accompagnano i figli in auto per poche centinaia di "
         "metri.\n\n"
         "Proponiamo **tre linee di Pedibus** (centro, Altopiano, San Pietro) con fermate "
         "segnalate, pettorine e un'assicurazione per i volontari.\n\n"
         "- meno traffico davanti alle scuole\n- bambini più autonomi\n- nonni coinvolti",
         ("mutuo-aiuto", "scuola-ed-educazione"),
         4800, "Organizziamo i turni dei volontari e la formazione con "
         "la Polizia Locale.", S.PUBLISHED, days_ago=20),
    Idea("seveso", "Spazio compiti al Bosco delle Querce",
         "Un pomeriggio alla settimana di aiuto compiti all'aperto, per ragazzi delle medie.",
         "D'estate e a inizio anno scolastico il Bosco delle Querce è un luogo ideale per "
         "studiare insieme. Chiediamo l'uso della casetta del parco e qualche tavolo.",
         ("scuola-ed-educazione", "tempo-libero-e-sport"),
         2500, "Tre genitori insegnanti si alternano.", S.PUBLISHED,
         days_ago=18),
    Idea("seveso", "Banco del riuso di abbigliamento per bambini",
         "Un punto di scambio mensile di vestiti e attrezzature per l'infanzia tra famiglie.",
         "I bambini crescono in fretta: passeggini, seggiolini e vestiti restano in cantina. "
         "Un banco mensile nella sala civica permetterebbe di scambiarli gratuitamente.",
         ("conciliazione-famiglia-lavoro", "economia-di-vicinato-e-gaf"),
         1200, "Gestiamo il banco a turno, il sabato mattina.",
         S.PUBLISHED, days_ago=15),
    Idea("seveso", "Merenda in cortile per i nuovi arrivati",
         "Feste di cortile per far conoscere le famiglie arrivate da poco in città.",
         "Molte famiglie nuove non conoscono nessuno. Una merenda in cortile ogni due mesi, "
         "organizzata dai condomini, aiuta a creare rete di vicinato.",
         ("partecipazione",), 900, "Portiamo merende e giochi.", S.PUBLISHED, days_ago=12),
    Idea("seveso", "Sportello di ascolto per genitori di adolescenti",
         "Un incontro al mese con una psicologa per i genitori di ragazzi tra 12 e 17 anni.",
         "Essere genitori di adolescenti è difficile. Proponiamo uno sportello gratuito "
         "con una professionista e un gruppo di auto-mutuo-aiuto.",
         ("tempo-libero-e-sport", "mutuo-aiuto"),
         6000, "Promuoviamo gli incontri e gestiamo il gruppo di "
         "mutuo aiuto.", S.PUBLISHED, days_ago=10),
    Idea("seveso", "Ludoteca del sabato in biblioteca",
         "Aprire la sala ragazzi della biblioteca il sabato pomeriggio con giochi da tavolo.",
         "Il sabato pomeriggio mancano luoghi gratuiti per giocare insieme al coperto. "
         "Con i giochi donati dalle famiglie la biblioteca può diventare una ludoteca.",
         ("tempo-libero-e-sport", "conciliazione-famiglia-lavoro"),
         3500, "Doniamo giochi e facciamo animazione.",
         S.SELECTED, days_ago=120),
    Idea("seveso", "Orto condiviso della scuola di via Redipuglia",
         "Un orto didattico curato da bambini, genitori e nonni nel giardino della scuola.",
         "Il giardino della scuola ha uno spazio inutilizzato. Con cassoni rialzati e un "
         "piccolo impianto di irrigazione diventa un orto per le classi.",
         ("scuola-ed-educazione", "partecipazione"),
         8000, "Costruiamo i cassoni e curiamo l'orto d'estate.",
         S.SELECTED, days_ago=118),
    Idea("seveso", "Corso di educazione finanziaria per famiglie",
         "Quattro serate su bilancio familiare, risparmio e truffe online.",
         "Con l'aumento dei prezzi molte famiglie faticano a pianificare. Proponiamo un corso "
         "tenuto da volontari esperti, con materiali semplici.",
         ("economia-di-vicinato-e-gaf",), 12000, "Mettiamo a disposizione due formatori volontari.",
         S.PUBLISHED, days_ago=115),
    Idea("seveso", "Baby parking serale durante i consigli comunali",
         "Un servizio di custodia dei bambini che permetta ai genitori di partecipare.",
         "Chi ha figli piccoli raramente partecipa alla vita pubblica serale.",
         ("conciliazione-famiglia-lavoro",), 3000, None, S.SUBMITTED, days_ago=9),
    Idea("seveso", "Panchine e ombra al parchetto di via Colombo",
         "Più panchine e alberi per il parco giochi più frequentato del quartiere.",
         "D'estate il parco è inutilizzabile nelle ore calde.",
         ("mutuo-aiuto", "conciliazione-famiglia-lavoro"),
         7000, "Ci occupiamo dell'annaffiatura dei nuovi alberi.",
         S.SUBMITTED, days_ago=3),
    Idea("seveso", "Gruppo di cammino per nonni e nipoti",
         "Passeggiate settimanali nel Parco delle Groane con nonni e nipoti.",
         "Un'occasione per stare insieme e muoversi.",
         ("anziani-e-cura", "mutuo-aiuto"), None, None, S.CHANGES_REQUESTED, days_ago=14),
    Idea("seveso", "Cineforum per famiglie all'oratorio",
         "Un film al mese per genitori e figli, con discussione finale.",
         "Bozza da completare con la parrocchia.",
         ("tempo-libero-e-sport",), None, None, S.DRAFT, days_ago=2),
    Idea("seveso", "Doposcuola gratuito per tutti",
         "Un doposcuola comunale gratuito cinque giorni su sette.",
         "Chiediamo un doposcuola tutti i giorni.",
         ("scuola-ed-educazione",), 90000, None, S.REJECTED, days_ago=40),
    Idea("seveso", "Scambio di giocattoli tra famiglie",
         "Un banco per scambiare giochi usati.",
         "Simile al banco del riuso.",
         ("conciliazione-famiglia-lavoro",), 500, None, S.MERGED, days_ago=14),
    Idea("seveso", "Festa dei nonni in piazza",
         "Una festa in piazza per la giornata dei nonni.",
         "Musica, giochi e merenda in piazza Confalonieri.",
         ("anziani-e-cura", "partecipazione"), 1500, None, S.WITHDRAWN, days_ago=70),
    # --- the other Comuni
    Idea("brugherio", "Banca del tempo per la cura dei piccoli",
         "Ore di babysitting scambiate tra famiglie attraverso la Banca del Tempo.",
         "Estendere la Banca del Tempo di Brugherio alla custodia reciproca dei bambini, con "
         "un registro delle disponibilità e un incontro di conoscenza.",
         ("conciliazione-famiglia-lavoro",), 2000, "Coordiniamo gli scambi.", S.APPROVED,
         days_ago=200),
    Idea("brugherio", "Centro estivo inclusivo",
         "Un centro estivo che accolga anche bambini con disabilità, con educatori dedicati.",
         "Le famiglie di bambini con disabilità faticano a trovare un centro estivo. "
         "Proponiamo educatori di supporto e spazi adatti.",
         ("disabilita", "conciliazione-famiglia-lavoro"),
         40000, "Affianchiamo gli educatori come volontari.",
         S.IN_PROGRESS, days_ago=300),
    Idea("carate-brianza", "Casa delle famiglie in Villa Cusani",
         "Uno spazio di incontro per genitori con neonati, aperto tre mattine a settimana.",
         "Le neo-mamme e i neo-papà cercano confronto. Una stanza accogliente in villa, con "
         "un'ostetrica una volta al mese.",
         ("conciliazione-famiglia-lavoro", "mutuo-aiuto"),
         15000, "Apriamo lo spazio a turno.", S.IMPLEMENTED,
         days_ago=500),
    Idea("carate-brianza", "Trasporto condiviso per le attività sportive",
         "Un calendario condiviso per accompagnare i ragazzi agli allenamenti.",
         "Molte famiglie fanno gli stessi tragitti alla stessa ora.",
         ("mutuo-aiuto", "tempo-libero-e-sport"),
         None, "Gestiamo il calendario online.", S.PUBLISHED,
         days_ago=25),
    Idea("giussano", "Tariffe delle mense col Fattore Famiglia",
         "Calcolare le rette della mensa scolastica con il Fattore Famiglia Comunale.",
         "L'ISEE pesa poco i figli: chiediamo di usare il Fattore Famiglia per le rette.",
         ("tariffe-e-fattore-famiglia", "scuola-ed-educazione"),
         None, "Aiutiamo le famiglie a compilare la domanda.",
         S.ON_AGENDA, days_ago=90),
    Idea("giussano", "Palestra aperta la domenica",
         "Aprire la palestra comunale la domenica mattina per giochi liberi in famiglia.",
         "Serve un custode e un'assicurazione.",
         ("tempo-libero-e-sport",), 5000, None, S.NOT_APPROVED, days_ago=250),
    Idea("limbiate", "Sportello casa per giovani coppie",
         "Informazioni su mutui, affitti calmierati e bandi per le giovani coppie.",
         "Un pomeriggio alla settimana in Comune, con un esperto volontario.",
         ("casa-e-abitare",), 4000, "Due soci esperti di credito offrono consulenza.", S.PUBLISHED,
         days_ago=30),
    Idea("limbiate", "Laboratorio di riparazione di biciclette",
         "Una ciclofficina di quartiere dove ragazzi e adulti imparano a riparare le bici.",
         "Il sabato mattina nello spazio del Villaggio dei Giovi.",
         ("mutuo-aiuto", "tempo-libero-e-sport"),
         3000, "Mettiamo attrezzi e competenze.", S.SUBMITTED,
         days_ago=11),
    Idea("muggio", "Famiglie accoglienti per l'affido diurno",
         "Formare famiglie disponibili ad accogliere bambini di altre famiglie di pomeriggio.",
         "Con i servizi sociali, un percorso di formazione e accompagnamento.",
         ("partecipazione", "conciliazione-famiglia-lavoro"),
         12000, "Partecipiamo alla formazione.", S.PUBLISHED,
         days_ago=35),
    Idea("besana-in-brianza", "Navetta per le frazioni il sabato",
         "Un pulmino che colleghi le frazioni al centro il sabato mattina.",
         "Molti anziani e ragazzi delle frazioni non hanno come raggiungere il mercato.",
         ("mutuo-aiuto", "anziani-e-cura"), 20000, None, S.PUBLISHED, days_ago=28),
    # --- the inter-municipal table
    Idea("seveso", "Family Card valida in tutti i Comuni della Rete",
         "Una sola Family Card riconosciuta dagli esercenti di tutti i sette Comuni.",
         "Oggi ogni Comune ha le sue convenzioni. Una carta unica della Rete moltiplicherebbe "
         "gli sconti e farebbe crescere il fondo solidale.",
         ("economia-di-vicinato-e-gaf",),
         18000, "Contattiamo i negozi del nostro quartiere.", S.ON_AGENDA,
         rete=True, days_ago=80),
    Idea("brugherio", "Portale unico dei centri estivi della Rete",
         "Un elenco comune dei centri estivi dei sette Comuni, con posti e tariffe.",
         "Le famiglie cercano su sette siti diversi.",
         ("conciliazione-famiglia-lavoro",), 6000, None, S.PUBLISHED, rete=True, days_ago=22),
]

COMMENTS = [
    ("Pedibus per le scuole di Seveso", [
        ("Ottima idea, noi della linea Altopiano ci siamo!", [
            "Anche noi, possiamo fare il martedì e il giovedì."]),
        ("Serve però un accordo con la Polizia Locale per gli attraversamenti.", [
            "Già sentiti: sono disponibili per la formazione dei volontari."]),
    ]),
    ("Banco del riuso di abbigliamento per bambini", [
        ("Abbiamo due passeggini da donare appena parte.", []),
        ("Compro passeggini usati a prezzi bassissimi, scrivetemi in privato!!!", []),
    ]),
    ("Sportello di ascolto per genitori di adolescenti", [
        ("Ne abbiamo davvero bisogno, grazie per averla proposta.", []),
    ]),
    ("Casa delle famiglie in Villa Cusani", [
        ("Ci andiamo ogni mercoledì, è diventata un punto di riferimento.", []),
    ]),
]


def _pick_household(ctx, slug: str, used: dict[str, int]):
    candidates = [h for h in ctx.households if h.comune.slug == slug and h.is_verified]
    index = used.get(slug, 0)
    used[slug] = index + 1
    return candidates[index % len(candidates)]


def seed(ctx) -> None:
    """Add the demo proposals (links are built as in a request to the home page)."""
    with _request_context():
        _seed(ctx)


def _seed(ctx) -> None:
    afi = next(a for s, a in ctx.associations.items() if s.startswith("afi"))
    moderator = ctx.users["moderatore@example.org"]
    secretary = ctx.users["segreteria@example.org"]
    admin = ctx.users["admin@example.org"]
    family = ctx.users["famiglia@example.org"]
    facilitator = ctx.users["facilitatore@example.org"]
    used: dict[str, int] = {}
    by_title: dict[str, Proposal] = {}
    # The demo family proposes the first Seveso ideas and the ones waiting for its action.
    family_titles = {"Pedibus per le scuole di Seveso", "Gruppo di cammino per nonni e nipoti",
                     "Cineforum per famiglie all'oratorio",
                     "Family Card valida in tutti i Comuni della Rete"}
    for idea in IDEAS:
        if idea.title in family_titles:
            household = family.household
        else:
            household = _pick_household(ctx, idea.where, used)
        author = household.users[0] if household.users else family
        table = ctx.tables["rete" if idea.rete else idea.where]
        created = ctx.now - timedelta(days=idea.days_ago, hours=ctx.rng.randint(0, 10))
        proposal = Proposal(
            comune_id=household.comune_id, table_id=table.id, household_id=household.id,
            author_id=author.id, title=idea.title, summary=idea.summary, body=idea.body,
            body_html=render_markdown(idea.body),
            estimated_cost_cents=idea.cost_eur * 100 if idea.cost_eur is not None else None,
            own_contribution=idea.own, state=S.DRAFT, created_at=created, updated_at=created,
            state_changed_at=created)
        proposal.themes = list(idea.themes)
        db.session.add(proposal)
        by_title[idea.title] = proposal
        at = created
        for step in PATHS[idea.state]:
            at = at + timedelta(days=1 if step != S.SELECTED else 14, hours=ctx.rng.randint(1, 9))
            if at > ctx.now:
                at = ctx.now - timedelta(minutes=5)
            if step == S.SUBMITTED and idea.state == S.SUBMITTED:
                at = ctx.now - timedelta(days=idea.days_ago)
            event = ProposalEvent(proposal=proposal, at=at, kind=EventKind.STATE,
                                  from_state=proposal.state, to_state=step, note=NOTES.get(step))
            if step in MODERATOR_STEPS:
                event.actor_id, event.association_id = moderator.id, afi.id
            elif step in TABLE_STEPS:
                event.actor_id = (secretary.id if not idea.rete and idea.where == "seveso"
                                  else admin.id)
                event.table_id = table.id
            elif step == S.SELECTED:
                selected = portal_text("history.selected_by_table")
                event.note, event.message, event.params = (selected.italian(), selected.key,
                                                           selected.params)
            else:
                event.actor_id = author.id
            db.session.add(event)
            proposal.state = step
            proposal.state_changed_at = at
            if step == S.SUBMITTED:
                proposal.submitted_at = at
            if step == S.PUBLISHED:
                proposal.published_at = at
        proposal.updated_at = proposal.state_changed_at
    db.session.flush()
    for proposal in by_title.values():
        if proposal.published_at is not None:
            activity("proposal.published",
                     portal_text("proposal.published", title=proposal.title),
                     url_for("proposals.detail", proposal_id=proposal.id),
                     proposal.comune_id, at=proposal.published_at)

    merged = by_title["Scambio di giocattoli tra famiglie"]
    merged.merged_into_id = by_title["Banco del riuso di abbigliamento per bambini"].id

    # A facilitator submitted one on behalf of a family without internet at home.
    helped = by_title["Panchine e ombra al parchetto di via Colombo"]
    helped.on_behalf_by_id = facilitator.id
    helped.author_id = facilitator.id
    helped.on_behalf_consent = "Modulo di consenso firmato allo sportello del Civic Center"
    helped.on_behalf_consent_at = helped.created_at

    # Co-proposers and partners.
    pedibus = by_title["Pedibus per le scuole di Seveso"]
    seveso_others = [h for h in ctx.households
                     if h.comune.slug == "seveso" and h.is_verified and h.id != family.household_id]
    db.session.add(CoProposer(proposal=pedibus, household_id=seveso_others[0].id,
                              status=CoProposerStatus.ACCEPTED, invited_by_id=family.id,
                              invited_at=pedibus.created_at,
                              answered_at=pedibus.created_at + timedelta(hours=5)))
    walk = by_title["Gruppo di cammino per nonni e nipoti"]
    db.session.add(CoProposer(proposal=walk, household_id=seveso_others[1].id,
                              status=CoProposerStatus.INVITED, invited_by_id=family.id,
                              invited_at=walk.created_at))
    local = next((a for s, a in ctx.associations.items() if s.startswith("famiglie-in-cammino")),
                 afi)
    for title, association in [("Pedibus per le scuole di Seveso", local),
                               ("Casa delle famiglie in Villa Cusani", afi),
                               ("Banca del tempo per la cura dei piccoli",
                                ctx.associations.get("banca-del-tempo-brugherio", afi))]:
        db.session.add(ProposalPartner(proposal=by_title[title], association_id=association.id))

    # Comments, one of them hidden by the moderators, and an open report.
    db.session.flush()
    commenters = [u for e, u in sorted(ctx.users.items()) if e.startswith("famiglia")]
    for title, threads in COMMENTS:
        proposal = by_title[title]
        at = (proposal.published_at or proposal.created_at) + timedelta(hours=3)
        for text, replies in threads:
            author = ctx.rng.choice(commenters)
            comment = Comment(proposal_id=proposal.id, author_id=author.id, body=text,
                              created_at=at)
            db.session.add(comment)
            db.session.flush()
            proposal.comment_count += 1
            for reply in replies:
                at += timedelta(hours=2)
                db.session.add(Comment(proposal_id=proposal.id, parent_id=comment.id,
                                       author_id=ctx.rng.choice(commenters).id, body=reply,
                                       created_at=at))
                proposal.comment_count += 1
            if "scrivetemi in privato" in text:
                reason = "Messaggio commerciale, non pertinente alla proposta."
                comment.hidden_at = at + timedelta(hours=6)
                comment.hidden_reason = reason
                comment.hidden_by_association_id = afi.id
                db.session.add(Report(proposal_id=proposal.id, comment_id=comment.id,
                                      reporter_id=family.id, reason="Pubblicità",
                                      created_at=at + timedelta(hours=1),
                                      resolved_at=comment.hidden_at,
                                      resolved_by_id=moderator.id, resolution="hidden"))
                db.session.add(ProposalEvent(proposal_id=proposal.id, at=comment.hidden_at,
                                             kind=EventKind.COMMENT_HIDDEN,
                                             actor_id=moderator.id, association_id=afi.id,
                                             note=reason, details={"comment": comment.id}))
            at += timedelta(hours=5)
    db.session.flush()
    reported = db.session.scalar(db.select(Comment).where(
        Comment.body.like("Serve però un accordo%")))
    db.session.add(Report(proposal_id=reported.proposal_id, comment_id=reported.id,
                          reporter_id=commenters[-1].id,
                          reason="Mi sembra fuori tema", created_at=ctx.now - timedelta(days=1)))
    ctx.proposals = by_title
