"""The proposal page's light read model answers what the ORM and the separate queries did:
its latest round, its history and comments, its meetings."""

from datetime import timedelta

from portal.db_setup import utcnow
from portal.proposals import services
from portal.proposals.models import ProposalEvent, ProposalState
from portal.voting import services as voting
from tests.proposals.helpers import make_proposal
from tests.tables.conftest import tables  # noqa: F401 - the fixture
from tests.voting.helpers import close, make_round

S = ProposalState


def _latest(pid):
    """What the page's statement read as the latest round, next to the separate query."""
    page = services.page(pid)
    mine, theirs = page.latest, voting.latest_entry_for(pid)
    if theirs is None:
        return mine, None
    round_, entry = theirs
    assert mine is not None
    assert vars(mine[0]) == vars(round_)
    assert vars(mine[1]) == vars(entry)
    return mine, theirs


def test_latest_round_read_with_the_page(app, db, client, factory):
    """No round, then an old closed round, then a newer open one: the page reads the newest,
    with its entry's count, exactly as voting.latest_entry_for does."""
    comune = factory.comune("Seveso")
    table = factory.table(comune)
    proposal = make_proposal(factory, comune=comune, state=S.PUBLISHED, cost_cents=50_000)
    other = make_proposal(factory, comune=comune, state=S.PUBLISHED, title="Un'altra")
    with app.test_request_context():
        assert services.page(proposal.id).latest is None
        old = make_round(table, [proposal, other], title="Vecchia votazione")
        close(old)
        mine, _theirs = _latest(proposal.id)
        assert mine[0].id == old.id and mine[0].title == "Vecchia votazione"
        now = utcnow()
        new = make_round(table, [proposal], title="Nuova votazione",
                         opens=now - timedelta(minutes=5))
        mine, _theirs = _latest(proposal.id)
        assert mine[0].id == new.id and mine[0].is_open(utcnow())
        assert mine[1].vote_count == 0 and mine[1].cost_cents == 50_000
        assert mine[1].proposal.title == proposal.title
        # the other proposal is only in the old round
        mine, _theirs = _latest(other.id)
        assert mine[0].id == old.id
    html = client.get(f"/proposte/{proposal.id}").get_data(as_text=True)
    assert "Votazione aperta: Nuova votazione" in html
    assert f'href="/votazioni/{new.id}"' in html


def test_history_and_comment_threads_in_one_read(app, db, factory):
    """Events in order, as the ORM reads them; comments as threads (replies under their
    comment, oldest first) with their author; without comments when the page shows none."""

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
        events, threads = services.page_rows(proposal.id)
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
    assert services.page_rows(proposal.id, with_comments=False)[1] == []


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


def test_public_comment_card_is_the_macro(app):
    """The card formatted in Python for visitors who are not signed in is the template's
    macro, byte for byte: plain, edited, by a deleted or anonymised author, hidden with and
    without the moderators' association, with markup in every user-supplied field."""
    from datetime import UTC, datetime
    from types import SimpleNamespace as NS

    from flask import render_template

    from portal.i18n import LANG_COOKIE
    from portal.proposals.views import public_comment_card

    at = datetime(2025, 3, 4, 17, 5, tzinfo=UTC)

    def comment(i, **kw):
        base = dict(id=i, parent_id=None, author_id=1, body="Ciao <b>tutti</b> & \"voi\"\n2a riga",
                    created_at=at, edited_at=None, hidden_at=None, hidden_reason=None,
                    author=NS(name="Anna <script>", deleted_at=None),
                    hidden_by_association=None)
        base.update(kw)
        c = NS(**base)
        c.is_hidden = c.hidden_at is not None
        return c

    comments = [
        comment(1),
        comment(2, edited_at=at),
        comment(3, author=NS(name="Bruno", deleted_at=at)),
        comment(4, author=None, author_id=None),
        comment(5, hidden_at=at, hidden_reason="Offese <i>gravi</i>",
                hidden_by_association=NS(name="ACLI & <Amici>")),
        comment(6, hidden_at=at, hidden_reason="Spam", author=None),
    ]
    threads = [(comments[0], comments[1:3]), *((c, []) for c in comments[3:])]
    proposal = NS(id=7, comment_count=6)
    for lang in ("it", "en"):
        with app.test_request_context("/proposte/7", headers={"Cookie": f"{LANG_COOKIE}={lang}"}):
            # the test's app context outlives each request context: forget its language
            from flask import g
            from flask_babel import refresh

            refresh()
            g.pop("_rete_translations", None)
            g.pop("_rete_domain_translations", None)
            common = dict(threads=threads, proposal=proposal, is_moderator=False)
            macro = render_template("proposals/_comments.html", **common)
            python = render_template("proposals/_comments.html", **common,
                                     public_card=public_comment_card)
            # the template does call the function it is given
            assert render_template("proposals/_comments.html", **common,
                                   public_card=lambda c: f"[card {c.id}]").count("[card ") == 6
        assert python == macro
        assert "&lt;script&gt;" in python and "<script>" not in python
        assert python.count('class="comment card') == 6
        assert ("Comment by" in python) == (lang == "en")


def test_history_html_is_the_template(app):
    """The history formatted in Python is proposals/_history.html, byte for byte, for every
    kind of event, with and without association, table and note, and for no events."""
    from datetime import UTC, datetime
    from types import SimpleNamespace as NS

    from flask import g, render_template
    from flask_babel import refresh

    from portal.i18n import LANG_COOKIE
    from portal.proposals.views import history_html

    at = datetime(2024, 11, 30, 23, 59, tzinfo=UTC)

    def event(kind, to_state=None, from_state=None, note=None, details=None, association=None,
              table=None):
        return NS(at=at, kind=kind, to_state=to_state, from_state=from_state, note=note,
                  details=details, association=NS(name=association) if association else None,
                  table=NS(name=table) if table else None)

    events = [
        event("state", "submitted", "draft"),
        event("state", "submitted", "changes_requested", note="Rivista <b>tutta</b>"),
        event("state", "merged", "published", association="ACLI & <Amici>"),
        event("state", "published", "submitted", association="Moderatori"),
        event("state", "selected", "published", table="Tavolo <di> Seveso"),
        event("state", "weird_state", "published"),
        event("hidden", note="Motivo & <dettagli>", association="ACLI"),
        event("unhidden"),
        event("comment_hidden", association="ACLI"),
        event("comment_unhidden", table="Tavolo"),
        event("edited", details={"absorbed": 42}),
        event("edited", details={"other": 1}),
        event("edited", details=None, note="x"),
        event("<custom>"),
    ]
    for lang in ("it", "en"):
        with app.test_request_context("/proposte/7", headers={"Cookie": f"{LANG_COOKIE}={lang}"}):
            refresh()
            g.pop("_rete_translations", None)
            g.pop("_rete_domain_translations", None)
            for some in (events, events[:1], events[6:], []):
                assert str(history_html(some)) == render_template("proposals/_history.html",
                                                                  events=some)
