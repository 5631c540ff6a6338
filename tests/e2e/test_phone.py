"""End to end: the main pages of the demo Rete on a phone, anonymous and logged in, never wider
than the screen (no sideways scrolling), and accessible (visit() runs axe)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import DEMO_PASSWORD, login, logout, visit

pytestmark = pytest.mark.e2e

FAMILY = "famiglia@example.org"


_faults: list[str] = []


def _fits(page: Page, name: str, path: str) -> None:
    """Open `path` on the phone: visit() checks axe, the width and the header, and takes a
    screenshot. A fault is noted with `name` and the walk goes on, to list every page at once."""
    try:
        visit(page, path)
    except (pytest.fail.Exception, AssertionError) as exc:
        _faults.append(f"{name} ({path}): {exc}")


def _demo_paths(live) -> dict[str, str]:
    """The paths of the demo's representative pages, found in its data."""
    from portal.accounts.models import User
    from portal.catalogue.models import GoodPractice
    from portal.db_setup import utcnow
    from portal.tables.models import Meeting, Project, Table
    from portal.voting.models import Round, RoundEntry

    db = live.db
    family = db.session.scalar(db.select(User).where(User.email == FAMILY))
    comune = family.household.comune
    table = db.session.scalar(db.select(Table).where(Table.comune_id == comune.id))
    rounds = db.session.scalars(db.select(Round).where(Round.table_id == table.id)
                                .order_by(Round.opens_at)).all()
    now = utcnow()
    open_round = next(r for r in rounds if r.opens_at <= now < r.closes_at)
    closed_round = next(r for r in rounds if r.closes_at <= now and r.results_at is not None)
    in_vote = db.session.scalar(db.select(RoundEntry.proposal_id)
                                .where(RoundEntry.round_id == open_round.id)
                                .order_by(RoundEntry.proposal_id).limit(1))
    practice = db.session.scalar(db.select(GoodPractice.slug)
                                 .where(GoodPractice.published_at.is_not(None))
                                 .order_by(GoodPractice.id).limit(1))
    meeting = db.session.scalar(db.select(Meeting.id)
                                .where(Meeting.table_id == table.id, Meeting.minutes_revision > 0)
                                .order_by(Meeting.starts_at.desc()).limit(1))
    project = db.session.scalar(db.select(Project.id).order_by(Project.id).limit(1))
    assert None not in (in_vote, practice, meeting, project), "the demo lacks a page to check"
    return {
        "la home": "/",
        "l'elenco dei Comuni": "/comuni",
        f"la pagina del Comune di {comune.name}": f"/comuni/{comune.slug}",
        "il catalogo delle buone pratiche": "/pratiche",
        "una buona pratica": f"/pratiche/{practice}",
        "l'elenco delle proposte": "/proposte",
        "una proposta in votazione": f"/proposte/{in_vote}",
        "l'elenco delle votazioni": "/votazioni",
        "la votazione aperta": f"/votazioni/{open_round.id}",
        "i risultati di una votazione chiusa": f"/votazioni/{closed_round.id}/risultati",
        "l'elenco dei tavoli": "/tavoli",
        f"il tavolo di {comune.name}": f"/tavoli/{table.slug}",
        "una seduta con il verbale pubblicato": f"/sedute/{meeting}",
        "i progetti approvati (rendicontazione)": "/progetti",
        "un progetto approvato": f"/progetti/{project}",
    }


def _walk(page: Page, paths: dict[str, str], who: str, vote_control: tuple[str, str]) -> None:
    """Every page of `paths` fits the phone, as `who`; the proposal in the open round shows
    `vote_control` (role, name) in its vote box."""
    for name, path in paths.items():
        _fits(page, f"{name} ({who})", path)
        if path == paths["una proposta in votazione"]:
            role, label = vote_control
            expect(page.locator(".vote-box").get_by_role(role, name=label)).to_be_visible()


@pytest.mark.parametrize("script", ["js", "nojs"])
def test_main_pages_fit_a_phone(live, phone_page, nojs_phone_page, script):
    """At 390px, with and without JavaScript, no page of the demo Rete scrolls sideways and
    the header stays in its place: public pages anonymously, the same and the family's own
    pages logged in, with the vote box of the open round; then the staff's wide pages."""
    live.seed_demo()
    paths = _demo_paths(live)
    page = phone_page if script == "js" else nojs_phone_page
    _faults.clear()

    _walk(page, paths, "anonimo", ("link", "Accedi per votare"))
    expect(page.locator("header").get_by_role("link", name="Registrati")).to_be_visible()
    _fits(page, "il modulo di registrazione", "/registrati")
    _fits(page, "il modulo di accesso", "/accedi")

    login(page, FAMILY, DEMO_PASSWORD)
    _walk(page, paths, "famiglia", ("button", "Sostieni"))
    _fits(page, "il modulo della nuova proposta", "/proposte/nuova")
    _fits(page, "le mie proposte", "/account/proposte")
    _fits(page, "l'area personale", "/account")
    _fits(page, "la pagina della famiglia", "/famiglia")
    logout(page)

    table = paths["il tavolo di Seveso"]
    for email, staff_paths in (
        ("admin@example.org", ["/account", "/rete/ruoli", "/rete/adesioni"]),
        ("moderatore@example.org", ["/account", "/proposte/moderazione"]),
        ("comune@example.org", ["/account", "/comune/verifiche"]),
        ("segreteria@example.org", ["/account"]),
        ("presidente@example.org", ["/account", f"{table}/componenti"]),
        ("esercente@example.org", ["/account"]),
    ):
        login(page, email, DEMO_PASSWORD)
        for path in staff_paths:
            _fits(page, f"{path} ({email})", path)
        logout(page)
    assert not _faults, "\n\n".join(_faults)
