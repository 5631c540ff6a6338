"""Good practices: drafting, revisions, publishing, promoters, results, files and adoptions.

Functions here flush and log; the request commits once. Other modules use two entry points:
`create_draft(actor, data)` to turn something (an approved proposal, a table's decision) into a
draft practice, and `new_practice_url(**prefill)` / `register_prefill_source()` to send a user
to the "new practice" form already filled in.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import date
from typing import Any, BinaryIO, NamedTuple

import nh3
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markdown_it import MarkdownIt
from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from portal import authz
from portal.accounts.models import User
from portal.authz import Role
from portal.caching import remember
from portal.catalogue import search
from portal.catalogue.models import (
    Adoption,
    AdoptionStatus,
    FileKind,
    GoodPractice,
    Indicator,
    PracticeFile,
    PracticeRevision,
    PracticeStatus,
    Promoter,
    PromoterKind,
    Theme,
    practice_comuni,
    practice_themes,
)
from portal.core.services import activity, audit, notify, register_dashboard_panel
from portal.core.texts import text
from portal.db_setup import utcnow
from portal.extensions import db
from portal.network.models import Association, Comune
from portal.network.services import register_comune_panel, slugify
from portal.storage import (
    IMAGES,
    PDF,
    UploadRejected,
    check_upload,
    new_key,
    safe_filename,
    storage,
)
from portal.web import parse_id

log = logging.getLogger(__name__)

STATUS_LABELS = {
    PracticeStatus.IDEA: _l("Idea"),
    PracticeStatus.TRIAL: _l("In sperimentazione"),
    PracticeStatus.ACTIVE: _l("Attiva"),
    PracticeStatus.ENDED: _l("Conclusa"),
}
KIND_LABELS = {
    PromoterKind.COMUNE: _l("Comune"),
    PromoterKind.ASSOCIATION: _l("Associazione familiare"),
    PromoterKind.THIRD_SECTOR: _l("Terzo settore"),
    PromoterKind.ENTERPRISE: _l("Impresa"),
}
ADOPTION_LABELS = {
    AdoptionStatus.EVALUATING: _l("In valutazione"),
    AdoptionStatus.STARTING: _l("In avvio"),
    AdoptionStatus.ACTIVE: _l("Attiva"),
    AdoptionStatus.ABANDONED: _l("Abbandonata"),
}
#: the themes the Rete started with; coordinators add and retire themes later
DEFAULT_THEMES = (
    "Conciliazione famiglia-lavoro",
    "Mutuo aiuto",
    "Economia di vicinato e GAF",
    "Scuola ed educazione",
    "Casa e abitare",
    "Anziani e cura",
    "Disabilità",
    "Tempo libero e sport",
    "Tariffe e Fattore Famiglia",
    "Partecipazione",
)
#: association kind (network module) -> promoter kind
ASSOCIATION_KIND = {"family": PromoterKind.ASSOCIATION, "third_sector": PromoterKind.THIRD_SECTOR,
                    "enterprise": PromoterKind.ENTERPRISE, "public_body": PromoterKind.COMUNE}
COVER_MAX = 2 * 1024 * 1024
ATTACHMENT_MAX = 8 * 1024 * 1024


class CatalogueError(ValueError):
    """A rule of the catalogue was broken; the message is for the user."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def status_label(value: str) -> str:
    return str(STATUS_LABELS.get(value, value))


def kind_label(value: str) -> str:
    return str(KIND_LABELS.get(value, value))


def adoption_label(value: str) -> str:
    return str(ADOPTION_LABELS.get(value, value))


# --------------------------------------------------------------------------- Markdown

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_md.disable("image")
ALLOWED_TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "a", "h3", "h4", "h5",
                "blockquote", "code", "pre", "hr"}
_HEADING = re.compile(r"<(/?)h([1-6])>")


def outline(html: str, top: int = 3, deepest: int = 5) -> str:
    """Headings renumbered so that the body's outline continues the page's (its sections are
    h2): the highest headings written become h3 and no level is skipped, whatever the author
    wrote ("## A" then "#### B" are h3 then h4)."""
    shown: list[tuple[int, int]] = []  # (level written, level shown) of the open sections
    current = top

    def renumber(match: re.Match) -> str:
        nonlocal current
        if match.group(1):  # a closing tag closes the heading just opened
            return f"</h{current}>"
        written = int(match.group(2))
        while shown and shown[-1][0] > written:
            shown.pop()
        if shown and shown[-1][0] == written:
            current = shown.pop()[1]
        else:
            current = min(shown[-1][1] + 1, deepest) if shown else top
        shown.append((written, current))
        return f"<h{current}>"

    return _HEADING.sub(renumber, html)


