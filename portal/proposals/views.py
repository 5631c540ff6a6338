"""Pages of proposals: the public list and page, drafting, moderation, comments, reports.

Views do not commit: services flush, and the request's one commit (portal/db_setup.py)
keeps what a successful POST did; a refused form is answered 422 and rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import (
    abort,
    current_app,
    flash,
    get_template_attribute,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from portal import authz
from portal.accounts.models import Household, HouseholdStatus
from portal.accounts.policies import require_confirmed
from portal.authz import Role
from portal.caching import remember
from portal.db_setup import utcnow
from portal.extensions import db, limiter
from portal.forms import EmptyForm
from portal.i18n import current_locale
from portal.network.models import Association, Comune
from portal.proposals import bp, policies, services
from portal.proposals.forms import (
    AnswerForm,
    CommentForm,
    InviteForm,
    MergeForm,
    ModerationForm,
    OnBehalfForm,
    ProposalForm,
    ReasonForm,
    ReportForm,
    WithdrawForm,
)
from portal.proposals.models import (
    PUBLIC_STATES,
    Comment,
    CoProposer,
    Proposal,
    ProposalState,
    Report,
)
from portal.proposals.themes import themes as theme_catalogue
from portal.web import parse_id, refuse, wants_partial

S = ProposalState


def _crumb():
    return (_("Proposte"), url_for("proposals.index"))


def _load(proposal_id: int) -> Proposal:
    return db.get_or_404(Proposal, proposal_id)


def _back(proposal: Proposal, anchor: str = ""):
    return redirect(url_for("proposals.detail", proposal_id=proposal.id) + anchor, code=303)


def _attempt(action, form=None, field: str | None = None) -> bool:
    """Run a service call that may refuse. On `ProposalError` nothing it did is kept and its
    reason goes on the form (`refuse`: the field the error names, else `field`) or, without a
    form, into a flash message. True when the change was made."""
    try:
        action()
    except services.ProposalError as exc:
        if form is None:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            refuse(form, exc, field)
        return False
    return True


def _comment_page(template: str, comment: Comment, form, title: str):
    """The page of a comment's form (edit, report, hide): 200, or 422 with the errors."""
    return render_template(
        template, form=form, comment=comment,
        breadcrumbs=[_crumb(), (services.shown_title(comment.proposal), url_for(
            "proposals.detail", proposal_id=comment.proposal_id)), (title, None)]
    ), 422 if form.is_submitted() else 200


# --------------------------------------------------------------------------- the public list


@bp.get("/proposte")
@authz.public
def index():
    filters = services.ListFilters(request.args)
    if wants_partial():
        return render_template("proposals/_results.html", **_list_context(filters))
    # The body is a fragment kept for everyone who asks the same list (see the template):
    # what it shows is loaded only when it is rendered.
    return render_template(
        "proposals/index.html", breadcrumbs=[(_("Proposte"), None)],
        list_key=repr(sorted(filters.query_args(dopo=filters.after, prima=filters.before)
                             .items())),
        load=lambda: _index_context(filters))


#: Above this many Comuni the list's Comune filter is a text field: a select of hundreds of
#: names weighs more than the page it filters.
COMUNE_SELECT_MAX = 60


def _list_context(filters: services.ListFilters) -> dict:
    filters.resolve()
    page = services.search(filters)
    page.next_url = (url_for("proposals.index", **filters.query_args(dopo=page.next_cursor))
                     if page.next_cursor else None)
    page.prev_url = (url_for("proposals.index", **filters.query_args(prima=page.prev_cursor))
                     if page.prev_cursor else None)
    return dict(page=page, filters=filters, labels=services.state_labels())


def _index_context(filters: services.ListFilters) -> dict:
    context = _list_context(filters)
    table = services.table_named(filters.table) if filters.table else None
    labels = context["labels"]
    comuni = db.session.execute(select(Comune.id, Comune.slug, Comune.name)
                                .order_by(Comune.name).limit(COMUNE_SELECT_MAX + 1)).all()
    return dict(
        context, rounds=services.round_options(),
        comuni=comuni if len(comuni) <= COMUNE_SELECT_MAX else None,
        table_name=table.name if table is not None else None, themes=theme_catalogue(),
        states=[(s, labels[s]) for s in PUBLIC_STATES])


