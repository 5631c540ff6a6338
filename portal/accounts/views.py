"""Registration, login, account area, household and the residence verification queue."""

import json

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from portal import authz
from portal.accounts import bp, policies, services
from portal.accounts.forms import (
    AddressForm,
    ChangeEmailForm,
    ChangePasswordForm,
    DeleteAccountForm,
    ForgotPasswordForm,
    HouseholdForm,
    LoginForm,
    MemberForm,
    RegisterForm,
    ResetPasswordForm,
    ReviewHouseholdForm,
)
from portal.accounts.models import Household
from portal.authz import Role
from portal.core.services import absolute_url, dashboard_panels
from portal.extensions import db, limiter
from portal.forms import EmptyForm
from portal.network.models import Comune
from portal.web import refuse, safe_next, wants_partial


def _render(template: str, status: int = 200, **context):
    return render_template(template, **context), status


def _invalid(template: str, **context):
    """An invalid form: the page again, with its errors, as 422."""
    return _render(template, 422, **context)


def _login_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


def _account_login_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN_ACCOUNT"]


def _login_account() -> str:
    """The limiter's key for a login attempt: the account it names, from whatever address (a
    guess spread over many addresses still slows down). Kept in the limiter's storage, not in
    the database, whose transaction a failed login rolls back."""
    return "account:" + services.normalise_email(request.form.get("email", ""))


def _login_failed(response) -> bool:
    return response.status_code == 422


def _reset_limit() -> str:
    return current_app.config["RATELIMIT_RESET"]


def _forms_limit() -> str:
    return current_app.config["RATELIMIT_FORMS"]


# --------------------------------------------------------------------------- registration


@bp.route("/registrati", methods=["GET", "POST"])
@authz.public
@limiter.limit(_forms_limit, methods=["POST"])  # each attempt mails someone
def register():
    if current_user.is_authenticated:
        return redirect(url_for("accounts.dashboard"))
    if request.method != "POST":  # GET or HEAD: the blank form
        return render_template("accounts/register.html", form=RegisterForm())
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            services.register(form.name.data, form.email.data, form.password.data)
        except services.AccountError as exc:
            refuse(form, exc, "password")
            return _invalid("accounts/register.html", form=form)
        return redirect(url_for("accounts.registered"), code=303)
    return _invalid("accounts/register.html", form=form)


@bp.get("/registrati/controlla-la-posta")
@authz.public
def registered():
    return render_template("accounts/registered.html")


@bp.route("/conferma-email/<token>", methods=["GET", "POST"])
@authz.public
def confirm_email(token: str):
    """The link in the mail shows a button: mail scanners that open links confirm nothing."""
    try:
        services.check_confirmation_link(token)
    except services.AccountError as exc:
        return _render("accounts/token_error.html", 400, message=str(exc))
    form = EmptyForm()
    if form.validate_on_submit():
        try:
            services.confirm_email(token)
        except services.AccountError as exc:
            return _render("accounts/token_error.html", 400, message=str(exc))
        flash(_("Indirizzo e-mail confermato. Ora puoi accedere e creare il tuo nucleo familiare."),
              "success")
        target = "accounts.household" if current_user.is_authenticated else "accounts.login"
        return redirect(url_for(target), code=303)
    return render_template("accounts/confirm.html", form=form,
                           title=_("Conferma il tuo indirizzo e-mail"))


@bp.post("/account/reinvia-conferma")
@authz.login_required
def resend_confirmation():
    form = EmptyForm()
    if form.validate_on_submit() and not current_user.email_confirmed:
        services.send_confirmation(current_user)
        flash(_("Ti abbiamo inviato di nuovo il link di conferma."), "info")
    return redirect(url_for("accounts.dashboard"), code=303)


@bp.get("/account/conferma-email")
@authz.login_required
def confirm_first():
    """Where an unconfirmed user is sent when trying to take part (policies.require_confirmed)."""
    if current_user.can_take_part:
        return redirect(url_for("accounts.dashboard"))
    return render_template("accounts/confirm_first.html", form=EmptyForm())


# --------------------------------------------------------------------------- login / logout


@bp.route("/accedi", methods=["GET", "POST"])
@authz.public
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_account_login_limit, key_func=_login_account, methods=["POST"],
               deduct_when=_login_failed)  # failures only: signing in every day is no attack
