"""Form pieces shared by every module: Italian messages, safe text fields, the empty form."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError


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
