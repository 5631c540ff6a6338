"""Forms of the fund managers: donation, allocation, campaign, reversal.

Each money form carries an idempotency key, made when the form is shown: sending the same
form twice (a double click, a retry after a lost answer) records the movement once.
"""

from __future__ import annotations

import re
import uuid
from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import ValidationError

from portal.forms import (
    CleanStringField,
    CleanTextAreaField,
    MoneyField,
    input_required,
    length,
    required,
)
from portal.fund.ledger import AMOUNT_MAX
from portal.web import parse_id

_KEY = re.compile(r"[A-Za-z0-9-]{8,64}")


def new_key() -> str:
    return uuid.uuid4().hex


class _Keyed(FlaskForm):
    key = HiddenField()

    def validate_key(self, field):
        if not isinstance(field.data, str) or not _KEY.fullmatch(field.data):
            raise ValidationError(_l("Il modulo è scaduto: ricarica la pagina e riprova."))


def _amount(label):
    return MoneyField(label, validators=[input_required(_l("Indica l'importo in euro."))],
                      max_cents=AMOUNT_MAX,
                      description=_l("In euro, per esempio 250 o 1.250,50."))


def _positive(_form, field):
    if isinstance(field.data, int) and field.data <= 0:
        raise ValidationError(_l("L'importo deve essere maggiore di zero."))


def _memo(label=None):
    return CleanStringField(
        label or _l("Descrizione pubblica"), validators=[length(300)],
        description=_l("Compare nel rendiconto pubblico: non scrivere nomi di persone."))


class DonationForm(_Keyed):
    amount = _amount(_l("Importo"))
    donor_name = CleanStringField(
        _l("Nome del donatore (facoltativo)"), validators=[length(160)],
        description=_l("Lascia vuoto per una donazione anonima. Lo vedono solo i gestori "
                       "del fondo, mai il pubblico."))
    campaign = SelectField(_l("Raccolta fondi"), coerce=str, validate_choice=False)
    memo = _memo()

    def __init__(self, *args, campaigns=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.campaign.choices = [("", _l("Nessuna: donazione al fondo"))] + [
            (str(c.id), c.title) for c in campaigns]
        self.amount.validators = [*self.amount.validators, _positive]

    def validate_campaign(self, field):
        if field.data and field.data not in {v for v, _l_ in field.choices}:
            raise ValidationError(_l("Scegli una raccolta fondi aperta di questo fondo."))

    @property
    def campaign_id(self) -> int | None:
        return parse_id(self.campaign.data) if self.campaign.data else None


class AllocationForm(_Keyed):
    amount = _amount(_l("Importo stanziato"))
    memo = _memo(_l("Atto o descrizione"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.amount.validators = [*self.amount.validators, _positive]


class _DateText(StringField):
    """A day as the browser's date input sends it (2026-03-15) or as a person types it
    (15/03/2026); `data` is a date or None."""

    def process_formdata(self, valuelist):
        self.data = None
        text = valuelist[0].strip() if valuelist and isinstance(valuelist[0], str) else ""
        if not text:
            return
        match = re.fullmatch(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", text) or None
        parts = None
        if match:
            parts = int(match[1]), int(match[2]), int(match[3])
        else:
            match = re.fullmatch(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})", text)
            if match:
                parts = int(match[3]), int(match[2]), int(match[1])
        try:
            if parts is None or not 2000 <= parts[0] <= 2100:
                raise ValueError
            self.data = date(*parts)
        except ValueError:
            raise ValueError(_l("Scrivi una data, per esempio 15/03/2026.")) from None

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return self.data.isoformat() if isinstance(self.data, date) else ""


class CampaignForm(FlaskForm):
    proposal_id = SelectField(_l("Progetto approvato"), coerce=str, validate_choice=False,
                              validators=[required(_l("Scegli il progetto."))])
    title = CleanStringField(_l("Titolo della raccolta"), validators=[required(),
                                                                     length(160, 3)])
    description = CleanTextAreaField(_l("Descrizione"), validators=[length(4000)])
    target = _amount(_l("Obiettivo"))
    opens_on = _DateText(_l("Apertura"), validators=[required(_l("Indica la data di apertura."))],
                         render_kw={"type": "date"})
    closes_on = _DateText(_l("Chiusura (facoltativa)"), render_kw={"type": "date"})

    def __init__(self, *args, proposals=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.proposal_id.choices = [("", _l("Scegli…"))] + [
            (str(p.id), p.title) for p in proposals]
        self.target.validators = [*self.target.validators, _positive]

    def validate_proposal_id(self, field):
        if field.data not in {v for v, _label in field.choices if v}:
            raise ValidationError(_l("Scegli un progetto approvato di questo Comune."))

    def validate_closes_on(self, field):
        if field.data and self.opens_on.data and field.data < self.opens_on.data:
            raise ValidationError(_l("La chiusura non può precedere l'apertura."))


class ReversalForm(_Keyed):
    reason = CleanStringField(
        _l("Motivo dello storno"), validators=[required(_l("Scrivi il motivo dello storno.")),
                                               length(300, 5)],
        description=_l("Compare nel rendiconto pubblico accanto allo storno."))