# --------------------------------------------------------------------------- one proposal


def _detail_context(proposal: Proposal, **forms):
    """What the proposal's page shows; forms only for those who can use them."""
    user = current_user
    logged_in = user.is_authenticated
    is_author = logged_in and policies.is_author(user, proposal)
    is_moderator = logged_in and policies.is_moderator_for(user, proposal)
    threads, cards = (_comment_section(proposal.id, is_moderator) if proposal.is_public
                      else ([], {}))
    context = dict(
        proposal=proposal, load_history=lambda: services.history(proposal.id),
        threads=threads, cards=cards,
        is_author=is_author, is_moderator=is_moderator,
        breadcrumbs=[_crumb(), (services.shown_title(proposal), None)],
    )
    if logged_in:
        context.update(
            form=EmptyForm(),
            comment_form=forms.get("comment_form") or CommentForm(formdata=None),
            report_form=forms.get("report_form") or ReportForm(formdata=None))
    if is_author:
        context.update(
            withdraw_form=forms.get("withdraw_form") or WithdrawForm(formdata=None),
            invite_form=forms.get("invite_form") or InviteForm(formdata=None))
    if is_moderator:
        merge_choices = (_merge_choices(proposal)
                         if proposal.state in (S.SUBMITTED, S.PUBLISHED) else [])
        context.update(
            deadline=services.moderation_deadline(proposal),
            moderation_form=forms.get("moderation_form") or ModerationForm(formdata=None),
            merge_form=forms.get("merge_form") or _merge_form(merge_choices, formdata=None),
            hide_form=forms.get("hide_form") or ReasonForm(formdata=None))
    return context


@dataclass(frozen=True)
class _Placed:
    """A comment as its thread places it, its card rendered once for every reader."""

    id: int
    author_id: int | None
    is_hidden: bool


def _comment_section(proposal_id: int, is_moderator: bool) -> tuple[list, dict]:
    """(threads, cards) of the comments: threads as (comment, replies), cards by comment id.

    A comment's card reads the same for every visitor of one kind: without actions for
    visitors who are not signed in, with the link to report it for those who are. Those
    cards and the threads' shape are rendered once (the card macro) and kept until the next
    write, so a page does not load and render every comment again. A signed-in visitor's own
    comments are loaded and rendered for them, with what their author may do; moderators
    get every comment rendered with their actions."""
    if is_moderator:
        return services.comment_threads(proposal_id), {}
    signed_in = current_user.is_authenticated

    def render() -> tuple[list, dict]:
        card = get_template_attribute("proposals/_comment_card.html", "comment_card")
        threads, cards = [], {}
        for thread, replies in services.comment_threads(proposal_id):
            for c in (thread, *replies):
                cards[c.id] = card(c, report=signed_in and not c.is_hidden)
            threads.append((_Placed(thread.id, thread.author_id, thread.is_hidden),
                            [_Placed(r.id, r.author_id, r.is_hidden) for r in replies]))
        return threads, cards

    threads, cards = remember(
        ("proposals.comments", proposal_id, current_locale(), signed_in), render)
    if signed_in:
        mine = {c.id for thread, replies in threads for c in (thread, *replies)
                if c.author_id == current_user.id}
        if mine:
            own = services.comments(mine)
            threads = [(own.get(c.id, c), [own.get(r.id, r) for r in replies])
                       for c, replies in threads]
            cards = {cid: html for cid, html in cards.items() if cid not in own}
    return threads, cards


def _merge_choices(proposal: Proposal):
    rows = db.session.execute(
        select(Proposal.id, Proposal.title).where(
            Proposal.table_id == proposal.table_id, Proposal.id != proposal.id,
            Proposal.state.in_([S.SUBMITTED, *PUBLIC_STATES]),
            Proposal.merged_into_id.is_(None))
        .order_by(Proposal.title).limit(300)).all()
    return [(r.id, f"{r.title} (n. {r.id})") for r in rows]


def _merge_form(choices, **kwargs) -> MergeForm:
    form = MergeForm(**kwargs)
    form.into.choices = choices
    return form


def _render_detail(proposal: Proposal, status: int = 200, **forms):
    return render_template("proposals/detail.html", **_detail_context(proposal, **forms)), status


