"""Searching the catalogue: Italian stemming, accents, facets, sorting, paging, hostile input."""

from __future__ import annotations

import re

import pytest

from portal.catalogue import search
from tests.conftest import login


def titles(html: str) -> list[str]:
    """The practice titles listed on a results page, in order."""
    return re.findall(r'<h3 class="h5 mb-1"><a href="/pratiche/[^"]+">([^<]+)</a>', html)


def test_plural_finds_singular_through_the_italian_stemmer(client, practices):
    """'famiglie' finds a practice that says 'famiglia', and 'scolastici' one saying
    'scolastico': words are reduced to their Italian stem on both sides."""
    practices.make(title="Sostegno alla famiglia numerosa", summary="Tariffe ridotte.")
    practices.make(title="Trasporto scolastico gratuito", summary="Per la primaria.")
    practices.make(title="Orti condivisi", summary="Verdura per tutti.")
    assert titles(client.get("/pratiche?q=famiglie").get_data(as_text=True)) == [
        "Sostegno alla famiglia numerosa"]
    assert titles(client.get("/pratiche?q=scolastici").get_data(as_text=True)) == [
        "Trasporto scolastico gratuito"]


def test_accents_and_capitals_are_ignored(client, practices):
    """'citta' finds 'città', 'ATTIVITÀ' finds 'attività' and 'perche' finds 'perché'."""
    practices.make(title="Una città amica dei bambini", summary="Attività nei parchi, perché "
                                                               "giocare è un diritto.")
    for q in ("citta", "CITTÀ", "attivita", "ATTIVITÀ", "perche"):
        assert titles(client.get(f"/pratiche?q={q}").get_data(as_text=True)) == [
            "Una città amica dei bambini"], q


def test_practices_with_every_word_come_first(client, practices):
    """Several words find the practices holding any of them, those holding all of them
    first."""
    practices.make(title="Tempo libero per i caregiver", summary="Sabati di sollievo.")
    practices.make(title="Banca del tempo", summary="Scambio di ore tra vicini.")
    practices.make(title="Orti condivisi", summary="Verdura per tutti.")
    assert titles(client.get("/pratiche?q=banca+tempo").get_data(as_text=True)) == [
        "Banca del tempo", "Tempo libero per i caregiver"]
    assert len(titles(client.get("/pratiche?q=tempo").get_data(as_text=True))) == 2


def test_theme_names_and_promoters_are_searchable(client, practices):
    """"mutuo aiuto" finds the practices of the theme Mutuo aiuto; a promoter's name (a
    Comune, an association) finds its practices; "asili nido" finds a practice about a
    "nido" even without "asili"."""
    practices.make(title="Banca del tempo", summary="Scambio di ore tra vicini.",
                   themes=["mutuo-aiuto"])
    practices.make(title="Nido condiviso tra famiglie", summary="Genitori a turno.",
                   promoters=[("Associazione Genitori Insieme", "association")])
    practices.make(title="Orti", summary="Verdura per tutti.",
                   promoters=[("Comune di Seveso", "comune")])
    assert titles(client.get("/pratiche?q=mutuo+aiuto").get_data(as_text=True)) == [
        "Banca del tempo"]
    assert titles(client.get("/pratiche?q=asili+nido").get_data(as_text=True)) == [
        "Nido condiviso tra famiglie"]
    assert titles(client.get("/pratiche?q=seveso").get_data(as_text=True)) == ["Orti"]
    assert titles(client.get("/pratiche?q=associazione+genitori").get_data(as_text=True)) == [
        "Nido condiviso tra famiglie"]


def test_a_word_being_typed_matches_as_a_prefix(client, practices):
    """While typing, 'doposc' already finds 'doposcuola' (live search)."""
    practices.make(title="Doposcuola solidale", summary="Compiti con i volontari.")
    assert titles(client.get("/pratiche?q=doposc").get_data(as_text=True)) == [
        "Doposcuola solidale"]


def test_title_weighs_more_than_body(client, practices):
    """With relevance, a practice naming the word in its title comes before one that only
    mentions it in the body."""
    practices.make(title="Orti condivisi", summary="Coltivare insieme.",
                   body="Accanto al pedibus della scuola.")
    practices.make(title="Pedibus della scuola primaria", summary="A piedi.")
    assert titles(client.get("/pratiche?q=pedibus").get_data(as_text=True)) == [
        "Pedibus della scuola primaria", "Orti condivisi"]


