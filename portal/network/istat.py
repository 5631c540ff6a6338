"""The ISTAT list of Italian Comuni (Fonte: ISTAT, CC BY 3.0 IT), shipped with the portal."""

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

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