def login():
    if current_user.is_authenticated:
        return redirect(url_for("accounts.dashboard"))
    if request.method != "POST":  # GET or HEAD: the blank form
        return render_template("accounts/login.html", form=LoginForm())
    form = LoginForm()
    next_url = safe_next(request.args.get("next"), url_for("accounts.dashboard"))
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            form.password.errors.append(_("E-mail o password non corretti."))
            return _invalid("accounts/login.html", form=form)
        session.clear()  # a new session: nothing from before the login carries over
        services.start_session(user)
        login_user(user)
        flash(_("Benvenuto, %(name)s.", name=user.name), "success")
        return redirect(next_url, code=303)
    return _invalid("accounts/login.html", form=form)


@bp.post("/esci")
@authz.login_required
def logout():
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    services.end_session(current_user.get_id())
    logout_user()
    session.clear()
    flash(_("Sei uscito dal portale."), "info")
    return redirect(url_for("core.home"), code=303)


@bp.route("/password-dimenticata", methods=["GET", "POST"])
@authz.public
@limiter.limit(_reset_limit, methods=["POST"])
def forgot_password():
    if request.method != "POST":  # GET or HEAD: the blank form
        return render_template("accounts/forgot.html", form=ForgotPasswordForm())
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        flash(_("Se l'indirizzo ha un account, riceverai un messaggio con il link per "
                "reimpostare la password."), "info")
        return redirect(url_for("accounts.login"), code=303)
    return _invalid("accounts/forgot.html", form=form)


@bp.route("/reimposta-password/<token>", methods=["GET", "POST"])
@authz.public
@limiter.limit(_reset_limit, methods=["POST"])
def reset_password(token: str):
    try:
        services.user_from_reset_token(token)
    except services.AccountError as exc:
        return _render("accounts/token_error.html", 400, message=str(exc))
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data)
        except services.AccountError as exc:
            refuse(form, exc, "password")
            return _invalid("accounts/reset.html", form=form)
        flash(_("Password aggiornata: ora puoi accedere."), "success")
        return redirect(url_for("accounts.login"), code=303)
    if form.is_submitted():
        return _invalid("accounts/reset.html", form=form)
    return render_template("accounts/reset.html", form=form)


# --------------------------------------------------------------------------- account area

def _account_crumb():
    return (_("La mia area"), url_for("accounts.dashboard"))


def _household_crumb():
    return (_("Il mio nucleo familiare"), url_for("accounts.household"))


@bp.get("/account")
@authz.login_required
def dashboard():
    return render_template("accounts/dashboard.html", breadcrumbs=[(_("La mia area"), None)],
                           form=EmptyForm(), dashboard_panels=dashboard_panels(current_user),
                           staff=bool(authz.role_set(current_user)))


@bp.route("/account/password", methods=["GET", "POST"])
@authz.login_required
def change_password():
    form = ChangePasswordForm()
    crumbs = [_account_crumb(), (_("Cambia password"), None)]
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current.data, form.password.data,
                                     current_user.get_id())
        except services.AccountError as exc:
            refuse(form, exc, "password")
            return _invalid("accounts/change_password.html", form=form, breadcrumbs=crumbs)
        flash(_("Password cambiata. Gli altri dispositivi sono stati disconnessi."), "success")
        return redirect(url_for("accounts.dashboard"), code=303)
    if form.is_submitted():
        return _invalid("accounts/change_password.html", form=form, breadcrumbs=crumbs)
    return render_template("accounts/change_password.html", form=form, breadcrumbs=crumbs)


@bp.route("/account/email", methods=["GET", "POST"])
@authz.login_required
def change_email():
    form = ChangeEmailForm()
    crumbs = [_account_crumb(), (_("Cambia e-mail"), None)]
    if form.validate_on_submit():
        try:
            services.request_email_change(current_user, form.password.data, form.email.data)
        except services.AccountError as exc:
            refuse(form, exc, "email")
            return _invalid("accounts/change_email.html", form=form, breadcrumbs=crumbs)
        flash(_("Ti abbiamo scritto al nuovo indirizzo: apri il link per confermarlo."), "info")
        return redirect(url_for("accounts.dashboard"), code=303)
    if form.is_submitted():
        return _invalid("accounts/change_email.html", form=form, breadcrumbs=crumbs)
    return render_template("accounts/change_email.html", form=form, breadcrumbs=crumbs)


@bp.route("/account/email/conferma/<token>", methods=["GET", "POST"])
@authz.public
def confirm_new_email(token: str):
    try:
        services.check_confirmation_link(token, new_email=True)
    except services.AccountError as exc:
        return _render("accounts/token_error.html", 400, message=str(exc))
    form = EmptyForm()
    if form.validate_on_submit():
        try:
            services.confirm_email_change(token)
        except services.AccountError as exc:
            return _render("accounts/token_error.html", 400, message=str(exc))
        flash(_("Nuovo indirizzo e-mail confermato."), "success")
        return redirect(url_for("accounts.dashboard"), code=303)
    return render_template("accounts/confirm.html", form=form,
                           title=_("Conferma il nuovo indirizzo e-mail"))