def test_drafts_are_not_found_and_edits_are(client, practices, app):
    """Only published practices are searchable; an edit is searchable at once; a practice
    taken back to draft disappears."""
    from portal.catalogue import services
    from portal.extensions import db

    practices.make(title="Nonni civici", summary="Davanti alle scuole.", published=False)
    assert titles(client.get("/pratiche?q=nonni").get_data(as_text=True)) == []
    p = practices.make(title="Custodi sociali", summary="Visite agli anziani.")
    with app.test_request_context("/"):
        p = db.session.merge(p)
        services.update_practice(practices.admin, p, {"summary": "Visite ai nonni soli."})
        db.session.commit()
    assert titles(client.get("/pratiche?q=nonni").get_data(as_text=True)) == ["Custodi sociali"]
    with app.test_request_context("/"):
        services.unpublish(practices.admin, db.session.merge(p))
        db.session.commit()
    assert titles(client.get("/pratiche?q=nonni").get_data(as_text=True)) == []
    assert "0 buone pratiche trovate" in client.get("/pratiche").get_data(as_text=True)


def test_empty_results_say_so(client, practices):
    """A search with no match answers 200 with a clear message, not an error."""
    practices.make()
    page = client.get("/pratiche?q=astronavi")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Nessuna buona pratica corrisponde alla ricerca" in html
    assert "0 buone pratiche trovate" in html


def test_only_stopwords_find_nothing(client, practices):
    """A query made only of words like 'di' or 'per' matches nothing rather than everything."""
    practices.make()
    assert titles(client.get("/pratiche?q=di+per+il").get_data(as_text=True)) == []


@pytest.mark.parametrize("q", ["' OR 1=1 --", "%", "_", "%25", "\\", "'); DROP TABLE x; --",
                               "a" * 10_000, "x%00y", "<script>alert(1)</script>",
                               "ﬁ ǅ \u202e", "🙂" * 50])
def test_hostile_queries_never_break_the_page(client, practices, q):
    """SQL-looking text, LIKE wildcards, huge and odd input: 200 or 400, never 500, and
    never 'everything'."""
    practices.make(title="Pedibus", summary="A piedi.")
    for path in ("/pratiche", "/pratiche.csv", "/api/v1/pratiche"):
        response = client.get(path, query_string={"q": q})
        assert response.status_code in (200, 400), (path, q, response.status_code)
        if response.status_code == 200 and path == "/pratiche":
            assert titles(response.get_data(as_text=True)) == []
    assert client.htmx("/pratiche", query_string={"q": q}).status_code in (200, 400)


def test_too_long_query_is_explained(client, practices):
    """A 10,000-character query gets 400 with a message saying how long it may be."""
    response = client.get("/pratiche", query_string={"q": "parola " * 1500})
    assert response.status_code == 400
    assert "troppo lunga" in response.get_data(as_text=True)


@pytest.mark.parametrize("page", ["abc", "0", "-1", "51", "1e3", "99999999999999999999"])
def test_bad_page_numbers_are_refused(client, practices, page):
    """A page that is not a number or is past the last one allowed gets 400, not 500."""
    practices.make()
    assert client.get(f"/pratiche?pagina={page}").status_code == 400
    assert client.get(f"/api/v1/pratiche?pagina={page}").status_code == 400


def test_unknown_filters_match_nothing(client, practices):
    """A theme, Comune, status or kind that does not exist gives an empty list, not an error."""
    practices.make()
    for args in ("tema=nessuno", "comune=atlantide", "stato=boh", "promotore=%27"):
        response = client.get(f"/pratiche?{args}")
        assert response.status_code == 200
        assert titles(response.get_data(as_text=True)) == []


