"""Drafting, publishing, revisions, adoption and who may do what on a practice."""

from __future__ import annotations

import re

from portal.authz import Role
from portal.catalogue.models import Adoption, GoodPractice, PracticeRevision
from portal.core.models import Activity

FORM = {"title": "Spazio compiti in biblioteca", "summary": "Compiti con un educatore.",
        "body": "## Orari\n\nTutti i **martedì**.", "status": "attiva", "owner": ""}


def _draft_form(comune, theme_id=None, **extra):
    data = dict(FORM, comuni=[str(comune.id)], **extra)
    if theme_id:
        data["themes"] = [str(theme_id)]
    return data


def _practice(db, slug=None):
    db.session.expire_all()
    query = db.select(GoodPractice)
    if slug:
        query = query.where(GoodPractice.slug == slug)
    return db.session.scalars(query.order_by(GoodPractice.id.desc())).first()


def test_moderator_drafts_and_officer_publishes(client, db, factory, login_as, practices):
    """An association moderator drafts a practice (private); an officer of a Comune where it
    runs publishes it, and it appears in the catalogue and in the Comune's activity."""
    seveso = factory.comune("Seveso")
    association = factory.association([seveso])
    login_as(Role.MODERATOR, association.id)
    response = client.form("/pratiche/nuova", _draft_form(seveso))
    assert response.status_code == 303
    practice = _practice(db)
    assert practice.owner_association_id == association.id and not practice.is_published
    assert client.get(f"/pratiche/{practice.slug}").status_code == 200
    assert client.form(f"/pratiche/{practice.slug}/pubblica").status_code == 403

    client.form("/esci")
    assert client.get(f"/pratiche/{practice.slug}").status_code == 404  # drafts are private
    login_as(Role.COMUNE_OFFICER, seveso.id)
    assert client.form(f"/pratiche/{practice.slug}/pubblica").status_code == 303
    page = client.get(f"/pratiche/{practice.slug}").get_data(as_text=True)
    assert "Spazio compiti in biblioteca" in page and "<strong>martedì</strong>" in page
    assert "Spazio compiti" in client.get("/pratiche").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(db.select(Activity.title).where(
        Activity.kind == "practice.published", Activity.comune_id == seveso.id))


def test_officer_of_another_comune_cannot_edit_or_publish(client, db, factory, login_as,
                                                          practices):
    """Object-level rules: an officer or moderator unrelated to the practice gets 403 on every
    change, and cannot see its draft."""
    seveso, limbiate = factory.comune("Seveso"), factory.comune("Limbiate")
    draft = practices.make(title="Casa dei papà separati", comuni=[seveso], published=False)
    published = practices.make(title="Pedibus", comuni=[seveso])
    login_as(Role.COMUNE_OFFICER, limbiate.id)
    assert client.get(f"/pratiche/{draft.slug}").status_code == 404
    for practice in (draft, published):
        slug = practice.slug
        assert client.get(f"/pratiche/{slug}/modifica").status_code in (403, 404)
        for path, data in ((f"/pratiche/{slug}/modifica", _draft_form(seveso)),
                           (f"/pratiche/{slug}/pubblica", {}),
                           (f"/pratiche/{slug}/ritira", {}),
                           (f"/pratiche/{slug}/promotori", {"p-name": "X", "p-kind": "comune"}),
                           (f"/pratiche/{slug}/indicatori", {"i-name": "X", "i-value": "1"})):
            assert client.form(path, data).status_code in (403, 404), path
    db.session.expire_all()
    assert db.session.get(GoodPractice, published.id).revision_count == 2


