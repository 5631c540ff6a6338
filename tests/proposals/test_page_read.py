"""What a proposal's page reads: its latest round, its history and comments, its meetings,
in a number of statements that does not grow with its comments."""

from datetime import timedelta

from portal.db_setup import utcnow
from portal.proposals import services
from portal.proposals.models import ProposalEvent, ProposalState
from tests.proposals.helpers import make_proposal
from tests.tables.conftest import tables  # noqa: F401 - the fixture
from tests.voting.helpers import close, make_round

S = ProposalState


def test_the_page_shows_its_latest_round(app, db, client, factory):
    """No round: no vote box. Then an old closed round and a newer open one: the page names
    the newest and offers its vote box."""
    comune = factory.comune("Seveso")
    table = factory.table(comune)
    proposal = make_proposal(factory, comune=comune, state=S.PUBLISHED, cost_cents=50_000)
    other = make_proposal(factory, comune=comune, state=S.PUBLISHED, title="Un'altra")
    html = client.get(f"/proposte/{proposal.id}").get_data(as_text=True)
    assert "Votazione aperta" not in html
    old = make_round(table, [proposal, other], title="Vecchia votazione")
    close(old)
    db.session.commit()
    html = client.get(f"/proposte/{other.id}").get_data(as_text=True)
    assert f'href="/votazioni/{old.id}"' in html and "Votazione aperta" not in html
    new = make_round(table, [proposal], title="Nuova votazione",
                     opens=utcnow() - timedelta(minutes=5))
    db.session.commit()
    html = client.get(f"/proposte/{proposal.id}").get_data(as_text=True)
    assert "Votazione aperta: Nuova votazione" in html
    assert f'href="/votazioni/{new.id}"' in html


def test_history_and_comment_threads(app, db, factory):
    """Events in order, as the ORM reads them; comments as threads (replies under their
    comment, oldest first) with their author."""

    from portal.accounts.models import User

    comune = factory.comune("Seveso")
    proposal = make_proposal(factory, comune=comune, state=S.PUBLISHED)
    author = db.session.get(User, proposal.author_id)
    reader = factory.user(name="Lia Lettrice")
    with app.test_request_context():
        first = services.add_comment(proposal, reader, "Bella idea!")
        db.session.commit()
        reply = services.add_comment(proposal, author, "Grazie!", parent=first)
        second = services.add_comment(proposal, reader, "Un'altra domanda.")
        db.session.commit()
        events, threads = services.history(proposal.id), services.comment_threads(proposal.id)
    expected = list(db.session.scalars(db.select(ProposalEvent).where(
        ProposalEvent.proposal_id == proposal.id).order_by(ProposalEvent.id)))
    assert [(e.at, e.kind, e.from_state, e.to_state, e.note) for e in events] == [
        (e.at, e.kind, e.from_state, e.to_state, e.note) for e in expected]
    assert all(e.at.tzinfo is not None for e in events)
    assert [(c.id, [r.id for r in replies]) for c, replies in threads] == [
        (first.id, [reply.id]), (second.id, [])]
    head = threads[0][0]
    assert head.body == "Bella idea!" and head.author.name == "Lia Lettrice"
    assert head.author_id == reader.id and head.created_at.tzinfo is not None
    assert head.edited_at is None and not head.is_hidden


def test_proposal_page_lists_its_own_meetings(app, db, client, tables):  # noqa: F811
    """The page links the meetings where the proposal is on the agenda (not another
    proposal's, not a draft meeting's), in date order."""
    t = tables.seated()
    proposal, _author = tables.proposal(t.table, state="on_agenda")
    other, _ = tables.proposal(t.table, state="on_agenda", title="Altra proposta")
    now = utcnow()
    later = tables.meeting(t, proposals=[proposal], when=now + timedelta(days=20))
    sooner = tables.meeting(t, proposals=[proposal, other], when=now + timedelta(days=10))
    elsewhere = tables.meeting(t, proposals=[other], when=now + timedelta(days=5))
    draft = tables.meeting(t, proposals=[proposal], when=now + timedelta(days=2),
                           convene=False)
    html = client.get(f"/proposte/{proposal.id}").get_data(as_text=True)
    links = [f'href="/sedute/{m.id}"' for m in (sooner, later)]
    assert all(link in html for link in links)
    assert html.index(links[0]) < html.index(links[1])
    assert f'href="/sedute/{elsewhere.id}"' not in html
    assert f'href="/sedute/{draft.id}"' not in html


def _statements(app, client, url: str) -> tuple[int, str]:
    """How many SQL statements answering `url` took, and the page."""
    from sqlalchemy import event

    from portal.extensions import db as _db

    with app.app_context():
        engine = _db.engine
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return len(seen), response.get_data(as_text=True)


def test_a_signed_in_family_reads_a_page_in_a_few_statements(app, db, client, factory):
    """A verified family of the Comune reading a published proposal in an open round, with
    comments and replies by many people: the page takes a few statements, and three times
    the comments take no more."""
    from tests.conftest import login

    comune = factory.comune("Seveso")
    table = factory.table(comune)
    proposal = make_proposal(factory, comune=comune, state=S.PUBLISHED, table=table)
    make_round(table, [proposal], title="Votazione aperta a tutti")
    family = factory.user(email="lettrice@example.org")
    factory.household(user=family, comune=comune)
    db.session.commit()
    login(client, "lettrice@example.org")

    def comment(n: int) -> None:
        with app.test_request_context():
            for i in range(n):
                writer = factory.user(name=f"Scrive {i}")
                first = services.add_comment(proposal, writer, f"Commento {i}")
                services.add_comment(proposal, family, f"Risposta {i}", parent=first)
            db.session.commit()

    url = f"/proposte/{proposal.id}"
    comment(5)
    few, html = _statements(app, client, url)
    assert html.count('class="comment card') == 10 and "Votazione aperta a tutti" in html
    comment(10)
    more, html = _statements(app, client, url)
    assert html.count('class="comment card') == 30
    assert more == few
    assert few <= 20, few
