"""The round page at scale: a page of the list at a time, filters, the ballot in view, the
vote from any page of the list (htmx or not), and a cost that does not follow the round's
size."""

from __future__ import annotations

import re
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import event

from portal.db_setup import utcnow
from portal.extensions import db as _db
from portal.proposals.models import Proposal, ProposalState, ProposalTheme
from portal.voting import services
from portal.voting.models import RoundEntry, RoundRule
from portal.voting.views import ROUND_PAGE
from tests.proposals.helpers import make_proposal
from tests.voting.helpers import close, make_round

TITLE_RE = re.compile(r'<h3 class="h5 mb-1"><a href="/proposte/(\d+)">')
NEXT_RE = re.compile(r'rel="next" href="([^"]+)"')


@pytest.fixture
def comune(factory):
    return factory.comune("Seveso")


def many_proposals(factory, comune, n, *, cost=True):
    """`n` published proposals of one household of `comune` (rows written directly: the
    graph of states is tested elsewhere), alternating two themes; titles "Idea 0".."Idea n-1"
    and "Orto" every tenth."""
    first = make_proposal(factory, comune=comune, state=ProposalState.PUBLISHED,
                          title="Idea 0", cost_cents=100_000 if cost else None,
                          themes=("mutuo-aiuto",))
    now = utcnow()
    rows = [first]
    for i in range(1, n):
        p = Proposal(comune_id=first.comune_id, table_id=first.table_id,
                     household_id=first.household_id, author_id=first.author_id,
                     title=f"Orto {i}" if i % 10 == 0 else f"Idea {i}",
                     summary="Un breve riassunto.", body="Testo.", body_html="<p>Testo.</p>",
                     estimated_cost_cents=(i % 7 + 1) * 100_000 if cost else None,
                     state=ProposalState.PUBLISHED, published_at=now, state_changed_at=now,
                     listed=True)
        p.theme_rows = [ProposalTheme(theme="mutuo-aiuto" if i % 2 == 0 else "casa-e-abitare")]
        rows.append(p)
    _db.session.add_all(rows[1:])
    _db.session.commit()
    return rows


def ids_on(html: str) -> list[int]:
    return [int(i) for i in TITLE_RE.findall(html)]


@contextmanager
def counted():
    """The SQL statements the requests inside the block run (a list, filled as they go)."""
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    engine = _db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _sized_round(factory, comune, n, **kwargs):
    proposals = many_proposals(factory, comune, n)
    return make_round(factory.table(comune), proposals, **kwargs), proposals


def test_statements_do_not_grow_with_the_round(app, db, client, factory, login_as):
    """The page of a round of 200 proposals runs as many statements as one of 10, signed in
    and anonymous, and weighs under 100 KB."""
    comune = factory.comune("Seveso")
    proposals = many_proposals(factory, comune, 210)
    table = factory.table(comune)
    small = make_round(table, proposals[:10], title="Piccola")
    big = make_round(table, proposals[10:], title="Grande")
    sizes, counts = {}, {}
    for who in ("anonymous", "family"):
        if who == "family":
            user = login_as("family", comune=comune)
            for p in (proposals[3], proposals[150]):  # a vote in each round
                services.cast_vote(small.id if p is proposals[3] else big.id, p.id,
                                   user.household_id, user.id)
            db.session.commit()
        for name, round_ in (("small", small), ("big", big)):
            client.get(f"/votazioni/{round_.id}")  # warm: what is the same for all is kept
            with counted() as statements:
                response = client.get(f"/votazioni/{round_.id}")
            assert response.status_code == 200
            sizes[who, name], counts[who, name] = len(response.data), len(statements)
        assert counts[who, "big"] == counts[who, "small"], (counts, statements)
    assert max(sizes.values()) < 100_000, sizes
    assert len(ids_on(client.get(f"/votazioni/{big.id}").get_data(as_text=True))) == ROUND_PAGE


