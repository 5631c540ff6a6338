"""Pages of the support applications: the public Fattore Famiglia calculator, a family's
applications, the fund managers' queue, decisions and pacts, and the Comune's rules."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from portal import authz
from portal.accounts.policies import require_confirmed
from portal.authz import Role
from portal.core.services import register_dashboard_panel
from portal.extensions import db
from portal.forms import EmptyForm
from portal.fund import fattore
from portal.fund import support_services as services
from portal.fund.support_forms import (
    PACT_LABELS,
    ROW_STEP,
    ApplicationForm,
    ApproveForm,
    CalculatorForm,
    PactForm,
    ProfileForm,
    RejectForm,
    RulesForm,
    TariffForm,
)
from portal.fund.support_models import ApplicationStatus, SupportApplication, Tariff
from portal.network.models import Comune
from portal.web import parse_int, refuse, wants_partial

bp = Blueprint("fund_support", __name__, url_prefix="/fondo")

S = ApplicationStatus
STATUS_LABELS = {
    S.SUBMITTED: _l("Inviata"),
    S.UNDER_REVIEW: _l("In esame"),
    S.APPROVED: _l("Approvata, da erogare"),
    S.REJECTED: _l("Non accolta"),
    S.PAID: _l("Erogata, patto in corso"),
    S.CLOSED: _l("Chiusa, patto completato"),
}
STEP_LABELS = {
    "base": _l("Scala ISEE per il numero di componenti"),
    "extra_member": _l("Componenti oltre il quinto (+0,35 ciascuno)"),
    "children": _l("Nucleo con 3 o più figli minorenni"),
    "disability": _l("Componenti con disabilità (+0,50 ciascuno)"),
    "w_child_0_2": _l("Peso comunale: figli da 0 a 2 anni"),
    "w_child_3_5": _l("Peso comunale: figli da 3 a 5 anni"),
    "w_child_6_13": _l("Peso comunale: figli da 6 a 13 anni"),
    "w_child_14_17": _l("Peso comunale: figli da 14 a 17 anni"),
    "w_young_adult": _l("Peso comunale: componenti da 18 a 25 anni"),
    "w_single_parent": _l("Peso comunale: genitore solo"),
    "w_pregnancy": _l("Peso comunale: gravidanza"),
}


# --------------------------------------------------------------------------- policies


def _manages(user, comune_id: int | None) -> bool:
    return comune_id is not None and authz.has_role(user, Role.FUND_MANAGER, comune_id)


@authz.policy("fund.view_application")
def view_application(user, application) -> bool:
    """Only the household that applied and the fund managers of its Comune: not the
    coordinator, not the Comune's other officers (the data is a family's own)."""
    return ((application.household_id is not None
             and user.household_id == application.household_id)
            or _manages(user, application.comune_id))


@authz.policy("fund.decide_application")
def decide_application(user, application) -> bool:
    return _manages(user, application.comune_id)


@authz.policy("fund.configure_support")
def configure_support(user, comune) -> bool:
    return _manages(user, comune.id)


# --------------------------------------------------------------------------- helpers


def _comune_or_404(slug: str) -> Comune:
    if not slug or len(slug) > 140:
        abort(404)
    return db.first_or_404(select(Comune).where(Comune.slug == slug))


def _application_or_404(application_id: int) -> SupportApplication:
    return db.get_or_404(SupportApplication, application_id)


def _put_error(form, exc, field: str) -> None:
    name = getattr(exc, "field", None)
    if name in ("members", None) or name not in form:
        name = field
    form[name].errors = [*form[name].errors, str(exc)]


def _fund_crumb() -> tuple:
    """The breadcrumb to the fund's public pages (the ledger's), when they are installed."""
    if "fund.index" in current_app.view_functions:
        return (_("Fondo solidale"), url_for("fund.index"))
    return (_("Fondo solidale"), url_for("fund_support.calculator"))


# --------------------------------------------------------------------------- public calculator


@bp.get("/fattore-famiglia")
@authz.public
def calculator():
    slug = request.args.get("comune", "")
    comune = _comune_or_404(slug) if slug else None
    submitted = "calcola" in request.args
    keep = submitted or "righe" in request.args
    form = CalculatorForm(formdata=request.args if keep else None)
    raw_rows = request.args.get("righe", "")
    shown = parse_int(raw_rows, 1, fattore.MAX_MEMBERS) if raw_rows else None
    if raw_rows and shown is None:
        abort(404)
    result = None
    status = 200
    profile = services.profile_in_force(comune.id) if comune else None
    if submitted:
        if form.validate():
            try:
                result, profile = services.compute_for(
                    comune.id if comune else None, form.members(), **form.resources())
            except fattore.FattoreError as exc:
                _put_error(form, exc, "age_1")
                status = 422
        else:
            status = 422
    tariffs = services.tariffs_for(comune.id) if comune else []
    fees = [(t, services.tariff_fee(t, result.indicator_cents)) for t in tariffs] \
        if result is not None else []
    context = dict(
        form=form, comune=comune, result=result, profile=profile, tariffs=tariffs, fees=fees,
        rows=form.member_rows(shown), more_rows=min(len(form.member_rows(shown)) + ROW_STEP,
                                                     fattore.MAX_MEMBERS),
        comuni=db.session.execute(select(Comune.slug, Comune.name).order_by(Comune.name)).all(),
        weights=services.weights_of(profile), step_labels=STEP_LABELS,
        breadcrumbs=[_fund_crumb(), (_("Fattore Famiglia"), None)])
    template = ("fund/support/_calculator.html" if wants_partial()
                else "fund/support/calculator.html")
    response = render_template(template, **context)
    return response, status, {"Vary": "HX-Request"}


# --------------------------------------------------------------------------- families


@bp.get("/domande")
@authz.login_required
def my_applications():
    household = current_user.household
    applications = services.household_applications(household.id) if household else []
    return render_template("fund/support/my_applications.html", applications=applications,
                           why_not=services.may_apply(current_user),
                           breadcrumbs=[_fund_crumb(),
                                        (_("Le mie domande di sostegno"), None)])


def _apply_page(form, status: int = 200):
    household = current_user.household
    profile = services.profile_in_force(household.comune_id) if household else None
    return render_template(
        "fund/support/apply.html", form=form, rows=form.member_rows(
            parse_int(request.args.get("righe", ""), 1, fattore.MAX_MEMBERS)),
        profile=profile, comune=household.comune if household else None,
        breadcrumbs=[(_("Le mie domande di sostegno"), url_for("fund_support.my_applications")),
                     (_("Nuova domanda"), None)]), status


@bp.route("/domande/nuova", methods=["GET", "POST"])
@authz.login_required
def apply():
    why_not = services.may_apply(current_user)
    if why_not:
        flash(why_not, "warning")
        return redirect(url_for("fund_support.my_applications"), code=303)
    require_confirmed()
    form = ApplicationForm()
    if not form.is_submitted():
        return _apply_page(form)
    if not form.validate():
        return _apply_page(form, 422)
    try:
        application = services.submit(
            current_user, reason=form.reason.data, amount_cents=form.amount.data,
            members=form.members(), **form.resources())
    except services.SupportError as exc:
        refuse(form, exc, "reason")
        if exc.field == "members":
            form.reason.errors.pop()
            form["age_1"].errors = [*form["age_1"].errors, str(exc)]
        return _apply_page(form, 422)
    flash(_("Domanda inviata. La esamineranno i responsabili del fondo del tuo Comune."),
          "success")
    return redirect(url_for("fund_support.application", application_id=application.id),
                    code=303)


@bp.get("/domande/<int:application_id>")
@authz.login_required
def application(application_id: int):
    item = _application_or_404(application_id)
    authz.require("fund.view_application", item)
    return _application_page(item)


def _application_page(item, status: int = 200, **forms):
    manager = authz.can("fund.decide_application", item)
    first = not item.approvals
    approve_form = forms.get("approve_form") or (ApproveForm() if first else EmptyForm())
    if first and not approve_form.is_submitted() and isinstance(approve_form, ApproveForm):
        approve_form.amount.data = item.amount_requested_cents
    return render_template(
        "fund/support/application.html", item=item, manager=manager,
        result=services.result_of(item), step_labels=STEP_LABELS,
        approved_by_me=any(a.manager_id == current_user.id for a in item.approvals),
        required=services.required_approvals(item), first_approval=first,
        approve_form=approve_form, reject_form=forms.get("reject_form") or RejectForm(),
        pact_form=forms.get("pact_form") or PactForm(
            hours_done=item.pact.hours_done if item.pact else None),
        action_form=EmptyForm(),
        breadcrumbs=[(_("Domande di sostegno"),
                      url_for("fund_support.queue") if manager
                      else url_for("fund_support.my_applications")),
                     (_("Domanda n. %(id)d", id=item.id), None)]), status


def _managed_or_404(application_id: int) -> SupportApplication:
    item = _application_or_404(application_id)
    authz.require("fund.decide_application", item)
    return item


def _back(item):
    return redirect(url_for("fund_support.application", application_id=item.id), code=303)


# --------------------------------------------------------------------------- managers


@bp.get("/gestione/domande")
@authz.roles(Role.FUND_MANAGER)
def queue():
    comune_ids = authz.scope_ids(current_user, Role.FUND_MANAGER)
    closed = request.args.get("stato") == "concluse"
    statuses = services.ENDED if closed else services.OPEN
    comuni = list(db.session.scalars(select(Comune).where(Comune.id.in_(sorted(comune_ids)))
                                     .order_by(Comune.name))) if comune_ids else []
    return render_template(
        "fund/support/queue.html", applications=services.queue(comune_ids, statuses),
        closed=closed, comuni=comuni,
        breadcrumbs=[_fund_crumb(), (_("Domande di sostegno"), None)])


@bp.post("/domande/<int:application_id>/esame")
@authz.roles(Role.FUND_MANAGER)
def review(application_id: int):
    item = _managed_or_404(application_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.start_review(item, current_user)
    except services.SupportError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return _back(item)
    flash(_("Domanda presa in esame."), "success")
    return _back(item)


@bp.post("/domande/<int:application_id>/approva")
@authz.roles(Role.FUND_MANAGER)
def approve(application_id: int):
    item = _managed_or_404(application_id)
    first = not item.approvals
    form = ApproveForm() if first else EmptyForm()
    if not form.validate_on_submit():
        return _application_page(item, 422, approve_form=form)
    try:
        if first:
            transaction = services.approve(item, current_user, amount_cents=form.amount.data,
                                           pact=form.pact())
        else:
            transaction = services.approve(item, current_user)
    except services.SupportError as exc:
        if first:
            refuse(form, exc, "amount")
            return _application_page(_application_or_404(application_id), 422,
                                     approve_form=form)
        db.session.rollback()
        flash(str(exc), "danger")
        return _application_page(_application_or_404(application_id), 422)
    if transaction is not None:
        flash(_("Domanda approvata, patto concordato e sostegno erogato dal fondo."), "success")
    elif item.status == S.APPROVED:
        flash(_("Domanda approvata e patto concordato, ma il fondo non ha abbastanza "
                "disponibilità: il sostegno resta da erogare."), "warning")
    else:
        flash(_("Approvazione registrata: serve ora quella di un altro responsabile del "
                "fondo."), "success")
    return _back(item)


@bp.post("/domande/<int:application_id>/respingi")
@authz.roles(Role.FUND_MANAGER)
def reject(application_id: int):
    item = _managed_or_404(application_id)
    form = RejectForm()
    if not form.validate_on_submit():
        return _application_page(item, 422, reject_form=form)
    try:
        services.reject(item, current_user, form.note.data)
    except services.SupportError as exc:
        refuse(form, exc, "note")
        return _application_page(_application_or_404(application_id), 422, reject_form=form)
    flash(_("Domanda non accolta: la famiglia riceve la motivazione."), "success")
    return _back(item)


@bp.post("/domande/<int:application_id>/eroga")
@authz.roles(Role.FUND_MANAGER)
def pay(application_id: int):
    item = _managed_or_404(application_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.pay(item, current_user)
    except services.PaymentRefused as exc:
        # nothing changed: the application stays approved, unpaid
        flash(str(exc), "danger")
        return _application_page(item, 422)
    except services.SupportError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return _application_page(_application_or_404(application_id), 422)
    flash(_("Sostegno erogato dal fondo."), "success")
    return _back(item)


@bp.post("/domande/<int:application_id>/patto")
@authz.roles(Role.FUND_MANAGER)
def pact(application_id: int):
    item = _managed_or_404(application_id)
    form = PactForm()
    if not form.validate_on_submit():
        return _application_page(item, 422, pact_form=form)
    try:
        services.record_pact(item, current_user, hours_done=form.hours_done.data,
                             completed=form.completed.data)
    except services.SupportError as exc:
        refuse(form, exc, "hours_done")
        return _application_page(_application_or_404(application_id), 422, pact_form=form)
    flash(_("Patto completato: domanda chiusa.") if form.completed.data
          else _("Avanzamento del patto registrato."), "success")
    return _back(item)


# --------------------------------------------------------------------------- Comune's rules


def _settings_page(comune, status: int = 200, **forms):
    rules = services.rules_for(comune.id)
    rules_form = forms.get("rules_form") or RulesForm(
        double_approval=rules.double_approval_cents, purge_after_days=rules.purge_after_days)
    return render_template(
        "fund/support/settings.html", comune=comune, profiles=services.profiles(comune.id),
        in_force=services.profile_in_force(comune.id), tariffs=services.tariffs_for(comune.id),
        rules_form=rules_form, profile_form=forms.get("profile_form") or ProfileForm(),
        tariff_form=forms.get("tariff_form") or TariffForm(), action_form=EmptyForm(),
        breadcrumbs=[(_("Domande di sostegno"), url_for("fund_support.queue")),
                     (_("Regole del Comune"), None)]), status


def _configured_or_404(slug: str) -> Comune:
    comune = _comune_or_404(slug)
    authz.require("fund.configure_support", comune)
    return comune


@bp.get("/gestione/<slug>/regole")
@authz.roles(Role.FUND_MANAGER)
def settings(slug: str):
    return _settings_page(_configured_or_404(slug))


@bp.post("/gestione/<slug>/regole")
@authz.roles(Role.FUND_MANAGER)
def save_rules(slug: str):
    comune = _configured_or_404(slug)
    form = RulesForm()
    if not form.validate_on_submit():
        return _settings_page(comune, 422, rules_form=form)
    try:
        services.set_rules(comune, current_user, double_approval_cents=form.double_approval.data,
                           purge_after_days=form.purge_after_days.data)
    except services.SupportError as exc:
        refuse(form, exc, "double_approval")
        return _settings_page(comune, 422, rules_form=form)
    flash(_("Regole salvate."), "success")
    return redirect(url_for("fund_support.settings", slug=slug), code=303)


@bp.post("/gestione/<slug>/profili")
@authz.roles(Role.FUND_MANAGER)
def add_profile(slug: str):
    comune = _configured_or_404(slug)
    form = ProfileForm()
    if not form.validate_on_submit():
        return _settings_page(comune, 422, profile_form=form)
    try:
        services.add_profile(comune, current_user, valid_from=form.valid_from.data,
                             decision=form.decision.data, decision_url=form.decision_url.data,
                             weights=form.weights())
    except services.SupportError as exc:
        refuse(form, exc, "valid_from")
        return _settings_page(comune, 422, profile_form=form)
    flash(_("Nuovo profilo del Fattore Famiglia registrato."), "success")
    return redirect(url_for("fund_support.settings", slug=slug), code=303)


@bp.post("/gestione/<slug>/tariffe")
@authz.roles(Role.FUND_MANAGER)
def add_tariff(slug: str):
    comune = _configured_or_404(slug)
    form = TariffForm()
    if not form.validate_on_submit():
        return _settings_page(comune, 422, tariff_form=form)
    try:
        services.add_tariff(comune, current_user, name=form.name.data, unit=form.unit.data or "",
                            min_fee=form.min_fee.data, max_fee=form.max_fee.data,
                            low=form.threshold_low.data, high=form.threshold_high.data)
    except services.SupportError as exc:
        refuse(form, exc, "name")
        return _settings_page(comune, 422, tariff_form=form)
    flash(_("Tariffa aggiunta."), "success")
    return redirect(url_for("fund_support.settings", slug=slug), code=303)


@bp.post("/gestione/<slug>/tariffe/<int:tariff_id>/elimina")
@authz.roles(Role.FUND_MANAGER)
def delete_tariff(slug: str, tariff_id: int):
    comune = _configured_or_404(slug)
    tariff = db.get_or_404(Tariff, tariff_id)
    if tariff.comune_id != comune.id:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    services.delete_tariff(tariff, current_user)
    flash(_("Tariffa eliminata."), "success")
    return redirect(url_for("fund_support.settings", slug=slug), code=303)


# --------------------------------------------------------------------------- wiring


def _label(labels):
    def label(value) -> str:
        return str(labels.get(value, value or ""))

    return label


def _in_panel(user) -> bool:
    return user.household_id is not None or authz.has_role(user, Role.FUND_MANAGER)


def init_app(app: Flask) -> None:
    """Register the blueprint, the templates' labels, the account area's panel, the personal
    data and the purge."""
    from portal.fund import support_personal

    app.register_blueprint(bp)
    support_personal.init_app(app)
    register_dashboard_panel("fund/support/_dashboard_panel.html", _in_panel)
    app.jinja_env.globals.update(
        manages_fund_support=lambda: authz.has_role(current_user, Role.FUND_MANAGER),
        application_status_label=_label(STATUS_LABELS), pact_kind_label=_label(PACT_LABELS),
        fattore_scale=lambda value: f"{value:.2f}".replace(".", ","))
