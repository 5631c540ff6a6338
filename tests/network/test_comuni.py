"""The public pages of the Comuni: the list (paginated, by province) and each Comune's page."""

import re
from datetime import date

import pytest
from sqlalchemy import event

from portal.network import services as network_services
from portal.network.models import Association, Comune
from portal.network.services import COMUNI_PAGE_SIZE, create_comune
from tests.conftest import page_text


def many_comuni(db, count: int, province: str = "Monza e della Brianza", start: int = 0):
    for i in range(start, start + count):
        create_comune(f"Paese {i:03d}", f"{800000 + i}", province, 1000 + i, date(2020, 1, 1))
    db.session.commit()


def names(response) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/comuni/[^"]+">([^<]+)</a>', response.get_data(
        as_text=True))


def test_comuni_list_shows_each_comune_with_its_figures(client, factory):
    factory.comune("Seveso", "108040", population=23_000, joined_on=date(2015, 11, 12))
    response = client.get("/comuni")
    assert response.status_code == 200
    text = page_text(response)
    assert "Seveso" in text and "108040" in text
    assert "23.000" in text and "12 novembre 2015" in text
    assert 'href="/comuni/seveso"' in response.get_data(as_text=True)


def test_comuni_are_paginated_by_keyset_in_alphabetical_order(client, db):
    """N a page; the next and previous links walk the whole list without gaps or repeats."""
    n = COMUNI_PAGE_SIZE
    many_comuni(db, 2 * n + 7)
    first = client.get("/comuni")
    assert names(first) == [f"Paese {i:03d}" for i in range(n)]
    html = first.get_data(as_text=True)
    assert 'rel="prev"' not in html
    next_url = re.search(r'href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    assert next_url == f"/comuni?dopo=paese-{n - 1:03d}"

    second = client.get(next_url)
    assert names(second) == [f"Paese {i:03d}" for i in range(n, 2 * n)]
    third_url = re.search(r'href="([^"]+)" rel="next"', second.get_data(as_text=True)).group(1)
    third = client.get(third_url)
    assert names(third) == [f"Paese {i:03d}" for i in range(2 * n, 2 * n + 7)]
    assert 'rel="next"' not in third.get_data(as_text=True)

    back_url = re.search(r'href="([^"]+)" rel="prev"', third.get_data(as_text=True)).group(1)
    assert names(client.get(back_url)) == [f"Paese {i:03d}" for i in range(n, 2 * n)]
    back_url = re.search(r'href="([^"]+)" rel="prev"', second.get_data(as_text=True)).group(1)
    back = client.get(back_url)
    assert names(back) == [f"Paese {i:03d}" for i in range(n)]
    assert 'rel="prev"' not in back.get_data(as_text=True)


def test_deep_pages_cost_the_same_few_queries(app, client, db):
    """A page deep in the list runs the same queries as the first (keyset, no OFFSET)."""
    many_comuni(db, 5 * COMUNI_PAGE_SIZE)
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    client.get("/comuni")  # (the provinces of the filter are then in the cache)
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        client.get("/comuni")
        first = list(statements)
        statements.clear()
        client.get(f"/comuni?dopo=paese-{3 * COMUNI_PAGE_SIZE:03d}")
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert len(statements) == len(first) <= 3
    assert any("comuni.slug >" in s for s in statements)  # a keyset condition, not a skip


def test_comuni_can_be_filtered_by_province(client, db):
    many_comuni(db, 3, "Monza e della Brianza")
    many_comuni(db, COMUNI_PAGE_SIZE + 10, "Milano", start=100)
    response = client.get("/comuni?provincia=Monza+e+della+Brianza")
    assert names(response) == ["Paese 000", "Paese 001", "Paese 002"]
    assert "in provincia di Monza e della Brianza" in page_text(response)
    milano = client.get("/comuni?provincia=Milano")
    assert len(names(milano)) == COMUNI_PAGE_SIZE
    next_url = re.search(r'href="([^"]+)" rel="next"', milano.get_data(as_text=True)).group(1)
    assert "provincia=Milano" in next_url
    assert len(names(client.get(next_url.replace("&amp;", "&")))) == 10
    # An unknown province is ignored rather than an empty page.
    assert len(names(client.get("/comuni?provincia=Atlantide"))) == COMUNI_PAGE_SIZE


@pytest.mark.parametrize("query", [
    "dopo=' OR 1=1 --", "dopo=%25", "dopo=_", "prima=" + "x" * 10_000, "provincia=%00",
    "dopo=%00", "dopo=ÀÈ", "prima=-1",
])
def test_hostile_list_parameters_never_break_the_page(client, db, query):
    many_comuni(db, 3)
    response = client.get(f"/comuni?{query}")
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert "Paese 000" in page_text(response) or names(response) == []


def test_comune_page_shows_its_associations_households_and_activity(client, factory, db):
    seveso = factory.comune("Seveso", "108040", population=23_000)
    factory.association([seveso], name="Famiglie in Cammino Seveso")
    factory.household(comune=seveso, verified=True)
    factory.household(comune=seveso, verified=False)
    response = client.get("/comuni/seveso")
    assert response.status_code == 200
    text = page_text(response)
    assert "Seveso" in text and "Famiglie in Cammino Seveso" in text
    assert "Famiglie con residenza verificata: 1" in text
    assert "Codice ISTAT 108040" in text
    crumbs = re.search(r'<ol class="breadcrumb">(.*?)</ol>', response.get_data(as_text=True),
                       re.S).group(1)
    assert 'href="/comuni"' in crumbs and 'aria-current="page">Seveso<' in crumbs


def count_queries(db, client, url: str) -> int:
    count = 0

    def record(*args):
        nonlocal count
        count += 1

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return count


def test_comune_page_uses_a_few_queries(client, factory, db, monkeypatch):
    """However many associations and households, the page runs the same handful of queries.

    Other modules' panels are left out here: each module answers for its own.
    """
    monkeypatch.setattr(network_services, "_COMUNE_PANELS", [])
    seveso = factory.comune("Seveso", "108040")
    factory.association([seveso], name="Associazione 0")
    factory.household(comune=seveso)
    few = count_queries(db, client, "/comuni/seveso")
    for i in range(1, 6):
        factory.association([seveso], name=f"Associazione {i}")
        factory.household(comune=seveso)
    # comune, its associations, verified households, activity
    assert count_queries(db, client, "/comuni/seveso") == few <= 4


@pytest.mark.parametrize("slug", ["non-esiste", "Seveso", "%00", "' OR 1=1 --", "x" * 500])
def test_unknown_comune_is_404(client, factory, slug):
    factory.comune("Seveso", "108040")
    response = client.get(f"/comuni/{slug}")
    assert response.status_code in (400, 404)
    assert response.status_code == 400 or "Pagina non trovata" in page_text(response)


def test_two_comuni_with_the_same_name_get_distinct_pages(client, db):
    """Italy has Comuni sharing a name (Samone, TO and TN): the second gets its province."""
    create_comune("Samone", "001236", "Torino", 1600, date(2020, 1, 1))
    create_comune("Samone", "022165", "Trento", 550, date(2020, 1, 1))
    db.session.commit()
    slugs = sorted(db.session.scalars(db.select(Comune.slug)))
    assert slugs == ["samone", "samone-tn"]
    assert "Trento" in page_text(client.get("/comuni/samone-tn"))


def test_home_lists_the_comuni_and_the_figures(client, factory, db):
    seveso = factory.comune("Seveso", "108040")
    factory.association([seveso])
    factory.household(comune=seveso, verified=True)
    factory.household(comune=seveso, verified=False)
    text = page_text(client.get("/"))
    assert "Seveso" in text
    assert re.search(r"Comuni 1 Associazioni 1 Famiglie verificate 1", text)
    assert db.session.scalar(db.select(db.func.count(Association.id))) == 1


def test_home_tells_an_event_of_several_comuni_once(client, factory, db):
    """A practice running in three Comuni is in each Comune's feed, and once on the home page;
    the home page still shows eight events, newest first."""
    from datetime import UTC, datetime, timedelta

    from portal.core.models import Activity

    comuni = [factory.comune(name, code) for name, code in
              (("Seveso", "108040"), ("Giussano", "108024"), ("Limbiate", "108027"))]
    at = datetime(2025, 5, 1, 10, 0, tzinfo=UTC)
    for n in range(9):
        db.session.add(Activity(kind="proposal.published", title=f"Nuova proposta: idea {n}",
                                link=f"/proposte/{n + 1}", comune_id=comuni[0].id,
                                at=at - timedelta(days=n + 1)))
    for comune in comuni:
        db.session.add(Activity(kind="practice.published", title="Nuova buona pratica: Pedibus",
                                link="/pratiche/pedibus", comune_id=comune.id, at=at))
    db.session.commit()
    text = page_text(client.get("/"))
    assert text.count("Nuova buona pratica: Pedibus") == 1
    assert text.index("Pedibus") < text.index("idea 0") < text.index("idea 6")
    assert "idea 7" not in text
    for comune in comuni:
        assert "Nuova buona pratica: Pedibus" in page_text(client.get(f"/comuni/{comune.slug}"))


def test_comune_page_lists_associations_by_name_and_the_latest_events_first(client, factory,
                                                                             db):
    """The page's one statement keeps each list's order: associations by name, the eight
    latest events newest first (same time: the later one first), anonymised and unverified
    households not counted."""
    from datetime import UTC, datetime

    from portal.core.models import Activity

    seveso = factory.comune("Seveso", "108040")
    other = factory.comune("Giussano", "108024")
    for name in ("Zeta Famiglie", "Alfa Famiglie", "Mu Famiglie"):
        factory.association([seveso], name=name)
    factory.association([other], name="Beta Altrove")
    at = datetime(2025, 5, 1, 10, 0, tzinfo=UTC)
    for i in range(10):
        db.session.add(Activity(kind="x", title=f"Evento {i}", link=f"/e/{i}",
                                comune_id=seveso.id, at=at.replace(day=1 + i % 5)))
    db.session.add(Activity(kind="x", title="Evento altrove", link="/e/x", comune_id=other.id,
                            at=at.replace(year=2026)))
    db.session.commit()
    factory.household(comune=seveso, verified=True)
    gone = factory.household(comune=seveso, verified=True)
    gone.anonymised_at = at
    factory.household(comune=seveso, verified=False)
    factory.household(comune=other, verified=True)
    db.session.commit()

    html = client.get("/comuni/seveso").get_data(as_text=True)
    assert re.findall(r"<li>(\w+ Famiglie)</li>", html) == [
        "Alfa Famiglie", "Mu Famiglie", "Zeta Famiglie"]
    assert "Beta Altrove" not in html and "Evento altrove" not in html
    # days 5, 5, 4, 4, 3, 3, 2, 2 (ids 9, 4, 8, 3, ...): newest first, the later id first
    assert re.findall(r'<a href="/e/(\d+)">', html) == ["9", "4", "8", "3", "7", "2", "6", "1"]
    assert "Famiglie con residenza verificata: <strong>1</strong>" in html


def test_comune_page_shows_the_panels_other_modules_register(client, factory, db,
                                                             monkeypatch):
    """The tables' panel (registered by the tables module) shows on the Comune's page, and
    a plain function registered as a panel gets the Comune."""
    seveso = factory.comune("Seveso", "108040")
    factory.association([seveso], name="Associazione 0")
    html = client.get("/comuni/seveso").get_data(as_text=True)
    assert "Il tavolo del Comune" in html and "Tavolo delle famiglie in rete di Seveso" in html

    monkeypatch.setattr(network_services, "_COMUNE_PANELS",
                        list(network_services._COMUNE_PANELS))
    seen = []

    def plain(comune):
        seen.append((comune.id, comune.name, comune.slug))
        return None

    network_services.register_comune_panel(plain)
    assert client.get("/comuni/seveso").status_code == 200
    assert seen == [(seveso.id, "Seveso", "seveso")]