@bp.get("/proposte/<int:proposal_id>")
@authz.public
def detail(proposal_id: int):
    proposal = services.page(proposal_id)
    if proposal is None:
        abort(404)
    authz.require("proposal.view", proposal)
    if proposal.state == S.MERGED and proposal.merged_into_id and not (
            policies.is_author(current_user, proposal)
            or policies.is_moderator_for(current_user, proposal)):
        flash(_("Questa proposta è stata unita a un'altra simile: eccola."), "info")
        return redirect(url_for("proposals.detail", proposal_id=proposal.merged_into_id))
    return _render_detail(proposal)


# --------------------------------------------------------------------------- drafting


def _facilitator_comuni() -> set[int]:
    return authz.scope_ids(current_user, Role.FACILITATOR)


def _prepare(form: ProposalForm, comune_id: int | None) -> ProposalForm:
    form.themes.choices = [(slug, str(label)) for slug, label in theme_catalogue().items()]
    tables = services.table_choices(comune_id) if comune_id else []
    form.table_id.choices = [(t.id, t.name) for t in tables]
    form.partners.choices = [
        (a.id, a.name) for a in db.session.scalars(select(Association).order_by(Association.name))]
    return form


def _on_behalf_households() -> list[Household]:
    comuni = _facilitator_comuni()
    if not comuni:
        return []
    return list(db.session.scalars(
        select(Household).where(Household.comune_id.in_(comuni),
                                Household.status != HouseholdStatus.REJECTED,
                                Household.anonymised_at.is_(None))
        .order_by(Household.name, Household.id).limit(1000)))


def _form_fields(form: ProposalForm) -> dict:
    return dict(title=form.title.data, summary=form.summary.data, body=form.body.data,
                table_id=form.table_id.data, themes=form.themes.data or [],
                estimated_cost_cents=form.estimated_cost.data,
                own_contribution=form.own_contribution.data,
                partner_ids=form.partners.data or [])


#: a service's field name -> the form's, where they differ
_FORM_FIELD = {"on_behalf_consent": "consent"}


@bp.route("/proposte/nuova", methods=["GET", "POST"])
@authz.login_required
def new():
    require_confirmed()
    authz.require("proposal.create")
    own = current_user.household
    facilitator = bool(_facilitator_comuni())
    if facilitator:
        households = _on_behalf_households()
        form = OnBehalfForm()
        choices = [(h.id, f"{h.name} ({h.comune.name})") for h in households]
        if own is not None:
            choices.insert(0, (own.id, _("Il mio nucleo: %(name)s", name=own.name)))
        form.household_id.choices = choices
        chosen = next((h for h in households if h.id == form.household_id.data), None)
        if own is not None and form.household_id.data == own.id:
            chosen = own
        if own is not None and not form.is_submitted():
            form.household_id.data = own.id
        comune_id = (chosen or own).comune_id if (chosen or own) else (
            households[0].comune_id if households else None)
        if own is not None and form.is_submitted() and form.household_id.data == own.id:
            # their own household: no consent needed
            form.consent.validators = []
            form.consent_confirmed.validators = []
    else:
        form = ProposalForm()
        chosen = own
        comune_id = own.comune_id if own else None
    _prepare(form, comune_id)
    if not form.is_submitted() and comune_id:
        local = next((c for c, _label in form.table_id.choices), None)
        form.table_id.data = local
    if form.validate_on_submit():
        household = chosen or own
        try:
            proposal = services.create_draft(
                current_user, household, **_form_fields(form),
                on_behalf_consent=getattr(form, "consent", None) and form.consent.data)
        except services.ProposalError as exc:
            refuse(form, exc, _FORM_FIELD.get(exc.field or "", "title"))
        else:
            flash(_("Bozza salvata. Quando è pronta, inviala ai moderatori."), "success")
            return _back(proposal)
    status = 422 if form.is_submitted() else 200
    return render_template("proposals/form.html", form=form, proposal=None,
                           facilitator=facilitator,
                           breadcrumbs=[_crumb(), (_("Nuova proposta"), None)]), status