def render_markdown(text: str) -> str:
    """Markdown to sanitised HTML, its headings in the page's outline (see outline)."""
    rendered = outline(_md.render(text or ""))
    return nh3.clean(rendered, tags=ALLOWED_TAGS, attributes={"a": {"href", "title"}},
                     url_schemes={"http", "https", "mailto"},
                     link_rel="nofollow noopener noreferrer")


# --------------------------------------------------------------------------- lookups


def themes(active_only: bool = True) -> list[Theme]:
    query = select(Theme).order_by(Theme.position, Theme.name)
    if active_only:
        query = query.where(Theme.active.is_(True))
    return list(db.session.scalars(query))


def ensure_default_themes() -> None:
    """Create the ten themes of the Rete when the list is empty."""
    if db.session.scalar(select(Theme.id).limit(1)) is not None:
        return
    for position, name in enumerate(DEFAULT_THEMES, start=1):
        db.session.add(Theme(name=name, slug=slugify(name), position=position))
    db.session.flush()


def practice_by_slug(slug: str) -> GoodPractice | None:
    return db.session.scalar(
        select(GoodPractice).where(GoodPractice.slug == slug).options(
            selectinload(GoodPractice.themes), selectinload(GoodPractice.comuni),
            selectinload(GoodPractice.promoters), selectinload(GoodPractice.files),
        ))


def adoptions_of(practice: GoodPractice) -> list[Adoption]:
    """The practice's adoptions by Comune name, with their Comune (read by the same query's
    join) and their results."""
    return list(db.session.scalars(
        select(Adoption).join(Adoption.comune).where(Adoption.practice_id == practice.id)
        .options(contains_eager(Adoption.comune), selectinload(Adoption.indicators))
        .order_by(Comune.name, Adoption.id)))


def editable_drafts(user, limit: int = 100) -> list[GoodPractice]:
    """Practices not published yet that the user may edit or publish (the rules of
    portal/catalogue/policies.py, as a query)."""
    query = select(GoodPractice).where(GoodPractice.published_at.is_(None)).options(
        selectinload(GoodPractice.comuni), selectinload(GoodPractice.promoters))
    if not authz.is_coordinator(user):
        comune_ids = authz.scope_ids(user, Role.COMUNE_OFFICER) or {-1}
        association_ids = authz.scope_ids(user, Role.MODERATOR) or {-1}
        shared = GoodPractice.owner_comune_id.is_(None)  # no Comune owns it
        query = query.where(
            GoodPractice.owner_comune_id.in_(comune_ids)
            | (shared & (
                GoodPractice.owner_association_id.in_(association_ids)
                | GoodPractice.id.in_(select(practice_comuni.c.practice_id).where(
                    practice_comuni.c.comune_id.in_(comune_ids)))
                | GoodPractice.id.in_(select(Promoter.practice_id).where(
                    Promoter.association_id.in_(association_ids))))))
    return list(db.session.scalars(query.order_by(GoodPractice.updated_at.desc()).limit(limit)))


def owner_choices(user) -> list[tuple[str, str]]:
    """On behalf of whom `user` may draft: ("comune:ID" | "association:ID", label)."""
    coordinator = authz.is_coordinator(user)
    comuni = select(Comune).order_by(Comune.name)
    associations = select(Association).order_by(Association.name)
    if not coordinator:
        comuni = comuni.where(Comune.id.in_(authz.scope_ids(user, Role.COMUNE_OFFICER) or {-1}))
        associations = associations.where(
            Association.id.in_(authz.scope_ids(user, Role.MODERATOR) or {-1}))
    choices = [(f"comune:{c.id}", _("Comune di %(name)s", name=c.name))
               for c in db.session.scalars(comuni)]
    choices += [(f"association:{a.id}", a.name) for a in db.session.scalars(associations)]
    return choices


# --------------------------------------------------------------------------- drafting

#: fields of GoodPractice that `create_draft` and `update_practice` accept as they are
PLAIN_FIELDS = ("title", "summary", "body", "status", "started_on", "ended_on", "beneficiaries",
                "beneficiaries_count", "cost_cents", "funding_sources", "contacts",
                "origin_label", "origin_url")


#: paths under /pratiche/ that are pages, not practices
RESERVED_SLUGS = frozenset({"nuova", "bozze", "temi"})


