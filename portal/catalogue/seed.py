"""Demo data of the catalogue: good practices of the seven Comuni, with results and adoptions."""

from __future__ import annotations

from datetime import date, timedelta

from flask import current_app, url_for

from portal.catalogue import services
from portal.catalogue.models import Adoption, AdoptionStatus, GoodPractice, PracticeRevision
from portal.core.models import Activity
from portal.extensions import db

AFI = "AFI – Associazione delle Famiglie"
FORUM = "Forum delle Associazioni Familiari della Lombardia"
ACLI = "Acli Lombardia"
SEC = "Scuola di Economia Civile"
FIC = "Famiglie in Cammino Seveso"
BDT = "Banca del Tempo Brugherio"
GERMOGLIO = "Cooperativa Il Germoglio"

# (title, summary, body, themes, comuni, status, promoters, cost in euro, funding,
#  beneficiaries, count, start year, indicators, adoptions)
PRACTICES = [
    ("Gruppi di Acquisto Familiare di quartiere",
     "Famiglie che ordinano insieme frutta, verdura e prodotti di base da produttori della "
     "Brianza, con consegna settimanale nei locali della parrocchia e una quota per il fondo "
     "solidale.",
     "## Come funziona\n\nOgni gruppo raccoglie 15-30 famiglie. Un referente a turno raccoglie "
     "gli ordini il lunedì, il produttore consegna il giovedì pomeriggio.\n\n"
     "- prezzi concordati una volta a stagione\n- l'1% di ogni ordine va al **fondo "
     "solidale**\n- le famiglie in difficoltà ricevono un buono spesa\n\n"
     "## Cosa abbiamo imparato\n\nServe un luogo di consegna stabile e un referente per ogni "
     "produttore.",
     ["economia-di-vicinato-e-gaf", "mutuo-aiuto"], ["seveso", "muggio"], "attiva",
     [("Comune di Seveso", "comune"), (AFI, "association"), ("Cascina Boscaccio", "enterprise")],
     4500, "Bilancio comunale; quote delle famiglie", "famiglie residenti", 180, 2016,
     [("Famiglie iscritte", 180, "famiglie"), ("Risparmio medio sulla spesa", 12, "%"),
      ("Versato al fondo solidale", 3400, "euro")],
     [("giussano", "attiva", "Partiti con due gruppi, nel 2024 sono quattro."),
      ("limbiate", "avvio", None)]),
    ("Family Card dei Comuni della Rete",
     "Una carta sconti per le famiglie residenti, accettata dagli esercizi convenzionati: "
     "sostiene il reddito delle famiglie e l'economia di vicinato.",
     "La Family Card è rilasciata alle famiglie con residenza verificata. Gli esercenti "
     "aderenti riconoscono uno sconto dal 5 al 15% e versano una piccola quota al fondo "
     "solidale.\n\n## Numeri\n\nNel primo anno hanno aderito 64 esercizi commerciali.",
     ["economia-di-vicinato-e-gaf", "tariffe-e-fattore-famiglia"],
     ["seveso", "besana-in-brianza", "brugherio"], "attiva",
     [("Comune di Seveso", "comune"), (FORUM, "association"),
      ("Confcommercio Monza e Brianza", "enterprise")],
     18000, "Regione Lombardia; bilanci comunali", "famiglie con figli minori", 2100, 2017,
     [("Carte attive", 2100, "carte"), ("Esercizi convenzionati", 64, "esercizi")],
     [("carate-brianza", "attiva", "Estesa anche alle famiglie con un solo figlio."),
      ("giussano", "valutazione", None), ("muggio", "avvio", "Convenzione in firma.")]),
    ("Fattore Famiglia comunale per le tariffe dei servizi",
     "Le rette di nido, mensa e trasporto scolastico calcolate con il Fattore Famiglia, che "
     "pesa il numero dei figli più dell'ISEE.",
     "Il regolamento comunale applica il **Fattore Famiglia** alle tariffe dei servizi a "
     "domanda individuale.\n\n## Effetti\n\nLe famiglie numerose pagano in media il 22% in "
     "meno, senza aumenti per le altre.",
     ["tariffe-e-fattore-famiglia"], ["besana-in-brianza"], "attiva",
     [("Comune di Besana in Brianza", "comune"), (AFI, "association")],
     None, "Bilancio comunale", "famiglie con figli che usano i servizi scolastici", 640, 2018,
     [("Famiglie con tariffa ridotta", 410, "famiglie"),
      ("Riduzione media per famiglie numerose", 22, "%")],
     [("seveso", "attiva", "Applicato alla mensa scolastica dal 2021."),
      ("carate-brianza", "valutazione", None), ("limbiate", "abbandonata",
                                                "Rinviato per il cambio del software.")]),
    ("Banca del Tempo",
     "Si scambiano ore di tempo e competenze: un'ora di ripetizioni vale un'ora di "
     "piccole riparazioni o di accompagnamento.",
     "Gli iscritti mettono a disposizione competenze e ricevono ore da spendere. Lo sportello "
     "è aperto il sabato mattina nella biblioteca civica.",
     ["mutuo-aiuto", "anziani-e-cura"], ["brugherio"], "attiva",
     [(BDT, "third_sector"), ("Comune di Brugherio", "comune")],
     2500, "Bilancio comunale", "tutti i residenti", 320, 2015,
     [("Iscritti", 320, "persone"), ("Ore scambiate in un anno", 4100, "ore")],
     [("muggio", "attiva", None), ("seveso", "valutazione", None)]),
    ("Pedibus casa-scuola",
     "Bambini della primaria accompagnati a piedi a scuola da genitori e nonni volontari, "
     "lungo linee con fermate e orari.",
     "Quattro linee, ciascuna con due accompagnatori. I volontari sono assicurati dal Comune. "
     "Meno auto davanti alla scuola, più autonomia per i bambini.",
     ["scuola-ed-educazione", "conciliazione-famiglia-lavoro"], ["giussano", "carate-brianza"],
     "attiva",
     [("Comune di Giussano", "comune"), ("Comitato genitori scuola Don Carlo Porro",
                                         "association")],
     1200, "Bilancio comunale", "bambini della scuola primaria", 150, 2016,
     [("Bambini iscritti", 150, "bambini"), ("Volontari accompagnatori", 38, "persone")],
     [("besana-in-brianza", "attiva", None), ("brugherio", "avvio", None),
      ("limbiate", "valutazione", None)]),
    ("Doposcuola solidale",
     "Un pomeriggio a settimana studenti delle superiori e pensionati aiutano nei compiti i "
     "ragazzi delle medie, gratuitamente.",
     "Gli spazi sono quelli dell'oratorio; il Comune copre assicurazione e materiali. I "
     "ragazzi delle superiori ottengono crediti per i PCTO.",
     ["scuola-ed-educazione", "mutuo-aiuto"], ["limbiate"], "attiva",
     [("Parrocchia San Giorgio", "third_sector"), ("Comune di Limbiate", "comune"),
      (ACLI, "third_sector")],
     3000, "Fondazione Comunitaria Monza e Brianza", "studenti delle scuole medie", 65, 2019,
     [("Ragazzi seguiti", 65, "ragazzi"), ("Promossi senza debiti", 88, "%")],
     [("muggio", "attiva", "Due pomeriggi a settimana."), ("giussano", "avvio", None)]),
    ("Famiglia Portavalori",
     "Un percorso di AFI che raccoglie le buone pratiche nate dalle famiglie e le fa "
     "conoscere alle altre famiglie e ai Comuni.",
     "Serate di racconto, schede delle pratiche, visite tra famiglie di Comuni diversi.",
     ["partecipazione", "mutuo-aiuto"], ["seveso", "besana-in-brianza"], "attiva",
     [(AFI, "association"), (FORUM, "association")],
     2000, "Quote associative", "famiglie e associazioni", 90, 2016,
     [("Serate organizzate", 14, "serate")], [("brugherio", "valutazione", None)]),
    ("Laboratorio di comunità al centro civico",
     "Uno spazio aperto dove famiglie, associazioni e operatori raccolgono bisogni e avviano "
     "piccoli progetti del quartiere.",
     "Un facilitatore di comunità è presente tre pomeriggi a settimana. Dal laboratorio sono "
     "nati un gruppo di cammino e una biblioteca degli oggetti.",
     ["partecipazione", "mutuo-aiuto"], ["muggio"], "sperimentazione",
     [("Comune di Muggiò", "comune"), (GERMOGLIO, "enterprise"), (ACLI, "third_sector")],
     22000, "Fondazione Cariplo, Welfare in azione", "abitanti del quartiere Taccona", 400,
     2022, [("Progetti avviati dal laboratorio", 6, "progetti")], []),
    ("Patti Gener-Attivi",
     "Chi riceve un sostegno dal fondo solidale restituisce alla comunità qualche ora di "
     "tempo in attività scelte insieme.",
     "Il patto è firmato dalla famiglia, dal Comune e da un'associazione che accompagna. Non "
     "è una condizione per ricevere l'aiuto, ma una proposta.",
     ["mutuo-aiuto", "partecipazione"], ["seveso"], "sperimentazione",
     [("Comune di Seveso", "comune"), (FIC, "association")],
     5000, "Fondo solidale", "famiglie sostenute dal fondo", 24, 2023,
     [("Patti firmati", 24, "patti"), ("Ore restituite", 610, "ore")],
     [("limbiate", "valutazione", None)]),
    ("Spazio compiti in biblioteca",
     "Due aule della biblioteca aperte il pomeriggio per fare i compiti, con un educatore e "
     "volontari.",
     "Pensato per i figli dei genitori che lavorano fino a tardi. Prenotazione settimanale.",
     ["scuola-ed-educazione", "conciliazione-famiglia-lavoro"], ["carate-brianza"], "attiva",
     [("Comune di Carate Brianza", "comune"), (GERMOGLIO, "enterprise")],
     9000, "Bilancio comunale", "ragazzi di 8-14 anni", 48, 2020,
     [("Presenze medie settimanali", 48, "ragazzi")], [("giussano", "attiva", None)]),
    ("Nonni civici davanti alle scuole",
     "Pensionati volontari presidiano gli attraversamenti e gli ingressi delle scuole.",
     "Formati dalla polizia locale, indossano una pettorina e sono coperti da assicurazione.",
     ["anziani-e-cura", "scuola-ed-educazione"], ["brugherio", "muggio"], "attiva",
     [("Comune di Brugherio", "comune"), ("Associazione Anziani Brugherio", "third_sector")],
     800, "Bilancio comunale", "alunni e famiglie", 1200, 2015,
     [("Nonni civici attivi", 26, "persone")], [("seveso", "attiva", None)]),
    ("Nido condiviso tra famiglie",
     "Piccoli gruppi di famiglie si organizzano con un'educatrice per accudire i bambini "
     "0-3 anni a turno nelle case.",
     "Il Comune forma le famiglie e verifica gli spazi; l'educatrice è assunta dalla "
     "cooperativa.",
     ["conciliazione-famiglia-lavoro", "mutuo-aiuto"], ["besana-in-brianza"], "sperimentazione",
     [(GERMOGLIO, "enterprise"), ("Comune di Besana in Brianza", "comune"),
      (AFI, "association")],
     14000, "Regione Lombardia, bando conciliazione", "famiglie con bambini 0-3 anni", 18, 2023,
     [("Bambini accolti", 18, "bambini")], []),
    ("Sportello casa per giovani coppie",
     "Un punto di ascolto che aiuta le giovani coppie a trovare casa in affitto a canone "
     "concordato, con garanzie del Comune.",
     "Lo sportello mette in contatto proprietari e famiglie e gestisce un fondo di garanzia "
     "per la cauzione.",
     ["casa-e-abitare"], ["limbiate", "muggio"], "attiva",
     [("Comune di Limbiate", "comune"), (ACLI, "third_sector")],
     30000, "Bilancio comunale; fondazione bancaria", "coppie under 35", 52, 2019,
     [("Contratti firmati", 52, "contratti")], [("brugherio", "valutazione", None)]),
    ("Custodi sociali per gli anziani soli",
     "Volontari e operatori fanno visita agli anziani che vivono soli, aiutano nelle "
     "commissioni e segnalano i bisogni ai servizi.",
     "Ogni custode segue 8-10 anziani. Telefonate settimanali d'estate.",
     ["anziani-e-cura"], ["giussano"], "attiva",
     [("Comune di Giussano", "comune"), ("Caritas cittadina", "third_sector")],
     16000, "Bilancio comunale", "anziani over 75 soli", 210, 2017,
     [("Anziani seguiti", 210, "persone")], [("carate-brianza", "avvio", None)]),
    ("Estate insieme: centri estivi inclusivi",
     "Centri estivi con educatori di sostegno per i bambini con disabilità, senza costi "
     "aggiuntivi per le famiglie.",
     "Il Comune finanzia gli educatori, le associazioni sportive ospitano le attività.",
     ["disabilita", "tempo-libero-e-sport", "conciliazione-famiglia-lavoro"],
     ["seveso", "carate-brianza"], "attiva",
     [("Comune di Carate Brianza", "comune"), ("Polisportiva Carate", "third_sector")],
     26000, "Bilancio comunale; fondo regionale disabilità", "bambini 6-14 anni", 340, 2018,
     [("Bambini con disabilità accolti", 31, "bambini")], [("giussano", "attiva", None),
                                                             ("brugherio", "valutazione", None)]),
    ("Tempo libero per i caregiver",
     "Sabati di sollievo: volontari formati stanno con le persone con disabilità mentre i "
     "familiari si prendono una pausa.",
     "Un sabato al mese, in una sede attrezzata dell'associazione.",
     ["disabilita", "anziani-e-cura"], ["brugherio"], "sperimentazione",
     [("Associazione Noi con Voi", "association"), ("Comune di Brugherio", "comune")],
     7000, "Fondazione Cariplo", "famiglie con una persona con disabilità", 28, 2023,
     [("Famiglie coinvolte", 28, "famiglie")], []),
    ("Sport per tutti: voucher per le famiglie numerose",
     "Un contributo per l'iscrizione dei figli alle associazioni sportive, maggiore dal "
     "terzo figlio.",
     "Il voucher è calcolato con il Fattore Famiglia e speso nelle società sportive aderenti.",
     ["tempo-libero-e-sport", "tariffe-e-fattore-famiglia"], ["muggio"], "attiva",
     [("Comune di Muggiò", "comune"), ("Consulta dello sport", "third_sector")],
     20000, "Bilancio comunale", "famiglie con tre o più figli", 190, 2019,
     [("Voucher erogati", 260, "voucher")], [("seveso", "valutazione", None)]),
    ("Consulta delle famiglie",
     "Un organismo consultivo eletto dalle famiglie che esprime pareri sugli atti del "
     "Comune che le riguardano.",
     "Si riunisce ogni due mesi; i pareri sono pubblicati sul sito del Comune.",
     ["partecipazione"], ["seveso"], "attiva",
     [("Comune di Seveso", "comune"), (FIC, "association"), (AFI, "association")],
     None, None, "famiglie residenti", None, 2016,
     [("Pareri espressi", 19, "pareri")], [("besana-in-brianza", "attiva", None),
                                          ("muggio", "valutazione", None)]),
    ("Bilancio partecipativo per i progetti delle famiglie",
     "Una quota del bilancio comunale destinata a progetti proposti e votati dalle famiglie.",
     "Le proposte sono co-progettate con gli uffici e votate on line: un voto per nucleo "
     "familiare.",
     ["partecipazione"], ["brugherio"], "attiva",
     [("Comune di Brugherio", "comune")],
     150000, "Bilancio comunale", "tutti i residenti", 3500, 2016,
     [("Nuclei che hanno votato", 3500, "nuclei"), ("Progetti realizzati", 11, "progetti")],
     [("limbiate", "valutazione", None)]),
    ("Orti condivisi intergenerazionali",
     "Lotti di orto assegnati a coppie di famiglie giovani e pensionati che coltivano "
     "insieme.",
     "Il raccolto in eccesso va all'emporio solidale.",
     ["tempo-libero-e-sport", "anziani-e-cura", "mutuo-aiuto"], ["limbiate"], "attiva",
     [("Comune di Limbiate", "comune"), ("Legambiente circolo locale", "third_sector")],
     6000, "Bilancio comunale", "famiglie e anziani", 60, 2018,
     [("Lotti assegnati", 30, "lotti")], [("besana-in-brianza", "avvio", None)]),
    ("Emporio solidale",
     "Un piccolo supermercato dove le famiglie in difficoltà fanno la spesa con una tessera "
     "a punti, accompagnate da volontari.",
     "I prodotti arrivano da donazioni, GAF e recupero delle eccedenze dei negozi.",
     ["economia-di-vicinato-e-gaf", "mutuo-aiuto"], ["giussano", "seveso"], "attiva",
     [("Caritas cittadina", "third_sector"), ("Comune di Giussano", "comune"),
      ("Supermercato Il Borgo", "enterprise")],
     35000, "Fondo solidale; donazioni", "famiglie con ISEE basso", 140, 2017,
     [("Famiglie servite", 140, "famiglie"), ("Prodotti recuperati", 18, "tonnellate")],
     [("limbiate", "attiva", None), ("muggio", "valutazione", None)]),
    ("Welfare aziendale di territorio",
     "Le imprese del distretto mettono in comune i servizi di welfare per i dipendenti, "
     "aperti anche alle famiglie del Comune.",
     "Convenzioni per centri estivi, babysitting e servizi di cura.",
     ["conciliazione-famiglia-lavoro"], ["carate-brianza"], "sperimentazione",
     [("Confindustria Monza e Brianza", "enterprise"), ("Comune di Carate Brianza", "comune"),
      (SEC, "third_sector")],
     12000, "Imprese aderenti", "dipendenti e famiglie", 900, 2022,
     [("Imprese aderenti", 14, "imprese")], []),
    ("Corso per genitori: crescere figli nell'era digitale",
     "Incontri serali per genitori su uso dello smartphone, social e sicurezza in rete dei "
     "figli.",
     "Sei serate con psicologi e polizia postale, con servizio di babysitting.",
     ["scuola-ed-educazione"], ["besana-in-brianza", "giussano"], "conclusa",
     [(FORUM, "association"), ("Istituto comprensivo Besana", "comune")],
     2500, "Regione Lombardia", "genitori di ragazzi 10-16 anni", 230, 2021,
     [("Genitori partecipanti", 230, "persone")], [("seveso", "attiva", None)]),
    ("Trasporto sociale con volontari",
     "Accompagnamento in auto di anziani e persone fragili a visite mediche e terapie.",
     "Prenotazione allo sportello sociale; rimborso chilometrico ai volontari.",
     ["anziani-e-cura", "disabilita"], ["muggio"], "attiva",
     [("Auser Muggiò", "third_sector"), ("Comune di Muggiò", "comune")],
     11000, "Bilancio comunale", "anziani e persone fragili", 160, 2015,
     [("Viaggi in un anno", 2300, "viaggi")], [("brugherio", "attiva", None)]),
    ("Scuola di economia civile per amministratori",
     "Un percorso di formazione per assessori e funzionari dei Comuni della Rete su welfare "
     "generativo e sussidiarietà.",
     "Quattro moduli residenziali con casi studio dei Comuni della Rete.",
     ["partecipazione"], ["seveso", "besana-in-brianza", "brugherio", "giussano"], "conclusa",
     [(SEC, "third_sector"), (FORUM, "association")],
     8000, "Quote dei Comuni", "amministratori e funzionari", 45, 2017,
     [("Partecipanti", 45, "persone")], []),
    ("Casa dei papà separati",
     "Alloggi temporanei a canone calmierato per padri separati in difficoltà, per "
     "continuare a vedere i figli.",
     "Tre appartamenti comunali ristrutturati; permanenza massima 18 mesi.",
     ["casa-e-abitare", "mutuo-aiuto"], ["seveso"], "idea",
     [("Comune di Seveso", "comune"), (FIC, "association")],
     40000, "Da definire", "padri separati con figli minori", None, None, [], []),
    ("Baby pit-stop nei negozi",
     "Negozi e uffici mettono a disposizione uno spazio per allattare e cambiare i bambini, "
     "segnalato da un adesivo.",
     "Adesione gratuita; l'elenco è pubblicato sulla mappa del Comune.",
     ["economia-di-vicinato-e-gaf", "conciliazione-famiglia-lavoro"], ["limbiate"], "attiva",
     [("Comune di Limbiate", "comune"), ("Farmacie comunali", "enterprise")],
     500, "Bilancio comunale", "famiglie con neonati", None, 2020,
     [("Punti attivi", 22, "punti")], [("muggio", "attiva", None), ("giussano", "avvio", None)]),
]


