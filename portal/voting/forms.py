"""Forms of voting rounds: times entered in Europe/Rome, money in euro."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, HiddenField, RadioField
from wtforms.validators import NumberRange, Optional, ValidationError

from portal.forms import (
    CleanStringField,
    CleanTextAreaField,
    IntegerInput,
    MoneyField,
    length,
    required,
)
from portal.i18n import ROME
from portal.proposals.forms import MultiCheckboxField


class RomeDateTimeField(DateTimeLocalField):
    """A date and time typed in Italian local time; `data` is aware UTC."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"], **kwargs)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(_l("Inserisci data e ora, per esempio 15/03/2026 20:30.")) from exc
        if self.data is not None:
            self.data = self.data.replace(tzinfo=ROME).astimezone(UTC)

    def _value(self):
        if self.raw_data:
            return " ".join(self.raw_data)
        if isinstance(self.data, datetime):
            return self.data.astimezone(ROME).strftime("%Y-%m-%dT%H:%M")
        return ""


class RoundForm(FlaskForm):
    title = CleanStringField(_l("Titolo"), validators=[required(), length(160, 5)])
    description = CleanTextAreaField(_l("Descrizione (facoltativa)"),
                                     validators=[Optional(), length(4000)])
    opens_at = RomeDateTimeField(_l("Apertura (ora italiana)"),
                                 validators=[required(_l("Indica quando si apre."))])
    closes_at = RomeDateTimeField(_l("Chiusura (ora italiana)"),
                                  validators=[required(_l("Indica quando si chiude."))])
    rule = RadioField(
        _l("Regola"),
        choices=[("supports", _l("Sostegni: ogni famiglia sostiene fino a N proposte; "
                                 "chi raggiunge la soglia è selezionata")),
                 ("budget", _l("Bilancio partecipativo: ogni famiglia sceglie proposte entro "
                               "il budget; vincono le più votate che ci stanno"))],
        validators=[required(_l("Scegli una regola."))])
    max_supports = IntegerInput(_l("Sostegni per famiglia"),
                                validators=[Optional(), NumberRange(1, 50, _l(
                                    "Un numero tra 1 e 50."))])
    threshold = IntegerInput(_l("Soglia di sostegni per la selezione"),
                             validators=[Optional(), NumberRange(1, 1_000_000, _l(
                                 "Un numero tra 1 e 1.000.000."))])
    budget = MoneyField(_l("Budget disponibile in euro"), validators=[Optional()])
    proposals = MultiCheckboxField(_l("Proposte in votazione"), coerce=int)

    def validate_closes_at(self, field):
        if field.data and self.opens_at.data and field.data <= self.opens_at.data:
            raise ValidationError(_l("La chiusura deve venire dopo l'apertura."))

    def validate_max_supports(self, field):
        if self.rule.data == "supports" and not field.data:
            raise ValidationError(_l("Indica quante proposte può sostenere ogni famiglia."))

    def validate_threshold(self, field):
        if self.rule.data == "supports" and not field.data:
            raise ValidationError(_l("Indica la soglia di sostegni."))

    def validate_budget(self, field):
        if self.rule.data == "budget" and not field.data:
            raise ValidationError(_l("Indica il budget disponibile."))

    def validate_proposals(self, field):
        if not field.data:
            raise ValidationError(_l("Scegli almeno una proposta."))


class VoteForm(FlaskForm):
    """The button that casts or withdraws a vote: its CSRF token and the page to go back to
    (the box is on the round's page and on each proposal's)."""

    next = HiddenField()