def _unique_slug(title: str, practice_id: int | None = None) -> str:
    base = slugify(title)[:120].strip("-") or "pratica"
    if base in RESERVED_SLUGS:
        base = f"pratica-{base}"
    slug, n = base, 1
    while True:
        found = db.session.scalar(select(GoodPractice.id).where(GoodPractice.slug == slug))
        if found is None or found == practice_id:
            return slug
        n += 1
        slug = f"{base}-{n}"


def _check(data: dict) -> None:
    title = (data.get("title") or "").strip()
    if not title:
        raise CatalogueError(_("Indica il titolo della pratica."), "title")
    if len(title) > 160:
        raise CatalogueError(_("Il titolo può avere al massimo 160 caratteri."), "title")
    if len(data.get("summary") or "") > 600:
        raise CatalogueError(_("La sintesi può avere al massimo 600 caratteri."), "summary")
    if data.get("status") and data["status"] not in search.STATUS_VALUES:
        raise CatalogueError(_("Stato non valido."), "status")
    started, ended = data.get("started_on"), data.get("ended_on")
    if isinstance(started, date) and isinstance(ended, date) and ended < started:
        raise CatalogueError(_("La data di fine non può precedere quella di inizio."), "ended_on")
    cost = data.get("cost_cents")
    if cost is not None and (not isinstance(cost, int) or cost < 0):
        raise CatalogueError(_("Il costo deve essere un importo in euro non negativo."),
                             "cost_cents")


def themes_from(values) -> list[Theme]:
    """Themes by slug or id; unknown ones are ignored."""
    values = list(values or [])
    if not values:
        return []
    ids = [v for v in values if isinstance(v, int)]
    slugs = [v for v in values if isinstance(v, str)]
    return list(db.session.scalars(select(Theme).where(
        Theme.id.in_(ids or [-1]) | Theme.slug.in_(slugs or [""])).order_by(Theme.position)))


def _comuni_from(ids) -> list[Comune]:
    ids = [n for n in map(parse_id, ids or []) if n is not None]
    if not ids:
        return []
    return list(db.session.scalars(select(Comune).where(Comune.id.in_(ids)).order_by(Comune.name)))


def snapshot(practice: GoodPractice) -> dict[str, Any]:
    """The state of a practice kept in a revision (JSON-safe)."""
    data: dict[str, Any] = {}
    for name in PLAIN_FIELDS:
        value = getattr(practice, name)
        data[name] = value.isoformat() if isinstance(value, date) else value
    data["themes"] = [t.name for t in practice.themes]
    data["comuni"] = [c.name for c in practice.comuni]
    data["promoters"] = [f"{p.name} ({kind_label(p.kind)})" for p in practice.promoters]
    data["indicators"] = [
        f"{i.name}: {i.value:g} {i.unit or ''}".strip() for i in db.session.scalars(
            select(Indicator).where(Indicator.practice_id == practice.id,
                                    Indicator.adoption_id.is_(None)).order_by(Indicator.id))]
    return data


def _revise(actor, practice: GoodPractice, note: str) -> PracticeRevision:
    db.session.flush()
    practice.revision_count = (practice.revision_count or 0) + 1
    practice.updated_at = utcnow()
    revision = PracticeRevision(practice_id=practice.id, number=practice.revision_count,
                                author_id=getattr(actor, "id", None), note=note[:300],
                                snapshot=snapshot(practice))
    db.session.add(revision)
    return revision


def _apply(practice: GoodPractice, data: dict) -> None:
    for name in PLAIN_FIELDS:
        if name in data:
            value = data[name]
            if isinstance(value, str):
                value = value.strip() or None
            if name in ("title", "summary", "body") and value is None:
                value = ""
            if name == "status" and value is None:
                value = PracticeStatus.IDEA
            setattr(practice, name, value)
    practice.title_key = search.sort_key(practice.title)
    practice.body_html = render_markdown(practice.body)
    if "themes" in data:
        practice.themes = themes_from(data["themes"])
    if "comuni" in data:
        practice.comuni = _comuni_from(data["comuni"])


