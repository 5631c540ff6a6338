"""The GAF's forms: joining, the monthly commitment, a line's quantity, a round's dates,
suppliers and products, the delivery tick. Italian messages; amounts in euro → cents."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField
from wtforms.validators import NumberRange, ValidationError

from portal.forms import (
    CleanStringField,
    CleanTextAreaField,
    IntegerInput,
    ItalianDateField,
    ItalianTimeField,
    MoneyField,
    input_required,
    length,
    required,
)
from portal.gaf.services import COMMITMENT_MAX, QUANTITY_MAX


def _commitment(label):
    return MoneyField(label, max_cents=COMMITMENT_MAX,
                      description=_l("In euro al mese, per esempio 120 o 80,50."))


class JoinForm(FlaskForm):
    commitment = _commitment(_l("Impegno mensile (facoltativo)"))


class CommitmentForm(FlaskForm):
    commitment = _commitment(_l("Impegno mensile"))

    def validate_commitment(self, field):
        if field.data is None:
            raise ValidationError(_l("Indica l'impegno mensile in euro (anche 0)."))


class QuantityForm(FlaskForm):
    quantity = IntegerInput(_l("Quantità"), validators=[
        input_required(_l("Indica la quantità.")),
        NumberRange(0, QUANTITY_MAX, message=_l("La quantità va da 0 a %(max)d.",
                                                max=QUANTITY_MAX))])


class RoundForm(FlaskForm):
    closes_on = ItalianDateField(_l("Giorno di chiusura degli ordini"),
                      validators=[input_required(_l("Indica il giorno di chiusura."))])
    closes_time = ItalianTimeField(_l("Ora di chiusura"),
                        validators=[input_required(_l("Indica l'ora di chiusura."))])
    delivery_on = ItalianDateField(_l("Giorno di consegna"),
                        validators=[input_required(_l("Indica il giorno di consegna."))])


class SupplierForm(FlaskForm):
    name = CleanStringField(_l("Nome del fornitore"), validators=[
        required(_l("Indica il nome del fornitore.")), length(120)])
    town = CleanStringField(_l("Comune del fornitore"), validators=[length(120)])
    patto = CleanTextAreaField(_l("Patto con il gruppo"), validators=[
        required(_l("Descrivi l'impegno del fornitore: è il patto con le famiglie.")),
        length(4000)], description=_l("Che cosa si impegna a garantire: provenienza, "
                                      "stagionalità, prezzi, consegne."))
    active = BooleanField(_l("Fornitore attivo"), default=True)


def _qty(label, message):
    return IntegerInput(label, validators=[
        input_required(message),
        NumberRange(1, QUANTITY_MAX, message=_l("Un numero da 1 a %(max)d.", max=QUANTITY_MAX))])


class ProductForm(FlaskForm):
    name = CleanStringField(_l("Prodotto"), validators=[
        required(_l("Indica il nome del prodotto.")), length(120)])
    unit = CleanStringField(_l("Unità"), validators=[
        required(_l("Indica l'unità, per esempio kg o pagnotta.")), length(30)])
    price = MoneyField(_l("Prezzo per unità"), max_cents=1_000_000,
                       validators=[input_required(_l("Indica il prezzo in euro."))],
                       description=_l("In euro, per esempio 3,50."))
    min_qty = _qty(_l("Quantità minima"), _l("Indica la quantità minima."))
    multiple = _qty(_l("Multiplo"), _l("Indica il multiplo (1 se qualsiasi quantità)."))
    max_qty = _qty(_l("Quantità massima"), _l("Indica la quantità massima."))
    available = BooleanField(_l("Disponibile"), default=True)

    def validate_price(self, field):
        if isinstance(field.data, int) and field.data <= 0:
            raise ValidationError(_l("Il prezzo deve essere maggiore di zero."))

    def validate_max_qty(self, field):
        if isinstance(field.data, int) and isinstance(self.min_qty.data, int) \
                and field.data < self.min_qty.data:
            raise ValidationError(_l("Il massimo non può essere minore del minimo."))


class TickForm(FlaskForm):
    delivered = HiddenField()

    def validate_delivered(self, field):
        if field.data not in ("0", "1"):
            raise ValidationError(_l("Scelta non valida."))