def seed(ctx) -> None:
    """Create the themes and the demo practices, published, with revisions and adoptions."""
    services.ensure_default_themes()
    with current_app.test_request_context("/"):
        _seed(ctx)


def _seed(ctx) -> None:
    rng = ctx.rng
    admin = ctx.users["admin@example.org"]
    officer = ctx.users["comune@example.org"]
    moderator = ctx.users["moderatore@example.org"]
    associations = {a.name: a for a in ctx.associations.values()}
    for n, row in enumerate(PRACTICES):
        (title, summary, body, themes, comuni, status, promoters, cost, funding,
         beneficiaries, count, year, indicators, adoptions) = row
        promoter_rows = []
        for name, kind in promoters:
            association = associations.get(name)
            promoter_rows.append({"name": name, "kind": kind,
                                  "association_id": association.id if association else None,
                                  "role": "capofila" if not promoter_rows else "partner"})
        runs_in = [ctx.comuni[s] for s in comuni]
        author = officer if "seveso" in comuni else moderator if rng.random() < 0.5 else admin
        started = date(year, rng.randint(1, 12), 1) if year else None
        practice = services.create_draft(author, {
            "title": title, "summary": summary, "body": body, "themes": themes,
            "comuni": [c.id for c in runs_in], "status": status, "promoters": promoter_rows,
            "cost_cents": cost * 100 if cost is not None else None, "funding_sources": funding,
            "beneficiaries": beneficiaries, "beneficiaries_count": count, "started_on": started,
            "ended_on": date(year + 2, 6, 30) if status == "conclusa" and year else None,
            "contacts": f"Ufficio servizi sociali di {runs_in[0].name}",
            "owner_comune_id": runs_in[0].id,
        })
        for name, value, unit in indicators:
            services.add_indicator(author, practice, {
                "name": name, "value": value, "unit": unit,
                "measured_on": date(min(ctx.now.year - 1, (year or 2020) + 2), 12, 31)})
        if n == len(PRACTICES) - 1:
            continue  # one draft waiting for publication
        services.publish(admin if "seveso" not in comuni else officer, practice)
        for slug, adoption_status, notes in adoptions:
            adoption = services.declare_adoption(
                admin, practice, ctx.comuni[slug], AdoptionStatus(adoption_status), notes,
                date(min(ctx.now.year, (year or 2020) + rng.randint(1, 4)), rng.randint(1, 12), 1)
                if adoption_status != "valutazione" else None)
            if adoption_status == "attiva" and rng.random() < 0.6:
                services.add_indicator(admin, practice, {
                    "name": indicators[0][0] if indicators else "Famiglie coinvolte",
                    "value": max(1, int((indicators[0][1] if indicators else 20)
                                        * rng.uniform(0.2, 0.6))),
                    "unit": indicators[0][2] if indicators else "famiglie"}, adoption=adoption)
    db.session.flush()
    # Spread creation and publication dates over the years the Rete has existed.
    practices = db.session.scalars(db.select(GoodPractice).order_by(GoodPractice.id)).all()
    for practice in practices:
        started = practice.started_on or date(2022, 1, 1)
        created = ctx.now.replace(year=started.year, month=started.month, day=1) + timedelta(
            days=rng.randint(20, 200))
        created = min(created, ctx.now - timedelta(days=3))
        practice.created_at = created
        practice.updated_at = created + timedelta(days=2)
        if practice.published_at is not None:
            practice.published_at = created + timedelta(days=rng.randint(3, 30))
            practice.published_at = min(practice.published_at, ctx.now - timedelta(days=1))
            practice.first_published_at = practice.published_at
        for revision in db.session.scalars(db.select(PracticeRevision).where(
                PracticeRevision.practice_id == practice.id)):
            revision.created_at = created + timedelta(hours=revision.number)
        if practice.published_at is not None:
            _date_events(ctx, rng, practice)


def _date_events(ctx, rng, practice: GoodPractice) -> None:
    """The practice's publication and its adoptions, in the activity feed and on the adoptions,
    on the days they happened in the demo's history (not all at the moment of seeding)."""
    link = url_for("catalogue.detail", slug=practice.slug)  # as services.publish records it
    events = db.session.scalars(db.select(Activity).where(
        Activity.link == link, Activity.kind.in_(("practice.published", "practice.adopted")))).all()
    adoptions = {a.comune_id: a for a in db.session.scalars(
        db.select(Adoption).where(Adoption.practice_id == practice.id))}
    for event in events:
        if event.kind == "practice.published":
            event.at = practice.first_published_at
            continue
        adoption = adoptions.get(event.comune_id)
        at = practice.first_published_at + timedelta(days=rng.randint(20, 400))
        if adoption is not None and adoption.started_on is not None:
            at = max(at, ctx.now.replace(year=adoption.started_on.year,
                                         month=adoption.started_on.month, day=1)
                     - timedelta(days=rng.randint(10, 60)))
        event.at = min(at, ctx.now - timedelta(days=rng.randint(1, 20)))
        if adoption is not None:
            adoption.created_at = adoption.updated_at = event.at