@bp.route("/proposte/<int:proposal_id>/modifica", methods=["GET", "POST"])
@authz.login_required
def edit(proposal_id: int):
    proposal = _load(proposal_id)
    authz.require("proposal.edit", proposal)
    form = ProposalForm(obj=None if request.method == "POST" else proposal)
    _prepare(form, proposal.comune_id)
    if not form.is_submitted():
        form.themes.data = list(proposal.themes)
        form.partners.data = [p.association_id for p in proposal.partners]
        form.estimated_cost.data = proposal.estimated_cost_cents
    if form.validate_on_submit() and _attempt(
            lambda: services.update_draft(proposal, current_user, **_form_fields(form)),
            form, "title"):
        flash(_("Modifiche salvate."), "success")
        return _back(proposal)
    status = 422 if form.is_submitted() else 200
    return render_template("proposals/form.html", form=form, proposal=proposal,
                           facilitator=False,
                           breadcrumbs=[_crumb(), (services.shown_title(proposal), url_for(
                               "proposals.detail", proposal_id=proposal.id)),
                               (_("Modifica"), None)]), status


@bp.post("/proposte/<int:proposal_id>/invia")
@authz.login_required
def submit(proposal_id: int):
    proposal = _load(proposal_id)
    authz.require("proposal.submit", proposal)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if _attempt(lambda: services.submit(proposal, current_user)):
        flash(_("Proposta inviata ai moderatori: riceverete una risposta entro %(days)d "
                "giorni.", days=services.MODERATION_DEADLINE_DAYS), "success")
    return _back(proposal)


@bp.post("/proposte/<int:proposal_id>/ritira")
@authz.login_required
def withdraw(proposal_id: int):
    proposal = _load(proposal_id)
    authz.require("proposal.withdraw", proposal)
    form = WithdrawForm()
    if form.validate_on_submit() and _attempt(
            lambda: services.transition(proposal, S.WITHDRAWN, current_user, form.note.data),
            form, "note"):
        flash(_("Proposta ritirata."), "info")
        return _back(proposal)
    return _render_detail(proposal, 422, withdraw_form=form)


