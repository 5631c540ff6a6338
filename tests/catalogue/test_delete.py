"""Deleting a draft practice: who may, after a confirmation page, with its files and index
rows; a practice that was ever published is never deleted."""

from __future__ import annotations

import io

import pytest

from portal.authz import Role
from portal.catalogue.models import (
    GoodPractice,
    Indicator,
    PracticeFile,
    PracticeRevision,
    Promoter,
)
from portal.core.models import AuditLog
from tests.catalogue.test_uploads import PDF, PNG

REFUSED = "è stata pubblicata"


def _exists(db, practice_id: int) -> bool:
    db.session.expire_all()
    return db.session.get(GoodPractice, practice_id) is not None


def _upload(client, slug, content, filename, kind="attachment"):
    response = client.form(f"/pratiche/{slug}/file", {
        "f-kind": kind, "f-title": "Volantino", "f-file": (io.BytesIO(content), filename)},
        content_type="multipart/form-data")
    assert response.status_code == 303


def test_the_author_deletes_a_draft_after_confirming(client, db, factory, login_as, uploads):
    """A moderator drafts a practice with promoters, results and files; the edit page offers
    to delete it, a confirmation page (a plain form: no JavaScript) says what goes, and once
    confirmed the practice, its revisions, rows and stored files are gone, and the audit log
    says who deleted what."""
    from portal.catalogue.services import ensure_default_themes

    ensure_default_themes()
    db.session.commit()
    seveso = factory.comune("Seveso")
    association = factory.association([seveso])
    author = login_as(Role.MODERATOR, association.id)
    response = client.form("/pratiche/nuova", {
        "title": "Nonni civici al parco", "summary": "Nonni volontari davanti alle scuole.",
        "body": "", "status": "idea", "owner": "", "comuni": [str(seveso.id)]})
    assert response.status_code == 303
    practice = db.session.scalars(db.select(GoodPractice)).one()
    slug, pid = practice.slug, practice.id
    assert client.form(f"/pratiche/{slug}/promotori",
                       {"p-name": "Nonni in rete", "p-kind": "association"}).status_code == 303
    assert client.form(f"/pratiche/{slug}/indicatori",
                       {"i-name": "Nonni attivi", "i-value": "12"}).status_code == 303
    _upload(client, slug, PDF, "turni.pdf")
    _upload(client, slug, PNG, "parco.png", kind="cover")
    keys = db.session.scalars(db.select(PracticeFile.storage_key)).all()
    assert len(keys) == 2 and all((uploads / key).is_file() for key in keys)

    edit = client.get(f"/pratiche/{slug}/modifica").get_data(as_text=True)
    assert f'href="/pratiche/{slug}/elimina"' in edit
    detail = client.get(f"/pratiche/{slug}").get_data(as_text=True)
    assert f'href="/pratiche/{slug}/elimina"' in detail

    confirm = client.get(f"/pratiche/{slug}/elimina")
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200
    assert "non si può annullare" in page and "Nonni civici al parco" in page
    assert f'action="/pratiche/{slug}/elimina"' in page and 'name="csrf_token"' in page
    assert "1 promotore" in page and "1 indicatore di risultato" in page
    assert "2 file caricati" in page
    assert _exists(db, pid)  # the page alone deletes nothing

    response = client.form(f"/pratiche/{slug}/elimina")
    assert response.status_code == 303 and response.headers["Location"].endswith(
        "/pratiche/bozze")
    drafts = client.get("/pratiche/bozze").get_data(as_text=True)
    assert "Bozza «Nonni civici al parco» eliminata." in drafts

    assert not _exists(db, pid)
    for model in (PracticeRevision, PracticeFile, Promoter, Indicator):
        assert db.session.scalar(db.select(db.func.count()).select_from(model).where(
            model.practice_id == pid)) == 0, model
    assert not any((uploads / key).exists() for key in keys)
    entry = db.session.scalars(db.select(AuditLog).where(
        AuditLog.action == "catalogue.draft_deleted")).one()
    assert entry.actor_id == author.id and entry.object_id == pid
    assert entry.details["title"] == "Nonni civici al parco" and entry.details["files"] == 2
    assert client.get(f"/pratiche/{slug}").status_code == 404
    assert client.get(f"/pratiche/{slug}/elimina").status_code == 404


@pytest.fixture
def scene(factory, practices):
    """A draft kept by an association, running in Seveso, with its own owner."""
    seveso, limbiate = factory.comune("Seveso"), factory.comune("Limbiate")
    keeper, stranger = factory.association([seveso]), factory.association([limbiate])
    draft = practices.make(title="Spazio compiti solidale", comuni=[seveso], published=False,
                           owner_association_id=keeper.id)
    return {"seveso": seveso, "limbiate": limbiate, "keeper": keeper, "stranger": stranger,
            "draft": draft}


ALLOWED = {
    "the owning association's moderator": lambda s: (Role.MODERATOR, s["keeper"].id),
    "an officer of a Comune where it runs": lambda s: (Role.COMUNE_OFFICER, s["seveso"].id),
    "a coordinator": lambda s: (Role.COORDINATOR, 0),
}
REFUSED_ROLES = {
    "an officer of another Comune": lambda s: (Role.COMUNE_OFFICER, s["limbiate"].id),
    "a moderator of another association": lambda s: (Role.MODERATOR, s["stranger"].id),
    "a family": lambda s: ("family", 0),
    "a user without roles": lambda s: (None, 0),
}


