"""Pages of proposals: drafting, submitting, moderating, the public list and page."""

from datetime import timedelta

import pytest
from sqlalchemy import update

from portal.authz import Role
from portal.core.models import Notification
from portal.db_setup import utcnow
from portal.proposals.models import Proposal, ProposalEvent, ProposalState, ProposalSupport
from tests.conftest import outbox
from tests.proposals.helpers import force_state, make_proposal, switch

S = ProposalState


def _form(table_id_value, **extra):
    data = {"title": "Pedibus per la scuola", "summary": "Accompagniamo a piedi i bambini a "
            "scuola, con i nonni.", "body": "Il **testo** lungo della proposta.",
            "table_id": str(table_id_value), "themes": ["scuola-ed-educazione"],
            "estimated_cost": "1.500,50", "own_contribution": "Turni di volontari."}
    data.update(extra)
    return data


@pytest.fixture
def seveso(factory):
    comune = factory.comune("Seveso")
    moderator = factory.user(email="moderatore@example.org")
    association = factory.association([comune], name="AFI")
    factory.grant(moderator, Role.MODERATOR, association.id)
    return dict(comune=comune, table=factory.table(comune), moderator=moderator,
                association=association)


def test_family_drafts_submits_and_moderator_asks_changes_then_publishes(
        app, db, client, factory, login_as, seveso):
    """The whole loop: draft, submit, changes requested, resubmit, publish, public list."""
    family = login_as("family", comune=seveso["comune"])
    response = client.form("/proposte/nuova", _form(seveso["table"].id))
    assert response.status_code == 303
    proposal = db.session.scalar(db.select(Proposal))
    assert proposal.state == S.DRAFT and proposal.estimated_cost_cents == 150050
    assert "<strong>testo</strong>" in proposal.body_html
    assert client.get("/proposte").get_data(as_text=True).count("Pedibus per la scuola") == 0

    assert client.form(f"/proposte/{proposal.id}/invia").status_code == 303
    assert len(outbox("moderatore@example.org")) == 1

    switch(client, "moderatore@example.org")
    queue = client.get("/proposte/moderazione").get_data(as_text=True)
    assert "Pedibus per la scuola" in queue
    missing = client.form(f"/proposte/{proposal.id}/modera", {"decision": "changes_requested"})
    assert missing.status_code == 422 and "Scrivi il motivo" in missing.get_data(as_text=True)
    response = client.form(f"/proposte/{proposal.id}/modera",
                           {"decision": "changes_requested", "note": "Indicate gli orari."})
    assert response.status_code == 303
    db.session.expire_all()
    assert proposal.state == S.CHANGES_REQUESTED
    assert "Indicate gli orari." in outbox(family.email)[-1].body

    switch(client, family.email)
    page = client.get(f"/proposte/{proposal.id}").get_data(as_text=True)
    assert "Indicate gli orari." in page
    edited = _form(seveso["table"].id, summary="Accompagniamo a piedi i bambini, dalle 7.45.")
    assert client.form(f"/proposte/{proposal.id}/modifica", edited).status_code == 303
    assert client.form(f"/proposte/{proposal.id}/invia").status_code == 303

    switch(client, "moderatore@example.org")
    assert client.form(f"/proposte/{proposal.id}/modera",
                       {"decision": "published"}).status_code == 303
    client.post("/esci", data={"csrf_token": client.csrf()})
    listing = client.get("/proposte").get_data(as_text=True)
    assert "Pedibus per la scuola" in listing and "dalle 7.45" in listing
    page = client.get(f"/proposte/{proposal.id}").get_data(as_text=True)
    assert "moderatori di AFI" in page and "inviata di nuovo ai moderatori" in page


