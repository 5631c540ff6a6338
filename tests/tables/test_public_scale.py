"""The public pages of the tables stay bounded however many years of meetings a table holds."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event

from portal.db_setup import utcnow
from portal.extensions import db as _db
from portal.tables.models import Meeting
from tests.conftest import login


def _past_meetings(table, years: range, per_year: int = 2) -> list[Meeting]:
    """Convened meetings in the past (as imported history), oldest first."""
    meetings = []
    for year in years:
        for k in range(per_year):
            starts = datetime(year, 3 + 4 * k, 10, 19, 0, tzinfo=UTC)
            meetings.append(Meeting(table_id=table.id, title=f"Seduta {k + 1} del {year}",
                                    starts_at=starts, place="Sala consiliare",
                                    status="convened", convened_at=starts - timedelta(days=10)))
    _db.session.add_all(meetings)
    _db.session.commit()
    return meetings


def _statements(app, client, path: str) -> int:
    count = 0

    def before(*_args):
        nonlocal count
        count += 1

    with app.app_context():
        engine = _db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return count


def test_table_page_shows_recent_meetings_and_links_every_year_of_the_archive(client, tables):
    """Ten past meetings at most, the next ones, and a link to every year back to the oldest
    meeting — even one held before the table's recorded constitution."""
    t = tables.seated()
    t.table.constituted_on = date(utcnow().year - 2, 6, 1)
    _db.session.commit()
    oldest_year = utcnow().year - 6
    history = _past_meetings(t.table, range(oldest_year, utcnow().year - 1))
    upcoming = tables.meeting(t)
    html = client.get(f"/tavoli/{t.table.slug}").get_data(as_text=True)
    shown = {int(m) for m in re.findall(r'href="/sedute/(\d+)"', html)}
    assert upcoming.id in shown
    assert {m.id for m in history[-10:]} <= shown
    assert not {m.id for m in history[:-10]} & shown  # older ones live in the archive
    for year in range(oldest_year, utcnow().year + 1):
        assert f'href="/tavoli/{t.table.slug}/sedute?anno={year}"' in html
    archive = client.get(f"/tavoli/{t.table.slug}/sedute?anno={oldest_year}")
    assert archive.status_code == 200
    page = archive.get_data(as_text=True)
    assert f"Seduta 1 del {oldest_year}" in page and f"Seduta 2 del {oldest_year}" in page
    assert f"del {oldest_year + 1}" not in page.split("</nav>", 2)[-1]


def test_table_page_queries_do_not_grow_with_the_years(app, client, tables):
    """The same few statements for a table with one meeting or with years of them."""
    t = tables.seated()
    tables.meeting(t)
    path = f"/tavoli/{t.table.slug}"
    before = _statements(app, client, path)
    _past_meetings(t.table, range(utcnow().year - 10, utcnow().year))
    # table, seats, next and past meetings, the archive's span, decisions
    assert _statements(app, client, path) == before <= 6
    archive = f"/tavoli/{t.table.slug}/sedute?anno={utcnow().year - 3}"
    assert _statements(app, client, archive) <= 3


