"""The query arguments of the API: each declared once, for the OpenAPI document and for the
view, so that what the document promises is what the view accepts.

A value outside its schema (an unknown `stato`, `votazione=abc`, a cursor the API never handed
out) is a 400 with a message naming the argument and what it takes, never silently ignored.
Enumerations that come from the database (Comuni, tables, themes) are listed in the document as
it is served.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import abort
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.caching import remember
from portal.extensions import db
from portal.network.models import Comune
from portal.security import json_error
from portal.tables.models import Table
from portal.web import MAX_ID

#: Free text may hold anything but NUL, which the portal refuses on every path (400).
NO_NUL = "^[^\\u0000]*$"
_INTEGER = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True)
class Query:
    """One query argument: its OpenAPI schema (or a function giving it, for enumerations read
    from the database) and description."""

    name: str
    schema: dict[str, Any] | Callable[[], dict[str, Any]]
    description: str = ""
    #: what a refusal says, when the schema alone does not say it well
    message: Any = None

    def resolved_schema(self) -> dict[str, Any]:
        return self.schema() if callable(self.schema) else self.schema

    def openapi(self) -> dict[str, Any]:
        parameter = {"name": self.name, "in": "query", "required": False,
                     "schema": self.resolved_schema()}
        if self.description:
            parameter["description"] = self.description
        return parameter

    def read(self, args) -> Any:
        """The value of this argument in `args` (None when absent), or a 400."""
        if self.name not in args:
            return None
        raw = args.get(self.name, "")
        schema = self.resolved_schema()
        value = _check(raw, schema)
        if value is _INVALID:
            abort(json_error(400, self._refusal(schema)))
        return value

    def _refusal(self, schema: dict[str, Any]) -> str:
        if "enum" in schema:
            values = list(schema["enum"])
            shown = ", ".join(str(v) for v in values[:40]) + (", …" if len(values) > 40 else "")
            return _("Valore non valido per «%(name)s»: i valori ammessi sono %(values)s.",
                     name=self.name, values=shown)
        if schema.get("type") == "integer":
            return _("Valore non valido per «%(name)s»: serve un numero intero tra %(low)d e "
                     "%(high)d.", name=self.name, low=schema.get("minimum", 0),
                     high=schema.get("maximum", MAX_ID))
        if self.message:
            return str(self.message)
        if "maxLength" in schema:
            return _("Valore non valido per «%(name)s»: al massimo %(n)d caratteri, senza il "
                     "carattere NUL.", name=self.name, n=schema["maxLength"])
        return _("Valore non valido per «%(name)s».", name=self.name)


_INVALID = object()


def _check(raw: str, schema: dict[str, Any]) -> Any:
    """`raw` read by `schema` (the keywords used here: type, enum, minimum, maximum,
    maxLength, pattern), or _INVALID."""
    if schema.get("type") == "integer":
        if not _INTEGER.fullmatch(raw):
            return _INVALID
        number = int(raw)
        if number < schema.get("minimum", 0) or number > schema.get("maximum", MAX_ID):
            return _INVALID
        return number
    if "enum" in schema:
        return raw if raw in schema["enum"] else _INVALID
    if len(raw) > schema.get("maxLength", 1000):
        return _INVALID
    if "pattern" in schema and not re.fullmatch(schema["pattern"], raw):
        return _INVALID
    return raw


def read(args, params: Iterable[Query]) -> dict[str, Any]:
    """Every declared argument by name (None when absent); the first bad one is a 400."""
    return {p.name: p.read(args) for p in params}


def enum(values: Callable[[], Iterable[str]], **extra) -> Callable[[], dict[str, Any]]:
    """A string schema listing `values()` (read from the database when the document or a
    request needs it)."""
    return lambda: {"type": "string", "enum": list(values()), **extra}


def text(max_length: int = 200) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_length, "pattern": NO_NUL}


def integer(low: int = 1, high: int = MAX_ID, **extra) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high, **extra}


CURSOR_REFUSAL = _l("Cursore non valido: usa l'indirizzo dei campi next e prev di una risposta "
                    "dell'API.")


def cursor(name: str, pattern: str, description: str) -> Query:
    """An opaque keyset cursor, as the API hands it out in `next`/`prev`: its exact grammar is
    in the document and anything else is a 400; every value of that grammar names a place in
    the list, so no cursor the API could have handed out is refused."""
    return Query(name, {"type": "string", "pattern": pattern}, description, CURSOR_REFUSAL)


# --------------------------------------------------------------------------- enumerations


def comune_slugs() -> tuple[str, ...]:
    """The slugs of the Comuni of the Rete, in order."""
    return remember("api:comuni", lambda: tuple(db.session.scalars(
        select(Comune.slug).order_by(Comune.slug))))


def table_slugs() -> tuple[str, ...]:
    """The slugs of the tables (the Rete's and each Comune's), in order."""
    return remember("api:tables", lambda: tuple(db.session.scalars(
        select(Table.slug).order_by(Table.slug))))