def test_drafts_are_private(app, db, client, factory, login_as, seveso):
    """A draft is seen by its household only: not by others, anonymous visitors, or the
    moderators (nor the coordinator) until the family submits it, nor after the family
    withdraws a draft it never submitted. Once submitted, moderators read it."""
    proposal = make_proposal(factory, comune=seveso["comune"], state=S.DRAFT)
    never_sent = make_proposal(factory, comune=seveso["comune"], state=S.WITHDRAWN)
    assert client.get(f"/proposte/{proposal.id}").status_code in (302, 403)
    login_as()
    assert client.get(f"/proposte/{proposal.id}").status_code == 403
    switch(client, "moderatore@example.org")
    assert client.get(f"/proposte/{proposal.id}").status_code == 403
    assert client.get(f"/proposte/{never_sent.id}").status_code == 403
    client.form("/esci")
    login_as(Role.COORDINATOR, 0)
    assert client.get(f"/proposte/{proposal.id}").status_code == 403
    force_state(proposal, S.SUBMITTED)
    switch(client, "moderatore@example.org")
    assert client.get(f"/proposte/{proposal.id}").status_code == 200


def test_my_proposals_show_each_state_as_a_styled_label(app, db, client, factory, seveso):
    """"Le mie proposte" names each proposal's state, on a coloured label that the page's own
    stylesheets define (Bootstrap's bare badge is white text on no background)."""
    import re

    from tests.conftest import login

    author = factory.user()
    make_proposal(factory, comune=seveso["comune"], user=author, state=S.DRAFT,
                  title="Cineforum")
    make_proposal(factory, comune=seveso["comune"], user=author, state=S.PUBLISHED,
                  title="Pedibus")
    login(client, author.email)
    html = client.get("/account/proposte").get_data(as_text=True)
    states = re.findall(r'<span class="badge state-badge state-(\w+)">([^<]+)</span>', html)
    assert sorted(states) == [("draft", "Bozza"), ("published", "Pubblicata")]
    css = "".join(client.get(href).get_data(as_text=True)
                  for href in re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
                  if href.startswith("/static/"))
    # the stylesheet may be the compiled, minified one (static/scss)
    assert re.search(r"\.state-badge ?\{[^}]*background: ?#[0-9a-f]{6};[^}]*color: ?#", css)
    assert ".state-published" in css


def test_only_authors_edit_and_only_drafts(app, db, client, factory, login_as, seveso):
    """Strangers cannot edit or submit; a published proposal is not edited by its authors."""
    author = factory.user()
    proposal = make_proposal(factory, comune=seveso["comune"], user=author, state=S.DRAFT)
    login_as("family", comune=seveso["comune"])
    assert client.get(f"/proposte/{proposal.id}/modifica").status_code == 403
    assert client.form(f"/proposte/{proposal.id}/invia").status_code == 403
    published = make_proposal(factory, comune=seveso["comune"], user=author, state=S.PUBLISHED)
    switch(client, author.email)
    assert client.get(f"/proposte/{published.id}/modifica").status_code == 403


def test_facilitator_submits_on_behalf_with_consent(app, db, client, factory, login_as, seveso):
    """A facilitator proposes for a household of its Comune; consent is required and shown."""
    household = factory.household(comune=seveso["comune"], name="Famiglia Offline")
    login_as(Role.FACILITATOR, seveso["comune"].id)
    data = _form(seveso["table"].id, household_id=str(household.id))
    refused = client.form("/proposte/nuova", data)
    assert refused.status_code == 422 and "consenso" in refused.get_data(as_text=True)
    data.update(consent="Modulo firmato allo sportello", consent_confirmed="y")
    assert client.form("/proposte/nuova", data).status_code == 303
    proposal = db.session.scalar(db.select(Proposal))
    assert proposal.household_id == household.id and proposal.on_behalf_consent
    assert client.form(f"/proposte/{proposal.id}/invia").status_code == 303
    page = client.get(f"/proposte/{proposal.id}").get_data(as_text=True)
    assert "per conto della famiglia" in page and "Modulo firmato allo sportello" in page


def test_facilitator_cannot_pick_a_household_of_another_comune(app, db, client, factory,
                                                                login_as, seveso):
    """The household list offered to a facilitator is that of its Comuni only."""
    elsewhere = factory.household(comune=factory.comune())
    login_as(Role.FACILITATOR, seveso["comune"].id)
    data = _form(seveso["table"].id, household_id=str(elsewhere.id), consent="Modulo firmato",
                 consent_confirmed="y")
    assert client.form("/proposte/nuova", data).status_code == 422
    assert db.session.scalar(db.select(Proposal)) is None