def _default_owner(actor, practice: GoodPractice, data: dict) -> None:
    """Who keeps the draft: as given, else the actor's Comune or association."""
    if data.get("owner_comune_id") or data.get("owner_association_id"):
        practice.owner_comune_id = data.get("owner_comune_id")
        practice.owner_association_id = data.get("owner_association_id")
        return
    comune_ids = authz.scope_ids(actor, Role.COMUNE_OFFICER) if actor else set()
    association_ids = authz.scope_ids(actor, Role.MODERATOR) if actor else set()
    runs_in = {c.id for c in practice.comuni}
    if comune_ids:
        practice.owner_comune_id = min(comune_ids & runs_in or comune_ids)
    elif association_ids:
        practice.owner_association_id = min(association_ids)


def create_draft(actor, data: dict) -> GoodPractice:
    """Create an unpublished practice from `data` and return it (flushed, with revision 1).

    `actor` is the user drafting (or None for the system). `data` may hold:
    title (required), summary, body (Markdown), status (idea, sperimentazione, attiva,
    conclusa), started_on / ended_on (dates), beneficiaries, beneficiaries_count, cost_cents
    (int), funding_sources, contacts, themes (slugs or ids), comuni (ids), promoters (a list of
    {"name", "kind", "role", "association_id", "comune_id"}; kind one of comune, association,
    third_sector, enterprise), owner_comune_id / owner_association_id (who keeps the draft;
    by default the actor's Comune or association), origin_label and origin_url (where it comes
    from, e.g. "Proposta n. 12" and its path: the practice page links back to it).
    Raises CatalogueError when the data break a rule.
    """
    _check(data)
    practice = GoodPractice(slug=_unique_slug(data["title"]), summary="", body="",
                            created_by_id=getattr(actor, "id", None))
    _apply(practice, data)
    db.session.add(practice)
    _default_owner(actor, practice, data)
    db.session.flush()
    for promoter in data.get("promoters") or []:
        _add_promoter(practice, promoter)
    _revise(actor, practice, _("Bozza creata"))
    audit("catalogue.draft_created", practice, {"title": practice.title}, actor=actor)
    log.info("practice %s drafted by %s", practice.id, getattr(actor, "id", None))
    return practice


def update_practice(actor, practice: GoodPractice, data: dict, note: str | None = None
                    ) -> PracticeRevision:
    """Change a practice's content; keeps a revision and refreshes the search index."""
    merged = {name: getattr(practice, name) for name in PLAIN_FIELDS} | data
    _check(merged)
    old_title = practice.title
    _apply(practice, data)
    if practice.title != old_title and not practice.is_published:
        practice.slug = _unique_slug(practice.title, practice.id)
    revision = _revise(actor, practice, note or _("Contenuto modificato"))
    search.index(practice)
    audit("catalogue.edited", practice, {"revision": revision.number}, actor=actor)
    return revision


def publish(actor, practice: GoodPractice) -> None:
    """Make a draft public: it enters the search index, the activity feed and the open data."""
    if practice.is_published:
        raise CatalogueError(_("La pratica è già pubblicata."))
    if not practice.summary.strip():
        raise CatalogueError(_("Prima di pubblicare scrivi la sintesi."), "summary")
    if not practice.comuni:
        raise CatalogueError(_("Prima di pubblicare indica almeno un Comune in cui si svolge."),
                             "comuni")
    practice.published_at = utcnow()
    practice.first_published_at = practice.first_published_at or practice.published_at
    practice.published_by_id = actor.id
    _revise(actor, practice, _("Pubblicata"))
    search.index(practice)
    link = url_for("catalogue.detail", slug=practice.slug)
    for comune in practice.comuni[:3]:
        activity("practice.published", text("practice.published", title=practice.title),
                 link, comune.id)
    audit("catalogue.published", practice, {"title": practice.title}, actor=actor)
    author = (db.session.get(User, practice.created_by_id)
              if practice.created_by_id else None)
    if author is not None and author.id != actor.id:
        notify([author], "catalogue.published",
               _("La buona pratica «%(title)s» è stata pubblicata", title=practice.title), link)
    log.info("practice %s published by %s", practice.id, actor.id)


def unpublish(actor, practice: GoodPractice) -> None:
    """Take a practice back to draft: out of the search index and the open data."""
    if not practice.is_published:
        raise CatalogueError(_("La pratica non è pubblicata."))
    practice.published_at = None
    practice.published_by_id = None
    _revise(actor, practice, _("Ritirata dalla pubblicazione"))
    search.index(practice)
    audit("catalogue.unpublished", practice, {"title": practice.title}, actor=actor)


