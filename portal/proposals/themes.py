"""The themes a proposal can be about: the catalogue's list, so that proposals and good
practices share one vocabulary.

The catalogue keeps its themes in the database (coordinators add and retire them); while its
list is empty (a fresh database), the Rete's ten starting themes below are used, with the same
slugs the catalogue gives them.
"""

from __future__ import annotations

from flask import g, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.caching import remember
from portal.catalogue.models import Theme, theme_name
from portal.extensions import db

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


def _load() -> tuple[dict[str, object], dict[str, object]]:
    """(active, all) themes: the catalogue's, read once per request, or the starting list."""
    if not has_app_context():
        return DEFAULT_THEMES, DEFAULT_THEMES
    found = g.get("proposal_themes")
    if found is None:
        # the same for every visitor: read once until the next write
        rows = remember("proposals.themes", lambda: [tuple(r) for r in db.session.execute(
            select(Theme.slug, Theme.name, Theme.active).order_by(Theme.position, Theme.name))])
        # names in the reader's language (g lasts one request, so one language)
        found = (({slug: theme_name(name) for slug, name, active in rows if active},
                  {slug: theme_name(name) for slug, name, _active in rows})
                 if rows else (DEFAULT_THEMES, DEFAULT_THEMES))
        g.proposal_themes = found
    return found


def themes() -> dict[str, object]:
    """The themes a proposal can choose now: slug -> label."""
    return _load()[0]


def all_themes() -> dict[str, object]:
    """Every theme, retired ones too (for the labels of older proposals)."""
    return _load()[1]


def theme_label(slug: str) -> str:
    return str(all_themes().get(slug, DEFAULT_THEMES.get(slug, slug)))
