"""The catalogue at scale: 100,000 good practices with their themes, Comuni, promoters,
indicators, revisions and adoptions, and the database's full-text index of them.

Texts are assembled from Italian phrases of the domain, so that words are spread as in real
entries (a few very common ones like "famiglie", many rare ones). The search index holds what
`portal.catalogue.search.index` would write for each published practice (its `document`, with
the portal's analyzer on SQLite, PostgreSQL's `italian_unaccent` configuration there), filled
in bulk.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from functools import cache

from sqlalchemy import text

from bench.context import Context, Target
from portal.catalogue.models import FTS_TABLE
from portal.catalogue.search import PG_CONFIG, html_to_text, sort_key, stem, words
from portal.catalogue.services import render_markdown
from portal.network.services import slugify

ORDER = 10
SCALE = {"practices": 100_000}
SMALL_SCALE = {"practices": 3_000}
CHUNK = 5_000

KINDS = [
    "Doposcuola solidale", "Banca del tempo", "Pedibus casa-scuola", "Gruppo di acquisto "
    "familiare", "Family Card", "Fattore Famiglia comunale", "Spazio compiti",
    "Nonni civici", "Laboratorio di comunità", "Patto generativo", "Famiglia Portavalori",
    "Custodi sociali", "Orti condivisi", "Emporio solidale", "Sportello casa",
    "Nido condiviso", "Centro estivo inclusivo", "Trasporto sociale", "Consulta delle famiglie",
    "Bilancio partecipativo", "Baby pit-stop", "Corso per genitori", "Voucher sport",
    "Ludoteca di quartiere", "Biblioteca degli oggetti", "Sabati di sollievo",
    "Welfare aziendale", "Mensa a tariffa agevolata", "Scuola di italiano per mamme",
    "Cortile aperto", "Gruppo di cammino", "Sportello lavoro per genitori",
    "Portierato sociale", "Condominio solidale", "Festa delle famiglie", "Caffè alzheimer",
    "Tutor per lo studio", "Microcredito familiare", "Prestito libri scolastici",
    "Centro per la famiglia",
]
QUALIFIERS = ["", "di quartiere", "intergenerazionale", "per famiglie numerose", "in rete",
              "estivo", "per i più piccoli", "per anziani soli", "per giovani coppie",
              "solidale", "del sabato", "in biblioteca", "in oratorio", "digitale"]
SUMMARIES = [
    "Famiglie e volontari si organizzano per {what} con il sostegno del Comune.",
    "Un servizio leggero che aiuta le famiglie a conciliare lavoro e cura dei figli.",
    "Le associazioni familiari co-progettano con il Comune {what} per il quartiere.",
    "Pensionati, genitori e ragazzi si scambiano tempo e competenze.",
    "Un punto di incontro dove le famiglie trovano ascolto, informazioni e aiuto reciproco.",
    "Tariffe calcolate con il Fattore Famiglia per non penalizzare i figli a carico.",
    "Le imprese del territorio sostengono {what} con sconti e risorse.",
    "Bambini e ragazzi seguiti da educatori e volontari nel pomeriggio.",
    "Un'esperienza nata da una proposta delle famiglie e votata dalla comunità.",
    "Anziani soli accompagnati da vicini e volontari nella vita quotidiana.",
]
WHAT = ["i compiti pomeridiani", "la spesa settimanale", "il tragitto casa-scuola",
        "le attività estive", "la cura degli anziani", "gli spazi comuni", "l'orto",
        "il prestito di oggetti", "lo sport dei ragazzi", "l'accoglienza dei nuovi arrivati"]
SENTENCES = [
    "Il progetto coinvolge le famiglie del quartiere in ogni fase, dalla scelta degli orari "
    "alla verifica dei risultati.",
    "I volontari sono formati e assicurati dal Comune.",
    "Le scuole mettono a disposizione le aule nel pomeriggio.",
    "L'associazione capofila coordina i turni e tiene i contatti con le famiglie.",
    "Una quota degli acquisti alimenta il fondo solidale della Rete.",
    "Il Fattore Famiglia permette di ridurre le tariffe alle famiglie numerose.",
    "Gli esercizi convenzionati riconoscono uno sconto ai titolari della Family Card.",
    "Il tavolo comunale ha seguito la co-progettazione con le associazioni.",
    "I nonni civici garantiscono la sicurezza all'ingresso delle scuole.",
    "Gli educatori seguono i ragazzi con disabilità insieme ai compagni.",
    "Le famiglie si alternano nell'organizzazione delle consegne settimanali.",
    "La biblioteca ospita gli incontri serali per i genitori.",
    "I produttori locali consegnano frutta e verdura di stagione.",
    "Gli anziani soli ricevono una telefonata settimanale durante l'estate.",
    "L'oratorio accoglie i bambini della primaria due pomeriggi alla settimana.",
    "I ragazzi delle superiori aiutano nei compiti e ottengono crediti scolastici.",
    "Il Comune ha approvato un regolamento che riconosce il patto di collaborazione.",
    "Le imprese del distretto offrono servizi di welfare aperti alle famiglie.",
    "La cooperativa sociale mette a disposizione un'educatrice qualificata.",
    "Il laboratorio di comunità raccoglie i bisogni e attiva le risorse del territorio.",
    "Le famiglie sostenute restituiscono tempo alla comunità con un patto generativo.",
    "Gli spazi del centro civico sono aperti il sabato mattina.",
    "La banca del tempo registra gli scambi di ore tra gli iscritti.",
    "Il pedibus ha quattro linee con fermate e orari stabiliti.",
    "Il trasporto sociale accompagna gli anziani alle visite mediche.",
    "L'emporio solidale distribuisce prodotti con una tessera a punti.",
    "I genitori hanno chiesto più posti al nido e orari flessibili.",
    "La consulta delle famiglie esprime pareri sugli atti del Comune.",
    "Il bilancio partecipativo destina una quota delle risorse ai progetti votati.",
    "Le associazioni sportive accolgono i ragazzi con un voucher comunale.",
    "Il corso per genitori affronta l'uso di smartphone e social.",
    "Il portierato sociale aiuta gli inquilini delle case popolari.",
    "Il condominio solidale condivide una lavanderia e una sala comune.",
    "Le mamme straniere imparano l'italiano mentre i bambini giocano.",
    "La festa delle famiglie chiude l'anno con giochi e laboratori.",
    "I tutor accompagnano gli studenti fragili fino all'esame.",
    "Il microcredito aiuta le famiglie a superare una spesa imprevista.",
    "Il prestito dei libri scolastici riduce le spese di settembre.",
    "Il caffè alzheimer offre sollievo a chi assiste un familiare malato.",
    "Il gruppo di cammino parte ogni mattina dalla piazza del mercato.",
    "La ludoteca presta giochi educativi alle famiglie con bambini piccoli.",
    "Il centro estivo inclusivo garantisce un educatore di sostegno.",
    "Le giovani coppie trovano casa a canone concordato con la garanzia del Comune.",
    "La mensa scolastica applica tariffe agevolate in base al numero dei figli.",
    "Il welfare aziendale di territorio mette in rete piccole imprese e artigiani.",
    "I risultati sono stati presentati al tavolo intercomunale della Rete.",
    "Altri Comuni della Rete hanno chiesto di adottare la pratica.",
    "La Fondazione Cariplo ha cofinanziato il primo triennio.",
    "Regione Lombardia ha riconosciuto il progetto tra le buone pratiche di conciliazione.",
    "La sussidiarietà circolare unisce Comune, associazioni e imprese.",
]
STATUSES = ["attiva"] * 6 + ["sperimentazione"] * 2 + ["conclusa", "idea"]
PROMOTER_KINDS = ["comune", "association", "third_sector", "enterprise"]
ADOPTION_STATUSES = ["valutazione", "avvio", "attiva", "attiva", "abbandonata"]
#: queries of the search targets: common and rare words, one or two words
QUERIES = ["doposcuola", "banca del tempo", "pedibus", "famiglie numerose", "nonni civici",
           "anziani soli", "gruppo di acquisto", "spazio compiti", "orti condivisi",
           "tariffe agevolate"]


def _body(rng) -> str:
    paragraphs = []
    for _ in range(rng.randint(2, 3)):
        paragraphs.append(" ".join(rng.sample(SENTENCES, rng.randint(2, 3))))
    return "\n\n".join(paragraphs)


@cache
def _stem(word: str) -> str:
    return stem(word)  # the generated texts reuse a small vocabulary: stem each word once


def _analyzed(part: str) -> str:
    """`portal.catalogue.search.analyze`, with the stems kept for the generator's run."""
    return " ".join(_stem(w) for w in words(part))


