"""Form pieces shared by every module: Italian messages, safe text fields, the one integer
field, the one money field, the empty form."""

from __future__ import annotations

import re
from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from portal.web import is_local_url


class EmptyForm(FlaskForm):
    """A form with only the CSRF token: for one-button actions (vote, delete, publish)."""


def no_control_chars(_form, field) -> None:
    """Refuse NUL and other control characters (newlines and tabs allowed)."""
    value = field.data
    if isinstance(value, str) and any(ord(c) < 32 and c not in "\n\r\t" for c in value):
        raise ValidationError(_l("Il testo contiene caratteri non ammessi."))


def required(message=None):
    return DataRequired(message=message or _l("Campo obbligatorio."))


def input_required(message=None):
    return InputRequired(message=message or _l("Campo obbligatorio."))


def length(max: int, min: int = -1):  # noqa: A002 - same names as WTForms' Length
    if min > 0:
        message = _l("Deve avere tra %(min)d e %(max)d caratteri.", min=min, max=max)
    else:
        message = _l("Può avere al massimo %(max)d caratteri.", max=max)
    return Length(min=min, max=max, message=message)


class CleanStringField(StringField):
    """A single-line text: trimmed, inner whitespace folded, control characters refused."""

    def __init__(self, *args, validators=None, **kwargs):
        super().__init__(*args, validators=[no_control_chars, *(validators or [])],
                         filters=[lambda v: " ".join(v.split()) if isinstance(v, str) else v],
                         **kwargs)


class CleanTextAreaField(TextAreaField):
    """A multi-line text: trimmed, control characters other than newlines refused."""

    def __init__(self, *args, validators=None, **kwargs):
        super().__init__(*args, validators=[no_control_chars, *(validators or [])],
                         filters=[lambda v: v.strip() if isinstance(v, str) else v], **kwargs)


#: The bounds of an INTEGER column: no integer field may hand the database more.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
_INTEGER = re.compile(r"-?[0-9]{1,10}")


class IntegerInput(IntegerField):
    """An integer typed by a person: ASCII digits with an optional minus (WTForms' own parse,
    Python's int(), also takes "١٢", "1_000" and "²"), within an INTEGER column, with an
    Italian message. Give it a NumberRange for the range that makes sense."""

    def process_formdata(self, valuelist):
        self.data = None
        text = valuelist[0].strip() if valuelist and isinstance(valuelist[0], str) else ""
        if not text:
            return
        if not _INTEGER.fullmatch(text) or not INT_MIN <= int(text) <= INT_MAX:
            raise ValueError(_l("Inserisci un numero intero."))
        self.data = int(text)


#: A plain amount: digits, optionally grouped by "." in thousands with "," for the cents
#: ("1.234,56"), or a single "," or "." before at most the cents ("12,50", "12.5").
_AMOUNT = re.compile(r"(?P<sign>-?)(?:"
                     r"(?P<grouped>[0-9]{1,3}(?:\.[0-9]{3})+)(?:,(?P<gcents>[0-9]+))?"
                     r"|(?P<whole>[0-9]+)(?:[.,](?P<cents>[0-9]+))?)")
#: The most any amount of the portal may be: a hundred billion euro, far below BIGINT.
MAX_CENTS = 10**13


def _euro_text(cents: int) -> str:
    """12345 -> "123,45"; 1234500 -> "12.345" (Italian grouping, cents only when there are)."""
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(cents), 100)
    return sign + f"{euros:,}".replace(",", ".") + (f",{rest:02d}" if rest else "")


def parse_money(text: str, allow_negative: bool = False, max_cents: int = MAX_CENTS) -> int:
    """The integer cents of an amount in euro as a person types it: "12", "12,50", "12.50",
    "1.234,56", "€ 1.234" — never an exponent, NaN, Infinity, more than two decimals, a
    negative amount (unless allowed) or more than `max_cents`. Raises ValueError with an
    Italian message that says which."""
    text = text.strip().removeprefix("€").removesuffix("€").strip()
    text = text.replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    too_high = _l("L'importo è troppo alto: al massimo %(max)s euro.", max=_euro_text(max_cents))
    match = _AMOUNT.fullmatch(text) if len(text) <= 30 else None
    if match is None:
        if len(text) > 30 and re.fullmatch(r"-?[0-9.,]+", text):
            raise ValueError(too_high)
        raise ValueError(_l("Scrivi un importo in euro, per esempio 1.250 o 1.250,50."))
    whole = (match["grouped"] or match["whole"]).replace(".", "")
    decimals = match["gcents"] if match["grouped"] else match["cents"]
    if decimals is not None and len(decimals) > 2:
        raise ValueError(_l("Al massimo due cifre decimali (i centesimi)."))
    cents = int(whole) * 100 + int((decimals or "").ljust(2, "0"))
    if match["sign"] and cents:
        if not allow_negative:
            raise ValueError(_l("L'importo non può essere negativo."))
        cents = -cents
    if abs(cents) > max_cents:
        raise ValueError(too_high)
    return cents


class MoneyField(StringField):
    """An amount in euro typed by a person; `data` holds integer cents (or None when left
    empty). The form shows back what was typed, or the amount written the Italian way."""

    def __init__(self, *args, allow_negative: bool = False, max_cents: int = MAX_CENTS,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.allow_negative = allow_negative
        self.max_cents = max_cents

    def process_formdata(self, valuelist):
        self.data = None
        text = valuelist[0] if valuelist and isinstance(valuelist[0], str) else ""
        if text.strip():
            self.data = parse_money(text, self.allow_negative, self.max_cents)

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return _euro_text(self.data) if isinstance(self.data, int) else ""


def local_url(_form, field) -> None:
    """A link inside the portal: a path that starts with a single "/" (see is_local_url)."""
    if field.data and not is_local_url(field.data):
        raise ValidationError(_l("Indica un indirizzo interno al portale, che inizi con /, "
                                 "per esempio /proposte/12."))


class ItalianDateField(DateField):
    """A date with an Italian message when it is not one, and within this century's span (a
    year typed with too many digits is a mistake, not a date to store)."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(_l("Inserisci una data valida (gg/mm/aaaa).")) from exc
        if self.data is not None and not date(2000, 1, 1) <= self.data <= date(2100, 12, 31):
            self.data = None
            raise ValueError(_l("Inserisci una data tra il 2000 e il 2100."))


class ItalianTimeField(TimeField):
    """A time of day, with an Italian message when it is not one."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(_l("Inserisci un orario valido (hh:mm).")) from exc
