"""Languages, time zone and the Italian formats of dates, numbers and money."""

from datetime import date, datetime

from flask import Flask, current_app, has_request_context, request
from flask_babel import format_date, format_datetime, format_decimal, get_locale

LANG_COOKIE = "lang"


def select_locale() -> str:
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    lang = request.cookies.get(LANG_COOKIE)
    if lang in current_app.config["LANGUAGES"]:
        return lang
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return "Europe/Rome"


def money(cents: int | None) -> str:
    """Integer cents as euro in the current locale: 123456 -> '1.234,56 €'."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    cents = abs(int(cents))
    amount = format_decimal(cents / 100, format="#,##0.00")
    return f"{sign}{amount} €"


def datetime_filter(value: datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    return format_datetime(value, fmt)


def date_filter(value: date | datetime | None, fmt: str = "long") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_datetime(value, fmt if fmt != "long" else "d MMMM y")
    return format_date(value, fmt)


def number(value: int | float | None) -> str:
    if value is None:
        return ""
    return format_decimal(value)


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        money=money, datetime=datetime_filter, date=date_filter, number=number
    )
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale() or "it")