def _index(ctx: Context, documents: list[dict]) -> None:
    """Fill the full-text index with these documents (id, title, tags, summary, body)."""
    if ctx.dialect == "postgresql":
        ctx.conn.execute(text("CREATE TEMPORARY TABLE IF NOT EXISTS bench_practice_documents "
                              "(id integer PRIMARY KEY, title text, tags text, summary text, "
                              "body text)"))
        ctx.bulk_insert("bench_practice_documents", documents)
        vector = " || ".join(f"setweight(to_tsvector('{PG_CONFIG}', d.{part}), '{weight}')"
                             for part, weight in zip(("title", "tags", "summary", "body"),
                                                     "ABCD", strict=True))
        ctx.conn.execute(text(f"UPDATE good_practices SET search_vector = {vector} "
                              "FROM bench_practice_documents d WHERE d.id = good_practices.id"))
        ctx.conn.execute(text("TRUNCATE bench_practice_documents"))
        return
    ctx.bulk_insert(FTS_TABLE, [
        {"rowid": d["id"], **{part: _analyzed(d[part])
                              for part in ("title", "tags", "summary", "body")}}
        for d in documents])


def generate(ctx: Context) -> None:
    rng, now = ctx.rng, ctx.now
    n = ctx.scale["practices"]
    comuni = ctx.ids["comuni"]
    slugs = ctx.ids["comune_slugs"]
    # Most practices come from the first Comuni of the list (the Brianza core of the Rete).
    weights = [1.0 / (1 + i / 40) for i in range(len(comuni))]
    themes_in_order = ctx.conn.execute(text(
        "SELECT id, name FROM themes ORDER BY position, name")).all()
    if not themes_in_order:
        raise SystemExit("no themes: migration 0002 seeds them")
    theme_ids = sorted(t.id for t in themes_in_order)
    theme_rank = {t.id: i for i, t in enumerate(themes_in_order)}
    theme_name = {t.id: t.name for t in themes_in_order}
    officers = ctx.ids.get("users", {}).get("officers", {})
    coordinator = ctx.ids.get("users", {}).get("coordinator")
    associations = ctx.ids.get("associations", [])
    first = ctx.next_id("good_practices", n)
    published_ids: list[int] = []
    slug_seen: Counter[str] = Counter()
    adoptions_made = 0

    for start in range(0, n, CHUNK):
        practices, themes, places, promoters, documents = [], [], [], [], []
        indicators, revisions, adoptions = [], [], []
        for pid in range(first + start, first + min(start + CHUNK, n)):
            kind = rng.choice(KINDS)
            runs_in = list(dict.fromkeys(rng.choices(comuni, weights, k=rng.randint(1, 2))))
            home = runs_in[0]
            title = f"{kind} {rng.choice(QUALIFIERS)}".strip() + f" a {_name(slugs[home])}"
            base = slugify(title)[:120]
            slug_seen[base] += 1
            slug = base if slug_seen[base] == 1 else f"{base}-{slug_seen[base]}"
            summary = rng.choice(SUMMARIES).format(what=rng.choice(WHAT))
            body = _body(rng)
            body_html = render_markdown(body)
            status = rng.choice(STATUSES)
            created = now - timedelta(days=rng.randint(1, 3600), minutes=rng.randint(0, 1440))
            published = rng.random() < 0.97
            published_at = created + timedelta(days=rng.randint(1, 20)) if published else None
            if published_at and published_at > now:
                published_at = now - timedelta(minutes=rng.randint(1, 500))
            author = officers.get(home) or coordinator
            practices.append({
                "id": pid, "slug": slug, "title": title, "title_key": sort_key(title),
                "summary": summary, "body": body, "body_html": body_html, "status": status,
                "started_on": created.date(), "ended_on": None,
                "beneficiaries": "famiglie residenti", "beneficiaries_count": rng.randint(10, 900),
                "cost_cents": rng.randint(0, 5000) * 1000, "funding_sources": "Bilancio comunale",
                "contacts": "Ufficio servizi sociali", "owner_comune_id": home,
                "owner_association_id": None, "origin_label": None, "origin_url": None,
                "created_at": created, "updated_at": created, "created_by_id": author,
                "published_at": published_at, "first_published_at": published_at,
                "published_by_id": author if published else None,
                "adoption_count": 0, "revision_count": 1,
            })
            chosen_themes = rng.sample(theme_ids, rng.randint(1, 3))
            themes += [{"practice_id": pid, "theme_id": t} for t in chosen_themes]
            places += [{"practice_id": pid, "comune_id": c} for c in runs_in]
            kinds = {"comune"} | set(rng.sample(PROMOTER_KINDS[1:], rng.randint(0, 2)))
            promoter_names = []
            for k in sorted(kinds):
                promoter_names.append(
                    f"Comune di {_name(slugs[home])}" if k == "comune" else
                    f"{'Associazione' if k != 'enterprise' else 'Impresa'} {rng.randint(1, 999)}")
                promoters.append({
                    "id": ctx.next_id("practice_promoters"), "practice_id": pid,
                    "name": promoter_names[-1],
                    "kind": k, "role": None, "comune_id": home if k == "comune" else None,
                    "association_id": rng.choice(associations)
                    if k == "association" and associations else None})
            indicators.append({"id": ctx.next_id("practice_indicators"), "practice_id": pid,
                               "adoption_id": None, "name": "Famiglie coinvolte",
                               "value": float(rng.randint(5, 500)), "unit": "famiglie",
                               "measured_on": created.date()})
            revisions.append({"id": ctx.next_id("practice_revisions"), "practice_id": pid,
                              "number": 1, "created_at": created, "author_id": author,
                              "note": "Bozza creata",
                              "snapshot": _json({"title": title})})
            if not published:
                continue
            published_ids.append(pid)
            # search.document(practice): themes in their order, then promoters by id
            tags = [theme_name[t] for t in sorted(chosen_themes, key=theme_rank.__getitem__)]
            documents.append({"id": pid, "title": title,
                              "tags": " ".join(tags + promoter_names), "summary": summary,
                              "body": html_to_text(body_html)})
            # Adoptions: most practices have none, a few are adopted widely.
            widely = rng.random() < 0.45
            n_adopt = min(40, int(rng.paretovariate(1.6)) - 1) if widely else 0
            adopters = [c for c in rng.sample(comuni, n_adopt) if c not in runs_in]
            active = 0
            for c in adopters:
                status_a = rng.choice(ADOPTION_STATUSES)
                active += status_a != "abbandonata"
                adoptions.append({
                    "id": ctx.next_id("practice_adoptions"), "practice_id": pid, "comune_id": c,
                    "status": status_a, "notes": None, "started_on": None,
                    "declared_by_id": officers.get(c) or coordinator,
                    "created_at": published_at, "updated_at": published_at})
            practices[-1]["adoption_count"] = active
            adoptions_made += len(adopters)
        ctx.bulk_insert("good_practices", practices)
        ctx.bulk_insert("practice_themes", themes)
        ctx.bulk_insert("practice_comuni", places)
        ctx.bulk_insert("practice_promoters", promoters)
        ctx.bulk_insert("practice_indicators", indicators)
        ctx.bulk_insert("practice_revisions", revisions)
        ctx.bulk_insert("practice_adoptions", adoptions)
        _index(ctx, documents)
    # Planner statistics, as a production database would have them.
    ctx.conn.execute(text("ANALYZE"))
    ctx.ids["practices"] = published_ids
    print(f"  catalogue: {n} practices ({len(published_ids)} published), "
          f"{adoptions_made} adoptions", flush=True)


