"""Italian formats of dates, numbers and money, the Rome time zone, and English on request."""

from datetime import UTC, date, datetime

import pytest
from flask_babel import force_locale

from portal.i18n import date_filter, datetime_filter, formatted, money, number
from tests.conftest import page_text


@pytest.fixture
def italian(app):
    with app.test_request_context("/"):
        yield


def test_dates_and_numbers_in_italian(italian):
    assert date_filter(date(2015, 11, 12)) == "12 novembre 2015"
    assert money(123456) == "1.234,56 €"
    assert money(-5) == "-0,05 €"
    assert money(0) == "0,00 €"
    assert money(None) == ""
    assert number(1234567) == "1.234.567"
    assert number(2.5) == "2,5"


def test_times_are_shown_in_rome(italian):
    """A UTC instant late on New Year's Eve is already the first of January in Rome."""
    instant = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
    assert date_filter(instant) == "1 gennaio 2026"
    assert datetime_filter(instant, "short") == "01/01/2026, 00:30"
    summer = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    assert datetime_filter(summer, "HH:mm") == "12:00"  # CEST, UTC+2


def test_moments_are_shown_to_the_minute(italian):
    """A meeting's time reads as people write it: no seconds, no time zone's long name."""
    instant = datetime(2027, 1, 1, 19, 0, tzinfo=UTC)
    assert datetime_filter(instant, "medium") == "1 gen 2027, 20:00"
    assert datetime_filter(instant, "long") == "1 gennaio 2027, 20:00"
    assert datetime_filter(instant, "full") == "venerdì 1 gennaio 2027, 20:00"
    assert date_filter(date(2026, 2, 9), "short") == "09/02/2026"
    assert formatted(instant, "full", "en") == "Friday 1 January 2027, 20:00"


def test_english_formats_when_english_is_chosen(italian):
    """One style of date per language: a day and a moment read day first, as the moments do."""
    with force_locale("en"):
        assert date_filter(date(2015, 11, 12)) == "12 November 2015"
        assert date_filter(datetime(2015, 11, 12, 12, tzinfo=UTC)) == "12 November 2015"
        assert datetime_filter(datetime(2015, 11, 12, 12, tzinfo=UTC), "long") == (
            "12 November 2015, 13:00")
        assert date_filter(date(2015, 11, 12), "medium") == "12 Nov 2015"
        assert money(123456) == "1,234.56 €"


def test_the_interface_is_italian_by_default(client):
    response = client.get("/")
    assert '<html lang="it">' in response.get_data(as_text=True)
    text = page_text(response)
    assert "Vai al contenuto principale" in text and "I Comuni della Rete" in text


def test_switching_to_english_translates_navigation_and_pages(client, factory):
    """The language switch keeps English for the next pages: navigation, footer, forms, errors."""
    factory.comune("Seveso", "108040")
    response = client.get("/lingua/en?next=/comuni")
    assert response.status_code == 303 and response.headers["Location"] == "/comuni"
    page = client.get("/comuni")
    html = page.get_data(as_text=True)
    assert '<html lang="en">' in html
    text = page_text(page)
    for english in ("Skip to main content", "Municipalities",
                    "Log in", "Register", "Accessibility statement", "Privacy notice",
                    "The municipalities of the Network", "Does your municipality want to join?"):
        assert english in text, english
    assert "Vai al contenuto principale" not in text
    assert 'aria-label="Main navigation"' in html

    form = client.form("/accedi", {"email": "", "password": ""})
    assert "This field is required." in page_text(form)
    assert "Page not found" in page_text(client.get("/non-esiste"))

    client.get("/lingua/it?next=/")
    assert '<html lang="it">' in client.get("/").get_data(as_text=True)


def test_unknown_language_is_ignored(client):
    client.get("/lingua/xx")
    assert '<html lang="it">' in client.get("/").get_data(as_text=True)


#: Everything that can show text to a user: every module's code and every template.
SOURCES = ("portal", "templates")


def test_every_string_has_an_english_translation():
    """No string of any page, form or mail falls back to Italian in English."""
    from pathlib import Path

    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[2]
    with (root / "portal/translations/en/LC_MESSAGES/messages.po").open("rb") as fh:
        catalog = read_po(fh)
    # as `make translations-update` extracts them
    keywords = dict(DEFAULT_KEYWORDS, _l=None, lazy_gettext=None)
    files = []
    for entry in SOURCES:
        path = root / entry
        files += [path] if path.is_file() else sorted(
            p for p in path.rglob("*")
            if p.suffix in (".py", ".html") and "translations" not in p.parts)
    missing = []
    for path in files:
        method = "python" if path.suffix == ".py" else "jinja2"
        for _line, message, _comments, _context in extract_from_file(method, path, keywords):
            msgid = message[0] if isinstance(message, tuple) else message
            entry = catalog.get(msgid)
            if entry is None or not entry.string or entry.fuzzy:
                missing.append(f"{path.relative_to(root)}: {msgid!r}")
    assert not missing, "untranslated (run `make translations-update`):\n" + "\n".join(missing)


def test_template_strings_escape_their_values_and_keep_percent_signs(app):
    with app.test_request_context("/"):
        page = app.jinja_env.from_string(
            "{{ _('Provincia di %(p)s', p='<b>Monza</b>') }}|{{ _('100%% gratuito') }}|"
            "{{ _('Comuni') }}").render()
    assert page == "Provincia di &lt;b&gt;Monza&lt;/b&gt;|100% gratuito|Comuni"


def test_no_translated_string_hides_inside_an_f_string():
    """The extraction of the messages does not look inside f-strings: a `_("…")` there never
    reaches the catalogue and shows in Italian to everyone (two did, on the tables' lists)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    hidden = []
    for path in sorted((root / "portal").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.JoinedStr):
                continue
            for inner in ast.walk(node):
                if (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name)
                        and inner.func.id in {"_", "gettext", "ngettext", "_l", "lazy_gettext"}):
                    hidden.append(f"{path.relative_to(root)}:{inner.lineno}")
    assert not hidden, "a message inside an f-string (translate it before): " + ", ".join(hidden)


def test_plain_text_templates_keep_their_values_as_written(app):
    """A .txt mail is plain text: `Rossi & Figli` stays as it is, in a message and outside one
    (autoescaping is for .html and .xml only), while the same template as .html escapes it."""
    from jinja2 import DictLoader

    source = "{{ _('Gentile %(name)s,', name=name) }} {{ name }}"
    env = app.jinja_env.overlay(loader=DictLoader({"mail/a.txt": source, "mail/a.html": source}))
    with app.test_request_context("/"):
        text = env.get_template("mail/a.txt").render(name="Rossi & Figli <srl>")
        html = env.get_template("mail/a.html").render(name="Rossi & Figli <srl>")
    assert text == "Gentile Rossi & Figli <srl>, Rossi & Figli <srl>"
    assert html == ("Gentile Rossi &amp; Figli &lt;srl&gt;, Rossi &amp; Figli &lt;srl&gt;")