@pytest.mark.parametrize("anno", ["abc", "99999999999", "1800", "-1", "2.5", ""])
def test_archive_falls_back_to_the_latest_year(client, tables, anno):
    """A year without meetings, or no year, shows the latest year with meetings."""
    t = tables.seated()
    year = utcnow().year - 3
    _past_meetings(t.table, range(year - 1, year + 1))
    response = client.get(f"/tavoli/{t.table.slug}/sedute?anno={anno}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'<strong aria-current="page">{year}</strong>' in html
    assert f"Seduta 1 del {year}" in html and f"del {year - 1}</a>" not in html


def test_archive_of_a_table_without_meetings(client, tables):
    t = tables.seated()
    assert client.get(f"/tavoli/{t.table.slug}/sedute?anno=2%00").status_code == 400
    response = client.get(f"/tavoli/{t.table.slug}/sedute?anno=2020")
    assert response.status_code == 200
    assert "Nessuna seduta in quest" in response.get_data(as_text=True)


def test_meeting_page_sets_no_cookie_and_offers_the_minutes_to_the_secretary(client, tables):
    """Visitors read a meeting without getting a cookie; only the secretary may start the
    minutes of a convened meeting."""
    t = tables.seated()
    meeting = tables.meeting(t)
    response = client.get(f"/sedute/{meeting.id}")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    html = response.get_data(as_text=True)
    assert "Comunicazioni del presidente" in html and "Inizia il verbale" not in html
    login(client, t.chair.email)
    assert "Inizia il verbale" not in client.get(f"/sedute/{meeting.id}").get_data(as_text=True)
    client.form("/esci", {})
    login(client, t.secretary.email)
    html = client.get(f"/sedute/{meeting.id}").get_data(as_text=True)
    assert "Inizia il verbale" in html and 'name="csrf_token"' in html


def test_meeting_page_with_attendance_before_the_minutes(client, tables):
    """Before the minutes, the page shows the agenda and the attendance count."""
    t = tables.seated()
    meeting = tables.meeting(t, items=("Primo punto", "Secondo punto"))
    tables.attend(t, meeting, present=4)
    html = client.get(f"/sedute/{meeting.id}").get_data(as_text=True)
    assert html.index("Primo punto") < html.index("Secondo punto")
    assert "Presenti 4 su 5 componenti" in html


def test_index_lists_tables_by_page_with_their_next_meeting(client, tables, factory,
                                                           monkeypatch):
    from portal.tables import views

    monkeypatch.setattr(views, "INDEX_PAGE", 1)
    t = tables.seated()
    meeting = tables.meeting(t)
    other = factory.table(factory.comune("Seregno", "108039"))
    first = client.get("/tavoli").get_data(as_text=True)
    assert "dopo=" in first  # one Comune table a page, then the next page
    pages = [first]
    next_url = re.search(r'href="(/tavoli\?dopo=[^"]+)"', first)
    while next_url:
        pages.append(client.get(next_url.group(1).replace("&amp;", "&")).get_data(as_text=True))
        next_url = re.search(r'href="(/tavoli\?dopo=[^"]+)"', pages[-1])
    html = "".join(pages)
    assert f'href="/tavoli/{t.table.slug}"' in html and f'href="/tavoli/{other.slug}"' in html
    assert f'href="/sedute/{meeting.id}"' in html
    assert client.get("/tavoli?dopo=%00").status_code == 400
    assert client.get("/tavoli?dopo=" + "z" * 500).status_code == 200


def test_index_shows_the_rete_table_first_and_follows_a_rename(client, db, tables):
    """The inter-municipal table heads the index; a rename shows at once (the row is kept by
    each worker only until the next write)."""
    from portal.tables.models import Table

    t = tables.seated()
    rete = Table(name="Tavolo intercomunale", slug="tavolo-intercomunale", comune_id=None)
    db.session.add(rete)
    db.session.commit()
    html = client.get("/tavoli").get_data(as_text=True)
    assert html.index('href="/tavoli/tavolo-intercomunale"') < html.index(
        f'href="/tavoli/{t.table.slug}"')
    rete.name = "Tavolo della Rete dei Comuni"
    db.session.commit()
    assert "Tavolo della Rete dei Comuni" in client.get("/tavoli").get_data(as_text=True)


def _five_projects(tables) -> list:
    """Five proposals of Seveso's table approved at one meeting: five projects in progress."""
    from portal.tables import services

    t = tables.seated()
    proposals = [tables.proposal(t.table, title=f"Progetto {i}")[0] for i in range(5)]
    meeting = tables.meeting(t, proposals=proposals)
    tables.attend(t, meeting, present=5)
    tables.decide(t, meeting)
    return [services.project_for_proposal(p.id) for p in proposals]


def test_accountability_sections_are_bounded_and_count_everything(client, db, tables,
                                                                   monkeypatch):
    """However many projects are implemented, the overdue and running ones are listed; each
    section shows its first projects and its heading counts them all."""
    from portal.tables import views

    monkeypatch.setattr(views, "PROJECTS_SHOWN", 2)
    projects = _five_projects(tables)
    today = utcnow().date()
    for path in ("/progetti", "/comuni/seveso/progetti"):  # counted before the changes below
        assert "In realizzazione (5)" in client.get(path).get_data(as_text=True)
    for project in projects[:3]:
        project.status, project.progress = "implemented", 100
    projects[3].deadline = today - timedelta(days=3)   # overdue
    projects[4].deadline = None                        # running, no deadline
    db.session.commit()
    for path in ("/progetti", "/comuni/seveso/progetti"):
        html = client.get(path).get_data(as_text=True)
        assert "In ritardo (1)" in html and "In realizzazione (1)" in html
        assert "Realizzati (3)" in html
        listed = set(re.findall(r'href="/progetti/(\d+)"', html))
        assert {str(projects[3].id), str(projects[4].id)} <= listed
        assert len(listed & {str(p.id) for p in projects[:3]}) == 2  # the first two shown
        assert f'href="{path}?sezione=realizzati"' in html  # 3 > 2: the whole section
        assert "sezione=in-corso" not in html and "sezione=in-ritardo" not in html


def _section_ids(client, url: str) -> list[list[str]]:
    """The project ids of each page of a section, following its "next" links."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        pages.append(re.findall(r'<th scope="row"><a href="/progetti/(\d+)"', html))
        found = re.search(r'href="([^"]+)" rel="next"', html)
        url = found.group(1).replace("&amp;", "&") if found else None
    return pages


def test_accountability_section_pages_list_every_project_once_in_order(
        client, db, tables, factory, monkeypatch):
    """A section, whole, a page at a time: the projects with a deadline by deadline, then
    those without; each once; the Rete's page holds every Comune's, a Comune's only its own;
    a page or section that does not exist is not found."""
    from portal.tables import views

    monkeypatch.setattr(views, "PROJECTS_PAGE", 2)
    projects = _five_projects(tables)
    today = utcnow().date()
    for project, days in zip(projects, (30, 10, None, 20, None), strict=True):
        project.status, project.progress = "implemented", 100
        project.deadline = today + timedelta(days=days) if days is not None else None
    db.session.commit()
    by_deadline = [projects[1].id, projects[3].id, projects[0].id]
    without = sorted([projects[2].id, projects[4].id])
    expected = [str(i) for i in by_deadline + without]
    for path in ("/progetti", "/comuni/seveso/progetti"):
        pages = _section_ids(client, f"{path}?sezione=realizzati")
        assert [len(ids) for ids in pages] == [2, 2, 1]
        assert [i for ids in pages for i in ids] == expected
        html = client.get(f"{path}?sezione=realizzati&pagina=3").get_data(as_text=True)
        assert "Pagina 3 di 3" in html and "5 progetti" in html
        assert f'href="{path}"' in html  # back to the overview
        assert _section_ids(client, f"{path}?sezione=in-ritardo") == [[]]
        for bad in ("sezione=realizzati&pagina=4", "sezione=realizzati&pagina=0",
                    "sezione=realizzati&pagina=-1", "sezione=realizzati&pagina=due",
                    "sezione=realizzati&pagina=" + "9" * 40, "sezione=tutti", "sezione="):
            assert client.get(f"{path}?{bad}").status_code == 404, bad
        assert client.get(f"{path}?sezione=%00").status_code == 400  # NUL: refused by all
    other = factory.comune("Giussano")
    assert _section_ids(client, f"/comuni/{other.slug}/progetti?sezione=realizzati") == [[]]


def test_table_page_offers_management_only_to_who_may_manage(client, tables):
    """The chair sees the management links and the meetings in preparation; a visitor
    sees neither."""
    t = tables.seated()
    draft = tables.meeting(t, convene=False)
    html = client.get(f"/tavoli/{t.table.slug}").get_data(as_text=True)
    assert "Gestione del tavolo" not in html and f"/sedute/{draft.id}" not in html
    assert "Presidente" in html and "Segretario" in html  # the seats' roles, translated
    login(client, t.chair.email)
    html = client.get(f"/tavoli/{t.table.slug}").get_data(as_text=True)
    assert "Nuova seduta" in html and "Gestisci i componenti" in html
    assert f"/sedute/{draft.id}/ordine-del-giorno" in html


def test_table_page_seats_chair_and_secretary_first_then_by_name(client, tables, factory):
    """Seats in their order (chair, secretary, then by name), each with the body it stands
    for; members who left are not listed; a cancelled meeting is marked."""
    from portal.tables import services

    t = tables.seated(n_members=0)
    association = factory.association([t.comune], name="Famiglie Insieme")
    with client.application.test_request_context():
        for name in ("Zoe Zanetti", "Anna Alberti"):
            user = factory.user(name=name)
            services.add_member(None, t.table, user.email, "member", "association",
                                association_id=association.id)
        _db.session.commit()
        gone = factory.user(name="Bruno Uscito")
        services.add_member(None, t.table, gone.email, "member", "families")
        seat = services.member_of(gone, t.table.id)
        services.remove_member(None, seat)
        _db.session.commit()
    html = client.get(f"/tavoli/{t.table.slug}").get_data(as_text=True)
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td>([^<]+)</td><td>([^<]+)</td>', html)
    assert rows == [("Paola Presidente", "Presidente", "Comune di Seveso"),
                    ("Sergio Segretario", "Segretario", "le famiglie"),
                    ("Anna Alberti", "Componente", "Famiglie Insieme"),
                    ("Zoe Zanetti", "Componente", "Famiglie Insieme")]
    assert "Bruno Uscito" not in html


def test_meeting_and_decision_lists_mark_states_and_escape_every_value(client, tables, db):
    """The table's page says which meetings were cancelled and which have published minutes
    (and their revision), in the visitor's language, and escapes what people typed."""
    t = tables.seated()
    decided = tables.meeting(t, items=("Spesa <1000 €>",))
    tables.attend(t, decided, present=3)
    tables.decide(t, decided, votes=(2, 1, 0))
    starts = datetime(utcnow().year - 1, 3, 10, 18, 0, tzinfo=UTC)
    rows = [("<b>Seduta</b> & co", 'Sala "Aldo"', "cancelled", 0),
            ("Seduta 2", None, "convened", 1),
            ("Seduta 3", "Sala", "convened", 3),
            ("Seduta 4", "Sala", "convened", 0)]
    meetings = [Meeting(table_id=t.table.id, title=title, place=place, status=status,
                        minutes_revision=revision, starts_at=starts + timedelta(days=n),
                        convened_at=starts - timedelta(days=10))
                for n, (title, place, status, revision) in enumerate(rows)]
    db.session.add_all(meetings)
    db.session.commit()
    html = client.get(f"/tavoli/{t.table.slug}").get_data(as_text=True)
    assert "&lt;b&gt;Seduta&lt;/b&gt; &amp; co" in html and "<b>Seduta" not in html
    assert re.search(r"Sala &#34;Aldo&#34;\s*· <strong>annullata</strong>", html)
    assert re.search(r"Seduta 2</a>\s*<span[^>]*>[^<]*· verbale pubblicato</span>", html)
    assert re.search(r"Sala\s*· verbale pubblicato \(revisione 3\)</span>", html)
    assert re.search(r"Seduta 4</a>\s*<span[^>]*>[^<·]*· Sala</span>", html)
    assert set(re.findall(r'href="/sedute/(\d+)"', html)) >= {str(m.id) for m in meetings}
    assert re.search(r'<a href="/delibere/\d+">Spesa &lt;1000 €&gt;</a>', html)
    assert '<span class="badge outcome-approved">Approvata</span>' in html
    client.set_cookie("lang", "en")
    html = client.get(f"/tavoli/{t.table.slug}").get_data(as_text=True)
    assert "<strong>cancelled</strong>" in html and "minutes published" in html


def test_a_table_without_decisions_says_so(client, tables):
    t = tables.seated()
    html = client.get(f"/tavoli/{t.table.slug}").get_data(as_text=True)
    assert "Ancora nessuna delibera." in html and "Nessuna seduta convocata." in html


def test_meeting_page_gives_the_time_as_people_write_it(client, tables, db):
    """The day in words and the hours to the minute, in Rome's time: the end of a meeting that
    finishes the same day is just its hour, one that runs past midnight gets its own day."""
    t = tables.seated()
    meeting = tables.meeting(t, when=datetime(2031, 1, 10, 17, 30, tzinfo=UTC))
    meeting.ends_at = datetime(2031, 1, 10, 19, 45, tzinfo=UTC)
    db.session.commit()
    html = client.get(f"/sedute/{meeting.id}").get_data(as_text=True)
    assert "<dd>venerdì 10 gennaio 2031, 18:30 – 20:45</dd>" in html
    meeting.ends_at = datetime(2031, 1, 10, 23, 15, tzinfo=UTC)
    db.session.commit()
    html = client.get(f"/sedute/{meeting.id}").get_data(as_text=True)
    assert "venerdì 10 gennaio 2031, 18:30 – sabato 11 gennaio 2031, 00:15" in html
