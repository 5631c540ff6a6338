"""Tables (tavoli): members, meetings, agendas, minutes, decisions and the projects after."""

from datetime import date

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

from portal.i18n import date_filter, datetime_filter

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


# Dates and moments of meetings and decisions: the portal's filters.
when = datetime_filter
day = date_filter


def _label(labels):
    """A template function giving the translated label of a stored value."""
    def label(value) -> str:
        return str(labels.get(value, value or ""))

    return label


outcome_label = _label(OUTCOME_LABELS)
member_role_label = _label(MEMBER_ROLE_LABELS)


def init_app(app: Flask) -> None:
    """Hook the tables into the modules below (see panels.register) and give the templates
    the tables' labels and filters."""
    panels.register()
    personal.init_app(app)  # seats, remarks on minutes, what a member recorded
    app.jinja_env.globals.update(
        my_tables=panels.my_tables,
        outcome_label=outcome_label,
        attendance_label=_label(ATTENDANCE_LABELS),
        member_role_label=member_role_label,
        minutes_status_label=_label(MINUTES_STATUS_LABELS),
    )
    app.jinja_env.filters["isodate"] = (
        lambda v: date.fromisoformat(v) if isinstance(v, str) else v)
    app.jinja_env.filters.update(when=when, day=day)


from portal.tables import panels, personal, policies, views  # noqa: E402,F401