def test_only_the_owner_comune_changes_a_practice_others_their_adoption(
        client, db, factory, login_as, practices):
    """A practice Seveso keeps also runs in Limbiate and is adopted there: Limbiate's officer
    cannot rewrite it, drop Seveso from it or unpublish it, nor can the moderator of a
    promoting association; Limbiate changes its own adoption. Seveso's officer edits."""
    seveso, limbiate = factory.comune("Seveso"), factory.comune("Limbiate")
    promoter = factory.association([seveso])
    practice = practices.make(title="Pedibus", comuni=[seveso, limbiate],
                              owner_comune_id=seveso.id)
    with client.application.test_request_context("/"):
        from portal.catalogue import services

        services.add_promoter(practices.admin, db.session.merge(practice), {
            "name": "AFI", "kind": "association", "association_id": promoter.id})
        db.session.commit()
    practices.adopt(practice, limbiate)
    slug = practice.slug
    login_as(Role.COMUNE_OFFICER, limbiate.id)
    assert client.get(f"/pratiche/{slug}/modifica").status_code == 403
    for path, data in ((f"/pratiche/{slug}/modifica",
                        dict(_draft_form(limbiate), title="Riscritta")),
                       (f"/pratiche/{slug}/ritira", {}),
                       (f"/pratiche/{slug}/indicatori", {"i-name": "X", "i-value": "1"})):
        assert client.form(path, data).status_code == 403, path
    assert client.form(f"/pratiche/{slug}/adozione", {
        "comune": str(limbiate.id), "status": "attiva", "notes": "Tre linee."}
    ).status_code == 303
    page = _practice(db, slug)
    assert page.title == "Pedibus" and page.is_published
    assert [c.name for c in page.comuni] == ["Seveso", "Limbiate"] or {
        c.name for c in page.comuni} == {"Seveso", "Limbiate"}
    assert db.session.scalar(db.select(Adoption.notes)) == "Tre linee."

    client.form("/esci")
    login_as(Role.MODERATOR, promoter.id)
    assert client.get(f"/pratiche/{slug}/modifica").status_code == 403
    client.form("/esci")
    login_as(Role.COMUNE_OFFICER, seveso.id)
    assert client.form(f"/pratiche/{slug}/modifica",
                       dict(_draft_form(seveso), title="Pedibus sicuro")).status_code == 303
    assert client.form(f"/pratiche/{slug}/ritira", {}).status_code == 303


def test_the_owner_comune_does_not_adopt_its_own_practice(client, db, factory, login_as,
                                                          practices):
    """Adopting is another Comune taking a practice up: the owner Comune is refused, with a
    message saying why, and the adoption count does not move."""
    seveso = factory.comune("Seveso")
    practice = practices.make(title="Pedibus", comuni=[seveso], owner_comune_id=seveso.id)
    login_as(Role.COMUNE_OFFICER, seveso.id)
    assert 'name="comune"' not in client.get(f"/pratiche/{practice.slug}").get_data(
        as_text=True)
    response = client.form(f"/pratiche/{practice.slug}/adozione", {
        "comune": str(seveso.id), "status": "attiva"}, follow_redirects=True)
    assert "Seveso cura già questa pratica" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Adoption.id))) == 0
    assert _practice(db, practice.slug).adoption_count == 0


def test_moderator_of_another_association_cannot_edit(client, factory, login_as, practices):
    """A moderator may edit what their association keeps or promotes, nothing else."""
    seveso = factory.comune("Seveso")
    mine, other = factory.association([seveso]), factory.association([seveso])
    practice = practices.make(comuni=[seveso], published=False, owner_association_id=other.id)
    login_as(Role.MODERATOR, mine.id)
    assert client.get(f"/pratiche/{practice.slug}/modifica").status_code == 403


def test_family_and_anonymous_cannot_draft(client, factory, login_as):
    """Families have no drafting right; anonymous users are sent to log in."""
    response = client.get("/pratiche/nuova")
    assert response.status_code == 302 and "/accedi" in response.headers["Location"]
    login_as("family")
    assert client.get("/pratiche/nuova").status_code == 403
    assert client.get("/pratiche/bozze").status_code == 403


def test_each_edit_keeps_a_revision_shown_in_the_history(client, db, factory, login_as,
                                                         practices):
    """Editing keeps a numbered revision with its author; the public history lists what
    changed, before and after."""
    seveso = factory.comune("Seveso")
    practice = practices.make(title="Banca del tempo", summary="Scambio di ore.",
                              comuni=[seveso])
    officer = login_as(Role.COMUNE_OFFICER, seveso.id)
    data = _draft_form(seveso, title="Banca del tempo", summary="Scambio di ore e saperi.",
                       note="Sintesi più chiara")
    data["owner"] = f"comune:{seveso.id}"
    assert client.form(f"/pratiche/{practice.slug}/modifica", data).status_code == 303
    db.session.expire_all()
    revisions = db.session.scalars(db.select(PracticeRevision).where(
        PracticeRevision.practice_id == practice.id).order_by(PracticeRevision.number)).all()
    assert [r.number for r in revisions] == [1, 2, 3]
    assert revisions[-1].author_id == officer.id and revisions[-1].note == "Sintesi più chiara"
    client.form("/esci")
    history = client.get(f"/pratiche/{practice.slug}/storia").get_data(as_text=True)
    assert "Revisione 3" in history and "Sintesi più chiara" in history
    assert "Scambio di ore e saperi." in history and "Scambio di ore.</del>" in history