@pytest.mark.parametrize(("field", "value"), [
    ("title", ""), ("title", "x" * 10_000), ("title", "nul\x00byte"),
    ("summary", "corto"), ("body", "\x00" * 30), ("table_id", "abc"), ("table_id", "999999"),
    ("table_id", "' OR 1=1 --"), ("themes", "non-esiste"), ("estimated_cost", "-5"),
    ("estimated_cost", "dieci euro"), ("estimated_cost", "1e309"), ("estimated_cost", "1,234"),
    ("estimated_cost", "99999999999"), ("partners", "abc"), ("partners", "424242"),
])
def test_bad_input_on_the_proposal_form(app, db, client, factory, login_as, seveso, field, value):
    """Every bad value is answered with the form again (422) and an Italian message."""
    login_as("family", comune=seveso["comune"])
    response = client.form("/proposte/nuova", _form(seveso["table"].id, **{field: value}))
    assert response.status_code == 422
    assert "Il modulo contiene errori" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(Proposal)) is None


def test_a_table_of_another_comune_is_refused(app, db, client, factory, login_as, seveso):
    """A family addresses its own Comune's table or the inter-municipal one, no other."""
    other_table = factory.table(factory.comune())
    login_as("family", comune=seveso["comune"])
    assert client.form("/proposte/nuova", _form(other_table.id)).status_code == 422


def test_user_without_household_cannot_propose(app, client, login_as):
    """Proposing needs a household (or the facilitator role)."""
    login_as()
    assert client.get("/proposte/nuova").status_code == 403


@pytest.mark.parametrize("query", [
    "comune=abc", "tavolo=-1", "tema=%25", "stato=draft", "votazione=99999999999999",
    "ordina=' OR 1=1 --", "dopo=abc", "dopo=1_x", "prima=99999999999999999999_1",
    "dopo=-5_3", "tema=_", "comune=1e5", "dopo=9999999999999999_1&ordina=sostegni",
])
def test_list_survives_hostile_query_strings(app, client, factory, query):
    """Filters and cursors that make no sense are ignored, never a 500."""
    make_proposal(factory, state=S.PUBLISHED)
    response = client.get(f"/proposte?{query}")
    assert response.status_code == 200


def test_list_filters_sorts_and_pages_without_overlap(app, db, client, factory, seveso):
    """Keyset pages cover every public proposal once, in order, forwards and backwards."""
    other = factory.comune("Giussano")
    supports = {}
    for i in range(45):
        p = make_proposal(factory, comune=seveso["comune"] if i % 3 else other,
                          state=S.PUBLISHED, title=f"Proposta numero {i:02d}")
        db.session.flush()
        db.session.execute(update(ProposalSupport).where(ProposalSupport.proposal_id == p.id)
                           .values(support_count=i % 7))
        supports[p.title] = i % 7
    make_proposal(factory, comune=seveso["comune"], state=S.SUBMITTED, title="Proposta in coda")
    db.session.commit()
    for sort in ("recenti", "sostegni"):
        seen, url = [], f"/proposte?ordina={sort}"
        pages = []
        while url:
            html = client.get(url).get_data(as_text=True)
            titles = [t for t in _titles(html)]
            pages.append((url, titles))
            seen += titles
            url = _link(html, "next")
        assert len(seen) == 45 and len(set(seen)) == 45, sort
        assert "Proposta in coda" not in seen
        html = client.get(pages[-1][0]).get_data(as_text=True)
        back = _link(html, "prev")
        assert _titles(client.get(back).get_data(as_text=True)) == pages[-2][1]
        if sort == "sostegni":
            counts = [supports[t] for t in seen]
            assert counts == sorted(counts, reverse=True)
    # The page (20) and the API (50) each keep their own size, in either order.
    assert len(client.get("/api/v1/proposte").get_json()["items"]) == 45
    assert len(_titles(client.get("/proposte").get_data(as_text=True))) == 20
    filtered = client.get(f"/proposte?comune={other.id}").get_data(as_text=True)
    assert len(_titles(filtered)) == 15
    partial = client.htmx(f"/proposte?comune={other.id}")
    assert "<html" not in partial.get_data(as_text=True)
    assert "HX-Request" in partial.headers.get("Vary", "")
    # Most supported first within a filter.
    for query, expected in ((f"comune={other.id}", 15), (f"comune={seveso['comune'].id}", 30),
                            ("stato=published", 45)):
        seen, url = [], f"/proposte?ordina=sostegni&{query}"
        while url:
            html = client.get(url).get_data(as_text=True)
            seen += _titles(html)
            url = _link(html, "next")
        assert len(seen) == len(set(seen)) == expected, query
        counts = [supports[t] for t in seen]
        assert counts == sorted(counts, reverse=True), query


