"""Forms of the support applications and the Fattore Famiglia calculator."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField
from wtforms.validators import NumberRange, Optional, ValidationError

from portal.forms import (
    CleanStringField,
    CleanTextAreaField,
    IntegerInput,
    ItalianDateField,
    MoneyField,
    input_required,
    length,
    required,
)
from portal.fund import fattore
from portal.fund.support_models import PactKind

#: rows of members shown at first; a button adds more, up to fattore.MAX_MEMBERS
FIRST_ROWS = 5
ROW_STEP = 3
#: the most a household declares in income, assets or ISEE: ten million euro
MAX_RESOURCES_CENTS = 1_000_000_000

PACT_CHOICES = [
    (PactKind.LAB_HOURS.value, _l("Ore in un laboratorio di comunità")),
    (PactKind.SKILL.value, _l("Mettere a disposizione una competenza")),
    (PactKind.HELP_FAMILY.value, _l("Aiutare un'altra famiglia")),
    (PactKind.OTHER.value, _l("Altro")),
]
PACT_LABELS = dict(PACT_CHOICES)


class MembersMixin:
    """The household's members (age, disability, pregnancy) and its resources: income and
    assets, or a declared ISEE. Fields age_1..age_15 etc. are added below the class."""

    income = MoneyField(_l("Reddito annuo del nucleo (euro)"), max_cents=MAX_RESOURCES_CENTS)
    assets = MoneyField(_l("Patrimonio del nucleo (euro)"), max_cents=MAX_RESOURCES_CENTS)
    isee = MoneyField(_l("Oppure: ISEE in corso di validità (euro)"),
                      max_cents=MAX_RESOURCES_CENTS)

    def member_rows(self, shown: int | None = None) -> list[tuple]:
        """(age, disability, pregnant) fields of the rows to show: the filled ones, and a few
        empty ones to add members."""
        filled = max((i for i in range(1, fattore.MAX_MEMBERS + 1)
                      if self[f"age_{i}"].raw_data and self[f"age_{i}"].raw_data[0]
                      or self[f"age_{i}"].errors), default=0)
        count = max(shown or FIRST_ROWS, filled)
        return [(self[f"age_{i}"], self[f"disability_{i}"], self[f"pregnant_{i}"])
                for i in range(1, min(count, fattore.MAX_MEMBERS) + 1)]

    def members(self) -> list[fattore.Member]:
        return [fattore.Member(age=self[f"age_{i}"].data,
                               disability=bool(self[f"disability_{i}"].data),
                               pregnant=bool(self[f"pregnant_{i}"].data))
                for i in range(1, fattore.MAX_MEMBERS + 1) if self[f"age_{i}"].data is not None]

    def validate_members(self) -> bool:
        """Rules across fields: ticks on a row need its age; at least one member; income and
        assets or the ISEE."""
        ok = True
        for i in range(1, fattore.MAX_MEMBERS + 1):
            age = self[f"age_{i}"]
            if age.data is None and not age.errors and (
                    self[f"disability_{i}"].data or self[f"pregnant_{i}"].data):
                age.errors = [*age.errors, _l("Indica l'età di questo componente.")]
                ok = False
        if not any(self[f"age_{i}"].data is not None or self[f"age_{i}"].errors
                   for i in range(1, fattore.MAX_MEMBERS + 1)):
            self["age_1"].errors = [*self["age_1"].errors,
                                    _l("Indica almeno un componente del nucleo.")]
            ok = False
        by_resources = self.income.data is not None or self.assets.data is not None
        if not (self.income.errors or self.assets.errors or self.isee.errors):
            if by_resources and self.isee.data is not None:
                self.isee.errors = [_l("Indica reddito e patrimonio oppure l'ISEE, non "
                                       "entrambi.")]
                ok = False
            elif not by_resources and self.isee.data is None:
                self.income.errors = [_l("Indica il reddito (e il patrimonio) oppure l'ISEE.")]
                ok = False
            elif by_resources and self.income.data is None:
                self.income.errors = [_l("Indica anche il reddito (0 se non ce n'è).")]
                ok = False
        return ok

    def resources(self) -> dict:
        if self.isee.data is not None:
            return {"income_cents": None, "assets_cents": None, "isee_cents": self.isee.data}
        return {"income_cents": self.income.data, "assets_cents": self.assets.data or 0,
                "isee_cents": None}


def _add_member_fields(cls) -> None:
    for i in range(1, fattore.MAX_MEMBERS + 1):
        setattr(cls, f"age_{i}", IntegerInput(
            _l("Età del componente %(n)d", n=i),
            validators=[Optional(), NumberRange(0, fattore.MAX_AGE,
                                                _l("L'età va da 0 a %(n)d anni.",
                                                   n=fattore.MAX_AGE))]))
        setattr(cls, f"disability_{i}", BooleanField(_l("con disabilità")))
        setattr(cls, f"pregnant_{i}", BooleanField(_l("in gravidanza")))


class CalculatorForm(MembersMixin, FlaskForm):
    """The public calculator: a GET form, no account, no CSRF (it changes nothing)."""

    class Meta:
        csrf = False

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        return self.validate_members() and ok


class ApplicationForm(MembersMixin, FlaskForm):
    reason = CleanTextAreaField(
        _l("Perché chiedete un sostegno"), validators=[required(), length(4000, 10)],
        description=_l("Poche righe: lo leggono solo i responsabili del fondo del tuo Comune."))
    amount = MoneyField(_l("Importo richiesto (euro)"), validators=[input_required()],
                        max_cents=1_000_000)

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        return self.validate_members() and ok

    def validate_amount(self, field) -> None:
        if field.data is not None and field.data <= 0:
            raise ValidationError(_l("L'importo deve essere maggiore di zero."))


_add_member_fields(CalculatorForm)
_add_member_fields(ApplicationForm)


def _choice_in(_form, field) -> None:
    if field.data not in {value for value, _label in field.choices}:
        raise ValidationError(_l("Scelta non valida."))


class ApproveForm(FlaskForm):
    """The first approval: the amount granted and the Patto Gener-Attivo proposed."""

    amount = MoneyField(_l("Importo concesso (euro)"), validators=[input_required()],
                        max_cents=1_000_000)
    pact_kind = SelectField(_l("Cosa restituisce la famiglia"), choices=PACT_CHOICES,
                            validators=[_choice_in])
    pact_description = CleanTextAreaField(
        _l("Il patto in breve"), validators=[required(), length(2000, 5)],
        description=_l("Per esempio: «4 ore al mese al laboratorio di comunità di via Roma»."))
    pact_hours = IntegerInput(_l("Ore previste (facoltativo)"),
                              validators=[Optional(), NumberRange(1, 1000, _l(
                                  "Indica un numero di ore tra 1 e 1000."))])
    pact_due_on = ItalianDateField(_l("Da completare entro (facoltativo)"),
                                   validators=[Optional()])

    def validate_amount(self, field) -> None:
        if field.data is not None and field.data <= 0:
            raise ValidationError(_l("L'importo deve essere maggiore di zero."))

    def pact(self) -> dict:
        return {"kind": self.pact_kind.data, "description": self.pact_description.data,
                "hours": self.pact_hours.data, "due_on": self.pact_due_on.data}


class RejectForm(FlaskForm):
    note = CleanTextAreaField(_l("Motivazione per la famiglia"),
                              validators=[required(), length(2000, 5)])


class PactForm(FlaskForm):
    hours_done = IntegerInput(_l("Ore svolte finora"), validators=[
        Optional(), NumberRange(0, 1000, _l("Indica un numero di ore tra 0 e 1000."))])
    completed = BooleanField(_l("Il patto è stato completato"))


class RulesForm(FlaskForm):
    double_approval = MoneyField(
        _l("Soglia oltre la quale servono due approvazioni (euro)"),
        validators=[input_required()],
        max_cents=10_000_000)
    purge_after_days = IntegerInput(
        _l("Giorni dopo la chiusura prima di cancellare i dati personali"),
        validators=[input_required(), NumberRange(1, 3650, _l("Indica un numero tra 1 e 3650."))])


def _weight_field(label):
    return IntegerInput(label, default=0, validators=[
        Optional(), NumberRange(0, 300, _l("Ogni peso va da 0 a 300 centesimi di punto."))])


class ProfileForm(FlaskForm):
    valid_from = ItalianDateField(_l("Valido dal"), validators=[input_required()])
    decision = CleanStringField(_l("Atto che lo adotta"), validators=[required(), length(300)],
                                description=_l("Per esempio «Delibera G.C. n. 45 del "
                                               "3 marzo 2026»."))
    decision_url = CleanStringField(_l("Collegamento all'atto (facoltativo)"),
                                    validators=[Optional(), length(300)])
    w_child_0_2 = _weight_field(_l("Per ogni figlio da 0 a 2 anni"))
    w_child_3_5 = _weight_field(_l("Per ogni figlio da 3 a 5 anni"))
    w_child_6_13 = _weight_field(_l("Per ogni figlio da 6 a 13 anni"))
    w_child_14_17 = _weight_field(_l("Per ogni figlio da 14 a 17 anni"))
    w_young_adult = _weight_field(_l("Per ogni componente da 18 a 25 anni"))
    w_single_parent = _weight_field(_l("Genitore solo con figli"))
    w_pregnancy = _weight_field(_l("Per ogni gravidanza"))

    def validate_decision_url(self, field) -> None:
        if field.data and not field.data.startswith(("https://", "http://")):
            raise ValidationError(_l("Indica un indirizzo che inizi con https://."))

    def weights(self) -> dict[str, int]:
        return {name: self[name].data or 0 for name in fattore.WEIGHT_FIELDS}


class TariffForm(FlaskForm):
    name = CleanStringField(_l("Servizio"), validators=[required(), length(120)],
                            description=_l("Per esempio «Asilo nido»."))
    unit = CleanStringField(_l("Unità (facoltativa)"), validators=[Optional(), length(40)],
                            description=_l("Per esempio «al mese» o «a pasto»."))
    min_fee = MoneyField(_l("Tariffa minima (euro)"), validators=[input_required()],
                         max_cents=10_000_000)
    max_fee = MoneyField(_l("Tariffa massima (euro)"), validators=[input_required()],
                         max_cents=10_000_000)
    threshold_low = MoneyField(_l("Fattore Famiglia fino al quale si paga la minima (euro)"),
                               validators=[input_required()], max_cents=MAX_RESOURCES_CENTS)
    threshold_high = MoneyField(_l("Fattore Famiglia dal quale si paga la massima (euro)"),
                                validators=[input_required()], max_cents=MAX_RESOURCES_CENTS)