def delete_draft(actor, practice: GoodPractice) -> list[str]:
    """Delete a draft that was never published, with its promoters, indicators, files and
    revisions; return the storage keys of its files, to delete once committed.

    A practice that was ever published cannot be deleted (its revisions are public history):
    it can only go back to draft. The audit log keeps who deleted what.
    """
    if practice.was_ever_published:
        raise CatalogueError(never_deletable_text())
    keys = [f.storage_key for f in practice.files]
    # A draft is not in the search index; should an entry be left (an interrupted save), it
    # goes with the practice.
    search.forget(practice.id)
    audit("catalogue.draft_deleted", practice,
          {"title": practice.title, "slug": practice.slug, "files": len(keys),
           "revisions": practice.revision_count}, actor=actor)
    db.session.delete(practice)
    db.session.flush()
    _delete_once_committed(keys)
    log.info("draft practice %s deleted by %s", practice.id, getattr(actor, "id", None))
    return keys


def never_deletable_text() -> str:
    return _("Questa pratica è stata pubblicata: la sua storia delle modifiche è pubblica e "
             "non si può eliminare. Puoi ritirarla dalla pubblicazione.")



# --------------------------------------------------------------------------- promoters, results


def _add_promoter(practice: GoodPractice, data: dict) -> Promoter:
    kind = data.get("kind")
    association = None
    if data.get("association_id"):
        association = db.session.get(Association, int(data["association_id"]))
        if association is None:
            raise CatalogueError(_("Associazione sconosciuta."), "association_id")
        kind = kind or ASSOCIATION_KIND.get(association.kind, PromoterKind.ASSOCIATION)
    comune = db.session.get(Comune, int(data["comune_id"])) if data.get("comune_id") else None
    if comune is not None:
        kind = PromoterKind.COMUNE
    name = (data.get("name") or "").strip() or (association.name if association else "") or (
        _("Comune di %(name)s", name=comune.name) if comune else "")
    if not name:
        raise CatalogueError(_("Indica il nome del promotore."), "name")
    if kind not in search.KIND_VALUES:
        raise CatalogueError(_("Scegli il tipo di promotore."), "kind")
    promoter = Promoter(practice=practice, name=name[:160], kind=kind,
                        role=(data.get("role") or "").strip()[:120] or None,
                        association_id=association.id if association else None,
                        comune_id=comune.id if comune else None)
    db.session.add(promoter)
    return promoter


def add_promoter(actor, practice: GoodPractice, data: dict) -> Promoter:
    promoter = _add_promoter(practice, data)
    db.session.flush()
    db.session.refresh(practice, ["promoters"])
    _revise(actor, practice, _("Aggiunto il promotore %(name)s", name=promoter.name))
    search.index(practice)
    return promoter


def remove_promoter(actor, practice: GoodPractice, promoter: Promoter) -> None:
    name = promoter.name
    practice.promoters.remove(promoter)
    db.session.flush()
    _revise(actor, practice, _("Rimosso il promotore %(name)s", name=name))
    search.index(practice)


def add_indicator(actor, practice: GoodPractice, data: dict,
                  adoption: Adoption | None = None) -> Indicator:
    name = (data.get("name") or "").strip()
    if not name:
        raise CatalogueError(_("Indica il nome dell'indicatore."), "name")
    indicator = Indicator(practice_id=practice.id, adoption_id=adoption.id if adoption else None,
                          name=name[:160], value=float(data["value"]),
                          unit=(data.get("unit") or "").strip()[:40] or None,
                          measured_on=data.get("measured_on"))
    db.session.add(indicator)
    db.session.flush()
    if adoption is None:
        _revise(actor, practice, _("Aggiunto l'indicatore %(name)s", name=indicator.name))
    else:
        adoption.updated_at = utcnow()
        audit("catalogue.adoption_indicator", adoption, {"name": indicator.name}, actor=actor)
    return indicator


def remove_indicator(actor, practice: GoodPractice, indicator: Indicator) -> None:
    name = indicator.name
    db.session.delete(indicator)
    db.session.flush()
    if indicator.adoption_id is None:
        _revise(actor, practice, _("Rimosso l'indicatore %(name)s", name=name))


# --------------------------------------------------------------------------- files

UPLOAD_MESSAGES = {
    "empty": _l("Il file è vuoto."),
    "size": _l("Il file è troppo grande."),
    "type": _l("Tipo di file non ammesso: carica un PDF o un'immagine (PNG, JPEG, GIF, WebP)."),
    "disguised": _l("Il contenuto del file non corrisponde alla sua estensione: il file è stato "
                    "rifiutato."),
}