def _titles(html):
    import re

    return re.findall(r'<h3 class="h5 card-title mb-1"><a href="/proposte/\d+">([^<]+)</a>', html)


def _link(html, rel):
    import re

    match = re.search(rf'href="([^"]+)" rel="{rel}"', html)
    return match.group(1).replace("&amp;", "&") if match else None


def test_theme_and_state_filters(app, db, client, factory):
    """The theme and state filters keep only matching proposals."""
    make_proposal(factory, state=S.PUBLISHED, title="Sul tema casa", themes=("casa-e-abitare",))
    make_proposal(factory, state=S.SELECTED, title="Selezionata scuola")
    html = client.get("/proposte?tema=casa-e-abitare").get_data(as_text=True)
    assert _titles(html) == ["Sul tema casa"]
    html = client.get("/proposte?stato=selected").get_data(as_text=True)
    assert _titles(html) == ["Selezionata scuola"]


def test_new_round_and_theme_show_in_the_filters_at_once(app, db, client, factory):
    """The filter menus are kept by each worker until the next write: a round opened or a
    theme added a moment after the list was shown is offered on the next visit."""
    from portal.catalogue.models import Theme
    from tests.voting.helpers import make_round

    proposal = make_proposal(factory, state=S.PUBLISHED, title="Nel giro di voto")
    html = client.get("/proposte").get_data(as_text=True)
    assert "Votazione di primavera" not in html and "Orti e giardini" not in html
    round_ = make_round(proposal.table, [proposal], title="Votazione di primavera")
    db.session.add(Theme(slug="orti-e-giardini", name="Orti e giardini", position=99))
    db.session.commit()
    html = client.get("/proposte").get_data(as_text=True)
    assert f'<option value="{round_.id}"' in html and "Votazione di primavera" in html
    assert 'value="orti-e-giardini"' in html and "Orti e giardini" in html


# --------------------------------------------------------------------------- moderation


def test_queue_shows_age_and_highlights_overdue(app, db, client, factory, seveso):
    """Items older than seven days are highlighted; other Comuni's items are not shown."""
    old = make_proposal(factory, comune=seveso["comune"], state=S.SUBMITTED, title="Vecchia")
    old.submitted_at = utcnow() - timedelta(days=9)
    make_proposal(factory, comune=seveso["comune"], state=S.SUBMITTED, title="Recente")
    make_proposal(factory, comune=factory.comune(), state=S.SUBMITTED, title="Altrove")
    db.session.commit()
    switch(client, "moderatore@example.org")
    html = client.get("/proposte/moderazione").get_data(as_text=True)
    assert "Vecchia" in html and "Recente" in html and "Altrove" not in html
    assert html.count('class="overdue"') == 1 and "9 giorni" in html


def test_queue_refused_to_families(app, client, login_as, seveso):
    """Only moderators (and coordinators) open the queue."""
    login_as("family", comune=seveso["comune"])
    assert client.get("/proposte/moderazione").status_code == 403


def test_moderator_of_other_comune_cannot_moderate(app, db, client, factory, login_as, seveso):
    """A moderator whose association is not active in the Comune is refused."""
    proposal = make_proposal(factory, comune=seveso["comune"], state=S.SUBMITTED)
    login_as(Role.MODERATOR, factory.association([factory.comune()]).id)
    assert client.form(f"/proposte/{proposal.id}/modera",
                       {"decision": "published"}).status_code == 403
    db.session.expire_all()
    assert proposal.state == S.SUBMITTED