@pytest.mark.parametrize("who", ALLOWED)
def test_those_who_may_edit_a_draft_may_delete_it(client, db, login_as, scene, who):
    role, scope = ALLOWED[who](scene)
    login_as(role, scope)
    slug = scene["draft"].slug
    assert client.get(f"/pratiche/{slug}/elimina").status_code == 200
    assert client.form(f"/pratiche/{slug}/elimina").status_code == 303
    assert not _exists(db, scene["draft"].id)


@pytest.mark.parametrize("who", REFUSED_ROLES)
def test_others_may_not_delete_a_draft(client, db, login_as, scene, who):
    role, scope = REFUSED_ROLES[who](scene)
    login_as(role, scope)
    slug = scene["draft"].slug
    assert client.get(f"/pratiche/{slug}/elimina").status_code == 403
    assert client.form(f"/pratiche/{slug}/elimina").status_code == 403
    assert "/elimina" not in client.get(f"/pratiche/{slug}/modifica").get_data(as_text=True)
    assert _exists(db, scene["draft"].id)


def test_anonymous_visitors_are_sent_to_log_in_and_a_post_needs_its_token(client, db,
                                                                         login_as, scene):
    slug = scene["draft"].slug
    response = client.post(f"/pratiche/{slug}/elimina")
    assert response.status_code == 302 and "/accedi" in response.headers["Location"]
    login_as(Role.COMUNE_OFFICER, scene["seveso"].id)
    assert client.post(f"/pratiche/{slug}/elimina").status_code == 400  # no CSRF token
    assert _exists(db, scene["draft"].id)


def test_a_practice_ever_published_cannot_be_deleted(client, db, factory, login_as,
                                                     practices):
    """Published, or published then taken back to draft: no button, and the page and the
    POST answer 409 with the reason, even for a coordinator."""
    seveso = factory.comune("Seveso")
    published = practices.make(title="Pedibus", comuni=[seveso])
    withdrawn = practices.make(title="Banca del tempo", comuni=[seveso])
    login_as(Role.COMUNE_OFFICER, seveso.id)
    assert client.form(f"/pratiche/{withdrawn.slug}/ritira").status_code == 303
    db.session.expire_all()
    assert not db.session.get(GoodPractice, withdrawn.id).is_published
    for user_role, scope in ((None, None), (Role.COORDINATOR, 0)):
        if user_role is not None:
            client.form("/esci")
            login_as(user_role, scope)
        for practice in (published, withdrawn):
            slug = practice.slug
            assert "/elimina" not in client.get(f"/pratiche/{slug}").get_data(as_text=True)
            assert "/elimina" not in client.get(
                f"/pratiche/{slug}/modifica").get_data(as_text=True)
            for response in (client.get(f"/pratiche/{slug}/elimina"),
                             client.form(f"/pratiche/{slug}/elimina")):
                assert response.status_code == 409
                page = response.get_data(as_text=True)
                assert REFUSED in page and "Elimina definitivamente" not in page
            assert _exists(db, practice.id)
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditLog).where(
        AuditLog.action == "catalogue.draft_deleted")) == 0


def test_the_search_does_not_find_a_deleted_draft(app, client, db, factory, login_as,
                                                  practices):
    """Deleting a draft leaves nothing of it in the search index, even an entry left behind
    (an interrupted save indexed it while it was a draft, so the search found it): the
    search no longer finds it, and the facet counts do not count it."""
    from portal.catalogue import search
    from portal.db_setup import utcnow

    seveso = factory.comune("Seveso")
    practices.make(title="Ludoteca di quartiere", comuni=[seveso])
    draft = practices.make(title="Ludoteca itinerante", comuni=[seveso], published=False)
    with app.test_request_context("/"):
        stray = db.session.get(GoodPractice, draft.id)
        stray.published_at = utcnow()
        search.index(stray)
        db.session.commit()
    assert "Ludoteca itinerante" in client.get("/pratiche?q=itinerante").get_data(as_text=True)
    with app.test_request_context("/"):
        db.session.get(GoodPractice, draft.id).published_at = None  # the entry stays
        db.session.commit()
    login_as(Role.COMUNE_OFFICER, seveso.id)
    assert client.form(f"/pratiche/{draft.slug}/elimina").status_code == 303
    client.get("/pratiche/bozze")  # the flash message names it
    assert "Ludoteca itinerante" not in client.get("/pratiche?q=itinerante").get_data(
        as_text=True)
    page = client.get("/pratiche?q=ludoteca").get_data(as_text=True)
    assert "Ludoteca di quartiere" in page and "Ludoteca itinerante" not in page
    assert "1 buona pratica trovata" in page
    with app.test_request_context("/"):
        result = search.find(search.Search(comune=seveso.id))
    assert result.total == 1 and dict(result.facets["c"]) == {str(seveso.id): 1}