def add_file(actor, practice: GoodPractice, stream: BinaryIO, filename: str, kind: str,
             title: str) -> tuple[PracticeFile, list[str]]:
    """Check and store an upload; return the row and the storage keys to delete after commit.

    A new cover replaces the old one. The content decides the type, never the name.
    """
    if kind == FileKind.COVER:
        allowed, limit = IMAGES, COVER_MAX
        size_text = _("L'immagine di copertina può pesare al massimo 2 MB.")
    else:
        allowed, limit = (PDF, *IMAGES), ATTACHMENT_MAX
        size_text = _("Un allegato può pesare al massimo 8 MB.")
    messages = {k: str(v) for k, v in UPLOAD_MESSAGES.items()}
    messages["size"] = size_text
    if kind == FileKind.COVER:
        messages["type"] = _("La copertina deve essere un'immagine PNG, JPEG, GIF o WebP.")
    try:
        file_type, size = check_upload(stream, filename, allowed, limit, messages)
    except UploadRejected as exc:
        raise CatalogueError(str(exc), "file") from exc
    key = new_key(f"catalogue/{practice.id}", file_type.extensions[0])
    storage().save(key, stream, file_type.mime)
    stale = []
    if kind == FileKind.COVER:
        for old in [f for f in practice.files if f.kind == FileKind.COVER]:
            stale.append(old.storage_key)
            practice.files.remove(old)
    row = PracticeFile(practice=practice, kind=kind, storage_key=key,
                       filename=safe_filename(filename, f"allegato.{file_type.extensions[0]}"),
                       content_type=file_type.mime, size=size, title=title.strip()[:200],
                       uploaded_by_id=getattr(actor, "id", None))
    db.session.add(row)
    db.session.flush()
    _revise(actor, practice, _("Caricato il file %(name)s", name=row.filename))
    _delete_once_committed(stale)
    return row, stale


def remove_file(actor, practice: GoodPractice, row: PracticeFile) -> str:
    """Delete a file's row; returns the storage key to delete once committed."""
    key, name = row.storage_key, row.filename
    practice.files.remove(row)
    db.session.flush()
    _revise(actor, practice, _("Rimosso il file %(name)s", name=name))
    _delete_once_committed([key])
    return key


def delete_stored(keys: list[str]) -> None:
    """Remove bytes whose rows are gone."""
    backend = storage()
    for key in keys:
        try:
            backend.delete(key)
        except OSError:
            log.warning("could not delete stored file %s", key)


#: session.info key: stored files whose rows this transaction removed
_STALE_FILES = "catalogue_stale_files"


def _delete_once_committed(keys: list[str]) -> None:
    """The files' bytes go when the request's transaction is committed (not if it is rolled
    back: their rows are still there)."""
    if keys:
        db.session.info.setdefault(_STALE_FILES, []).extend(keys)


def _after_commit(session) -> None:
    keys = session.info.pop(_STALE_FILES, None)
    if keys:
        delete_stored(keys)


def _after_rollback(session) -> None:
    session.info.pop(_STALE_FILES, None)


def listen_for_commits() -> None:
    """Delete the bytes of removed files after the commit that removed their rows."""
    from sqlalchemy import event

    if not event.contains(db.session, "after_commit", _after_commit):
        event.listen(db.session, "after_commit", _after_commit)
        event.listen(db.session, "after_rollback", _after_rollback)


# --------------------------------------------------------------------------- adoption


def declare_adoption(actor, practice: GoodPractice, comune: Comune, status: str,
                     notes: str | None, started_on: date | None) -> Adoption:
    """Record or update that `comune` adopts `practice`; keeps adoption_count in step."""
    if not practice.is_published:
        raise CatalogueError(_("Si possono adottare solo pratiche pubblicate."))
    if comune.id == practice.owner_comune_id:
        # an adoption is another Comune taking the practice up: the owner's own would count
        # the practice as spreading where it merely started
        raise CatalogueError(_("%(comune)s cura già questa pratica: la adottano gli altri "
                               "Comuni.", comune=comune.name), "comune")
    if status not in {s.value for s in AdoptionStatus}:
        raise CatalogueError(_("Stato dell'adozione non valido."), "status")
    adoption = db.session.scalar(select(Adoption).where(
        Adoption.practice_id == practice.id, Adoption.comune_id == comune.id))
    created = adoption is None
    if created:
        adoption = Adoption(practice_id=practice.id, comune_id=comune.id,
                            declared_by_id=getattr(actor, "id", None))
        db.session.add(adoption)
    adoption.status = status
    adoption.notes = (notes or "").strip() or None
    adoption.started_on = started_on
    adoption.updated_at = utcnow()
    db.session.flush()
    refresh_adoption_count(practice)
    link = url_for("catalogue.detail", slug=practice.slug)
    if created:
        activity("practice.adopted", text("practice.adopted", comune=comune.name,
                                          title=practice.title), link, comune.id)
    audit("catalogue.adoption", adoption, {"comune": comune.name, "status": status}, actor=actor)
    return adoption