@pytest.mark.parametrize("data", [{"decision": "nonsense"}, {"decision": "published",
                                  "note": "x" * 3000}, {}, {"decision": "rejected"},
                                  {"decision": "approved", "note": "no"}])
def test_bad_moderation_input(app, db, client, factory, seveso, data):
    """Unknown decisions, missing reasons and huge notes give 422, nothing changes."""
    proposal = make_proposal(factory, comune=seveso["comune"], state=S.SUBMITTED)
    switch(client, "moderatore@example.org")
    assert client.form(f"/proposte/{proposal.id}/modera", data).status_code == 422
    db.session.expire_all()
    assert proposal.state == S.SUBMITTED


def test_reject_notifies_with_reason(app, db, client, factory, seveso):
    """The family reads the reason of a rejection in the portal and by mail."""
    author = factory.user()
    proposal = make_proposal(factory, comune=seveso["comune"], user=author, state=S.SUBMITTED)
    switch(client, "moderatore@example.org")
    client.form(f"/proposte/{proposal.id}/modera",
                {"decision": "rejected", "note": "Servizio già attivo."})
    assert "Servizio già attivo." in outbox(author.email)[-1].body
    assert db.session.scalar(db.select(Notification).where(
        Notification.user_id == author.id, Notification.kind == "proposal.rejected"))


def test_author_withdraws(app, db, client, factory, seveso):
    """The authors withdraw a published proposal; the history says so."""
    author = factory.user()
    proposal = make_proposal(factory, comune=seveso["comune"], user=author, state=S.PUBLISHED)
    switch(client, author.email)
    assert client.form(f"/proposte/{proposal.id}/ritira",
                       {"note": "Accordo con la parrocchia"}).status_code == 303
    db.session.expire_all()
    assert proposal.state == S.WITHDRAWN
    assert "Accordo con la parrocchia" in client.get(f"/proposte/{proposal.id}").get_data(
        as_text=True)


def test_delete_draft_only(app, db, client, factory, seveso):
    """A draft can be deleted by its authors; a submitted proposal cannot."""
    author = factory.user()
    draft = make_proposal(factory, comune=seveso["comune"], user=author, state=S.DRAFT)
    submitted = make_proposal(factory, comune=seveso["comune"], user=author, state=S.SUBMITTED)
    switch(client, author.email)
    assert client.form(f"/proposte/{submitted.id}/elimina").status_code == 403
    draft_id = draft.id
    assert client.form(f"/proposte/{draft_id}/elimina").status_code == 303
    db.session.expire_all()
    assert db.session.scalar(db.select(Proposal).where(Proposal.id == draft_id)) is None


def test_a_hidden_proposal_shows_a_placeholder_but_to_authors_and_moderators(
        app, db, client, factory, login_as, seveso):
    """Hidden means hidden: page title, heading, meta description, breadcrumbs, the list and
    the API show a neutral placeholder to visitors and other users; the authors and the
    moderators still read the proposal."""
    import re

    author = factory.user()
    proposal = make_proposal(factory, comune=seveso["comune"], user=author,
                             state=S.PUBLISHED, title="Titolo offensivo")
    proposal.summary = "Riassunto offensivo"
    db.session.commit()
    switch(client, "moderatore@example.org")
    assert client.form(f"/proposte/{proposal.id}/nascondi",
                       {"reason": "Linguaggio inaccettabile"}).status_code == 303
    client.post("/esci", data={"csrf_token": client.csrf()})

    def shown(url):
        return client.get(url).get_data(as_text=True)

    for who in (None, "stranger"):
        if who:
            login_as()
        page = shown(f"/proposte/{proposal.id}")
        assert "offensivo" not in page
        assert re.search(r"<h1[^>]*>\s*Proposta nascosta dai moderatori", page)
        assert "<title>Proposta nascosta dai moderatori" in page
        assert "offensivo" not in shown("/proposte") + shown("/api/v1/proposte")
        client.post("/esci", data={"csrf_token": client.csrf()})
    for email in (author.email, "moderatore@example.org"):
        switch(client, email)
        page = shown(f"/proposte/{proposal.id}")
        assert "<title>Titolo offensivo" in page and "Riassunto offensivo" in page