def test_facets_combine_and_count(client, practices, factory):
    """Theme, Comune, status and promoter kind filter together; each facet counts the
    practices the other chosen filters leave, so its other values stay choosable."""
    seveso, giussano = factory.comune("Seveso"), factory.comune("Giussano")
    practices.make(title="Alfa", themes=["mutuo-aiuto"], comuni=[seveso], status="attiva",
                   promoters=[("Comune di Seveso", "comune")])
    practices.make(title="Beta", themes=["mutuo-aiuto", "partecipazione"], comuni=[giussano],
                   status="attiva", promoters=[("Coop", "enterprise")])
    practices.make(title="Gamma", themes=["partecipazione"], comuni=[seveso],
                   status="idea", promoters=[("AFI", "association")])

    html = client.get("/pratiche?tema=mutuo-aiuto&comune=seveso").get_data(as_text=True)
    assert titles(html) == ["Alfa"]
    html = client.get("/pratiche?tema=partecipazione&stato=idea").get_data(as_text=True)
    assert titles(html) == ["Gamma"]
    html = client.get("/pratiche?tema=mutuo-aiuto&promotore=enterprise").get_data(as_text=True)
    assert titles(html) == ["Beta"]

    mutuo, partecipazione = _theme_id("mutuo-aiuto"), _theme_id("partecipazione")
    # one filter: counts within its results (from the stored pair counts)
    counts = search.find(search.Search(theme=mutuo)).facets
    assert dict(counts["c"]) == {str(seveso.id): 1, str(giussano.id): 1}
    assert dict(counts["t"]) == {str(mutuo): 2, str(partecipazione): 1}
    assert dict(counts["s"]) == {"attiva": 2}
    assert dict(counts["k"]) == {"comune": 1, "enterprise": 1}
    # two filters: counted over the practices carrying both
    counts = search.find(search.Search(theme=partecipazione, comune=seveso.id)).facets
    assert dict(counts["s"]) == {"idea": 1} and dict(counts["k"]) == {"association": 1}
    # with text as well
    result = search.find(search.Search(q="gamma", comune=seveso.id))
    assert result.total == 1 and dict(result.facets["s"]) == {"idea": 1}
    # the page shows the counts next to each value
    html = client.get("/pratiche?tema=mutuo-aiuto").get_data(as_text=True)
    assert re.search(r"Giussano <span[^>]*>1</span>", html)


def _theme_id(slug: str) -> int:
    from portal.catalogue.models import Theme
    from portal.extensions import db

    return db.session.scalar(db.select(Theme.id).where(Theme.slug == slug))


def test_the_counts_a_page_shows_follow_each_save_at_once(client, practices, factory):
    """The whole catalogue's and a single filter's counts are kept by each worker until the
    next write: a practice published, or moved to another theme, shows in them on the next
    visit."""
    practices.make(title="Alfa", themes=["mutuo-aiuto"])
    assert "1 buona pratica trovata" in client.get("/pratiche").get_data(as_text=True)
    mutual = client.get("/pratiche?tema=mutuo-aiuto").get_data(as_text=True)
    assert "1 buona pratica trovata" in mutual
    beta = practices.make(title="Beta", themes=["mutuo-aiuto"])
    assert "2 buone pratiche trovate" in client.get("/pratiche").get_data(as_text=True)
    assert "2 buone pratiche trovate" in client.get("/pratiche?tema=mutuo-aiuto").get_data(
        as_text=True)
    from portal.catalogue import services
    from portal.extensions import db

    with practices.app.test_request_context("/"):
        services.update_practice(practices.admin, db.session.merge(beta),
                                 {"themes": ["partecipazione"]})
        db.session.commit()
    assert "1 buona pratica trovata" in client.get("/pratiche?tema=mutuo-aiuto").get_data(
        as_text=True)
    assert titles(client.get("/pratiche?tema=partecipazione").get_data(as_text=True)) == [
        "Beta"]


def test_sort_orders(client, practices, factory):
    """Sorting by title, newest and most adopted gives the expected order."""
    c1, c2 = factory.comune(), factory.comune()
    b = practices.make(title="Banca del tempo")
    practices.make(title="Àsilo condiviso")
    c = practices.make(title="Custodi sociali")
    practices.adopt(c, c1)
    practices.adopt(c, c2)
    practices.adopt(b, c1)
    assert titles(client.get("/pratiche?ordina=title").get_data(as_text=True)) == [
        "Àsilo condiviso", "Banca del tempo", "Custodi sociali"]
    assert titles(client.get("/pratiche?ordina=newest").get_data(as_text=True)) == [
        "Custodi sociali", "Àsilo condiviso", "Banca del tempo"]
    assert titles(client.get("/pratiche?ordina=adopted").get_data(as_text=True))[:2] == [
        "Custodi sociali", "Banca del tempo"]
    # an unknown sort falls back to the default
    assert client.get("/pratiche?ordina=%27;--").status_code == 200


def test_pages_follow_each_other(client, practices, factory):
    """Page 2 continues page 1 without repeating, and the pager links to it."""
    comune = factory.comune()
    for i in range(25):
        practices.make(title=f"Pratica {i:02d}", comuni=[comune])
    first = client.get("/pratiche?ordina=title").get_data(as_text=True)
    assert 'href="/pratiche?ordina=title&amp;pagina=2"' in first
    second = client.get("/pratiche?ordina=title&pagina=2").get_data(as_text=True)
    assert titles(first) + titles(second) == [f"Pratica {i:02d}" for i in range(25)]


