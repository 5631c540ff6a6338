"""Forms of the card: the family's request, the shop's application, the till, the officer."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, SelectField
from wtforms.validators import Email, NumberRange

from portal.card.services import CATEGORIES
from portal.forms import (
    CleanStringField,
    CleanTextAreaField,
    IntegerInput,
    MoneyField,
    input_required,
    length,
)


class RequestForm(FlaskForm):
    isee = MoneyField(_l("Valore ISEE (se il Comune lo chiede)"), max_cents=10_000_000_00,
                      description=_l("In euro, come nell'attestazione, per esempio 18.500,00."))


class MerchantForm(FlaskForm):
    name = CleanStringField(_l("Ragione sociale o insegna"), validators=[
        input_required(_l("Indica il nome dell'esercizio.")), length(160)])
    vat_number = CleanStringField(_l("Partita IVA"), validators=[
        input_required(_l("Indica la partita IVA.")), length(20)])
    address = CleanStringField(_l("Indirizzo"), validators=[
        input_required(_l("Indica l'indirizzo del negozio.")), length(200)])
    category = SelectField(_l("Categoria"), choices=[(c, c) for c in CATEGORIES],
                           validate_choice=False)
    comune_id = SelectField(_l("Comune"), coerce=str, validate_choice=False)
    contact_email = EmailField(_l("E-mail di contatto"), validators=[
        input_required(_l("Indica un indirizzo e-mail.")),
        Email(message=_l("L'indirizzo e-mail non è valido.")), length(254)])
    contact_phone = CleanStringField(_l("Telefono"), validators=[length(30)])
    description = CleanTextAreaField(_l("Descrizione"), validators=[length(2000)])


class CheckForm(FlaskForm):
    card = CleanStringField(_l("Numero della carta o codice QR"), validators=[
        input_required(_l("Scrivi il numero della carta o inquadra il codice QR.")),
        length(300)])


class PurchaseForm(FlaskForm):
    card = HiddenField()
    amount = MoneyField(_l("Importo dello scontrino (prima dello sconto)"),
                        validators=[input_required(_l("Indica l'importo in euro."))],
                        max_cents=10_000_000, description=_l("In euro, per esempio 23,50."))
    receipt = CleanStringField(_l("Numero dello scontrino"), validators=[
        input_required(_l("Indica il numero dello scontrino.")), length(40)])


class DecisionForm(FlaskForm):
    decision = SelectField(_l("Decisione"), choices=[("approve", _l("Approva")),
                                                     ("refuse", _l("Rifiuta"))])
    note = CleanStringField(_l("Nota per la famiglia"), validators=[length(500)])


class RuleForm(FlaskForm):
    min_children = IntegerInput(_l("Figli richiesti, almeno"), validators=[
        input_required(_l("Indica quanti figli servono.")),
        NumberRange(0, 20, message=_l("Indica un numero da 0 a 20."))])
    child_max_age = IntegerInput(_l("Età massima dei figli"), validators=[
        input_required(_l("Indica l'età massima.")),
        NumberRange(0, 40, message=_l("Indica un'età da 0 a 40 anni."))])
    isee_ceiling = MoneyField(_l("Limite ISEE (vuoto: nessuno)"), max_cents=10_000_000_00,
                              description=_l("In euro; le richieste sotto il limite le decide "
                                             "l'ufficio."))


class CardStatusForm(FlaskForm):
    status = SelectField(_l("Nuovo stato"), choices=[("active", _l("Attiva")),
                                                     ("suspended", _l("Sospesa")),
                                                     ("revoked", _l("Revocata"))])
