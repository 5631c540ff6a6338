"""Forms of the accounts module, with Italian messages for every bad input."""

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, RadioField, SelectField
from wtforms.validators import Email, EqualTo, NumberRange, Optional, ValidationError

from portal.forms import (
    CleanStringField,
    CleanTextAreaField,
    IntegerInput,
    input_required,
    length,
    required,
)

EMAIL_MESSAGE = _l("Inserisci un indirizzo e-mail valido, per esempio nome@esempio.it.")


def _id_or_none(value):
    return None if value in ("", None) else int(value)


def email_field(label=None):
    return CleanStringField(
        label or _l("Indirizzo e-mail"),
        validators=[required(), length(254), Email(message=EMAIL_MESSAGE,
                                                   check_deliverability=False)],
    )


def password_field(label=None):
    return PasswordField(label or _l("Password"), validators=[required(), length(200)])


class RegisterForm(FlaskForm):
    name = CleanStringField(_l("Nome e cognome"), validators=[required(), length(120, 2)])
    email = email_field()
    password = password_field()
    password_confirm = PasswordField(
        _l("Ripeti la password"),
        validators=[required(), EqualTo("password", message=_l("Le due password non coincidono."))],
    )
    privacy = BooleanField(
        _l("Ho letto l'informativa sulla privacy"),
        validators=[required(_l("Per registrarti devi prendere visione dell'informativa."))],
    )


class LoginForm(FlaskForm):
    email = email_field()
    password = password_field()


class ForgotPasswordForm(FlaskForm):
    email = email_field()


class ResetPasswordForm(FlaskForm):
    password = password_field(_l("Nuova password"))
    password_confirm = PasswordField(
        _l("Ripeti la nuova password"),
        validators=[required(), EqualTo("password", message=_l("Le due password non coincidono."))],
    )


class ChangePasswordForm(FlaskForm):
    current = password_field(_l("Password attuale"))
    password = password_field(_l("Nuova password"))
    password_confirm = PasswordField(
        _l("Ripeti la nuova password"),
        validators=[required(), EqualTo("password", message=_l("Le due password non coincidono."))],
    )


class ChangeEmailForm(FlaskForm):
    email = email_field(_l("Nuovo indirizzo e-mail"))
    password = password_field(_l("Password attuale"))


def _birth_year_validators():
    this_year = date.today().year
    return [
        input_required(),
        NumberRange(min=this_year - 120, max=this_year,
                    message=_l("Indica un anno tra %(a)d e %(b)d.", a=this_year - 120,
                               b=this_year)),
    ]


def street_field():
    # services.clean_address checks what a street and a number are
    return CleanStringField(
        _l("Via o piazza di residenza"), validators=[required(), length(120, 3)],
        description=_l("Per esempio \"Via Roma\". Lo vede solo l'ufficio anagrafe del tuo "
                       "Comune, per verificare la residenza."))


def house_number_field():
    return CleanStringField(
        _l("Numero civico"), validators=[required(), length(12)],
        description=_l("Per esempio \"12\" o \"12/A\"; \"snc\" se non c'è."))


class AddressForm(FlaskForm):
    """The residence a household declares, for the Comune's check against the anagrafe."""

    street = street_field()
    house_number = house_number_field()


class HouseholdForm(FlaskForm):
    name = CleanStringField(
        _l("Nome del nucleo familiare"), validators=[required(), length(120, 2)],
        description=_l("Per esempio \"Famiglia Rossi\"."),
    )
    # validate_comune_id says it better than WTForms' generic "not a valid choice"; the
    # placeholder's value is empty, as HTML wants of a required select's first option
    comune_id = SelectField(_l("Comune di residenza"), coerce=_id_or_none, validate_choice=False,
                            validators=[required(_l("Scegli il Comune di residenza."))])
    street = street_field()
    house_number = house_number_field()
    birth_year = IntegerInput(_l("Il tuo anno di nascita"), validators=_birth_year_validators())

    def validate_comune_id(self, field):
        if field.data not in {value for value, _label in field.choices}:
            raise ValidationError(_l("Scegli un Comune della Rete."))


class MemberForm(FlaskForm):
    first_name = CleanStringField(_l("Nome (facoltativo)"), validators=[Optional(), length(80)])
    kind = RadioField(
        _l("Tipo di componente"),
        choices=[("adult", _l("Adulto")), ("child", _l("Figlio minore"))],
        validators=[required(_l("Scegli se adulto o figlio minore."))],
    )
    birth_year = IntegerInput(_l("Anno di nascita"), validators=_birth_year_validators())
    disability = BooleanField(_l("Persona con disabilità (facoltativo)"))


class ReviewHouseholdForm(FlaskForm):
    decision = RadioField(
        _l("Esito della verifica"),
        choices=[("verify", _l("Residenza verificata")),
                 ("reject", _l("Residenza non verificata"))],
        validators=[required(_l("Scegli l'esito della verifica."))],
    )
    note = CleanTextAreaField(_l("Nota (obbligatoria se non verificata)"),
                              validators=[Optional(), length(500)])


class DeleteAccountForm(FlaskForm):
    password = password_field(_l("Password attuale"))
    confirm = BooleanField(
        _l("Ho capito che l'account sarà cancellato definitivamente"),
        validators=[required(_l("Conferma di voler cancellare l'account."))],
    )
