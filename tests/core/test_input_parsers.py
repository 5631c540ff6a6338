"""The one parser of ids and page numbers, the one money field, the one judge of local URLs."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from portal.forms import IntegerInput, MoneyField, parse_money
from portal.web import MAX_ID, is_local_url, parse_id, parse_int, safe_next

# --------------------------------------------------------------------------- ids and pages


@pytest.mark.parametrize("raw, expected", [
    ("1", 1), ("42", 42), ("007", 7), (str(MAX_ID), MAX_ID), (12, 12),
    (str(MAX_ID + 1), None), (str(2**70), None), ("0", None), ("-1", None), ("+1", None),
    ("²", None), ("١٢", None), ("１２", None), ("1_000", None), (" 12", None), ("12 ", None),
    ("1e3", None), ("0x10", None), ("12.0", None), ("", None), (None, None), (True, None),
    ("9" * 5000, None),
])
def test_ids_are_ascii_digits_in_the_integer_range(raw, expected):
    assert parse_id(raw) == expected


def test_a_page_number_has_its_own_range():
    assert parse_int("3", 1, 10) == 3
    assert parse_int("11", 1, 10) is None
    assert parse_int("0", 0, 10) == 0


@pytest.mark.parametrize("path", ["/proposte/١٢", "/proposte/²", f"/proposte/{2**31}",
                                  "/sedute/%D9%A1%D9%A2", "/proposte/-1"])
def test_ids_in_urls_are_ascii_digits_within_range(client, path):
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("value", ["١٢", "²", str(2**70), "0", "x"])
def test_a_page_number_that_is_not_one_is_not_found(client, value):
    assert client.get("/progetti", query_string={"sezione": "in-corso"}).status_code == 200
    assert client.get("/progetti", query_string={"sezione": "in-corso",
                                                 "pagina": value}).status_code == 404


# --------------------------------------------------------------------------- money


@pytest.mark.parametrize("text, cents", [
    ("12", 1200), ("12,50", 1250), ("12.50", 1250), ("12,5", 1250), ("1.234,56", 123456),
    ("1.250", 125000), ("12.345.678", 1234567800), ("€ 1.234", 123400), ("80 €", 8000),
    ("  7 ", 700), ("0", 0), ("0,01", 1), ("100000000000", 10**13),
])
def test_amounts_as_written_in_italy(app, text, cents):
    assert parse_money(text) == cents


@pytest.mark.parametrize("text, message", [
    ("1e3", "importo in euro"), ("1E+2", "importo in euro"), ("NaN", "importo in euro"),
    ("Infinity", "importo in euro"), ("-Infinity", "importo in euro"),
    ("0x10", "importo in euro"), ("١٢", "importo in euro"), ("12,", "importo in euro"),
    ("1,2,3", "importo in euro"), ("dodici", "importo in euro"),
    ("12,500", "due cifre decimali"), ("1.234,567", "due cifre decimali"),
    ("1234.567", "due cifre decimali"), ("-1", "negativo"), ("-0,50", "negativo"),
    ("100000000001", "troppo alto"), ("9" * 40, "troppo alto"),
])
def test_what_is_not_a_plain_amount_is_refused_with_a_reason(app, text, message):
    with app.test_request_context(), pytest.raises(ValueError, match=message):
        parse_money(text)


def test_negative_amounts_and_a_lower_ceiling_when_the_field_says_so(app):
    with app.test_request_context():
        assert parse_money("-12,50", allow_negative=True) == -1250
        with pytest.raises(ValueError, match="al massimo 10.000 euro"):
            parse_money("10.000,01", max_cents=10_000_00)


def _bound(field, formdata):
    from flask_wtf import FlaskForm

    class Form(FlaskForm):
        class Meta:
            csrf = False

        value = field

    return Form(formdata=MultiDict(formdata))


def test_the_money_field_keeps_cents_and_shows_back_what_was_typed(app):
    with app.test_request_context():
        form = _bound(MoneyField("Costo"), {"value": "1.234,5"})
        assert form.validate() and form.value.data == 123450
        form = _bound(MoneyField("Costo"), {"value": "1e309"})
        assert not form.validate() and form.value.data is None
        assert "importo in euro" in str(form.value.errors[0])
        assert 'value="1e309"' in form.value()
        empty = _bound(MoneyField("Costo"), {"value": "  "})
        assert empty.validate() and empty.value.data is None
        shown = _bound(MoneyField("Costo"), {})
        shown.value.data = 123456
        assert 'value="1.234,56"' in shown.value()


@pytest.mark.parametrize("text, expected", [
    ("12", 12), ("-3", -3), (" 7 ", 7), ("١٢", None), ("²", None), ("1_000", None),
    ("1e3", None), (str(2**31), None), ("9" * 30, None),
])
def test_integer_fields_take_ascii_digits_within_an_integer_column(app, text, expected):
    with app.test_request_context():
        form = _bound(IntegerInput("N"), {"value": text})
        assert form.validate() is (expected is not None)
        assert form.value.data == expected


# --------------------------------------------------------------------------- local URLs


@pytest.mark.parametrize("url", [
    "/", "/proposte/12", "/proposte?comune=Seveso&pagina=2", "/pratiche/pedibus#adozioni",
    "/cerca?q=a%20b", "/a%25b", "/a:b",
])
def test_paths_of_the_site_are_local(url):
    assert is_local_url(url)


@pytest.mark.parametrize("url", [
    "//evil.example", "/\\evil.example", "\\/evil.example", "\\\\evil.example",
    "/%5Cevil.example", "/%5cevil.example", "/%2F/evil.example", "/%2f%2fevil.example",
    "/%252F/evil.example", "/%25252F%25252Fevil.example", "https://evil.example",
    "https:evil.example", "http:/evil.example", "javascript:alert(1)", "JaVaScRiPt:alert(1)",
    "data:text/html,x", "evil.example", "./x", "", " /x", "/x ", "/\t/evil.example",
    "/\n/evil.example", "\t//evil.example", "/\r\n/evil.example", "/%09/evil.example",
    "/%0A/evil.example", "/\x00/evil.example", "/\u3000/evil.example", "/\ufeff/evil",
    "/%E3%80%80/evil.example", None, 12,
])
def test_anything_that_may_leave_the_site_is_not_local(url):
    assert not is_local_url(url)
    assert safe_next(url, "/home") == "/home"


def test_login_and_language_never_send_elsewhere(client):
    for target in ("//evil.example", "/\\evil.example", "/%5Cevil.example"):
        response = client.get("/lingua/en", query_string={"next": target})
        assert response.headers["Location"] == "/", target
    assert client.get("/lingua/en", query_string={"next": "/pratiche"}
                      ).headers["Location"] == "/pratiche"
