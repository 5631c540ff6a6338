"""Tables (tavoli): members, meetings, agendas, minutes, decisions and the projects after."""

import re
from datetime import date

from flask import Blueprint, Flask, request, url_for
from flask_babel import lazy_gettext as _l

from portal.i18n import current_locale, date_filter, datetime_filter

bp = Blueprint("tables", __name__)

OUTCOME_LABELS = {
    "approved": _l("Approvata"),
    "approved_amended": _l("Approvata con modifiche"),
    "rejected": _l("Respinta"),
    "postponed": _l("Rinviata"),
}
ATTENDANCE_LABELS = {"present": _l("presente"), "absent": _l("assente"),
                     "delegated": _l("con delega")}
MEMBER_ROLE_LABELS = {"chair": _l("Presidente"), "secretary": _l("Segretario"),
                      "member": _l("Componente")}
MINUTES_STATUS_LABELS = {"draft": _l("bozza"), "approved": _l("approvato, da pubblicare"),
                         "published": _l("pubblicato")}


# Dates and moments of meetings and decisions: the portal's memoised filters.
when = datetime_filter
day = date_filter


def _label(labels):
    """A template function giving the translated label of a stored value.

    The labels are lazy strings, and resolving one costs ~60 Python calls (Flask-Babel finds
    the locale and the catalogue each time); a page shows the same few labels many times, so
    each worker keeps the resolved text per locale.
    """
    resolved: dict[tuple[str, str], str] = {}

    def label(value) -> str:
        key = (current_locale(), value)
        text = resolved.get(key)
        if text is None:
            text = resolved[key] = str(labels.get(value, value or ""))
        return text

    return label


#: (script root, endpoint, argument) -> (what comes before the argument, what comes after)
_PATHS: dict[tuple[str, str, str | None], tuple[str, str]] = {}
_MARK = "rete0path0mark"
#: Values that `url_for` writes as they are (no percent-encoding).
_PLAIN = re.compile(r"[A-Za-z0-9._~-]+")


def path_parts(endpoint: str, argument: str | None = None) -> tuple[str, str]:
    """The path of `endpoint` around its one `argument`, from one `url_for` per worker:
    `before + str(value) + after` is `url_for(endpoint, argument=value)` for an id or a plain
    slug (see `path_to`), without `url_for`'s cost on every link of every page. Without an
    argument: (the path, "")."""
    key = (request.script_root, endpoint, argument)
    parts = _PATHS.get(key)
    if parts is None:
        if argument is None:
            parts = (url_for(endpoint), "")
        else:
            value = 0 if argument.endswith("_id") else _MARK
            before, _sep, after = url_for(endpoint, **{argument: value}).rpartition(str(value))
            parts = (before, after)
        _PATHS[key] = parts
    return parts


def path_to(endpoint: str, argument: str, value) -> str:
    """`url_for(endpoint, argument=value)`, from `path_parts` when the value needs no
    quoting (ids, slugs)."""
    text = str(value)
    if not _PLAIN.fullmatch(text):
        return url_for(endpoint, **{argument: value})
    before, after = path_parts(endpoint, argument)
    return f"{before}{text}{after}"


outcome_label = _label(OUTCOME_LABELS)
member_role_label = _label(MEMBER_ROLE_LABELS)


def init_app(app: Flask) -> None:
    """Show the table on each Comune's page and the member's tables in the account area."""
    from portal.core.services import register_dashboard_panel
    from portal.network.services import register_comune_panel
    from portal.tables import panels

    register_comune_panel(panels.comune_panel)
    register_dashboard_panel("tables/_dashboard_panel.html", panels.has_seat)
    from portal.tables.services import proposal_links

    app.jinja_env.globals.update(
        my_tables=panels.my_tables, table_links=proposal_links,
        outcome_label=outcome_label,
        attendance_label=_label(ATTENDANCE_LABELS),
        member_role_label=member_role_label,
        minutes_status_label=_label(MINUTES_STATUS_LABELS),
    )
    app.jinja_env.filters["isodate"] = (
        lambda v: date.fromisoformat(v) if isinstance(v, str) else v)
    app.jinja_env.filters.update(when=when, day=day)


from portal.tables import policies, views  # noqa: E402,F401
