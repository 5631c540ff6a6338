"""Forms of the catalogue, with Italian messages for every bad input."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    DateField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from portal.catalogue.models import AdoptionStatus, FileKind, PracticeStatus, PromoterKind
from portal.forms import (
    CleanStringField,
    CleanTextAreaField,
    IntegerInput,
    MoneyField,
    length,
    local_url,
    required,
)


class DecimalInput(StringField):
    """A number with a comma or a point as decimal separator; `.number` holds it."""

    number: float | None = None

    def pre_validate(self, form):
        text = (self.data or "").strip().replace(" ", "")
        self.number = None
        if not text:
            return
        if not re.fullmatch(r"-?[0-9]{1,12}([.,][0-9]{1,4})?", text):
            raise ValidationError(_l("Scrivi un numero, per esempio 120 o 3,5."))
        self.number = float(text.replace(",", "."))


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _date(label):
    return DateField(label, validators=[Optional()],
                     render_kw={"autocomplete": "off"})


class PracticeForm(FlaskForm):
    title = CleanStringField(_l("Titolo"), validators=[required(), length(160, 3)])
    summary = CleanTextAreaField(_l("Sintesi"), validators=[required(), length(600)])
    body = CleanTextAreaField(_l("Descrizione completa"), validators=[length(20000)])
    status = SelectField(_l("Stato"), choices=[
        (PracticeStatus.IDEA, _l("Idea")), (PracticeStatus.TRIAL, _l("In sperimentazione")),
        (PracticeStatus.ACTIVE, _l("Attiva")), (PracticeStatus.ENDED, _l("Conclusa"))])
    themes = MultiCheckboxField(_l("Temi"), coerce=int, validate_choice=True)
    comuni = MultiCheckboxField(_l("Comuni in cui si svolge"), coerce=int, validate_choice=True)
    owner = SelectField(_l("Chi cura la scheda"), validate_choice=True)
    started_on = _date(_l("Data di avvio"))
    ended_on = _date(_l("Data di conclusione"))
    beneficiaries = CleanStringField(_l("Destinatari"), validators=[Optional(), length(300)])
    beneficiaries_count = IntegerInput(_l("Numero di beneficiari"), validators=[
        Optional(), NumberRange(min=0, max=10_000_000, message=_l("Numero non valido."))])
    cost = MoneyField(_l("Costo complessivo (euro)"), validators=[Optional()])
    funding_sources = CleanStringField(_l("Fonti di finanziamento"),
                                       validators=[Optional(), length(500)])
    contacts = CleanStringField(_l("Contatti"), validators=[Optional(), length(500)])
    origin_label = CleanStringField(_l("Origine"), validators=[Optional(), length(200)])
    origin_url = CleanStringField(_l("Collegamento all'origine"),
                                  validators=[Optional(), length(300), local_url])
    note = CleanStringField(_l("Nota sulla modifica"), validators=[Optional(), length(300)])

    def validate_ended_on(self, field):
        if field.data and self.started_on.data and field.data < self.started_on.data:
            raise ValidationError(_l("La data di conclusione non può precedere quella di avvio."))

    def to_data(self) -> dict:
        """The data in the shape services.create_draft / update_practice take."""
        return {
            "title": self.title.data, "summary": self.summary.data, "body": self.body.data or "",
            "status": self.status.data, "themes": list(self.themes.data or []),
            "comuni": list(self.comuni.data or []), "started_on": self.started_on.data,
            "ended_on": self.ended_on.data, "beneficiaries": self.beneficiaries.data,
            "beneficiaries_count": self.beneficiaries_count.data, "cost_cents": self.cost.data,
            "funding_sources": self.funding_sources.data, "contacts": self.contacts.data,
            "origin_label": self.origin_label.data, "origin_url": self.origin_url.data,
        }


class PromoterForm(FlaskForm):
    name = CleanStringField(_l("Nome del promotore"), validators=[Optional(), length(160)])
    kind = SelectField(_l("Tipo"), default="", choices=[
        ("", _l("— scegli —")), (PromoterKind.COMUNE, _l("Comune")),
        (PromoterKind.ASSOCIATION, _l("Associazione familiare")),
        (PromoterKind.THIRD_SECTOR, _l("Terzo settore")),
        (PromoterKind.ENTERPRISE, _l("Impresa"))])
    association_id = SelectField(_l("Oppure un'associazione della Rete"), coerce=str,
                                 default="", validate_choice=True)
    role = CleanStringField(_l("Ruolo nella pratica"), validators=[Optional(), length(120)])

    def validate_name(self, field):
        if not field.data and not self.association_id.data:
            raise ValidationError(_l("Indica il nome o scegli un'associazione."))

    def validate_kind(self, field):
        if not field.data and not self.association_id.data:
            raise ValidationError(_l("Scegli il tipo di promotore."))


class IndicatorForm(FlaskForm):
    name = CleanStringField(_l("Indicatore"), validators=[required(), length(160)])
    value = DecimalInput(_l("Valore"), validators=[required()])
    unit = CleanStringField(_l("Unità di misura"), validators=[Optional(), length(40)])
    measured_on = _date(_l("Data della misura"))


class FileForm(FlaskForm):
    kind = SelectField(_l("Tipo di file"), choices=[
        (FileKind.ATTACHMENT, _l("Allegato (PDF o immagine)")),
        (FileKind.COVER, _l("Immagine di copertina"))])
    file = FileField(_l("File"))
    title = CleanStringField(_l("Descrizione (per la copertina: testo alternativo)"),
                             validators=[required(), length(200)])

    def validate_file(self, field):
        if not field.data or not getattr(field.data, "filename", ""):
            raise ValidationError(_l("Scegli un file da caricare."))


class AdoptionForm(FlaskForm):
    comune = SelectField(_l("Comune che adotta"), coerce=int, validate_choice=True)
    status = SelectField(_l("Stato dell'adozione"), choices=[
        (AdoptionStatus.EVALUATING, _l("In valutazione")),
        (AdoptionStatus.STARTING, _l("In avvio")),
        (AdoptionStatus.ACTIVE, _l("Attiva")),
        (AdoptionStatus.ABANDONED, _l("Abbandonata"))])
    started_on = _date(_l("Data di avvio nel Comune"))
    notes = CleanTextAreaField(_l("Note locali"), validators=[Optional(), length(4000)])


class ThemeForm(FlaskForm):
    name = CleanStringField(_l("Nuovo tema"), validators=[required(), length(80, 3)])