def test_hide_and_unhide_a_reported_proposal(app, db, client, factory, login_as, seveso):
    """A reported proposal is hidden with a reason; the page says by which association and why."""
    proposal = make_proposal(factory, comune=seveso["comune"], state=S.PUBLISHED,
                             title="Proposta segnalata")
    login_as()
    assert client.form(f"/proposte/{proposal.id}/segnala",
                       {"reason": "Contiene dati personali"}).status_code == 303
    switch(client, "moderatore@example.org")
    queue = client.get("/proposte/moderazione").get_data(as_text=True)
    assert "Contiene dati personali" in queue
    assert client.form(f"/proposte/{proposal.id}/nascondi", {"reason": ""}).status_code == 422
    assert client.form(f"/proposte/{proposal.id}/nascondi",
                       {"reason": "Dati personali di terzi"}).status_code == 303
    client.post("/esci", data={"csrf_token": client.csrf()})
    page = client.get(f"/proposte/{proposal.id}").get_data(as_text=True)
    assert "nascosta dai moderatori di AFI" in page and "Dati personali di terzi" in page
    assert "Proposta segnalata" not in client.get("/proposte").get_data(as_text=True)
    switch(client, "moderatore@example.org")
    assert client.form(f"/proposte/{proposal.id}/mostra").status_code == 303
    db.session.expire_all()
    assert proposal.listed
    kinds = [e.kind for e in db.session.scalars(db.select(ProposalEvent).where(
        ProposalEvent.proposal_id == proposal.id))]
    assert kinds[-2:] == ["hidden", "unhidden"]


def test_co_proposer_invited_accepts(app, db, client, factory, seveso):
    """An invited household accepts from "Le mie proposte" and is then named on the page."""
    author = factory.user()
    proposal = make_proposal(factory, comune=seveso["comune"], user=author, state=S.DRAFT)
    friend = factory.user(email="amica@example.org")
    factory.household(user=friend, comune=seveso["comune"], name="Famiglia Amica")
    switch(client, author.email)
    assert client.form(f"/proposte/{proposal.id}/co-proponenti",
                       {"email": "amica@example.org"}).status_code == 303
    assert outbox("amica@example.org")
    switch(client, "amica@example.org")
    mine = client.get("/account/proposte").get_data(as_text=True)
    assert proposal.title in mine
    invitation = proposal.co_proposers[0]
    assert client.form(f"/proposte/inviti/{invitation.id}", {"answer": "accept"}
                       ).status_code == 303
    db.session.expire_all()
    assert invitation.status == "accepted"
    assert "Famiglia Amica" in client.get(f"/proposte/{proposal.id}").get_data(as_text=True)