def refresh_adoption_count(practice: GoodPractice) -> None:
    n = db.session.scalar(select(func.count(Adoption.id)).where(
        Adoption.practice_id == practice.id, Adoption.status != AdoptionStatus.ABANDONED)) or 0
    practice.adoption_count = n


def adoption_comuni(user) -> list[Comune]:
    """The Comuni on whose behalf `user` may declare an adoption."""
    query = select(Comune).order_by(Comune.name)
    if not authz.is_coordinator(user):
        query = query.where(Comune.id.in_(authz.scope_ids(user, Role.COMUNE_OFFICER) or {-1}))
    return list(db.session.scalars(query))


# --------------------------------------------------------------------------- themes


def add_theme(actor, name: str) -> Theme:
    name = " ".join(name.split())
    slug = slugify(name)
    if db.session.scalar(select(Theme.id).where((Theme.slug == slug) | (Theme.name == name))):
        raise CatalogueError(_("Questo tema esiste già."), "name")
    position = (db.session.scalar(select(func.max(Theme.position))) or 0) + 1
    theme = Theme(name=name, slug=slug, position=position)
    db.session.add(theme)
    db.session.flush()
    audit("catalogue.theme_added", theme, {"name": name}, actor=actor)
    return theme


def set_theme_active(actor, theme: Theme, active: bool) -> None:
    theme.active = active
    audit("catalogue.theme_" + ("restored" if active else "retired"), theme,
          {"name": theme.name}, actor=actor)


# --------------------------------------------------------------------------- links for others

#: source name (a query argument of catalogue.new) -> function(value) -> prefill dict or None
_PREFILL_SOURCES: dict[str, Callable[[str], dict | None]] = {}


def register_prefill_source(name: str, provider: Callable[[str], dict | None]) -> None:
    """Let `/pratiche/nuova?<name>=<value>` start from what `provider(value)` returns.

    The proposals module registers "proposta": provider("12") returns the data of proposal 12
    in the shape `create_draft` accepts (title, summary, body, themes, comuni, promoters,
    origin_label, origin_url), or None when there is no such proposal.
    """
    _PREFILL_SOURCES[name] = provider


def prefill_from(args) -> dict:
    """The prefill dict for a request's query arguments (registered sources, then plain
    title/summary arguments)."""
    data: dict = {}
    for name, provider in _PREFILL_SOURCES.items():
        value = args.get(name)
        if value:
            found = provider(value)
            if found:
                data.update(found)
    for arg, key in (("titolo", "title"), ("sintesi", "summary")):
        if args.get(arg) and key not in data:
            data[key] = args.get(arg)[:600]
    return data


def new_practice_url(**prefill: Any) -> str:
    """The URL of the "new practice" form, prefilled: new_practice_url(proposta=12) or
    new_practice_url(titolo="Pedibus", sintesi="...")."""
    return url_for("catalogue.new", **{k: v for k, v in prefill.items() if v not in (None, "")})


# --------------------------------------------------------------------------- panels


#: practices a Comune runs, and practices it adopted, listed on its page (the latest of each)
COMUNE_PRACTICES = 10


class ComunePanelView(NamedTuple):
    """The catalogue's section of a Comune's page: (link, title, status label) rows."""

    name: str
    all_url: str
    runs: list[tuple[str, str, str]]
    adopted: list[tuple[str, str, str]]