def test_markdown_is_sanitised(client, practices):
    """Scripts, event handlers and javascript: links written in the body never reach the
    page; headings start below the page's own."""
    practice = practices.make(body="# Titolo\n\n<script>alert(1)</script>\n\n"
                                   "[clic](javascript:alert(1)) <img src=x onerror=alert(1)>"
                                   "\n\n[sito](https://example.org)")
    html = client.get(f"/pratiche/{practice.slug}").get_data(as_text=True)
    body = html[html.index('class="practice-body"'):]
    assert "<script>alert" not in body and 'href="javascript:' not in body
    assert "<img" not in body and "&lt;script&gt;" in body  # shown as text, never run
    assert "<h3>Titolo</h3>" in body
    assert 'href="https://example.org"' in body and 'rel="nofollow noopener noreferrer"' in body


def test_publishing_needs_summary_and_comune(client, db, factory, login_as, practices):
    """A draft without a Comune cannot be published: the officer is told why."""
    from portal.catalogue import services

    seveso = factory.comune("Seveso")
    coordinator = login_as(Role.COORDINATOR, 0)
    with client.application.test_request_context("/"):
        practice = services.create_draft(coordinator, {"title": "Senza Comune",
                                                       "summary": "Testo."})
        db.session.commit()
    response = client.form(f"/pratiche/{practice.slug}/pubblica", follow_redirects=True)
    assert "almeno un Comune" in response.get_data(as_text=True)
    assert not _practice(db, practice.slug).is_published
    assert seveso.id