def _name(slug: str) -> str:
    return slug.replace("-", " ").title()


def _json(value: str) -> str:
    import json

    return json.dumps(value)


def targets(ctx: Context) -> list[Target]:
    ids = ctx.ids.get("practices") or [r[0] for r in ctx.conn.execute(text(
        "SELECT id FROM good_practices WHERE published_at IS NOT NULL ORDER BY id"))]
    step = max(1, len(ids) // 300)
    sample = ids[::step][:300]
    rows = ctx.conn.execute(text("SELECT id, slug FROM good_practices")).all()
    slug_of = {r.id: r.slug for r in rows}
    comune = ctx.conn.execute(text(
        "SELECT c.slug FROM practice_comuni pc JOIN comuni c ON c.id = pc.comune_id "
        "GROUP BY c.slug ORDER BY count(*) DESC, c.slug LIMIT 1")).scalar()
    queries = [q.replace(" ", "+") for q in QUERIES]
    return [
        Target("catalogue list", "/pratiche"),
        Target("catalogue search", "/pratiche?q=doposcuola",
               variants=[(f"/pratiche?q={q}", None) for q in queries]),
        Target("catalogue faceted search",
               "/pratiche?q=famiglie&tema=scuola-ed-educazione&stato=attiva",
               variants=[(f"/pratiche?q={q}&tema=mutuo-aiuto&stato=attiva", None)
                         for q in queries]),
        # two common words that rarely meet a common theme and status: every posting of the
        # rarer word is examined (the slowest variants of the target above)
        Target("catalogue faceted search, rare match",
               "/pratiche?q=spazio+compiti&tema=mutuo-aiuto&stato=attiva",
               variants=[(f"/pratiche?q={q}&tema=mutuo-aiuto&stato=attiva", None)
                         for q in ("spazio+compiti", "gruppo+di+acquisto")]),
        Target("catalogue live search (htmx)", "/pratiche?q=banca+del+tempo",
               headers={"HX-Request": "true"}),
        Target("catalogue filters", f"/pratiche?tema=mutuo-aiuto&comune={comune}"),
        Target("catalogue most adopted", "/pratiche?ordina=adopted"),
        Target("catalogue deep page", "/pratiche?pagina=50"),
        Target("catalogue detail", f"/pratiche/{slug_of[sample[0]]}",
               variants=[(f"/pratiche/{slug_of[i]}", None) for i in sample]),
        Target("catalogue api", "/api/v1/pratiche?q=pedibus"),
        Target("catalogue api detail", f"/api/v1/pratiche/{sample[0]}",
               variants=[(f"/api/v1/pratiche/{i}", None) for i in sample]),
    ]
