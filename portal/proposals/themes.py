"""The themes a proposal can be about: the catalogue's list, so that proposals and good
practices share one vocabulary.

The catalogue keeps its themes in the database (coordinators add and retire them); when that
module is absent or its list is still empty, the Rete's ten starting themes below are used,
with the same slugs the catalogue gives them.
"""

from __future__ import annotations

from flask import g, has_app_context
from flask_babel import lazy_gettext as _l

#: slug -> label: the catalogue's starting list (same names, same slugs)
DEFAULT_THEMES: dict[str, object] = {
    "conciliazione-famiglia-lavoro": _l("Conciliazione famiglia-lavoro"),
    "mutuo-aiuto": _l("Mutuo aiuto"),
    "economia-di-vicinato-e-gaf": _l("Economia di vicinato e GAF"),
    "scuola-ed-educazione": _l("Scuola ed educazione"),
    "casa-e-abitare": _l("Casa e abitare"),
    "anziani-e-cura": _l("Anziani e cura"),
    "disabilita": _l("Disabilità"),
    "tempo-libero-e-sport": _l("Tempo libero e sport"),
    "tariffe-e-fattore-famiglia": _l("Tariffe e Fattore Famiglia"),
    "partecipazione": _l("Partecipazione"),
}


def _catalogue_themes() -> tuple[dict[str, object], dict[str, object]] | None:
    """(active, all) themes of the catalogue, or None when it has none."""
    try:
        from portal.catalogue.models import Theme
    except ImportError:
        return None
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from portal.extensions import db

    try:
        rows = db.session.execute(select(Theme.slug, Theme.name, Theme.active)
                                  .order_by(Theme.position, Theme.name)).all()
    except SQLAlchemyError:
        db.session.rollback()
        return None
    if not rows:
        return None
    return ({r.slug: r.name for r in rows if r.active}, {r.slug: r.name for r in rows})



def _load() -> tuple[dict[str, object], dict[str, object]]:
    if not has_app_context():
        return DEFAULT_THEMES, DEFAULT_THEMES
    cached = g.get("_proposal_themes")
    if cached is None:
        from portal.memo import memo

        found = memo("proposals.themes", _catalogue_themes)
        cached = found or (DEFAULT_THEMES, DEFAULT_THEMES)
        g._proposal_themes = cached
    return cached


def themes() -> dict[str, object]:
    """The themes a proposal can choose now: slug -> label (loaded once per request)."""
    return _load()[0]


def theme_label(slug: str) -> str:
    return str(_load()[1].get(slug, DEFAULT_THEMES.get(slug, slug)))


def all_themes() -> dict[str, object]:
    """Every theme, retired ones too (for the labels of older proposals)."""
    return _load()[1]