def test_invalid_form_answers_422_with_messages(client, db, factory, login_as):
    """A draft without title, with a bad amount or dates in the wrong order is refused with
    422 and Italian messages; nothing is saved."""
    seveso = factory.comune("Seveso")
    login_as(Role.COMUNE_OFFICER, seveso.id)
    response = client.form("/pratiche/nuova", _draft_form(
        seveso, title="", cost="dodici euro", started_on="2024-05-01",
        ended_on="2023-01-01", body="ok\x00"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Campo obbligatorio" in html and "importo in euro" in html
    assert "non può precedere" in html and "caratteri non ammessi" in html
    assert _practice(db) is None


def test_cost_in_euro_is_stored_in_cents(client, db, factory, login_as):
    """'12.500,50' typed in the form is stored as 1250050 cents and shown in euro."""
    seveso = factory.comune("Seveso")
    login_as(Role.COMUNE_OFFICER, seveso.id)
    assert client.form("/pratiche/nuova", _draft_form(seveso, cost="12.500,50")
                       ).status_code == 303
    practice = _practice(db)
    assert practice.cost_cents == 1250050
    assert "12.500,50" in client.get(f"/pratiche/{practice.slug}").get_data(as_text=True)


def test_officer_declares_an_adoption(client, db, factory, login_as, practices):
    """An officer declares that their Comune adopts a practice; it is listed on the practice
    and on the Comune's page, and counts for 'most adopted' unless abandoned."""
    seveso, giussano = factory.comune("Seveso"), factory.comune("Giussano")
    practice = practices.make(title="Pedibus", comuni=[seveso])
    login_as(Role.COMUNE_OFFICER, giussano.id)
    response = client.form(f"/pratiche/{practice.slug}/adozione", {
        "comune": str(giussano.id), "status": "avvio", "notes": "Due linee in partenza."})
    assert response.status_code == 303
    page = client.get(f"/pratiche/{practice.slug}").get_data(as_text=True)
    assert "Giussano" in page and "Due linee in partenza." in page and "In avvio" in page
    assert _practice(db, practice.slug).adoption_count == 1
    comune_page = client.get("/comuni/giussano").get_data(as_text=True)
    assert "Adottate da Giussano, nate in altri Comuni della Rete" in comune_page
    assert "Pedibus" in comune_page
    assert "Pedibus" in client.get("/comuni/seveso").get_data(as_text=True)

    # updating the same adoption does not duplicate it; abandoning stops counting it
    client.form(f"/pratiche/{practice.slug}/adozione", {
        "comune": str(giussano.id), "status": "abbandonata", "notes": ""})
    assert db.session.scalar(db.select(db.func.count(Adoption.id))) == 1
    assert _practice(db, practice.slug).adoption_count == 0

    # an adoption indicator of its own
    adoption = db.session.scalar(db.select(Adoption))
    assert client.form(f"/pratiche/{practice.slug}/adozione/{adoption.id}/indicatori", {
        "ai-name": "Bambini", "ai-value": "35"}).status_code == 303
    assert "Bambini: 35" in client.get(f"/pratiche/{practice.slug}").get_data(as_text=True)


def test_officer_cannot_adopt_for_another_comune(client, db, factory, login_as, practices):
    """The Comune in an adoption must be one the officer works for."""
    seveso, giussano, limbiate = (factory.comune("Seveso"), factory.comune("Giussano"),
                                  factory.comune("Limbiate"))
    practice = practices.make(comuni=[seveso])
    login_as(Role.COMUNE_OFFICER, giussano.id)
    response = client.form(f"/pratiche/{practice.slug}/adozione", {
        "comune": str(limbiate.id), "status": "attiva"})
    assert response.status_code == 422
    assert db.session.scalar(db.select(db.func.count(Adoption.id))) == 0
    client.form("/esci")
    login_as(Role.MODERATOR, factory.association([seveso]).id)
    assert client.form(f"/pratiche/{practice.slug}/adozione", {
        "comune": str(seveso.id), "status": "attiva"}).status_code == 403
    # another Comune's adoption indicators are not theirs either
    practices.adopt(practice, limbiate)
    client.form("/esci")
    login_as(Role.COMUNE_OFFICER, giussano.id)
    adoption = db.session.scalar(db.select(Adoption))
    assert client.form(f"/pratiche/{practice.slug}/adozione/{adoption.id}/indicatori", {
        "ai-name": "X", "ai-value": "1"}).status_code == 403


def test_promoters_and_the_triangle(client, db, factory, login_as, practices):
    """Promoters added by an editor appear on the sussidiarietà circolare triangle, named in
    words (not by colour alone); the kind facet follows."""
    seveso = factory.comune("Seveso")
    association = factory.association([seveso], name="AFI Seveso", kind="family")
    practice = practices.make(comuni=[seveso])
    login_as(Role.COMUNE_OFFICER, seveso.id)
    assert client.form(f"/pratiche/{practice.slug}/promotori", {
        "p-association_id": str(association.id), "p-role": "capofila"}).status_code == 303
    assert client.form(f"/pratiche/{practice.slug}/promotori", {
        "p-name": "Panificio Il Chicco", "p-kind": "enterprise"}).status_code == 303
    bad = client.form(f"/pratiche/{practice.slug}/promotori", {"p-name": "", "p-kind": ""})
    assert bad.status_code == 422
    html = client.get(f"/pratiche/{practice.slug}").get_data(as_text=True)
    assert "Sussidiarietà circolare" in html
    assert "AFI Seveso" in html and "Panificio Il Chicco" in html
    assert "Pubblico: assente. Non profit: presente. Profit: presente." in html
    listed = client.get("/pratiche?promotore=enterprise").get_data(as_text=True)
    assert f'href="/pratiche/{practice.slug}"' in listed


def test_related_practices_share_themes(client, practices):
    """The practice page suggests published practices with the same themes."""
    a = practices.make(title="Pedibus", themes=["scuola-ed-educazione"])
    practices.make(title="Doposcuola", themes=["scuola-ed-educazione"])
    practices.make(title="Orti", themes=["anziani-e-cura"])
    html = client.get(f"/pratiche/{a.slug}").get_data(as_text=True)
    related = html[html.index("Pratiche correlate"):]
    assert "Doposcuola" in related and "Orti" not in related


def test_coordinator_maintains_themes(client, db, factory, login_as, practices):
    """Only coordinators add or retire themes; a retired theme is no longer offered."""
    login_as(Role.COMUNE_OFFICER, factory.comune().id)
    assert client.get("/pratiche/temi").status_code == 403
    client.form("/esci")
    login_as(Role.COORDINATOR, 0)
    assert client.form("/pratiche/temi", {"name": "Ambiente e mobilità"}).status_code == 303
    assert client.form("/pratiche/temi", {"name": "Ambiente e mobilità"}).status_code == 422
    from portal.catalogue.models import Theme

    theme = db.session.scalar(db.select(Theme).where(Theme.slug == "ambiente-e-mobilita"))
    assert client.form(f"/pratiche/temi/{theme.id}/stato").status_code == 303
    assert "Ambiente e mobilità" not in client.get("/pratiche/nuova").get_data(as_text=True)


def test_create_draft_for_other_modules(app, client, db, factory, practices):
    """create_draft() turns data from another module into a draft that links back to it;
    new_practice_url() and a registered prefill source fill in the form."""
    from portal.catalogue import services

    seveso = factory.comune("Seveso")
    with app.test_request_context("/"):
        practice = services.create_draft(practices.admin, {
            "title": "Ludoteca di quartiere", "summary": "Dalla proposta approvata.",
            "themes": ["tempo-libero-e-sport"], "comuni": [seveso.id],
            "promoters": [{"name": "Comune di Seveso", "kind": "comune"}],
            "cost_cents": 500000, "origin_label": "Proposta n. 7", "origin_url": "/proposte/7"})
        db.session.commit()
        assert practice.themes[0].slug == "tempo-libero-e-sport"
        assert not practice.is_published and practice.revision_count == 1
        assert services.new_practice_url(proposta=7) == "/pratiche/nuova?proposta=7"
    services.register_prefill_source("proposta_test", lambda v: {
        "title": f"Dalla proposta {v}", "summary": "Sintesi", "themes": ["mutuo-aiuto"]})
    from tests.conftest import login

    officer = factory.grant(factory.user(), Role.COMUNE_OFFICER, seveso.id)
    login(client, officer.email)
    html = client.get("/pratiche/nuova?proposta_test=42").get_data(as_text=True)
    assert 'value="Dalla proposta 42"' in html


def test_dashboard_panel_for_editors(app, factory):
    """Officers and moderators get the catalogue panel in their area; families do not."""
    from portal.core.services import _DASHBOARD_PANELS

    predicate = dict(_DASHBOARD_PANELS)["catalogue/_dashboard_panel.html"]
    officer = factory.grant(factory.user(), Role.COMUNE_OFFICER, factory.comune().id)
    moderator = factory.grant(factory.user(), Role.MODERATOR, factory.association().id)
    family = factory.user()
    factory.household(user=family)
    assert predicate(officer) and predicate(moderator) and not predicate(family)


def test_drafts_page_lists_what_the_user_may_edit(client, factory, login_as, practices):
    """The drafts page lists the drafts of the officer's Comune only."""
    seveso, limbiate = factory.comune("Seveso"), factory.comune("Limbiate")
    practices.make(title="Bozza di Seveso", comuni=[seveso], published=False)
    practices.make(title="Bozza di Limbiate", comuni=[limbiate], published=False)
    login_as(Role.COMUNE_OFFICER, seveso.id)
    html = client.get("/pratiche/bozze").get_data(as_text=True)
    assert "Bozza di Seveso" in html and "Bozza di Limbiate" not in html


def test_new_practice_from_a_published_proposal(client, factory, login_as, practices):
    """/pratiche/nuova?proposta=<id> starts from a published proposal (title, text, themes,
    Comune, a link back); a draft proposal or a bad id prefills nothing."""
    from portal.proposals.models import ProposalState
    from tests.proposals.helpers import make_proposal

    seveso = factory.comune("Seveso")
    proposal = make_proposal(factory, comune=seveso, state=ProposalState.IMPLEMENTED,
                             title="Ludoteca del sabato", themes=("tempo-libero-e-sport",))
    draft = make_proposal(factory, comune=seveso, title="Idea ancora privata")
    login_as(Role.COMUNE_OFFICER, seveso.id)
    html = client.get(f"/pratiche/nuova?proposta={proposal.id}").get_data(as_text=True)
    assert 'value="Ludoteca del sabato"' in html
    assert f'value="/proposte/{proposal.id}"' in html
    assert re.search(rf'value="{seveso.id}"[^>]*checked|checked[^>]*value="{seveso.id}"', html)
    for bad in (draft.id, "abc", "999999"):
        html = client.get(f"/pratiche/nuova?proposta={bad}").get_data(as_text=True)
        assert "Idea ancora privata" not in html and 'value="Ludoteca' not in html


def test_practice_page_reads_a_fixed_number_of_queries(app, client, db, factory, practices):
    """The practice page shows the practice, its themes, Comuni, promoters, results and
    adoptions (with their own results) in a few queries, as many for a practice with one
    adoption as for one with many (the related practices come from the cache once it holds
    them), and sets no cookie for an anonymous visitor."""
    from datetime import date

    from sqlalchemy import event

    from portal.catalogue import services

    seveso, giussano, limbiate = (factory.comune("Seveso"), factory.comune("Giussano"),
                                  factory.comune("Limbiate"))
    practice = practices.make(
        title="Pedibus", comuni=[seveso, giussano], themes=["scuola-ed-educazione", "mutuo-aiuto"],
        promoters=[("Comune di Seveso", "comune"), ("Coop Il Ponte", "third_sector")])
    practices.make(title="Doposcuola", themes=["scuola-ed-educazione"])
    practices.adopt(practice, limbiate, status="avvio")
    with app.test_request_context("/"):
        p = db.session.merge(practice)
        services.add_indicator(practices.admin, p, {"name": "Linee attive", "value": "4",
                                                    "measured_on": date(2025, 3, 1)})
        services.add_indicator(practices.admin, p, {"name": "Volontari", "value": "12",
                                                    "unit": "persone"})
        adoption = db.session.scalar(db.select(Adoption))
        services.add_indicator(practices.admin, p, {"name": "Bambini", "value": "35"},
                               adoption=adoption)
        db.session.commit()

    url = f"/pratiche/{practice.slug}"
    statements = []
    engine = db.engine

    def count_page() -> tuple[int, str]:
        client.get(url)  # fills the cache with the related practices
        statements.clear()
        event.listen(engine, "before_cursor_execute", listener)
        try:
            response = client.get(url)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        assert response.status_code == 200 and "Set-Cookie" not in response.headers
        return len(statements), response.get_data(as_text=True)

    listener = lambda *args: statements.append(args[2])  # noqa: E731
    queries, html = count_page()
    # the practice; its themes, Comuni, promoters, files, results; adoptions; their results
    assert queries <= 8, "\n".join(s[:150] for s in statements)
    assert 'href="/pratiche?tema=scuola-ed-educazione"' in html and "Mutuo aiuto" in html
    assert 'href="/comuni/giussano"' in html and 'href="/comuni/seveso"' in html
    assert "Pubblico: presente. Non profit: presente. Profit: assente." in html
    results = html[html.index("Risultati"):html.index("Adottata da")]
    assert "Linee attive" in results and "1 marzo 2025" in results
    assert "Volontari" in results and "persone" in results and "Bambini" not in results
    adoptions = html[html.index("Adottata da"):]
    assert 'href="/comuni/limbiate"' in adoptions and "In avvio" in adoptions
    assert "Bambini: 35" in adoptions
    related = html[html.index("Pratiche correlate"):]
    assert "Doposcuola" in related

    # More of everything: adoptions (listed by Comune name), results, promoters, themes.
    for name in ("Besana", "Cesano", "Meda"):
        practices.adopt(practice, factory.comune(name))
    with app.test_request_context("/"):
        p = db.session.merge(practice)
        for adoption in db.session.scalars(db.select(Adoption)):
            services.add_indicator(practices.admin, p, {"name": "Iscritti", "value": "9"},
                                   adoption=adoption)
        services.add_indicator(practices.admin, p, {"name": "Scuole", "value": "3"})
        services.add_promoter(practices.admin, p, {"name": "Bottega", "kind": "enterprise"})
        db.session.commit()
    more, html = count_page()
    assert more == queries, "\n".join(s[:150] for s in statements)
    adoptions = html[html.index("Adottata da"):]
    assert [adoptions.index(f'href="/comuni/{slug}"')
            for slug in ("besana", "cesano", "limbiate", "meda")] == sorted(
        adoptions.index(f'href="/comuni/{slug}"')
        for slug in ("besana", "cesano", "limbiate", "meda"))
    assert adoptions.count("Iscritti: 9") == 4
    assert "Profit: presente." in html and "Scuole" in html


def test_related_practices_most_shared_first_then_newest(client, practices):
    """Related practices: published ones sharing most of the first three themes (in the
    themes' order), among the newest 40 of each; ties newest first; at most four; never the
    practice itself nor a draft; a practice published later shows at once (what the cache
    keeps does not outlive a write)."""
    themes = ["conciliazione-famiglia-lavoro", "mutuo-aiuto", "economia-di-vicinato-e-gaf",
              "scuola-ed-educazione"]
    page = practices.make(title="Pagina", themes=themes)
    practices.make(title="Solo la quarta", themes=themes[3:])
    practices.make(title="Uno in comune", themes=themes[:1])
    practices.make(title="Due in comune", themes=themes[1:3])
    practices.make(title="Tre in comune", themes=themes[:3])
    practices.make(title="Uno piu recente", themes=themes[2:3])
    practices.make(title="Bozza con tutti", themes=themes, published=False)

    def related(practice):
        html = client.get(f"/pratiche/{practice.slug}").get_data(as_text=True)
        section = html[html.index("Pratiche correlate"):html.index("Storia delle modifiche")]
        return re.findall(r'<li><a href="/pratiche/[^"]+">([^<]+)</a></li>', section)

    assert related(page) == ["Tre in comune", "Due in comune", "Uno piu recente",
                             "Uno in comune"]
    practices.make(title="Nuova con tre", themes=themes[:3])
    assert related(page) == ["Nuova con tre", "Tre in comune", "Due in comune",
                             "Uno piu recente"]


def test_related_practices_walk_only_the_newest_of_each_theme(client, practices):
    """Beyond the newest 40 practices of a theme (the practice itself not counted) an older
    one sharing that theme is not suggested: the look-up stays bounded."""
    theme = "anziani-e-cura"
    oldest = practices.make(title="La piu vecchia", themes=[theme])
    for n in range(40):
        practices.make(title=f"Recente {n}", themes=[theme])
    page = practices.make(title="Pagina", themes=[theme])
    html = client.get(f"/pratiche/{page.slug}").get_data(as_text=True)
    section = html[html.index("Pratiche correlate"):]
    assert "Recente 39" in section and "Recente 36" in section and "Recente 35" not in section
    html = client.get(f"/pratiche/{oldest.slug}").get_data(as_text=True)
    section = html[html.index("Pratiche correlate"):]
    assert "Pagina" in section and "Recente 37" in section and "Recente 36" not in section


def test_triangle_names_are_escaped_and_never_taken_for_markup(client, practices):
    """The triangle names the promoters escaped, and says in words which sides have some."""
    practice = practices.make(promoters=[
        ("<b>Comune</b> & co", "comune"), ("rete-triangle-names-profit.", "association")])
    html = client.get(f"/pratiche/{practice.slug}").get_data(as_text=True)
    assert "&lt;b&gt;Comune&lt;/b&gt; &amp; co" in html and "<b>Comune</b>" not in html
    assert "Pubblico: presente. Non profit: presente. Profit: assente." in html
    assert html.count("rete-triangle-names-profit.") == 2  # the list and the promoters
    other = practices.make(title="Altra", promoters=[("Panificio", "enterprise")])
    html = client.get(f"/pratiche/{other.slug}").get_data(as_text=True)
    assert "Pubblico: assente. Non profit: assente. Profit: presente." in html
    assert "Panificio" in html and "rete-triangle-names" not in html


def test_comune_page_lists_latest_practices(app, client, db, factory, practices):
    """A Comune's page lists the ten newest practices run there and the ten latest adopted
    (published ones only)."""
    from portal.catalogue import services

    seveso, giussano = factory.comune("Seveso"), factory.comune("Giussano")
    made = [practices.make(title=f"Pratica {n:02d}", comuni=[seveso]) for n in range(12)]
    withdrawn = practices.make(title="Ritirata dopo l'adozione", comuni=[giussano])
    for practice in [*made[:11], withdrawn]:
        practices.adopt(practice, giussano, status="avvio")
    with app.test_request_context("/"):
        services.unpublish(practices.admin, db.session.merge(withdrawn))
        db.session.commit()
    seveso_page = client.get("/comuni/seveso").get_data(as_text=True)
    runs = re.findall(r"Pratica (\d\d)</a> <span class=\"small\">\(Attiva\)",
                      seveso_page[seveso_page.index("Realizzate a Seveso"):])
    assert runs == [f"{n:02d}" for n in range(11, 1, -1)]
    assert 'href="/pratiche?comune=seveso"' in seveso_page
    giussano_page = client.get("/comuni/giussano").get_data(as_text=True)
    panel = giussano_page[giussano_page.index('id="practices-title"'):]
    panel = panel[:panel.index("</section>")]
    adopted = panel[panel.index("Adottate da Giussano"):]
    assert re.findall(r"Pratica (\d\d)</a> <span class=\"small\">\(In avvio\)", adopted) == [
        f"{n:02d}" for n in range(10, 0, -1)]
    assert "Ritirata" not in panel and "Nessuna pratica pubblicata." in panel