@bp.get("/account/dati.json")
@authz.login_required
def export_data():
    """GDPR: all my data as a JSON download."""
    payload = json.dumps(services.export_data(current_user), ensure_ascii=False, indent=2)
    response = make_response(payload)
    response.headers["Content-Type"] = "application/json; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="i-miei-dati.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/account/elimina", methods=["GET", "POST"])
@authz.login_required
def delete_account():
    form = DeleteAccountForm()
    crumbs = [_account_crumb(), (_("Cancella account"), None)]
    if form.validate_on_submit():
        try:
            services.delete_account(current_user, form.password.data)
        except services.AccountError as exc:
            refuse(form, exc, "password")
            return _invalid("accounts/delete.html", form=form, breadcrumbs=crumbs)
        logout_user()
        session.clear()
        flash(_("Il tuo account è stato cancellato."), "info")
        return redirect(url_for("core.home"), code=303)
    if form.is_submitted():
        return _invalid("accounts/delete.html", form=form, breadcrumbs=crumbs)
    return render_template("accounts/delete.html", form=form, breadcrumbs=crumbs)


# --------------------------------------------------------------------------- household



def _comune_choices():
    rows = db.session.execute(db.select(Comune.id, Comune.name).order_by(Comune.name)).all()
    return [("", _("— scegli —"))] + [(r.id, r.name) for r in rows]


@bp.get("/famiglia")
@authz.login_required
def household():
    household = current_user.household
    if household is None:
        return redirect(url_for("accounts.create_household"))
    return render_template(
        "accounts/household.html",
        household=household,
        member_form=MemberForm(),
        address_form=AddressForm(obj=household),
        form=EmptyForm(),
        breadcrumbs=[_account_crumb(), (_("Il mio nucleo familiare"), None)],
    )


@bp.post("/famiglia/indirizzo")
@authz.login_required
def household_address():
    household = _own_household()
    form = AddressForm()
    if form.validate_on_submit():
        try:
            services.declare_address(household, form.street.data, form.house_number.data)
        except services.AccountError as exc:
            refuse(form, exc)
        else:
            flash(_("Indirizzo registrato: il Comune verificherà la residenza."), "success")
            return redirect(url_for("accounts.household"), code=303)
    return _invalid("accounts/household.html", household=household, member_form=MemberForm(),
                    address_form=form, form=EmptyForm(),
                    breadcrumbs=[_account_crumb(), (_("Il mio nucleo familiare"), None)])


@bp.route("/famiglia/nuova", methods=["GET", "POST"])
@authz.login_required
def create_household():
    if current_user.household_id is not None:
        return redirect(url_for("accounts.household"))
    form = HouseholdForm()
    form.comune_id.choices = _comune_choices()
    crumbs = [_account_crumb(), (_("Crea il nucleo familiare"), None)]
    if form.validate_on_submit():
        try:
            services.create_household(current_user, form.name.data, form.comune_id.data,
                                      form.birth_year.data, street=form.street.data,
                                      house_number=form.house_number.data)
        except services.AccountError as exc:
            if exc.field:
                refuse(form, exc)  # rolls back
            else:
                form.form_errors.append(str(exc))
                db.session.rollback()
            return _invalid("accounts/household_new.html", form=form, breadcrumbs=crumbs)
        flash(_("Nucleo creato. Aggiungi gli altri componenti; il Comune verificherà la "
                "residenza."), "success")
        return redirect(url_for("accounts.household"), code=303)
    if form.is_submitted():
        return _invalid("accounts/household_new.html", form=form, breadcrumbs=crumbs)
    return render_template("accounts/household_new.html", form=form, breadcrumbs=crumbs)


def _own_household() -> Household:
    household = current_user.household
    if household is None:
        abort(404)
    authz.require("household.manage", household)
    return household


def _members(household: Household, member_form: MemberForm | None = None,
             status: int = 200, notice: str | None = None, error: str | None = None):
    """The members section: the partial for htmx, else the whole household page."""
    context = dict(household=household, member_form=member_form or MemberForm(formdata=None),
                   address_form=AddressForm(formdata=None, obj=household), form=EmptyForm(),
                   notice=notice, error=error)
    if wants_partial():
        return _render("accounts/_members.html", status, **context)
    return _render("accounts/household.html", status,
                   breadcrumbs=[_account_crumb(), (_("Il mio nucleo familiare"), None)], **context)


