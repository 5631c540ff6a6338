"""Searching the catalogue: Italian stemming, accents, facets, sorting, paging, hostile input."""

from __future__ import annotations

import re

import pytest

from portal.catalogue import search


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


def test_every_word_must_match(client, practices):
    """A query of two words finds only the practices containing both."""
    practices.make(title="Banca del tempo", summary="Scambio di ore tra vicini.")
    practices.make(title="Tempo libero per i caregiver", summary="Sabati di sollievo.")
    assert titles(client.get("/pratiche?q=banca+tempo").get_data(as_text=True)) == [
        "Banca del tempo"]
    assert len(titles(client.get("/pratiche?q=tempo").get_data(as_text=True))) == 2


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
    counts = search.run(search.Search(theme=mutuo)).facets
    assert dict(counts["c"]) == {str(seveso.id): 1, str(giussano.id): 1}
    assert dict(counts["t"]) == {str(mutuo): 2, str(partecipazione): 1}
    assert dict(counts["s"]) == {"attiva": 2}
    assert dict(counts["k"]) == {"comune": 1, "enterprise": 1}
    # two filters: counted over the practices carrying both
    counts = search.run(search.Search(theme=partecipazione, comune=seveso.id)).facets
    assert dict(counts["s"]) == {"idea": 1} and dict(counts["k"]) == {"association": 1}
    # with text as well
    result = search.run(search.Search(q="gamma", comune=seveso.id))
    assert result.total == 1 and dict(result.facets["s"]) == {"idea": 1}
    # the page shows the counts next to each value
    html = client.get("/pratiche?tema=mutuo-aiuto").get_data(as_text=True)
    assert re.search(r"Giussano <span[^>]*>1</span>", html)


def _theme_id(slug: str) -> int:
    from portal.catalogue.models import Theme
    from portal.extensions import db

    return db.session.scalar(db.select(Theme.id).where(Theme.slug == slug))


def test_stored_counts_match_a_recount(client, practices, factory, app):
    """The facet counts kept on every save equal a recount from scratch."""
    from portal.catalogue import services
    from portal.catalogue.models import FacetCount, FacetPair, TermStat
    from portal.extensions import db

    seveso = factory.comune("Seveso")
    a = practices.make(title="Alfa", themes=["mutuo-aiuto"], comuni=[seveso],
                       promoters=[("X", "comune")])
    practices.make(title="Beta", themes=["partecipazione"], promoters=[("Y", "enterprise")])
    with app.test_request_context("/"):
        a = db.session.merge(a)
        services.update_practice(practices.admin, a, {"themes": ["partecipazione"],
                                                      "status": "conclusa"})
        services.unpublish(practices.admin, db.session.merge(practices.make(title="Gamma")))
        db.session.commit()
    def stored():
        facets = {(f.facet, f.value): f.count for f in db.session.scalars(
            db.select(FacetCount)) if f.count}
        pairs = {(p.facet, p.value, p.other_facet, p.other_value): p.count
                 for p in db.session.scalars(db.select(FacetPair)) if p.count}
        terms = {t.term: t.df for t in db.session.scalars(db.select(TermStat)) if t.df}
        return facets, pairs, terms

    kept = stored()
    search.rebuild_counts()
    assert kept == stored()
    assert kept[0][("*", "")] == 2 and kept[2]["alfa"] == 1


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


def test_huge_result_sets_are_bounded(client, practices, factory, monkeypatch):
    """Past MAX_CANDIDATES matches, the page says 'more than' and still lists the best ones:
    the work per request stays bounded whatever the size of the catalogue."""
    comune = factory.comune()
    for i in range(4):
        practices.make(title=f"Pedibus {i}", comuni=[comune], themes=["mutuo-aiuto"])
    monkeypatch.setattr(search, "MAX_CANDIDATES", 3)
    html = client.get("/pratiche?q=pedibus").get_data(as_text=True)
    assert "Più di 3 buone pratiche trovate" in html and len(titles(html)) == 3
    html = client.get(f"/pratiche?tema=mutuo-aiuto&comune={comune.slug}").get_data(as_text=True)
    assert "Più di 3" in html
    data = client.get("/api/v1/pratiche?q=pedibus").get_json()
    assert data["page"]["total"] == 3 and data["page"]["total_is_lower_bound"] is True


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


def test_analyzer_is_the_same_for_documents_and_queries():
    """The analyzer folds accents before stemming, so accented and plain spellings meet."""
    assert search.stem("citta") == search.stem(search.words("Città")[0])
    assert search.words("Perché l'attività è più bella") == ["perche", "attivita", "bella"]
    assert search.sort_key("Àsilo, nido!") == "asilonido"


def test_a_word_being_typed_ranks_by_its_best_completion(client, practices, monkeypatch):
    """'fam' completes to 'famiglie' and 'familiari': a practice scores its best completion
    (title before summary before body, then newest first), also when only the best few are
    gathered (each completion is walked best first)."""
    practices.make(title="Famiglie in rete", summary="Un servizio.")
    practices.make(title="Sportello", summary="Per i familiari di chi assiste.")
    practices.make(title="Orti", summary="Un orto.", body="Aperto alle famiglie.")
    practices.make(title="Familiari insieme", summary="Un gruppo.")
    expected = ["Familiari insieme", "Famiglie in rete", "Sportello", "Orti"]
    assert titles(client.get("/pratiche?q=fam").get_data(as_text=True)) == expected
    monkeypatch.setattr(search, "MAX_CANDIDATES", 2)
    html = client.get("/pratiche?q=fam").get_data(as_text=True)
    assert titles(html) == expected[:2] and "Più di 2 buone pratiche" in html


