"""The ISTAT list of Italian Comuni (Fonte: ISTAT, CC BY 3.0 IT), shipped with the portal."""

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from flask_babel import gettext

from portal.core.texts import N_

DATA = Path(__file__).with_name("data") / "comuni_istat.csv"


@dataclass(frozen=True)
class IstatComune:
    code: str
    name: str
    province: str
    #: the province's two-letter abbreviation (MB, MI...)
    sigla: str
    region: str
    population: int | None


@cache
def all_comuni() -> dict[str, IstatComune]:
    with DATA.open(encoding="utf-8") as fh:
        return {
            row["codice_istat"]: IstatComune(
                code=row["codice_istat"],
                name=row["nome"],
                province=row["provincia"],
                sigla=row["sigla"],
                region=row["regione"],
                population=int(row["popolazione_2011"]) if row["popolazione_2011"] else None,
            )
            for row in csv.DictReader(fh)
        }


def lookup(code: str) -> IstatComune | None:
    """The Comune with this six-digit ISTAT code, or None."""
    return all_comuni().get(code.strip())


#: Provinces whose name has an English form ("Monza and Brianza"); the others are the same
#: in every language the portal speaks.
TRANSLATED_PROVINCES = frozenset((
    N_("Monza e della Brianza"), N_("Milano"), N_("Mantova"), N_("Firenze"), N_("Genova"),
    N_("Napoli"), N_("Padova"), N_("Roma"), N_("Siracusa"), N_("Torino"), N_("Venezia"),
    N_("Pesaro e Urbino"), N_("Sud Sardegna"),
))


def province_name(name: str | None) -> str:
    """A province's name (stored as ISTAT writes it) in the reader's language."""
    if not name:
        return ""
    return gettext(name) if name in TRANSLATED_PROVINCES else name
