"""Languages, time zone and the Italian formats of dates, numbers and money.

Translation is Flask-Babel's and Jinja's i18n extension as shipped: `_()` in templates escapes
the values it puts into a message where the template is autoescaped (.html, .xml) and leaves
them as they are in plain text (.txt mails). This module chooses the language and keeps the
portal's formats in one place.
"""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from flask import Flask, current_app, has_request_context, request
from flask_babel import get_locale

LANG_COOKIE = "lang"

#: Every time on the portal is shown in Rome's time zone.
ROME = ZoneInfo("Europe/Rome")


def select_locale() -> str:
    """The visitor's language: the cookie set by the language switch, else the default."""
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    if not has_request_context():
        return default
    lang = request.cookies.get(LANG_COOKIE)
    return lang if lang in current_app.config["LANGUAGES"] else default


def select_timezone() -> str:
    return ROME.key


def current_locale() -> str:
    """The request's language code ("it", "en")."""
    return str(get_locale() or "it")


#: A moment is shown to the minute, without seconds or the time zone's name (every time on the
#: portal is Rome's), and with a four-digit year: Babel's own "medium", "long" and "full" would
#: give "1 gen 2027, 20:00:00" and "venerdì 1 gennaio 2027 20:00:00 Ora standard dell'Europa
#: centrale", its "short" "01/01/27, 20:00".
MOMENT_FORMATS = {"short": "dd/MM/y, HH:mm", "medium": "d MMM y, HH:mm",
                  "long": "d MMMM y, HH:mm", "full": "EEEE d MMMM y, HH:mm"}
#: A short date keeps its four-digit year ("09/02/2026", as Italian offices write it; Babel's
#: own is "09/02/26"). The others put the day first in every language, as the moments above
#: do: English would otherwise read "December 7, 2026" beside "7 December 2026, 20:00".
DATE_FORMATS = {"short": "dd/MM/y", "medium": "d MMM y", "long": "d MMMM y",
                "full": "EEEE d MMMM y"}


def formatted(value: date | datetime, fmt: str, locale: str | None = None) -> str:
    """A date or a moment (in Rome) formatted for `locale` (default: the request's); services
    pass the locale they hold, so that they can format outside a request too."""
    locale = locale or current_locale()
    if isinstance(value, datetime):
        return babel_dates.format_datetime(value, MOMENT_FORMATS.get(fmt, fmt), tzinfo=ROME,
                                           locale=locale)
    return babel_dates.format_date(value, DATE_FORMATS.get(fmt, fmt), locale=locale)


def money(cents: int | None, locale: str | None = None) -> str:
    """Integer cents as euro: 123456 -> '1.234,56 €' (Italian), '1,234.56 €' (English)."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    amount = babel_numbers.format_decimal(abs(int(cents)) / 100, format="#,##0.00",
                                          locale=locale or current_locale())
    return f"{sign}{amount} €"


def number(value: int | float | None, locale: str | None = None) -> str:
    """A number with the locale's separators: 1234567 -> '1.234.567'."""
    if value is None:
        return ""
    return babel_numbers.format_decimal(value, locale=locale or current_locale())


def datetime_filter(value: datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    return formatted(value, fmt)


def date_filter(value: date | datetime | None, fmt: str = "long") -> str:
    """A date; a moment is shown as its day in Rome."""
    if value is None:
        return ""
    if isinstance(value, datetime) and fmt in DATE_FORMATS:
        fmt = DATE_FORMATS[fmt]
    return formatted(value, fmt)


def machine_time(value: date | datetime | None) -> str:
    """A moment as HTML's `<time datetime>` wants it: UTC to the second ("2026-12-07T20:07:12Z";
    `isoformat()` writes microseconds, which the attribute does not take), a date as it is."""
    if value is None:
        return ""
    if not isinstance(value, datetime):
        return value.isoformat()
    if value.tzinfo is None:  # stored times are UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        money=money, datetime=datetime_filter, date=date_filter, number=number,
        machine_time=machine_time,
    )
    app.jinja_env.globals["current_locale"] = current_locale
