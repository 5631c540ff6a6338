"""View plumbing shared by every module: htmx partials, a service's refusal on a form, the
one parser of numbers typed in URLs and the one judge of local URLs."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from flask import abort, request
from werkzeug.routing import IntegerConverter

from portal.extensions import db

#: The largest id an INTEGER column holds: a bigger number names no row.
MAX_ID = 2**31 - 1
#: No listing has this many pages; a bigger page number is a typo or a probe.
MAX_PAGE = 10_000
#: Decimal ASCII digits only: `str.isdigit()` and `int()` also take "²", "١٢" and " 1_0 ".
_DIGITS = re.compile(r"[0-9]{1,18}")


def parse_int(value, low: int = 1, high: int = MAX_ID) -> int | None:
    """The number written in `value` (decimal ASCII digits, nothing else) if it lies in
    [low, high], else None. The one parser of ids and page numbers read from a URL, a query
    string or a hidden field."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        number = int(value)
    else:
        return None
    return number if low <= number <= high else None


def parse_id(value) -> int | None:
    """A database id written in `value`, or None."""
    return parse_int(value, 1, MAX_ID)


def id_arg(name: str, default: int | None = None) -> int | None:
    """The id in query parameter `name`: `default` when absent or empty, 404 when it is not
    an id (a link to something that cannot exist)."""
    raw = request.args.get(name, "")
    if raw == "":
        return default
    number = parse_id(raw)
    if number is None:
        abort(404)
    return number


def page_arg(name: str = "pagina", high: int = MAX_PAGE) -> int:
    """The page number in query parameter `name`: 1 when absent or empty, 404 when it is not
    a page number within [1, high]."""
    raw = request.args.get(name, "")
    if raw == "":
        return 1
    number = parse_int(raw, 1, high)
    if number is None:
        abort(404)
    return number


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` as ids in URLs: ASCII digits (werkzeug's `\\d` also matches "١٢") and no
    more than an INTEGER column holds, so a bigger number is a 404, not an overflow in the
    driver (SQLite) or the server (PostgreSQL). Registered as the `int` converter."""

    regex = r"[0-9]+"

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's signature
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


#: What browsers drop from a URL, or read as a separator, before resolving it.
_INVISIBLE = re.compile(r"[\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200f\u2028-\u202f"
                        r"\u205f-\u206f\u3000\ufeff]")


def _path_only(text: str) -> bool:
    """One "/" first, not followed by "/" or a backslash; no scheme, no host."""
    if not text.startswith("/") or text[1:2] in ("/", "\\"):
        return False
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc


def is_local_url(url) -> bool:
    """Whether `url` is a path of this site: one "/" not followed by "/" or a backslash, no
    scheme, no host.

    As written, it may hold no backslash, whitespace or control character: no link the
    portal makes has one, and browsers drop tabs and newlines (so that "/<TAB>/evil" is
    "//evil") and read a backslash as "/". The same test is then repeated on the text
    percent-decoded, up to three times, with those characters dropped, for whatever decodes
    it before a browser reads it: "/%5Cevil", "/%2F/evil" and "/%09/evil" fail too.
    """
    if not isinstance(url, str) or not url or len(url) > 2000:
        return False
    if _INVISIBLE.search(url) or "\\" in url or not _path_only(url):
        return False
    text = url
    for _round in range(3):
        decoded = unquote(text)
        if decoded == text:
            return True
        text = decoded
        if not _path_only(_INVISIBLE.sub("", text).replace("\\", "/")):
            return False
    return unquote(text) == text


def safe_next(target: str | None, default: str) -> str:
    """`target` if it is a local URL (see is_local_url), else `default`: the one rule for every
    `next` parameter, so that no redirect leads off the site."""
    return target if is_local_url(target) else default


def wants_partial() -> bool:
    """An htmx request that wants a fragment: not a boosted navigation, nor a history restore
    (those want the whole page)."""
    htmx = request.htmx
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def refuse(form, exc: Exception, field: str | None = None) -> None:
    """Roll back what the service did and show its refusal on the form: on the field the
    error names (`exc.field`), else on `field`, else on the form's first field. The view
    then answers 422 with the form."""
    db.session.rollback()
    name = getattr(exc, "field", None)
    if not name or name not in form:
        name = field if field and field in form else next(
            f.name for f in form if f.type not in ("CSRFTokenField", "HiddenField"))
    form[name].errors = [*form[name].errors, str(exc)]