@bp.post("/proposte/<int:proposal_id>/elimina")
@authz.login_required
def delete(proposal_id: int):
    proposal = _load(proposal_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        services.delete_draft(proposal, current_user)
    except services.NotAllowed:
        abort(403)
    flash(_("Bozza eliminata."), "info")
    return redirect(url_for("proposals.mine"), code=303)


# --------------------------------------------------------------------------- co-proposers


def _invite_limit() -> str:
    return current_app.config["RATELIMIT_FORMS"]


def _inviter() -> str:
    """The limiter's key for invitations: the account (whatever address it posts from)."""
    return "invite:" + (current_user.get_id() or request.remote_addr or "")


@bp.post("/proposte/<int:proposal_id>/co-proponenti")
@authz.login_required
@limiter.limit(_invite_limit, key_func=_inviter, methods=["POST"])  # each invitation mails
def invite(proposal_id: int):
    proposal = _load(proposal_id)
    authz.require("proposal.invite", proposal)
    require_confirmed()
    form = InviteForm()
    if form.validate_on_submit():
        # one answer whatever the address: the form must not tell who has an account
        services.invite_co_proposer(proposal, current_user, form.email.data)
        flash(_("Se l'indirizzo è di una famiglia della Rete che non avete ancora invitato, "
                "riceverà l'invito."), "info")
        return _back(proposal, "#co-proponenti")
    return _render_detail(proposal, 422, invite_form=form)


@bp.post("/proposte/inviti/<int:invitation_id>")
@authz.login_required
def answer(invitation_id: int):
    invitation = db.get_or_404(CoProposer, invitation_id)
    authz.require("co_proposer.answer", invitation)
    require_confirmed()
    form = AnswerForm()
    if not form.validate_on_submit():
        flash(_("Scegli se accettare o rifiutare."), "error")
        return redirect(url_for("proposals.mine"), code=303)
    services.answer_invitation(invitation, current_user, form.answer.data == "accept")
    flash(_("Risposta registrata."), "success")
    return redirect(url_for("proposals.mine"), code=303)


# --------------------------------------------------------------------------- moderation


@bp.get("/proposte/moderazione")
@authz.roles(Role.MODERATOR)
def queue():
    items = services.moderation_queue(current_user)
    now = utcnow()
    rows = [(p, now - (p.submitted_at or p.state_changed_at), services.moderation_deadline(p))
            for p in items]
    return render_template(
        "proposals/queue.html", rows=rows, now=now, reports=services.open_reports(current_user),
        form=EmptyForm(), hide_form=ReasonForm(formdata=None),
        deadline_days=services.MODERATION_DEADLINE_DAYS,
        breadcrumbs=[_crumb(), (_("Moderazione"), None)])


@bp.post("/proposte/<int:proposal_id>/modera")
@authz.roles(Role.MODERATOR)
def moderate(proposal_id: int):
    proposal = _load(proposal_id)
    authz.require("proposal.moderate", proposal)
    form = ModerationForm()
    if form.validate_on_submit() and _attempt(
            lambda: services.transition(proposal, form.decision.data, current_user,
                                        form.note.data), form, "note"):
        flash(_("Decisione registrata: %(state)s.", state=services.state_label(proposal.state)),
              "success")
        return redirect(url_for("proposals.queue"), code=303)
    return _render_detail(proposal, 422, moderation_form=form)


def _lost_a_race(exc: OperationalError) -> bool:
    """A transaction that lost a race and can run again: SQLite busy, or a PostgreSQL
    deadlock or serialization failure."""
    code = getattr(exc.orig, "sqlstate", None)
    return code in ("40P01", "40001") or "locked" in str(exc).lower()


@bp.post("/proposte/<int:proposal_id>/unisci")
@authz.roles(Role.MODERATOR)
def merge(proposal_id: int):
    proposal = _load(proposal_id)
    authz.require("proposal.moderate", proposal)
    form = _merge_form(_merge_choices(proposal))
    if not form.validate_on_submit():
        return _render_detail(proposal, 422, merge_form=form)
    for _attempt_number in range(3):  # a merge that lost a race with votes runs again
        into = _load(form.into.data)
        try:
            services.merge(proposal, into, current_user, form.note.data)
        except services.ProposalError as exc:
            refuse(form, exc, "into")
            return _render_detail(proposal, 422, merge_form=form)
        except OperationalError as exc:
            db.session.rollback()
            if not _lost_a_race(exc):
                raise
        else:
            flash(_("Proposta unita a «%(title)s».", title=into.title), "success")
            return _back(into)
    form.into.errors.append(_("Altre modifiche erano in corso su queste proposte: riprova tra "
                              "un momento."))
    return _render_detail(proposal, 409, merge_form=form)


@bp.post("/proposte/<int:proposal_id>/nascondi")
@authz.roles(Role.MODERATOR)
def hide(proposal_id: int):
    proposal = _load(proposal_id)
    authz.require("proposal.moderate", proposal)
    form = ReasonForm()
    if form.validate_on_submit() and _attempt(
            lambda: services.hide_proposal(proposal, current_user, form.reason.data),
            form, "reason"):
        flash(_("Proposta nascosta; la cronologia pubblica riporta il motivo."), "success")
        return _back(proposal)
    return _render_detail(proposal, 422, hide_form=form)


@bp.post("/proposte/<int:proposal_id>/mostra")
@authz.roles(Role.MODERATOR)
def unhide(proposal_id: int):
    proposal = _load(proposal_id)
    authz.require("proposal.moderate", proposal)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if _attempt(lambda: services.unhide_proposal(proposal, current_user)):
        flash(_("La proposta è di nuovo visibile."), "success")
    return _back(proposal)


@bp.post("/proposte/segnalazioni/<int:report_id>/archivia")
@authz.roles(Role.MODERATOR)
def dismiss(report_id: int):
    entry = db.get_or_404(Report, report_id)
    authz.require("proposal.moderate", entry.proposal)
    if not EmptyForm().validate_on_submit():
        abort(400)
    services.dismiss_report(entry, current_user)
    flash(_("Segnalazione archiviata senza provvedimenti."), "info")
    return redirect(url_for("proposals.queue"), code=303)


@bp.post("/proposte/<int:proposal_id>/segnala")
@authz.login_required
def report(proposal_id: int):
    proposal = _load(proposal_id)
    authz.require("proposal.report", proposal)
    require_confirmed()
    form = ReportForm()
    if form.validate_on_submit() and _attempt(
            lambda: services.report(current_user, proposal, form.reason.data), form, "reason"):
        flash(_("Grazie: i moderatori esamineranno la segnalazione."), "success")
        return _back(proposal)
    return _render_detail(proposal, 422, report_form=form)


# --------------------------------------------------------------------------- comments


def _comment(comment_id: int) -> Comment:
    comment = db.get_or_404(Comment, comment_id)
    authz.require("proposal.view", comment.proposal)
    return comment


@bp.post("/proposte/<int:proposal_id>/commenti")
@authz.login_required
def comment(proposal_id: int):
    proposal = _load(proposal_id)
    authz.require("proposal.comment", proposal)
    require_confirmed()
    form = CommentForm()
    created: list[Comment] = []
    if form.validate_on_submit():
        parent = None
        if form.parent_id.data:
            parent = db.session.get(Comment, parse_id(form.parent_id.data))
            if parent is None or parent.proposal_id != proposal.id:
                abort(404)
        if _attempt(lambda: created.append(
                services.add_comment(proposal, current_user, form.body.data, parent)),
                form, "body"):
            if wants_partial():
                return render_template("proposals/_comments.html",
                                       **_detail_context(proposal))
            return _back(proposal, f"#commento-{created[0].id}")
    if wants_partial():
        return render_template("proposals/_comments.html",
                               **_detail_context(proposal, comment_form=form)), 422
    return _render_detail(proposal, 422, comment_form=form)


@bp.route("/proposte/commenti/<int:comment_id>/modifica", methods=["GET", "POST"])
@authz.login_required
def edit_comment(comment_id: int):
    comment = _comment(comment_id)
    authz.require("comment.edit", comment)
    form = CommentForm(obj=None if request.method == "POST" else comment)
    if form.validate_on_submit() and _attempt(
            lambda: services.edit_comment(comment, current_user, form.body.data), form, "body"):
        return _back(comment.proposal, f"#commento-{comment.id}")
    return _comment_page("proposals/comment_edit.html", comment, form,
                         _("Modifica il commento"))


@bp.route("/proposte/commenti/<int:comment_id>/segnala", methods=["GET", "POST"])
@authz.login_required
def report_comment(comment_id: int):
    comment = _comment(comment_id)
    authz.require("comment.report", comment)
    require_confirmed()
    form = ReportForm()
    if form.validate_on_submit() and _attempt(
            lambda: services.report(current_user, comment.proposal, form.reason.data, comment),
            form, "reason"):
        flash(_("Grazie: i moderatori esamineranno la segnalazione."), "success")
        return _back(comment.proposal, f"#commento-{comment.id}")
    return _comment_page("proposals/comment_report.html", comment, form,
                         _("Segnala il commento"))


@bp.route("/proposte/commenti/<int:comment_id>/nascondi", methods=["GET", "POST"])
@authz.roles(Role.MODERATOR)
def hide_comment(comment_id: int):
    comment = _comment(comment_id)
    authz.require("comment.moderate", comment)
    form = ReasonForm()
    if form.validate_on_submit() and _attempt(
            lambda: services.hide_comment(comment, current_user, form.reason.data),
            form, "reason"):
        flash(_("Commento nascosto; la cronologia pubblica riporta il motivo."), "success")
        return _back(comment.proposal, f"#commento-{comment.id}")
    return _comment_page("proposals/comment_hide.html", comment, form,
                         _("Nascondi il commento"))


@bp.post("/proposte/commenti/<int:comment_id>/mostra")
@authz.roles(Role.MODERATOR)
def unhide_comment(comment_id: int):
    comment = _comment(comment_id)
    authz.require("comment.moderate", comment)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if _attempt(lambda: services.unhide_comment(comment, current_user)):
        flash(_("Il commento è di nuovo visibile."), "success")
    return _back(comment.proposal, f"#commento-{comment.id}")


# --------------------------------------------------------------------------- account area


@bp.get("/account/proposte")
@authz.login_required
def mine():
    proposals = services.mine(current_user)
    return render_template(
        "proposals/mine.html", proposals=proposals,
        invitations=services.invitations_for(current_user), answer_form=AnswerForm(formdata=None),
        labels=services.state_labels(),
        breadcrumbs=[(_("La mia area"), url_for("accounts.dashboard")),
                     (_("Le mie proposte"), None)])
