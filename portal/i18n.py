"""Languages, time zone and the Italian formats of dates, numbers and money."""

from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from flask import Flask, current_app, g, has_request_context, request
from flask_babel import Domain, get_locale, get_translations
from markupsafe import Markup

LANG_COOKIE = "lang"


@lru_cache(maxsize=8)
def _parsed(code: str) -> Locale:
    return Locale.parse(code)


def select_locale() -> Locale:
    """The visitor's language (cookie), as a Babel Locale parsed once per worker (~35 µs)."""
    if not has_request_context():
        return _parsed(current_app.config["BABEL_DEFAULT_LOCALE"])
    lang = request.cookies.get(LANG_COOKIE)
    if lang in current_app.config["LANGUAGES"]:
        return _parsed(lang)
    return _parsed(current_app.config["BABEL_DEFAULT_LOCALE"])


def select_timezone() -> str:
    return "Europe/Rome"


def current_locale() -> str:
    """The request's language code, resolved once per request (filters ask for it per value)."""
    if not has_request_context():
        return str(get_locale() or "it")
    code = g.get("_rete_locale")
    if code is None:
        code = g._rete_locale = str(get_locale() or "it")
    return code


# Babel's formatters are pure functions of (locale, value, format) and cost ~100 µs a call;
# pages show the same dates and figures over and over, so each worker keeps recent results.
# Times are shown in Europe/Rome; the locale is explicit, so services can format for a locale
# they hold (and outside a request).
ROME = ZoneInfo("Europe/Rome")


@lru_cache(maxsize=8192)
def _format_decimal(locale: str, value, fmt: str | None) -> str:
    return babel_numbers.format_decimal(value, format=fmt, locale=locale)


#: A moment is shown to the minute, without seconds or the time zone's name (every time on the
#: portal is Rome's), and with a four-digit year: Babel's own "medium", "long" and "full" would
#: give "1 gen 2027, 20:00:00" and "venerdì 1 gennaio 2027 20:00:00 Ora standard dell'Europa
#: centrale", its "short" "01/01/27, 20:00".
MOMENT_FORMATS = {"short": "dd/MM/y, HH:mm", "medium": "d MMM y, HH:mm",
                  "long": "d MMMM y, HH:mm", "full": "EEEE d MMMM y, HH:mm"}
#: A short date keeps its four-digit year ("09/02/2026", as Italian offices write it; Babel's
#: own is "09/02/26").
DATE_FORMATS = {"short": "dd/MM/y"}


@lru_cache(maxsize=8192)
def _format_datetime(locale: str, value: datetime, fmt: str) -> str:
    return babel_dates.format_datetime(value, MOMENT_FORMATS.get(fmt, fmt), tzinfo=ROME,
                                       locale=locale)


@lru_cache(maxsize=8192)
def _format_date(locale: str, value: date, fmt: str) -> str:
    return babel_dates.format_date(value, DATE_FORMATS.get(fmt, fmt), locale=locale)


def formatted(value: date | datetime, fmt: str, locale: str) -> str:
    """A date or a moment (in Rome) formatted for `locale`, memoised."""
    if isinstance(value, datetime):
        return _format_datetime(locale, value, fmt)
    return _format_date(locale, value, fmt)


def money(cents: int | None) -> str:
    """Integer cents as euro in the current locale: 123456 -> '1.234,56 €'."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    cents = abs(int(cents))
    amount = _format_decimal(current_locale(), cents / 100, "#,##0.00")
    return f"{sign}{amount} €"


def datetime_filter(value: datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    return _format_datetime(current_locale(), value, fmt)


def date_filter(value: date | datetime | None, fmt: str = "long") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _format_datetime(current_locale(), value, fmt if fmt != "long" else "d MMMM y")
    return _format_date(current_locale(), value, fmt)


def number(value: int | float | None) -> str:
    if value is None:
        return ""
    return _format_decimal(current_locale(), value, None)


def _translations():
    """The request's translations, looked up once (Flask-Babel resolves them on every string)."""
    if not has_request_context():
        return get_translations()
    translations = g.get("_rete_translations")
    if translations is None:
        translations = g._rete_translations = get_translations()
    return translations