def comune_panel(comune) -> tuple[str, ComunePanelView]:
    """The catalogue's section of a Comune's page (registered with the network module): the
    newest practices run there and the published practices it adopted, latest first."""
    from portal.catalogue.listing import texts

    runs = db.session.execute(
        select(GoodPractice.slug, GoodPractice.title, GoodPractice.status)
        .join(practice_comuni, practice_comuni.c.practice_id == GoodPractice.id)
        .where(practice_comuni.c.comune_id == comune.id,
               GoodPractice.published_at.is_not(None))
        .order_by(practice_comuni.c.practice_id.desc()).limit(COMUNE_PRACTICES)).all()
    adopted = db.session.execute(
        select(GoodPractice.slug, GoodPractice.title, Adoption.status)
        .join(GoodPractice, GoodPractice.id == Adoption.practice_id)
        .where(Adoption.comune_id == comune.id, GoodPractice.published_at.is_not(None))
        .order_by(Adoption.updated_at.desc(), Adoption.id.desc())
        .limit(COMUNE_PRACTICES)).all()
    text = texts()

    def link(slug: str) -> str:
        return url_for("catalogue.detail", slug=slug)

    return "catalogue/_comune_panel.html", ComunePanelView(
        name=comune.name, all_url=url_for("catalogue.index", comune=comune.slug),
        runs=[(link(r.slug), r.title, text["status"].get(r.status, r.status)) for r in runs],
        adopted=[(link(r.slug), r.title, text["adoption"].get(r.status, r.status))
                 for r in adopted])


def _may_draft(user) -> bool:
    return authz.can("catalogue.create", None, user)


def register_panels() -> None:
    register_comune_panel(comune_panel)
    register_dashboard_panel("catalogue/_dashboard_panel.html", _may_draft)


def upload_limit_text() -> str:
    return _("Copertina: immagine fino a 2 MB. Allegati: PDF o immagini fino a 8 MB.")


# --------------------------------------------------------------------------- the practice page


#: how many of a practice's themes (the first by position) choose its related practices, how
#: many of the newest practices of each theme are looked at (a bounded look-up, whatever the
#: size of the catalogue) and how many are shown
RELATED_THEMES, RELATED_WALK, RELATED_SHOWN = 3, 40, 4


class RelatedPractice(NamedTuple):
    """A practice suggested beside another (plain values: the cache keeps them)."""

    id: int
    slug: str
    title: str


def practice_page(slug: str | None = None, *, practice_id: int | None = None
                  ) -> GoodPractice | None:
    """The practice `slug` (or `practice_id`) with everything its page shows loaded up front,
    or None if there is none: its themes, Comuni, promoters, files and results, then its
    adoptions by Comune name with their own results. Each collection is one query for all its
    rows, so the page costs the same number of queries however many adoptions, files or
    results a practice has. The open-data API reads the same."""
    where = (GoodPractice.slug == slug[:140] if slug is not None
             else GoodPractice.id == practice_id)
    practice = db.session.scalar(select(GoodPractice).where(where).options(
        selectinload(GoodPractice.themes), selectinload(GoodPractice.comuni),
        selectinload(GoodPractice.promoters), selectinload(GoodPractice.files),
        selectinload(GoodPractice.indicators)))
    if practice is None:
        return None
    # The page lists adoptions by Comune name; the relationship keeps them in the order they
    # were declared. set_committed_value fills it without marking the practice changed.
    set_committed_value(practice, "adoptions", adoptions_of(practice))
    return practice


def _theme_walk(theme_id: int, practice_id: int) -> list:
    """The newest RELATED_WALK published practices of a theme, but `practice_id`
    (ix_practice_themes_theme, walked from its end)."""
    return db.session.execute(
        select(GoodPractice.id, GoodPractice.slug, GoodPractice.title)
        .join(practice_themes, practice_themes.c.practice_id == GoodPractice.id)
        .where(practice_themes.c.theme_id == theme_id, GoodPractice.id != practice_id,
               GoodPractice.published_at.is_not(None))
        .order_by(practice_themes.c.practice_id.desc()).limit(RELATED_WALK)).all()


def related_practices(practice_id: int, themes) -> list[RelatedPractice]:
    """The published practices sharing most of the first RELATED_THEMES `themes` (in display
    order) with `practice_id`, among the newest RELATED_WALK of each; most shared first, then
    newest. The same for every visitor: kept in the cache until the next write."""
    chosen = [t.id for t in themes[:RELATED_THEMES]]

    def compute() -> tuple[RelatedPractice, ...]:
        shared: dict[int, int] = {}
        found: dict[int, RelatedPractice] = {}
        for theme_id in chosen:
            for row in _theme_walk(theme_id, practice_id):
                shared[row.id] = shared.get(row.id, 0) + 1
                found[row.id] = RelatedPractice(id=row.id, slug=row.slug, title=row.title)
        best = sorted(shared, key=lambda i: (-shared[i], -i))[:RELATED_SHOWN]
        return tuple(found[i] for i in best)

    if not chosen:
        return []
    return list(remember(("catalogue:related", practice_id, *chosen), compute))
