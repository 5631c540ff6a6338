"""The themes a proposal can be about: the catalogue's list when it has one, else ours."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

#: slug -> label; the same words the catalogue of good practices uses where it can
DEFAULT_THEMES: dict[str, object] = {
    "infanzia": _l("Prima infanzia e servizi 0-6"),
    "scuola": _l("Scuola ed educazione"),
    "giovani": _l("Adolescenti e giovani"),
    "conciliazione": _l("Conciliazione famiglia-lavoro"),
    "anziani": _l("Anziani e cura"),
    "disabilita": _l("Disabilità e inclusione"),
    "casa": _l("Casa e abitare"),
    "economia": _l("Economia familiare e consumo"),
    "mobilita": _l("Mobilità e spazi pubblici"),
    "tempo-libero": _l("Sport, cultura e tempo libero"),
    "salute": _l("Salute e benessere"),
    "comunita": _l("Reti di vicinato e comunità"),
}


def themes() -> dict[str, object]:
    """The theme catalogue: `portal.catalogue.models.THEMES` if that module defines it."""
    try:
        from portal.catalogue import models as catalogue
    except ImportError:
        return DEFAULT_THEMES
    found = getattr(catalogue, "THEMES", None)
    if isinstance(found, dict) and found:
        return found
    if isinstance(found, list | tuple) and found:
        # a list of (slug, label) pairs or of plain slugs
        return {item[0]: item[1] for item in found} if isinstance(found[0], tuple) else {
            item: item for item in found}
    return DEFAULT_THEMES


def theme_label(slug: str) -> str:
    return str(themes().get(slug, slug))