def test_htmx_gets_the_results_partial(client, practices):
    """Live search: an htmx request gets only the results (with the live status for screen
    readers), a normal request the whole page; both vary on HX-Request."""
    practices.make(title="Pedibus")
    partial = client.htmx("/pratiche?q=pedibus")
    html = partial.get_data(as_text=True)
    assert partial.status_code == 200
    assert "<html" not in html and titles(html) == ["Pedibus"]
    assert 'id="search-status"' in html and 'hx-swap-oob="true"' in html
    assert "HX-Request" in partial.headers.get("Vary", "")
    full = client.get("/pratiche?q=pedibus").get_data(as_text=True)
    assert "<html" in full and titles(full) == ["Pedibus"]
    assert 'hx-trigger="input changed delay:300ms, search"' in full
    assert 'hx-push-url="true"' in full
    # the open-data links follow the search, inside the results, once
    assert full.count("Dati aperti") == 1 and html.count("Dati aperti") == 1


def test_live_search_shows_the_search_own_address(client, practices, factory):
    """The live search sends the whole form, the empty sort too; the address bar shows the
    search without empty arguments, and no link of the list carries one."""
    giussano = factory.comune("Giussano")
    practices.make(title="Pedibus", summary="A scuola a piedi.", comuni=[giussano])
    partial = client.htmx("/pratiche?q=scuola&ordina=&comune=giussano&stato=")
    assert partial.headers["HX-Push-Url"] == "/pratiche?q=scuola&comune=giussano"
    html = partial.get_data(as_text=True)
    links = re.findall(r'href="(/pratiche[^"]*)"', html)
    assert "/pratiche?q=scuola" in links  # Giussano chosen: its link takes it away
    assert not [link for link in links if re.search(r"=(&|$)", link)]
    paged = client.htmx("/pratiche?q=&ordina=title&pagina=1")
    assert paged.headers["HX-Push-Url"] == "/pratiche?ordina=title"
    paged = client.htmx("/pratiche?q=&ordina=title&pagina=2")
    assert paged.headers["HX-Push-Url"] == "/pratiche?ordina=title&pagina=2"


def test_analyzer_is_the_same_for_documents_and_queries():
    """The analyzer folds accents before stemming, so accented and plain spellings meet; like
    PostgreSQL, it looks stopwords up once the accents are gone ("è" is "e", a stopword;
    "più" becomes "piu", which is not one)."""
    assert search.stem("citta") == search.stem(search.words("Città")[0])
    assert search.words("Perché l'attività è più bella") == ["perche", "attivita", "piu",
                                                             "bella"]
    assert search.sort_key("Àsilo, nido!") == "asilonido"


def test_a_word_being_typed_finds_its_completions(client, practices):
    """'fam' finds 'famiglie' and 'familiari' wherever they are; the practices naming them in
    their title come first."""
    practices.make(title="Sportello", summary="Per i familiari di chi assiste.")
    practices.make(title="Famiglie in rete", summary="Un servizio.")
    practices.make(title="Orti", summary="Un orto.", body="Aperto alle famiglie.")
    practices.make(title="Familiari insieme", summary="Un gruppo.")
    found = titles(client.get("/pratiche?q=fam").get_data(as_text=True))
    assert set(found[:2]) == {"Familiari insieme", "Famiglie in rete"}
    assert set(found[2:]) == {"Sportello", "Orti"}


#: A small catalogue and what each query finds in it: the same on SQLite (FTS5) and
#: PostgreSQL (tsvector), since every test runs on both.
SAME_EVERYWHERE = {
    "famiglie": {"Nido condiviso tra famiglie", "Tariffe ridotte per famiglie numerose"},
    "mutuo aiuto": {"Banca del tempo"},
    "asili nido": {"Nido condiviso tra famiglie"},
    "CITTÀ": {"Città amica degli anziani"},
    "citta": {"Città amica degli anziani"},
    "attivita": {"Città amica degli anziani"},
    "perche": {"Città amica degli anziani"},
    "più piccoli": {"Nido condiviso tra famiglie"},
    "scuola": {"Pedibus casa-scuola"},
    "nonni bambini": {"Pedibus casa-scuola"},
    "volont": {"Pedibus casa-scuola"},
    "seveso": {"Banca del tempo"},
    "legambiente": {"Orti sociali"},
    "orti comune": {"Orti sociali", "Banca del tempo"},
    "anziani cura": {"Città amica degli anziani", "Nido condiviso tra famiglie"},
    "tempo": {"Banca del tempo", "Orti sociali"},
    "fattore famiglia": {"Tariffe ridotte per famiglie numerose", "Nido condiviso tra famiglie"},
    "aziendale": set(),
    "astronave": set(),
    "di per il": set(),
}