# Jinja's newstyle wrappers do the %-formatting and the autoescaping around these.
def _gettext(string: str) -> str:
    return _translations().ugettext(string)


def _ngettext(singular: str, plural: str, num: int) -> str:
    return _translations().ungettext(singular, plural, num)


def _pgettext(context: str, string: str) -> str:
    return _translations().upgettext(context, string)


def _npgettext(context: str, singular: str, plural: str, num: int) -> str:
    return _translations().unpgettext(context, singular, plural, num)


def _template_gettext(string: str, **variables) -> Markup:
    """`_()` in templates, as Jinja's newstyle gettext does it (translated text trusted, values
    escaped by Markup's %), without its per-call context dispatch (~60 calls → ~15)."""
    text = Markup(_translations().ugettext(string))  # noqa: S704 - our own catalogue
    return text % variables if variables or "%" in text else text


#: Translations kept per language for the worker's life, for the few strings of answers sent
#: by the thousand (the vote box): the first string of a request otherwise resolves the
#: request's translations through Flask-Babel (~90 calls). Bounded: strings of our own code.
_KEPT: dict[tuple, str] = {}
_KEPT_MAX = 512


def _kept(key: tuple, translate) -> str:
    text = _KEPT.get(key)
    if text is None:
        if len(_KEPT) >= _KEPT_MAX:
            _KEPT.clear()
        text = _KEPT[key] = translate()
    return text


def kept_gettext(string: str, **variables) -> Markup:
    """`_()` of the templates, its translation kept per language (see `_KEPT`)."""
    text = Markup(kept_text(string))  # noqa: S704 - our own catalogue
    return text % variables if variables or "%" in text else text


def kept_text(string: str) -> str:
    """`_()` of Python code for a message without values, its translation kept per language
    (see `_KEPT`): plain text, as flash() stores it."""
    return _kept((current_locale(), string), lambda: _translations().ugettext(string))


def kept_ngettext(singular: str, plural: str, num: int) -> str:
    """`ngettext` with its translation kept per language and number (see `_KEPT`)."""
    return _kept((current_locale(), singular, plural, num),
                 lambda: _translations().ungettext(singular, plural, num))


def _install_request_cache_of_domain_translations() -> None:
    """Python code (`_()`, lazy labels of forms and states) goes through Flask-Babel's Domain,
    which resolves the context, the locale and the translations again for every string (~40
    calls each): keep what it finds for the rest of the request, as the templates do."""
    if getattr(Domain.get_translations, "_rete_cached", False):
        return
    resolve = Domain.get_translations

    def get_translations(self):
        if not has_request_context():
            return resolve(self)
        found = g.get("_rete_domain_translations")
        if found is None:
            found = g._rete_domain_translations = {}
        translations = found.get(id(self))
        if translations is None:
            translations = found[id(self)] = resolve(self)
        return translations

    get_translations._rete_cached = True
    Domain.get_translations = get_translations


def init_app(app: Flask) -> None:
    _install_request_cache_of_domain_translations()
    app.jinja_env.filters.update(
        money=money, datetime=datetime_filter, date=date_filter, number=number
    )
    app.jinja_env.globals["current_locale"] = current_locale
    # Templates translate through the request's cached translations (newstyle, as Flask-Babel).
    app.jinja_env.install_gettext_callables(
        _gettext, _ngettext, newstyle=True, pgettext=_pgettext, npgettext=_npgettext
    )
    # Every template is autoescaped (.html, .xml): the plain function gives the same result.
    app.jinja_env.globals["_"] = app.jinja_env.globals["gettext"] = _template_gettext