@bp.post("/famiglia/componenti")
@authz.login_required
def add_member():
    household = _own_household()
    form = MemberForm()
    if form.validate_on_submit():
        try:
            services.add_member(household, form.kind.data, form.birth_year.data,
                                form.first_name.data, form.disability.data)
        except services.AccountError as exc:
            refuse(form, exc, "birth_year")
        else:
            if wants_partial():
                return _members(household, notice=_("Componente aggiunto."))
            flash(_("Componente aggiunto."), "success")
            return redirect(url_for("accounts.household"), code=303)
    return _members(household, form, 422)


@bp.post("/famiglia/componenti/<int:member_id>/elimina")
@authz.login_required
def remove_member(member_id: int):
    household = _own_household()
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.remove_member(household, member_id)
    except services.AccountError as exc:
        db.session.rollback()
        if wants_partial():
            return _members(household, status=422, error=str(exc))
        flash(str(exc), "error")
    else:
        if wants_partial():
            return _members(household, notice=_("Componente rimosso."))
        flash(_("Componente rimosso."), "success")
    return redirect(url_for("accounts.household"), code=303)


@bp.post("/famiglia/invito")
@authz.login_required
def invite():
    policies.require_confirmed()
    household = _own_household()
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    token = services.invite_to_household(current_user)
    link = absolute_url(url_for("accounts.join_household", token=token))
    return render_template(
        "accounts/invitation.html", link=link, household=household,
        breadcrumbs=[_account_crumb(), _household_crumb(), (_("Invito"), None)],
    )


@bp.route("/famiglia/unisciti/<token>", methods=["GET", "POST"])
@authz.login_required
def join_household(token: str):
    try:
        invitation = services.invitation_for(token)
    except services.AccountError as exc:
        return _render("accounts/token_error.html", 400, message=str(exc))
    form = EmptyForm()
    if form.validate_on_submit():
        try:
            services.join_household(current_user, token)
        except services.AccountError as exc:
            db.session.rollback()  # the redirect would commit: nothing of the refusal stays
            flash(str(exc), "error")
            return redirect(url_for("accounts.household"), code=303)
        flash(_("Ora fai parte del nucleo \"%(name)s\".", name=invitation.household.name),
              "success")
        return redirect(url_for("accounts.household"), code=303)
    return render_template("accounts/join.html", invitation=invitation, form=form)


@bp.post("/famiglia/esci")
@authz.login_required
def leave_household():
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.leave_household(current_user)
    except services.AccountError as exc:
        db.session.rollback()  # the redirect would commit: nothing of the refusal stays
        flash(str(exc), "error")
        return redirect(url_for("accounts.dashboard"), code=303)
    flash(_("Sei uscito dal nucleo familiare."), "info")
    return redirect(url_for("accounts.dashboard"), code=303)


# --------------------------------------------------------------------------- verification queue


def _officer_scope() -> set[int] | None:
    if authz.is_coordinator(current_user):
        return None
    return authz.scope_ids(current_user, Role.COMUNE_OFFICER)


@bp.get("/comune/verifiche")
@authz.roles(Role.COMUNE_OFFICER)
def verification_queue():
    households = services.pending_households(_officer_scope())
    return render_template(
        "accounts/verification_queue.html", households=households, form=ReviewHouseholdForm(),
        breadcrumbs=[(_("Verifica delle residenze"), None)],
    )


@bp.post("/comune/verifiche/<int:household_id>")
@authz.roles(Role.COMUNE_OFFICER)
def review_household(household_id: int):
    household = db.get_or_404(Household, household_id)
    authz.require("household.verify", household)
    form = ReviewHouseholdForm()
    if form.validate_on_submit():
        try:
            services.review_household(current_user, household, form.decision.data == "verify",
                                      form.note.data)
        except services.AccountError as exc:
            refuse(form, exc, "note")
        else:
            message = (_("Residenza del nucleo \"%(name)s\" verificata.", name=household.name)
                       if household.is_verified else
                       _("Nucleo \"%(name)s\" segnato come non verificato.", name=household.name))
            if wants_partial():
                return render_template("accounts/_review_done.html", household=household,
                                       message=message)
            flash(message, "success")
            return redirect(url_for("accounts.verification_queue"), code=303)
    if wants_partial():
        return _invalid("accounts/_review_row.html", h=household, form=form)
    households = services.pending_households(_officer_scope())
    return _invalid("accounts/verification_queue.html", households=households, form=form,
                    failed_id=household.id, breadcrumbs=[(_("Verifica delle residenze"), None)])