def test_inviting_by_email_tells_nothing_about_the_address(app, db, client, factory, seveso):
    """Whatever the address (nobody's, a household's, the proposing one's, one already
    invited), the inviter gets the same answer and never a household's name; and the form is
    rate-limited per account."""
    author = factory.user()
    proposal = make_proposal(factory, comune=seveso["comune"], user=author, state=S.DRAFT)
    friend = factory.user(email="amica@example.org")
    factory.household(user=friend, comune=seveso["comune"], name="Famiglia Amica")
    switch(client, author.email)
    answers = []
    for email in ("nessuno@example.org", "amica@example.org", "amica@example.org",
                  author.email):
        response = client.form(f"/proposte/{proposal.id}/co-proponenti", {"email": email},
                               follow_redirects=True)
        page = response.get_data(as_text=True)
        assert "Famiglia Amica" not in page
        answers.append((response.status_code, "riceverà l&#39;invito" in page
                        or "riceverà l'invito" in page))
    assert answers == [(200, True)] * 4
    assert len(proposal.co_proposers) == 1 and len(outbox("amica@example.org")) == 1
    limited = client.form(f"/proposte/{proposal.id}/co-proponenti",
                          {"email": "altro@example.org"})
    assert limited.status_code == 303
    limited = client.form(f"/proposte/{proposal.id}/co-proponenti",
                          {"email": "altro@example.org"},
                          environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert limited.status_code == 429


def test_dashboard_panels(app, client, factory, login_as, seveso):
    """Families see "Le mie proposte" in their area; moderators also the queue."""
    login_as("family", comune=seveso["comune"])
    html = client.get("/account").get_data(as_text=True)
    assert "Le mie proposte" in html and "Apri la coda" not in html
    switch(client, "moderatore@example.org")
    assert "Apri la coda" in client.get("/account").get_data(as_text=True)


def test_merged_proposal_redirects_visitors(app, db, client, factory, seveso):
    """A visitor opening a merged proposal lands on the one it was merged into."""
    from portal.proposals import services

    target = make_proposal(factory, comune=seveso["comune"], state=S.PUBLISHED)
    dup = make_proposal(factory, comune=seveso["comune"], state=S.SUBMITTED)
    services.merge(dup, target, seveso["moderator"], "Doppione")
    db.session.commit()
    response = client.get(f"/proposte/{dup.id}")
    assert response.status_code == 302 and response.location.endswith(f"/proposte/{target.id}")


def test_comune_filter_by_name_and_table_level(app, db, client, factory):
    """The Comune is chosen in a list of the Comuni (a link may still name it); the table
    filter tells the Comuni's tables from the Rete's."""
    from portal.tables.models import Table

    giussano = factory.comune("Giussano")
    rete = Table(name="Tavolo intercomunale", slug="tavolo-intercomunale", comune_id=None)
    db.session.add(rete)
    db.session.commit()
    make_proposal(factory, comune=giussano, state=S.PUBLISHED, title="Locale di Giussano")
    make_proposal(factory, comune=giussano, table=rete, state=S.PUBLISHED, title="Per la Rete")
    make_proposal(factory, state=S.PUBLISHED, title="Altrove")
    assert sorted(_titles(client.get("/proposte?comune=giussano").get_data(as_text=True))) == [
        "Locale di Giussano", "Per la Rete"]
    html = client.get("/proposte?comune=GIUSSANO&tavolo=intercomunale").get_data(as_text=True)
    assert _titles(html) == ["Per la Rete"]
    assert '<option value="giussano" selected>Giussano</option>' in html
    html = client.get("/proposte?tavolo=comunali").get_data(as_text=True)
    assert sorted(_titles(html)) == ["Altrove", "Locale di Giussano"]
    html = client.get("/proposte?comune=Atlantide").get_data(as_text=True)
    assert _titles(html) == [] and "Nessun Comune della Rete con questo nome" in html
    data = client.get("/api/v1/proposte?comune=giussano&tavolo=intercomunale").get_json()
    assert [i["title"] for i in data["items"]] == ["Per la Rete"]
    assert data["items"][0]["themes"] == ["scuola-ed-educazione"]


def test_a_large_rete_types_the_comune_instead_of_choosing_it(app, db, client, factory,
                                                              monkeypatch):
    """With more Comuni than a list can usefully show, the filter is a text field: the typed
    name finds the Comune, an unknown one says so, and the page stays light."""
    from portal.proposals import views

    monkeypatch.setattr(views, "COMUNE_SELECT_MAX", 2)
    giussano = factory.comune("Giussano")
    factory.comune("Seregno")
    factory.comune("Meda")
    make_proposal(factory, comune=giussano, state=S.PUBLISHED, title="Locale di Giussano")
    make_proposal(factory, state=S.PUBLISHED, title="Altrove")
    html = client.get("/proposte?comune=giussano").get_data(as_text=True)
    assert _titles(html) == ["Locale di Giussano"]
    assert '<select class="form-select" id="f-comune"' not in html
    assert 'name="comune" value="Giussano"' in html
    html = client.get("/proposte?comune=Atlantide").get_data(as_text=True)
    assert _titles(html) == [] and "Nessun Comune della Rete con questo nome" in html
    assert 'value="Atlantide"' in html