def test_paging_walks_every_proposal_once(app, db, client, factory, comune):
    """Following the "next" links shows each proposal of the round once, most voted first
    when asked, and "previous" goes back to the same rows."""
    round_, proposals = _sized_round(factory, comune, 45)
    entries = {e.proposal_id: e for e in db.session.scalars(
        db.select(RoundEntry).where(RoundEntry.round_id == round_.id))}
    for i, p in enumerate(proposals):  # counts that tie in places
        entries[p.id].vote_count = i % 5
    db.session.commit()
    seen, pages, url = [], [], f"/votazioni/{round_.id}?ordina=sostegni"
    while url:
        html = client.get(url).get_data(as_text=True)
        pages.append((url, ids_on(html)))
        seen += ids_on(html)
        found = NEXT_RE.search(html)
        url = found.group(1).replace("&amp;", "&") if found else None
    in_order = ids_on(client.get(f"/votazioni/{round_.id}").get_data(as_text=True))
    assert in_order == sorted(p.id for p in proposals)[:ROUND_PAGE]
    assert len(pages) == 3 and sorted(seen) == sorted(p.id for p in proposals)
    expected = sorted(proposals, key=lambda p: (entries[p.id].vote_count, p.id), reverse=True)
    assert seen == [p.id for p in expected]
    assert "ordina=sostegni" in pages[2][0]
    html = client.get(pages[1][0]).get_data(as_text=True)
    prev = re.search(r'rel="prev" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert ids_on(client.get(prev).get_data(as_text=True)) == pages[0][1]


def test_filters_theme_text_ballot_and_cost_order(app, db, client, factory, comune, login_as):
    """Theme, words of the title, "in my ballot" and the cheapest first in a budget round."""
    proposals = many_proposals(factory, comune, 30)
    round_ = make_round(factory.table(comune), proposals, rule=RoundRule.BUDGET,
                        budget_cents=100_000_000)
    base = f"/votazioni/{round_.id}"
    shown = ids_on(client.get(f"{base}?tema=casa-e-abitare").get_data(as_text=True))
    assert len(shown) == 15 and all(proposals.index(
        db.session.get(Proposal, pid)) % 2 == 1 for pid in shown)
    assert set(ids_on(client.get(f"{base}?q=ORTO").get_data(as_text=True))) == {
        proposals[10].id, proposals[20].id}
    assert ids_on(client.get(f"{base}?q=100%25").get_data(as_text=True)) == []
    cheap = ids_on(client.get(f"{base}?ordina=costo").get_data(as_text=True))
    costs = [db.session.get(RoundEntry, (round_.id, pid)).cost_cents for pid in cheap]
    assert costs == sorted(costs) and len(cheap) == ROUND_PAGE
    login_as("family", comune=comune)
    for p in (proposals[3], proposals[7]):
        client.form(f"{base}/proposte/{p.id}/voto")
    html = client.get(f"{base}?scheda=1").get_data(as_text=True)
    assert sorted(ids_on(html)) == sorted([proposals[3].id, proposals[7].id])
    assert "Budget ancora disponibile nella tua scheda" in html and "2 proposte" in html
    bogus = client.get(f"{base}?tema=nessuno&ordina=x&dopo=abc_1&scheda=2")
    assert bogus.status_code == 200 and len(ids_on(bogus.get_data(as_text=True))) == ROUND_PAGE


def _second_page(client, base, query=""):
    html = client.get(base + query).get_data(as_text=True)
    return NEXT_RE.search(html).group(1).replace("&amp;", "&")


def test_plain_vote_from_page_two_comes_back_to_it(app, db, client, factory, comune,
                                                   login_as):
    """Without JavaScript the vote goes back to the same page of the list with its filters,
    and that page shows the vote and the ballot left."""
    round_, _ = _sized_round(factory, comune, 60, max_supports=3)
    base = f"/votazioni/{round_.id}"
    login_as("family", comune=comune)
    page_two = _second_page(client, base, "?tema=mutuo-aiuto")
    html = client.get(page_two).get_data(as_text=True)
    target = ids_on(html)[0]
    assert f'name="next" value="{page_two}"' in html.replace("&amp;", "&")
    response = client.form(f"{base}/proposte/{target}/voto", {"next": page_two})
    assert response.status_code == 303
    location = urlsplit(response.location)
    assert location.path == base and parse_qs(location.query)["tema"] == ["mutuo-aiuto"]
    assert "dopo" in parse_qs(location.query)
    html = client.get(page_two).get_data(as_text=True)
    assert "Voto registrato" in html and "Ti restano 2 sostegni" in html
    assert f'action="{base}/proposte/{target}/ritira"' in html


def test_htmx_vote_from_page_two_swaps_the_box_and_the_summary(app, db, client, factory,
                                                               comune, login_as):
    """With htmx the answer is the proposal's box and the ballot summary, and the box's
    plain form keeps coming back to page two."""
    round_, _ = _sized_round(factory, comune, 60, max_supports=3)
    base = f"/votazioni/{round_.id}"
    login_as("family", comune=comune)
    page_two = _second_page(client, base)
    target = ids_on(client.get(page_two).get_data(as_text=True))[0]
    headers = {"HX-Request": "true", "X-CSRFToken": client.csrf(),
               "HX-Current-URL": f"http://localhost{page_two}"}
    response = client.post(f"{base}/proposte/{target}/voto", headers=headers)
    html = response.get_data(as_text=True).replace("&amp;", "&")
    assert response.status_code == 200 and "<html" not in html
    assert f'id="vote-{round_.id}-{target}"' in html and ">1</span>" in html
    assert f'id="ballot-{round_.id}"' in html and 'hx-swap-oob="true"' in html
    assert "Ti restano 2 sostegni" in html and f'name="next" value="{page_two}"' in html


def test_htmx_asks_for_the_list_alone(app, db, client, factory, comune):
    """The filters and the pages answer htmx with the list alone."""
    round_, _ = _sized_round(factory, comune, 30)
    response = client.htmx(f"/votazioni/{round_.id}?q=orto",
                           headers={"HX-Target": f"round-list-{round_.id}"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert f'id="round-list-{round_.id}"' in html and "Come si vota" not in html
    assert len(ids_on(html)) == 2


def test_results_are_paged_and_the_csv_has_every_row(app, db, client, factory, comune):
    """The results page shows a page of the computation; the CSV streams every proposal."""
    round_, proposals = _sized_round(factory, comune, 120)
    close(round_)
    html = client.get(f"/votazioni/{round_.id}/risultati").get_data(as_text=True)
    assert html.count('<th scope="row">') == 50 and 'rel="next"' in html
    html = client.get(f"/votazioni/{round_.id}/risultati?da=101").get_data(as_text=True)
    assert html.count('<th scope="row">') == 20 and 'rel="prev"' in html
    response = client.get(f"/votazioni/{round_.id}/risultati.csv")
    assert response.is_streamed or "Content-Length" not in response.headers
    lines = response.get_data(as_text=True).splitlines()
    assert len(lines) == 121 and lines[0].startswith("proposta_id")
    assert services.results_of(round_)["steps"][0]["proposal"] == int(lines[1].split(",")[0])


def test_closed_round_shows_the_selected_before_and_after_the_count(app, db, client, factory,
                                                                    comune):
    """A closed round's list marks the selected proposals, computed on the spot before
    `flask voting close` and read from the stored count after it."""
    round_, proposals = _sized_round(factory, comune, 30, threshold=1)
    voter = factory.household(user=factory.user(), comune=comune)
    services.cast_vote(round_.id, proposals[12].id, voter.id, voter.users[0].id)
    db.session.commit()
    close(round_)
    pages = [client.get(f"/votazioni/{round_.id}").get_data(as_text=True)]
    assert "1 votazioni" in app.test_cli_runner().invoke(args=["voting", "close"]).output
    pages.append(client.get(f"/votazioni/{round_.id}").get_data(as_text=True))
    for html in pages:
        assert html.count("<strong>Selezionata</strong>") == 1
        assert ids_on(html)[0] == proposals[12].id  # most voted first once closed
