"""Forms of the network module."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import Email, Optional, Regexp

from portal.forms import CleanStringField, CleanTextAreaField, length, required


class JoinForm(FlaskForm):
    comune_name = CleanStringField(_l("Nome del Comune"),
                                   validators=[required(), length(120, 2)])
    istat_code = CleanStringField(
        _l("Codice ISTAT del Comune"),
        validators=[required(), Regexp(r"^\d{6}$", message=_l(
            "Il codice ISTAT ha 6 cifre, per esempio 108040."))],
        description=_l("Sei cifre, per esempio 108040 per Seveso."),
    )
    contact_name = CleanStringField(_l("Referente (nome e cognome)"),
                                    validators=[required(), length(120, 2)])
    contact_role = CleanStringField(
        _l("Ruolo del referente"), validators=[required(), length(120, 2)],
        description=_l("Per esempio: Assessore alle politiche familiari."),
    )
    contact_email = CleanStringField(
        _l("E-mail del referente"),
        validators=[required(), length(254),
                    Email(message=_l("Inserisci un indirizzo e-mail valido."),
                          check_deliverability=False)],
    )
    council_act = CleanStringField(
        _l("Estremi dell'atto di adesione"), validators=[required(), length(200, 4)],
        description=_l("Per esempio: Delibera di Giunta Comunale n. 45 del 3 marzo 2026."),
    )
    message = CleanTextAreaField(_l("Messaggio (facoltativo)"),
                                 validators=[Optional(), length(2000)])


class DecideApplicationForm(FlaskForm):
    decision = SelectField(
        _l("Decisione"),
        choices=[("", _l("— scegli —")), ("approve", _l("Approva l'adesione")),
                 ("reject", _l("Respingi"))],
        validators=[required(_l("Scegli una decisione."))],
    )
    note = CleanTextAreaField(_l("Nota (obbligatoria se respingi)"),
                              validators=[Optional(), length(500)])


class GrantRoleForm(FlaskForm):
    email = CleanStringField(_l("E-mail della persona"), validators=[required(), length(254)])
    role = SelectField(_l("Ruolo"), validators=[required(_l("Scegli un ruolo."))])
    scope = SelectField(
        _l("Ambito"), validators=[required(_l("Scegli l'ambito del ruolo."))],
        description=_l("Il Comune, l'associazione, il tavolo o l'esercizio su cui vale il ruolo."),
    )
