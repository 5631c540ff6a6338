"""Public pages of the Network, the application to join, and role management."""

import re
from types import SimpleNamespace

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import authz
from portal.authz import Role
from portal.extensions import db, limiter
from portal.forms import EmptyForm
from portal.network import bp, services
from portal.network.forms import DecideApplicationForm, GrantRoleForm, JoinForm
from portal.network.models import JoinApplication, RoleAssignment
from portal.web import refuse

SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,139}")


def _slug_arg(name: str) -> str | None:
    """A cursor from the query string; anything that is not a slug is ignored."""
    value = request.args.get(name, "")
    return value if SLUG_RE.fullmatch(value) else None


@bp.get("/comuni")
@authz.public
def comuni():
    """The Comuni of the Rete, 20 a page (keyset), optionally of one province."""
    provinces = services.provinces()
    province = request.args.get("provincia", "")
    if province not in provinces:
        province = ""
    page = services.comuni_page(after=_slug_arg("dopo"), before=_slug_arg("prima"),
                                province=province or None)
    extra = {"provincia": province} if province else {}
    pager = SimpleNamespace(
        prev_url=url_for("network.comuni", prima=page.before, **extra) if page.before else None,
        next_url=url_for("network.comuni", dopo=page.after, **extra) if page.after else None,
    )
    return render_template("network/comuni.html", comuni=page.comuni, pager=pager,
                           provinces=provinces, province=province,
                           breadcrumbs=[(_("Comuni"), None)])


@bp.get("/comuni/<slug>")
@authz.public
def comune(slug: str):
    page = services.comune_page(slug) if SLUG_RE.fullmatch(slug) else None
    if page is None:
        abort(404)
    return render_template(
        "network/comune.html", comune=page.comune, households=page.households,
        associations=page.associations, events=page.events, panels=page.panels,
        breadcrumbs=[(_("Comuni"), url_for("network.comuni")), (page.comune.name, None)],
    )


# --------------------------------------------------------------------------- joining


def _forms_limit() -> str:
    return current_app.config["RATELIMIT_FORMS"]


@bp.route("/aderisci", methods=["GET", "POST"])
@authz.public
@limiter.limit(_forms_limit, methods=["POST"])  # each application mails the coordinators
def join():
    crumbs = [(_("Aderisci alla Rete"), None)]
    if request.method != "POST":  # GET or HEAD: the blank form
        return render_template("network/join.html", form=JoinForm(), breadcrumbs=crumbs)
    form = JoinForm()
    if form.validate_on_submit():
        try:
            services.submit_application(form.data)
        except services.NetworkError as exc:
            refuse(form, exc, "istat_code")
            return render_template("network/join.html", form=form, breadcrumbs=crumbs), 422
        return redirect(url_for("network.join_sent"), code=303)
    return render_template("network/join.html", form=form, breadcrumbs=crumbs), 422


@bp.get("/aderisci/inviata")
@authz.public
def join_sent():
    return render_template("network/join_sent.html", breadcrumbs=[(_("Aderisci alla Rete"), None)])


@bp.get("/rete/adesioni")
@authz.roles(Role.COORDINATOR)
def applications():
    return render_template("network/applications.html",
                           applications=services.pending_applications(),
                           form=DecideApplicationForm(),
                           breadcrumbs=[(_("Richieste di adesione"), None)])


@bp.post("/rete/adesioni/<int:application_id>")
@authz.roles(Role.COORDINATOR)
def decide_application(application_id: int):
    application = db.get_or_404(JoinApplication, application_id)
    authz.require("network.decide_application", application)
    form = DecideApplicationForm()
    if form.validate_on_submit():
        try:
            comune = services.decide_application(current_user, application,
                                                 form.decision.data == "approve", form.note.data)
        except services.NetworkError as exc:
            refuse(form, exc, "decision")
        else:
            if comune is not None:
                flash(_("%(name)s è entrato nella Rete, con il suo tavolo.", name=comune.name),
                      "success")
            else:
                flash(_("Richiesta respinta."), "info")
            return redirect(url_for("network.applications"), code=303)
    return render_template("network/applications.html",
                           applications=services.pending_applications(), form=form,
                           failed_id=application.id,
                           breadcrumbs=[(_("Richieste di adesione"), None)]), 422


# --------------------------------------------------------------------------- roles


def _grant_form() -> GrantRoleForm:
    form = GrantRoleForm()
    form.role.choices = [("", _("— scegli —"))] + [
        (r.value, services.role_label(r)) for r in services.grantable_roles(current_user)]
    form.scope.choices = [("", _("— scegli —"))] + services.scope_choices(current_user)
    return form


def _roles_page(form: GrantRoleForm, status: int = 200):
    assignments = services.assignments_visible_to(current_user)
    return render_template(
        "network/roles.html", form=form, assignments=assignments,
        may_revoke={r.id for r in assignments if services.can_manage_assignment(current_user, r)},
        labels=services.scope_labels(), role_label=services.role_label,
        revoke_form=EmptyForm(), breadcrumbs=[(_("Ruoli e incarichi"), None)],
    ), status


@bp.get("/rete/ruoli")
@authz.roles(Role.COORDINATOR, Role.COMUNE_OFFICER)
def roles():
    return _roles_page(_grant_form())


@bp.post("/rete/ruoli")
@authz.roles(Role.COORDINATOR, Role.COMUNE_OFFICER)
def grant_role():
    authz.require("network.manage_roles")
    form = _grant_form()
    if form.validate_on_submit():
        try:
            services.grant_role(current_user, form.email.data, form.role.data, form.scope.data)
        except services.NetworkError as exc:
            refuse(form, exc, "role")
            return _roles_page(form, 422)
        flash(_("Ruolo assegnato."), "success")
        return redirect(url_for("network.roles"), code=303)
    return _roles_page(form, 422)


@bp.post("/rete/ruoli/<int:assignment_id>/revoca")
@authz.roles(Role.COORDINATOR, Role.COMUNE_OFFICER)
def revoke_role(assignment_id: int):
    assignment = db.get_or_404(RoleAssignment, assignment_id)
    if not services.can_manage_assignment(current_user, assignment):
        abort(403)
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.revoke_role(current_user, assignment)
    except services.NetworkError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        flash(_("Ruolo revocato."), "success")
    return redirect(url_for("network.roles"), code=303)
