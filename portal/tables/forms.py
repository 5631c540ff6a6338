"""Forms of the tables module, with Italian messages for every bad input."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField
from wtforms.validators import NumberRange, Optional, ValidationError

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
from portal.tables.models import BodyKind, MemberRole, Outcome
from portal.web import parse_id

ROLE_CHOICES = [
    (MemberRole.MEMBER.value, _l("Componente")),
    (MemberRole.CHAIR.value, _l("Presidente")),
    (MemberRole.SECRETARY.value, _l("Segretario")),
]
BODY_CHOICES = [
    (BodyKind.COMUNE.value, _l("Un Comune")),
    (BodyKind.ASSOCIATION.value, _l("Un'associazione")),
    (BodyKind.FAMILIES.value, _l("Le famiglie")),
]
OUTCOME_CHOICES = [
    ("", _l("— da decidere —")),
    (Outcome.APPROVED.value, _l("Approvata")),
    (Outcome.APPROVED_AMENDED.value, _l("Approvata con modifiche")),
    (Outcome.REJECTED.value, _l("Respinta")),
    (Outcome.POSTPONED.value, _l("Rinviata")),
]
MAX_TEXT = 20000


def _choice_in(field) -> None:
    if field.data not in {value for value, _label in field.choices}:
        raise ValidationError(_l("Scelta non valida."))


class MemberForm(FlaskForm):
    email = CleanStringField(_l("E-mail dell'account della persona"),
                             validators=[required(), length(254)])
    role = SelectField(_l("Ruolo al tavolo"), choices=ROLE_CHOICES,
                       validators=[required(_l("Scegli il ruolo."))])
    body_kind = SelectField(_l("Rappresenta"), choices=BODY_CHOICES,
                            validators=[required(_l("Indica chi rappresenta."))])
    comune_id = SelectField(_l("Comune rappresentato"), coerce=str, validators=[Optional()])
    association_id = SelectField(_l("Associazione rappresentata"), coerce=str,
                                 validators=[Optional()])
    title = CleanStringField(_l("Incarico (facoltativo)"), validators=[Optional(), length(160)],
                             description=_l("Per esempio \"Assessore alle politiche familiari\"."))

    def validate_role(self, field):
        _choice_in(field)

    def validate_body_kind(self, field):
        _choice_in(field)

    def validate_comune_id(self, field):
        _choice_in(field)

    def validate_association_id(self, field):
        _choice_in(field)

    @staticmethod
    def as_int(value: str | None) -> int | None:
        return parse_id(value)


class MeetingForm(FlaskForm):
    title = CleanStringField(_l("Titolo della seduta"), validators=[required(), length(200, 3)],
                             description=_l("Per esempio \"Seduta ordinaria di marzo\"."))
    day = ItalianDateField(_l("Giorno"), validators=[input_required(_l("Indica il giorno."))])
    start_time = ItalianTimeField(_l("Ora di inizio"),
                                  validators=[input_required(_l("Indica l'ora di inizio."))])
    ends_time = ItalianTimeField(_l("Ora di fine prevista (facoltativa)"),
                                 validators=[Optional()])
    place = CleanStringField(_l("Luogo"), validators=[Optional(), length(200)],
                             description=_l("Per esempio \"Sala consiliare, Piazza Verdi 1\"."))
    online_url = CleanStringField(_l("Collegamento online (facoltativo)"),
                                  validators=[Optional(), length(300)],
                                  description=_l("Un indirizzo https:// della riunione online."))
    notes = CleanTextAreaField(_l("Testo della convocazione (facoltativo)"),
                               validators=[Optional(), length(MAX_TEXT)])


class AgendaItemForm(FlaskForm):
    title = CleanStringField(_l("Titolo del punto"), validators=[Optional(), length(200, 3)])
    description = CleanTextAreaField(_l("Descrizione (facoltativa)"),
                                     validators=[Optional(), length(MAX_TEXT)])
    proposal_id = HiddenField()

    def proposal(self) -> int | None:
        return parse_id((self.proposal_id.data or "").strip())


class MoveForm(FlaskForm):
    direction = HiddenField(validators=[required()])

    def validate_direction(self, field):
        if field.data not in ("up", "down"):
            raise ValidationError(_l("Scelta non valida."))


class ReasonForm(FlaskForm):
    reason = CleanTextAreaField(_l("Motivo"), validators=[required(), length(500, 5)])


class IntroForm(FlaskForm):
    intro = CleanTextAreaField(_l("Apertura del verbale"),
                               validators=[Optional(), length(MAX_TEXT)],
                               description=_l("Chi presiede, chi verbalizza, comunicazioni. "
                                              "Si può usare il Markdown."))


def _votes(label):
    return IntegerInput(label, validators=[Optional(), NumberRange(
        min=0, max=10000, message=_l("Inserisci un numero tra 0 e 10.000."))])


class ItemForm(FlaskForm):
    discussion = CleanTextAreaField(_l("Discussione"), validators=[Optional(), length(MAX_TEXT)],
                                    description=_l("Si può usare il Markdown."))
    outcome = SelectField(_l("Esito"), choices=OUTCOME_CHOICES, validators=[Optional()])
    votes_for = _votes(_l("Voti favorevoli"))
    votes_against = _votes(_l("Voti contrari"))
    votes_abstained = _votes(_l("Astenuti"))
    amount = MoneyField(_l("Spesa impegnata in euro (facoltativa)"), validators=[Optional()],
                        description=_l("Per esempio 12.500,00"))
    funding_source = CleanStringField(_l("Fonte del finanziamento"),
                                      validators=[Optional(), length(200)])
    responsible = CleanStringField(_l("Responsabile della realizzazione"),
                                   validators=[Optional(), length(200)])
    deadline = ItalianDateField(_l("Scadenza"), validators=[Optional()])
    motivation = CleanTextAreaField(_l("Motivazione"), validators=[Optional(), length(5000)])

    def validate_outcome(self, field):
        _choice_in(field)

    def amount_cents(self) -> int | None:
        return self.amount.data

    def values(self) -> dict:
        return {
            "discussion": self.discussion.data, "outcome": self.outcome.data or None,
            "votes_for": self.votes_for.data, "votes_against": self.votes_against.data,
            "votes_abstained": self.votes_abstained.data, "amount_cents": self.amount_cents(),
            "funding_source": self.funding_source.data, "responsible": self.responsible.data,
            "deadline": self.deadline.data, "motivation": self.motivation.data,
        }


class CommentForm(FlaskForm):
    body = CleanTextAreaField(_l("Il tuo commento"), validators=[required(), length(5000, 2)])


class ProgressForm(FlaskForm):
    percent = IntegerInput(_l("Avanzamento (%)"), validators=[
        input_required(_l("Indica la percentuale.")),
        NumberRange(min=0, max=100, message=_l("La percentuale va da 0 a 100."))])
    note = CleanTextAreaField(_l("Cosa è stato fatto"), validators=[required(), length(5000, 5)])


class ImplementedForm(FlaskForm):
    note = CleanTextAreaField(_l("Com'è andata"), validators=[required(), length(5000, 5)])
