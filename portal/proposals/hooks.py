"""Panels and filters the proposals module adds to the rest of the portal."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from portal import authz
from portal.authz import Role
from portal.i18n import current_locale

ROME = ZoneInfo("Europe/Rome")


def _has_proposals_area(user) -> bool:
    return user.household_id is not None or bool(authz.scope_ids(user, Role.FACILITATOR))


def _moderates(user) -> bool:
    return authz.is_coordinator(user) or bool(authz.scope_ids(user, Role.MODERATOR))


# Lists show dozens of dates and amounts: Babel's formatters, called for each, cost more
# than the rest of the page. The locale's month names and symbols are looked up once.


@lru_cache(maxsize=8)
def _months(locale: str) -> dict[int, str]:
    from babel.dates import get_month_names

    return dict(get_month_names("wide", locale=locale))


@lru_cache(maxsize=8)
def _symbols(locale: str) -> tuple[str, str]:
    from babel.numbers import get_decimal_symbol, get_group_symbol

    return get_group_symbol(locale), get_decimal_symbol(locale)


def long_date(value: date | datetime | None, locale: str | None = None) -> str:
    """'14 novembre 2026' (Europe/Rome), as the portal's `date` filter writes it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(ROME)
    return f"{value.day} {_months(locale or current_locale())[value.month]} {value.year}"


def grouped(value: int | None, locale: str | None = None) -> str:
    """An integer with the locale's thousands separator."""
    if value is None:
        return ""
    group, _decimal = _symbols(locale or current_locale())
    return f"{int(value):,}".replace(",", group)


def euro(cents: int | None, locale: str | None = None) -> str:
    """Integer cents as euro, as the portal's `money` filter writes them."""
    if cents is None:
        return ""
    group, decimal = _symbols(locale or current_locale())
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(int(cents)), 100)
    return f"{sign}{euros:,}".replace(",", group) + f"{decimal}{rest:02d} €"


def init_app(app) -> None:
    from portal.core.services import register_dashboard_panel
    from portal.proposals.services import count_submitted_for, state_label
    from portal.proposals.themes import theme_label

    app.jinja_env.filters.setdefault("proposal_state", state_label)
    app.jinja_env.filters.setdefault("theme_label", theme_label)
    app.jinja_env.filters.setdefault("long_date", long_date)
    app.jinja_env.filters.setdefault("grouped", grouped)
    app.jinja_env.filters.setdefault("euro", euro)
    app.jinja_env.globals.setdefault("proposals_waiting", count_submitted_for)
    register_dashboard_panel("proposals/_panel_mine.html", _has_proposals_area)
    register_dashboard_panel("proposals/_panel_queue.html", _moderates)
