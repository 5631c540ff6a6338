"""Forms of the proposals module, with Italian messages for every bad input."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
)
from wtforms.validators import Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from portal.forms import CleanStringField, CleanTextAreaField, MoneyField, length, required
from portal.web import parse_id

#: the most a single proposal may cost: ten million euro, to catch typing slips
MAX_COST_CENTS = 10_000_000_00


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes; unknown values are refused with an Italian message."""

    widget = ListWidget(prefix_label=False, html_tag="ul")
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        known = {str(value) for value, *_rest in (self.choices or [])}
        for value in self.data or []:
            if str(value) not in known:
                raise ValidationError(_l("Scelta non valida."))

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(_l("Scelta non valida.")) from exc


class IntSelectField(SelectField):
    """A select of ids; a value that is not an integer or not offered gets an Italian message."""

    def __init__(self, *args, message=None, **kwargs):
        kwargs.setdefault("coerce", int)
        super().__init__(*args, validate_choice=False, **kwargs)
        self._message = message or _l("Scelta non valida.")

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None

    def pre_validate(self, form):
        if self.data not in {value for value, *_rest in (self.choices or [])}:
            raise ValidationError(self._message)


class ProposalForm(FlaskForm):
    title = CleanStringField(_l("Titolo"), validators=[required(), length(160, 5)],
                             description=_l("Una frase che dica che cosa proponete."))
    summary = CleanTextAreaField(_l("In breve"), validators=[required(), length(500, 20)],
                                 description=_l("Due o tre righe: compaiono nell'elenco."))
    body = CleanTextAreaField(
        _l("La proposta"), validators=[required(), length(20000, 20)],
        description=_l("Il bisogno, l'idea, chi coinvolge. Puoi usare il grassetto (**così**), "
                       "gli elenchi (- punto) e i link."))
    table_id = IntSelectField(_l("A quale tavolo la indirizzate"),
                              message=_l("Scegli il tavolo del tuo Comune o quello intercomunale."))
    themes = MultiCheckboxField(_l("Temi"), validators=[Optional()])
    estimated_cost = MoneyField(
        _l("Costo stimato in euro (facoltativo)"), validators=[Optional()],
        max_cents=MAX_COST_CENTS,
        description=_l("Serve per il bilancio partecipativo; lasciate vuoto se non lo sapete."))
    own_contribution = CleanTextAreaField(
        _l("Che cosa faranno le famiglie proponenti"), validators=[Optional(), length(2000)],
        description=_l("Tempo, competenze, spazi: il vostro contributo al progetto."))
    partners = MultiCheckboxField(_l("Associazioni partner (facoltativo)"), coerce=int,
                                  validators=[Optional()])

    def validate_themes(self, field):
        if field.data and len(field.data) > 4:
            raise ValidationError(_l("Scegli al massimo quattro temi."))


class OnBehalfForm(ProposalForm):
    """The facilitator's version: for which household, and how it consented."""

    household_id = IntSelectField(_l("Per quale famiglia"),
                                  message=_l("Scegli una famiglia del tuo Comune."))
    consent = CleanStringField(
        _l("Come la famiglia ha dato il consenso"), validators=[required(), length(300, 5)],
        description=_l("Per esempio: «Modulo firmato allo sportello il 3 marzo»."))
    consent_confirmed = BooleanField(
        _l("Confermo che la famiglia ha letto la proposta e ha dato il consenso a presentarla"),
        validators=[required(_l("Serve il consenso della famiglia."))])


class ModerationForm(FlaskForm):
    decision = RadioField(
        _l("Decisione"),
        choices=[("published", _l("Pubblica")),
                 ("changes_requested", _l("Chiedi modifiche")),
                 ("rejected", _l("Respingi"))],
        validators=[required(_l("Scegli una decisione."))])
    note = CleanTextAreaField(
        _l("Messaggio per le famiglie"), validators=[Optional(), length(2000)],
        description=_l("Obbligatorio se chiedi modifiche o respingi: sarà nella cronologia "
                       "pubblica."))

    def validate_note(self, field):
        if self.decision.data in ("changes_requested", "rejected") and not field.data:
            raise ValidationError(_l("Scrivi il motivo: l'autore lo leggerà."))


class MergeForm(FlaskForm):
    into = IntSelectField(_l("Proposta in cui unirla"),
                          message=_l("Scegli una proposta pubblicata dello stesso tavolo."))
    note = CleanTextAreaField(_l("Motivo"), validators=[Optional(), length(2000)])


class ReasonForm(FlaskForm):
    reason = CleanTextAreaField(_l("Motivo"), validators=[required(), length(500, 3)])


class ReportForm(FlaskForm):
    reason = CleanTextAreaField(_l("Che cosa non va"), validators=[required(), length(500, 3)])


class CommentForm(FlaskForm):
    body = CleanTextAreaField(_l("Commento"), validators=[required(), length(4000, 2)])
    parent_id = HiddenField()

    def validate_parent_id(self, field):
        if field.data and parse_id(field.data) is None:
            raise ValidationError(_l("Commento non trovato."))


class WithdrawForm(FlaskForm):
    note = CleanTextAreaField(_l("Perché la ritirate (facoltativo)"),
                              validators=[Optional(), length(1000)])


class InviteForm(FlaskForm):
    email = CleanStringField(
        _l("E-mail di un componente della famiglia da invitare"),
        validators=[required(), length(254)],
        description=_l("La famiglia riceverà l'invito e potrà accettare o rifiutare."))


class AnswerForm(FlaskForm):
    answer = RadioField(choices=[("accept", _l("Accetta")), ("decline", _l("Rifiuta"))],
                        validators=[required(_l("Scegli se accettare o rifiutare."))])