@pytest.mark.parametrize("q", ["famiglie", "fam", "famiglie rete"])
def test_a_rare_filter_walked_instead_of_a_common_word_finds_the_same(client, practices,
                                                                      factory, monkeypatch, q):
    """A common word in a small Comune is searched from the Comune's practices: the same
    practices, order, total and facet counts as walking the word's postings."""
    small, big = factory.comune("Seveso"), factory.comune("Milano")
    for i in range(6):
        practices.make(title=f"Famiglie in rete {i}" if i % 2 else f"Orti {i}",
                       summary="Per le famiglie." if i % 3 else "Per i familiari.",
                       comuni=[small if i < 4 else big], themes=["mutuo-aiuto"])
    results = []
    for share in (0.0, 1e9):  # never / always walk the filter
        monkeypatch.setattr(search, "FILTER_WALK_SHARE", share)
        for cap in (500, 2):
            monkeypatch.setattr(search, "MAX_CANDIDATES", cap)
            r = search.run(search.Search(q=q, comune=small.id))
            results.append((share, cap, [c.id for c in r.items], r.total, r.capped, r.facets))
    by_cap = {}
    for _share, cap, *outcome in results:
        by_cap.setdefault(cap, []).append(outcome)
    for outcomes in by_cap.values():
        assert outcomes[0] == outcomes[1]
    assert by_cap[500][0][1] > 0  # something was found


@pytest.mark.parametrize("q", ["famiglie", "famiglie rete", "rete orti famiglie", "rete orti fam"])
def test_intersecting_the_keys_instead_of_walking_the_word_finds_the_same(
        app, db, practices, factory, monkeypatch, q):
    """PostgreSQL intersects the lists in its GIN index when a word's postings would be walked
    whole: the same practices, order, total and facet counts as the walk, with every
    combination of filters, before and after practices change. SQLite keeps no keys and
    always walks."""
    from sqlalchemy import select

    from portal.catalogue import services
    from portal.catalogue.models import GoodPractice

    seveso, limbiate = factory.comune("Seveso"), factory.comune("Limbiate")
    made = [practices.make(title=f"Famiglie in rete {i}" if i % 2 else f"Orti per le famiglie {i}",
                           summary="Rete di famiglie." if i % 3 else "Orti e rete.",
                           comuni=[seveso if i % 4 else limbiate],
                           themes=["mutuo-aiuto"] if i % 5 else ["scuola-ed-educazione"],
                           status="attiva" if i % 3 else "idea")
            for i in range(12)]
    themes = {t.slug: t.id for t in search.all_themes().values()}
    filters = [{"theme": themes["mutuo-aiuto"]}, {"status": "attiva"},
               {"theme": themes["mutuo-aiuto"], "status": "attiva"},
               {"comune": seveso.id, "status": "idea"}]
    monkeypatch.setattr(search, "FILTER_WALK_SHARE", 0.0)
    monkeypatch.setattr(search, "KEYS_PROBE_COST", 1e9)  # whenever the database keeps keys
    intersected = []
    keys_word = search._keys_word
    monkeypatch.setattr(search, "_keys_word", lambda *a: intersected.append(a) or keys_word(*a))

    def total_found(wanted, cap) -> int:
        """Search with the keys and without them: the same pages, total and facets."""
        monkeypatch.setattr(search, "MAX_CANDIDATES", cap)
        found = []
        for dialects in (frozenset(), frozenset({"postgresql"})):
            monkeypatch.setattr(search, "KEYS_DIALECTS", dialects)
            for page in (1, 2):
                r = search.run(search.Search(q=q, page=page, per_page=2, **wanted))
                found.append(([c.id for c in r.items], r.total, r.capped, r.facets))
        assert found[:2] == found[2:], (wanted, cap)
        return found[0][1]

    assert sum(total_found(wanted, cap) for wanted in filters for cap in (500, 3)) > 0
    # Practices change: one loses its words, another its status, a third goes back to draft.
    first, second, third = (db.session.merge(p) for p in made[1:4])
    with app.test_request_context("/"):
        services.update_practice(practices.admin, first, {
            "title": "Orti condivisi", "summary": "Orti.", "body": "",
            "themes": ["mutuo-aiuto"], "comuni": [seveso.id], "status": "attiva"})
        services.update_practice(practices.admin, second, {
            "title": second.title, "summary": second.summary, "body": "",
            "themes": ["mutuo-aiuto"], "comuni": [seveso.id], "status": "conclusa"})
        services.unpublish(practices.admin, third)
        db.session.commit()
    assert sum(total_found(wanted, 500) for wanted in filters) > 0
    keys = dict(db.session.execute(select(GoodPractice.id, GoodPractice.search_keys)).all())
    if db.engine.dialect.name == "postgresql":
        assert intersected  # the lists were intersected
        assert keys[third.id] is None and "famigl" not in keys[first.id]
        assert "s:conclusa" in keys[second.id] and "s:attiva" not in keys[second.id]
    else:
        assert not intersected and set(keys.values()) == {None}