def test_the_same_words_find_the_same_practices_on_every_database(client, practices):
    for title, summary, body, themes, promoters in (
        ("Nido condiviso tra famiglie", "Genitori che si alternano nella cura dei più "
         "piccoli.", "", ["conciliazione-famiglia-lavoro"],
         [("Associazione Famiglie Insieme", "association")]),
        ("Banca del tempo", "Scambio di ore di aiuto tra vicini.", "", ["mutuo-aiuto"],
         [("Comune di Seveso", "comune")]),
        ("Pedibus casa-scuola", "Bambini a scuola a piedi con i nonni volontari.", "",
         ["scuola-ed-educazione"], [("Cartoleria Riva", "enterprise")]),
        ("Città amica degli anziani", "Attività di compagnia e spesa a domicilio.",
         "Perché nessuno resti **solo**: telefonate settimanali.", ["anziani-e-cura"], []),
        ("Orti sociali", "Coltivare insieme la terra del Comune.", "",
         ["tempo-libero-e-sport"], [("Legambiente Brianza", "third_sector")]),
        ("Tariffe ridotte per famiglie numerose", "Il Fattore Famiglia applicato ai servizi.",
         "", ["tariffe-e-fattore-famiglia"], []),
    ):
        practices.make(title=title, summary=summary, body=body, themes=themes,
                       promoters=promoters)
    practices.make(title="Asilo nido aziendale", summary="Una bozza.", published=False)
    for q, expected in SAME_EVERYWHERE.items():
        found = titles(client.get("/pratiche", query_string={"q": q}).get_data(as_text=True))
        assert set(found) == expected and len(found) == len(expected), q




def _search_statements(app, client, path: str, clear: bool = True) -> list[str]:
    """The statements that open `path` runs (when nothing is cached yet, unless not `clear`)."""
    from sqlalchemy import event

    from portal import caching
    from portal.extensions import db

    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    if clear:
        caching.clear()
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return statements


def test_a_search_costs_the_same_few_statements_however_much_it_finds(app, client, practices,
                                                                      factory):
    """Counting the results and every facet matches the text once, whatever the number of
    themes, Comuni, kinds and pages: a common word is as cheap to count as a rare one."""
    practices.make(title="Famiglie in rete", themes=["mutuo-aiuto"])
    few = _search_statements(app, client, "/pratiche?q=famiglia")
    comuni = [factory.comune() for _ in range(6)]
    themes = ["mutuo-aiuto", "partecipazione", "scuola-ed-educazione"]
    for i in range(24):
        practices.make(title=f"Famiglie insieme {i:02d}", themes=[themes[i % 3]],
                       comuni=[comuni[i % 6]], status=("attiva", "idea")[i % 2],
                       promoters=[(f"Associazione {i}", ("association", "comune")[i % 2])])
    many = _search_statements(app, client, "/pratiche?q=famiglia")
    second_page = _search_statements(app, client, "/pratiche?q=famiglia&pagina=2")
    filtered = _search_statements(app, client, "/pratiche?q=famiglia&stato=idea&tema=mutuo-aiuto")
    assert len(few) == len(many) == len(second_page) == len(filtered)
    # one statement counts the total and the four facets; one reads the page
    assert sum("count(" in s.lower() for s in many) == 1
    # another visitor, signed in, gets the same search without counting or ranking again
    family = app.test_client()
    login(family, factory.user().email)
    _search_statements(app, client, "/pratiche?q=famiglia")
    kept = _search_statements(app, family, "/pratiche?q=famiglia", clear=False)
    assert not any("good_practices" in s for s in kept)
    assert "25 buone pratiche trovate" in family.get("/pratiche?q=famiglia").get_data(
        as_text=True)


def test_a_practice_published_shows_at_once_in_a_search_already_kept(client, practices):
    """A search is kept for everyone until the next write: a practice published just after
    is found on the next visit, and counted."""
    practices.make(title="Ludoteca di quartiere")
    first = client.get("/pratiche?q=ludoteca").get_data(as_text=True)
    assert titles(first) == ["Ludoteca di quartiere"] and "1 buona pratica trovata" in first
    practices.make(title="Ludoteca itinerante")
    again = client.get("/pratiche?q=ludoteca").get_data(as_text=True)
    assert sorted(titles(again)) == ["Ludoteca di quartiere", "Ludoteca itinerante"]
    assert "2 buone pratiche trovate" in again
