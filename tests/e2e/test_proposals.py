"""End to end: a family proposes, a moderator asks for changes and publishes, households vote."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import check_a11y, login, screenshot, submit, tick, visit

pytestmark = pytest.mark.e2e


def _world(live):
    from portal.authz import Role

    f = live.factory
    comune = f.comune("Seveso")
    association = f.association([comune], name="AFI – Associazione delle Famiglie")
    moderator = f.user(email="moderatrice@example.org", name="Marta Moderatrice")
    f.grant(moderator, Role.MODERATOR, association.id)
    family = f.user(email="giulia@example.org", name="Giulia Brambilla")
    f.household(user=family, comune=comune, name="Famiglia Brambilla")
    voters = []
    for i in range(4):
        user = f.user(email=f"votante{i}@example.org", name=f"Votante {i}")
        f.household(user=user, comune=comune, name=f"Famiglia Votante {i}")
        voters.append(user)
    return dict(comune=comune, table=f.table(comune), voters=voters)


def test_propose_moderate_resubmit_publish_and_vote(live, page, new_page, nojs_page):
    """The loop in the browser, with htmx votes in place and one vote with JavaScript off."""
    world = _world(live)

    # The family drafts and submits.
    login(page, "giulia@example.org")
    visit(page, "/proposte/nuova")
    page.get_by_label("Titolo").fill("Pedibus per le scuole di Seveso")
    page.get_by_label("In breve").fill("Accompagnare a piedi i bambini delle primarie.")
    page.get_by_label("La proposta", exact=True).fill(
        "Tre linee di **Pedibus** con genitori e nonni volontari.")
    tick(page.get_by_label("Scuola ed educazione"))
    page.get_by_label("Costo stimato in euro (facoltativo)").fill("4.800")
    submit(page, "Salva la bozza")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pedibus per le scuole di Seveso")
    check_a11y(page)
    submit(page, "Invia ai moderatori")
    expect(page.locator("#flash-messages")).to_contain_text("inviata ai moderatori")
    proposal_url = page.url.split("#")[0]

    # The moderator asks for changes.
    moderator = new_page()
    login(moderator, "moderatrice@example.org")
    visit(moderator, "/proposte/moderazione")
    moderator.get_by_role("link", name=re.compile("Modera")).first.click()
    moderator.wait_for_load_state()
    check_a11y(moderator)
    tick(moderator.get_by_label("Chiedi modifiche"))
    moderator.get_by_label("Messaggio per le famiglie").fill("Indicate gli orari delle linee.")
    submit(moderator, "Registra la decisione")
    screenshot(moderator, "changes-requested")

    # The family reads the request, edits and resubmits.
    visit(page, proposal_url)
    expect(page.get_by_text("Indicate gli orari delle linee.").first).to_be_visible()
    page.get_by_role("link", name="Modifica", exact=True).click()
    page.wait_for_load_state()
    check_a11y(page)
    page.get_by_label("In breve").fill("Accompagnare a piedi i bambini, partenza alle 7.45.")
    submit(page, "Salva le modifiche")
    submit(page, "Invia di nuovo ai moderatori")

    # The moderator publishes.
    visit(moderator, proposal_url)
    tick(moderator.get_by_label("Pubblica"))
    submit(moderator, "Registra la decisione")
    visit(moderator, "/proposte")
    expect(moderator.get_by_role("link", name="Pedibus per le scuole di Seveso")).to_be_visible()

    # A round opens with the proposal; three households vote with htmx.
    from portal.proposals.models import Proposal
    from tests.voting.helpers import make_round

    live.refresh()
    proposal = live.db.session.scalar(live.db.select(Proposal))
    assert proposal.state == "published"
    round_ = make_round(world["table"], [proposal], max_supports=2, threshold=3)
    box = f"#vote-{round_.id}-{proposal.id}"
    for i, voter in enumerate(world["voters"][:3]):
        voter_page = page if i == 0 else new_page()
        if i == 0:
            page.context.clear_cookies()
        login(voter_page, voter.email)
        visit(voter_page, f"/votazioni/{round_.id}")
        before = voter_page.url
        voter_page.locator(box).get_by_role("button", name=re.compile("^Sostieni")).click()
        expect(voter_page.locator(f"{box} .vote-number")).to_have_text(str(i + 1))
        expect(voter_page.locator(box).get_by_role("button", name=re.compile("Ritira"))
               ).to_be_visible()
        expect(voter_page.locator(f"#ballot-{round_.id}")).to_contain_text("Ti resta 1 sostegno")
        assert voter_page.url == before  # swapped in place, no navigation
        check_a11y(voter_page, "after the htmx vote")
        screenshot(voter_page, f"voted-{i}")

    # The fourth votes with JavaScript off: the form posts and comes back.
    login(nojs_page, world["voters"][3].email)
    visit(nojs_page, proposal_url)
    submit(nojs_page, re.compile("^Sostieni"))
    expect(nojs_page.locator(f"{box} .vote-number")).to_have_text("4")
    expect(nojs_page.locator("#flash-messages")).to_contain_text("Voto registrato")
    check_a11y(nojs_page)
    screenshot(nojs_page, "voted-without-js")

    live.refresh()
    from portal.voting.models import Vote

    assert live.db.session.scalar(live.db.select(live.db.func.count(Vote.id))) == 4


def test_public_pages_are_accessible_with_the_demo(live, page, phone_page):
    """The list, a proposal, the rounds and the results pass axe, on a desktop and a phone."""
    live.seed_demo()
    for target in (page, phone_page):
        visit(target, "/proposte")
        target.get_by_label("Ordina per").select_option("sostegni")
        visit(target, "/proposte?ordina=sostegni&comune=" + str(_seveso_id(live)))
        visit(target, "/votazioni")
        visit(target, "/votazioni/1")
        visit(target, "/votazioni/1/risultati")
        visit(target, "/proposte/1")


def test_htmx_filters_update_the_list(live, page):
    """Changing a filter replaces the results without reloading the page."""
    live.seed_demo()
    visit(page, "/proposte")
    page.get_by_label("Stato").select_option("on_agenda")
    expect(page).to_have_url(re.compile(r"stato=on_agenda"))
    expect(page.locator("#proposals-results .state-badge").first).to_have_text(
        "All'ordine del giorno")
    check_a11y(page, "after filtering")


def _seveso_id(live) -> int:
    from portal.network.models import Comune

    return live.db.session.scalar(live.db.select(Comune.id).where(Comune.slug == "seveso"))
