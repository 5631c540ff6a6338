"""Pages of proposals: the public list and page, drafting, moderation, comments, reports."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from portal import authz
from portal.accounts.models import Household, HouseholdStatus
from portal.authz import Role
from portal.db_setup import utcnow
from portal.extensions import db
from portal.forms import EmptyForm
from portal.i18n import current_locale
from portal.network.models import Association
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
from portal.proposals.themes import all_themes
from portal.proposals.themes import themes as theme_catalogue

S = ProposalState


def _crumb():
    return (_("Proposte"), url_for("proposals.index"))


def _load(proposal_id: int) -> Proposal:
    proposal = db.session.get(Proposal, proposal_id)
    if proposal is None:
        abort(404)
    return proposal


def _back(proposal: Proposal, anchor: str = ""):
    return redirect(url_for("proposals.detail", proposal_id=proposal.id) + anchor, code=303)


def _apply(action, field=None, message=None) -> bool:
    """Run a service call that may refuse: on `ProposalError` roll back and show the reason on
    `field` (or as a flash message); otherwise commit and flash `message` (text, or a function
    giving it after the change). True when the change was made."""
    try:
        action()
    except services.ProposalError as exc:
        db.session.rollback()
        if field is None:
            flash(str(exc), "error")
        else:
            field.errors.append(str(exc))
        return False
    db.session.commit()
    if message:
        flash(message() if callable(message) else message, "success")
    return True


def _comment_page(template: str, comment: Comment, form, title: str):
    """The page of a comment's form (edit, report, hide): 200, or 422 with the errors."""
    return render_template(
        template, form=form, comment=comment,
        breadcrumbs=[_crumb(), (comment.proposal.title, url_for(
            "proposals.detail", proposal_id=comment.proposal_id)), (title, None)]
    ), 422 if form.is_submitted() else 200


# --------------------------------------------------------------------------- the public list


#: HTML escaping in one C call per value (the characters markupsafe escapes, same entities)
_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"})


def _rows_html(page) -> Markup:
    """The rows of the list, written here rather than in Jinja: it is the busiest page and
    a template costs ten times more per row. Every value is escaped (`_HTML`)."""
    from flask_babel import get_translations

    from portal.proposals.hooks import ROME, _months, euro

    t = get_translations()
    loc = current_locale()
    months = _months(loc)
    supports = (t.ngettext("%(num)s sostegno", "%(num)s sostegni", 1).translate(_HTML),
                t.ngettext("%(num)s sostegno", "%(num)s sostegni", 2).translate(_HTML))
    comments = (t.ngettext("%(num)s commento", "%(num)s commenti", 1).translate(_HTML),
                t.ngettext("%(num)s commento", "%(num)s commenti", 2).translate(_HTML))
    cost_label = _("costo stimato").translate(_HTML)
    labels = {state: str(label).translate(_HTML)
              for state, label in services.state_labels().items()}
    badges = {slug: f' <span class="badge theme-badge ms-1">{str(label).translate(_HTML)}'
                    "</span>" for slug, label in all_themes().items()}
    places: dict[tuple[str, str], str] = {}  # (comune, table) -> escaped "comune · table"
    prefix = url_for("proposals.detail", proposal_id=1)[:-1]
    out = []
    for p in page.rows:
        where = places.get((p.comune_name, p.table_name))
        if where is None:
            where = places[(p.comune_name, p.table_name)] = (
                f"{p.comune_name} · {p.table_name}".translate(_HTML))
        day = p.published_at.astimezone(ROME) if p.published_at else None
        cost = (f' <span class="ms-2">{cost_label} '
                f"{euro(p.estimated_cost_cents, loc).translate(_HTML)}</span>"
                if p.estimated_cost_cents is not None else "")
        themes = "".join(badges.get(slug) or f' <span class="badge theme-badge ms-1">'
                         f"{slug.translate(_HTML)}</span>" for slug in (p.themes or "").split())
        state = p.state.translate(_HTML)
        out.append(
            f'<li class="card card-bg mb-3"><div class="card-body">'
            f'<h3 class="h5 card-title mb-1"><a href="{prefix}{p.id}">'
            f"{p.title.translate(_HTML)}</a></h3>"
            f'<p class="small text-secondary mb-2">{where} · '
            f"{f'{day.day} {months[day.month]} {day.year}' if day else ''}</p>"
            f'<p class="mb-2">{p.summary.translate(_HTML)}</p>'
            f'<p class="mb-0 small"><span class="badge state-badge state-{state}">'
            f"{labels.get(p.state, state)}</span>"
            f' <span class="ms-2">{supports[p.support_count != 1] % {"num": p.support_count}}'
            "</span>"
            f' <span class="ms-2">{comments[p.comment_count != 1] % {"num": p.comment_count}}'
            "</span>"
            f"{cost}{themes}</p></div></li>")
    return Markup("\n".join(out))  # noqa: S704 - every value above is escaped


def _filter_options(filters: services.ListFilters):
    from portal.memo import memo
    from portal.tables.models import Table
    from portal.voting.models import Round

    rounds = memo("proposals.rounds", lambda: [tuple(r) for r in db.session.execute(
        select(Round.id, Round.title).order_by(Round.closes_at.desc()).limit(30))])
    table_name = (db.session.scalar(select(Table.name).where(Table.id == filters.table))
                  if filters.table else None)
    return rounds, table_name


@bp.get("/proposte")
@authz.public
def index():
    filters = services.ListFilters(request.args)
    filters.resolve()
    page = services.search(filters)
    page.rows_html = _rows_html(page)
    page.next_url = (url_for("proposals.index", **filters.query_args(dopo=page.next_cursor))
                     if page.next_cursor else None)
    page.prev_url = (url_for("proposals.index", **filters.query_args(prima=page.prev_cursor))
                     if page.prev_cursor else None)
    context = dict(page=page, filters=filters)
    if request.htmx and not request.htmx.boosted:
        return render_template("proposals/_results.html", **context)
    return render_template("proposals/index.html", filters_html=_filters_html(filters),
                           breadcrumbs=[(_("Proposte"), None)], **context)


def _filters_html(filters: services.ListFilters) -> str:
    """The filter form, rendered once per locale and choice for a few seconds (memo)."""
    from portal.memo import memo

    def render() -> str:
        rounds, table_name = _filter_options(filters)
        labels = services.state_labels()
        return render_template("proposals/_filters.html", filters=filters, rounds=rounds,
                               table_name=table_name, themes=theme_catalogue(),
                               states=[(s, labels[s]) for s in PUBLIC_STATES])

    key = "proposals.filters:" + "|".join(str(v) for v in (
        current_locale(), filters.comune_label, filters.comune_unknown, filters.level,
        filters.table, filters.theme, filters.state, filters.round, filters.sort))
    return Markup(memo(key, render))  # noqa: S704 - a rendered (autoescaped) template


# --------------------------------------------------------------------------- one proposal


def _detail_context(proposal: Proposal, **forms):
    """What the proposal's page shows; forms only for those who can use them."""
    from portal.voting import services as voting

    user = current_user
    logged_in = user.is_authenticated
    is_author = logged_in and policies.is_author(user, proposal)
    is_moderator = logged_in and policies.is_moderator_for(user, proposal)
    # (round, entry) or None: the page's read model carries it, an ORM proposal asks for it
    latest = getattr(proposal, "latest", None) if isinstance(
        proposal, services.ProposalPage) else voting.latest_entry_for(proposal.id)
    round_ = vote = None
    if latest is not None and proposal.state == S.PUBLISHED and latest[0].is_open(utcnow()):
        from portal.voting.views import vote_context

        round_ = latest[0]
        vote = vote_context(round_, proposal.id, entry=latest[1])
    events, threads = services.page_rows(proposal.id, with_comments=proposal.is_public)
    context = dict(
        proposal=proposal,
        events=events, history=history_html(events), threads=threads,
        round=round_, vote=vote, latest_round=latest[0] if latest else None,
        is_author=is_author, is_moderator=is_moderator,
        breadcrumbs=[_crumb(), (proposal.title, None)],
    )
    if not logged_in:
        context["public_card"] = public_comment_card
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


def public_comment_card(c) -> Markup:
    """A comment as `comment_card` in proposals/_comments.html renders it for a visitor who
    is not signed in (no links, no moderators' form), formatted here: the macro costs ~80
    calls a comment. tests/proposals/test_page_read.py checks that both give the same HTML."""
    from markupsafe import escape

    from portal.i18n import _template_gettext as t
    from portal.i18n import datetime_filter

    author = c.author
    label = t("Commento di %(name)s", name=author.name if author else t("utente cancellato"))
    if c.is_hidden:
        assoc = c.hidden_by_association
        note = t("Commento nascosto dai moderatori di %(assoc)s. Motivo: %(reason)s",
                 assoc=assoc.name if assoc else t("un'associazione della Rete"),
                 reason=c.hidden_reason)
        inner = f'<p class="mb-0 text-secondary"><em>{note}</em></p>\n    '
    else:
        name = author.name if author and not author.deleted_at else t("Utente cancellato")
        edited = f' · {t("modificato")}' if c.edited_at else ""
        inner = (f'<p class="small text-secondary mb-1"><strong>{escape(name)}</strong> · '
                 f'<time datetime="{escape(c.created_at.isoformat())}">'
                 f'{escape(datetime_filter(c.created_at, "d MMM y, HH:mm"))}</time>{edited}</p>'
                 f'\n    <p class="mb-1 pre-line">{escape(c.body)}</p>\n    ')
    return Markup(  # noqa: S704 - every value above is escaped or a translated Markup
        f'<article class="comment card card-bg mb-2" id="commento-{int(c.id)}" '
        f'aria-label="{label}">\n  <div class="card-body py-2">\n    \n    {inner}'
        f'\n    \n  </div>\n</article>')


def history_html(events) -> Markup:
    """The public history as proposals/_history.html renders it (the same HTML, checked by
    tests/proposals/test_page_read.py), formatted here: the template costs ~200 calls an
    event. The template stays the reference and the source of its strings."""
    from markupsafe import escape

    from portal.i18n import _template_gettext as t
    from portal.i18n import datetime_filter

    if not events:
        return Markup(  # noqa: S704 - a translated string of our catalogue
            f'<ol class="history list-unstyled">\n\n  <li>{t("Ancora nessun evento.")}</li>\n'
            f'\n</ol>')
    parts = ['<ol class="history list-unstyled">\n']
    for e in events:
        kind = e.kind
        if kind == "state":
            if e.to_state == "submitted" and e.from_state == "changes_requested":
                what = f'{t("inviata di nuovo ai moderatori")}\n      '
            elif e.to_state == "submitted":
                what = f'{t("inviata ai moderatori")}\n      '
            elif e.to_state == "merged":
                what = t("unita a un'altra proposta") + "\n      "
            else:
                what = (f'{t("nuovo stato:")} <strong>{escape(services.state_label(e.to_state))}'
                        f'</strong>')
            what = f"\n      {what}\n    "
        elif kind == "hidden":
            what = f'<strong>{t("proposta nascosta")}</strong>\n    '
        elif kind == "unhidden":
            what = f'{t("proposta di nuovo visibile")}\n    '
        elif kind == "comment_hidden":
            what = f'<strong>{t("un commento è stato nascosto")}</strong>\n    '
        elif kind == "comment_unhidden":
            what = f'{t("un commento è di nuovo visibile")}\n    '
        elif (kind == "edited" and isinstance(e.details, dict)
              and e.details.get("absorbed")):
            what = (f'{t("ha assorbito una proposta simile (n. %(id)s)", id=e.details["absorbed"])}'
                    f'\n    ')
        else:
            what = str(escape(kind))
        if e.association:
            who = (f'<span class="text-secondary"> · '
                   f'{t("moderatori di %(name)s", name=e.association.name)}</span>\n    ')
        elif e.table:
            who = f'<span class="text-secondary"> · {escape(e.table.name)}</span>'
        else:
            who = ""
        note = (f'<div class="history-note pre-line">{escape(e.note)}</div>' if e.note else "")
        parts.append(
            f'\n  <li class="history-item mb-2">\n    <time datetime="{escape(e.at.isoformat())}">'
            f'{escape(datetime_filter(e.at, "d MMM y, HH:mm"))}</time> —\n    {what}\n    {who}'
            f'\n    {note}\n  </li>\n')
    parts.append("\n</ol>")
    return Markup("".join(parts))  # noqa: S704 - every value above is escaped


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


def _attach(form, exc: services.ProposalError) -> None:
    field = getattr(form, {"estimated_cost": "estimated_cost", "partners": "partners",
                           "themes": "themes", "table_id": "table_id",
                           "on_behalf_consent": "consent"}.get(exc.field or "", ""), None)
    if field is None or not hasattr(field, "errors"):
        field = form.title
    field.errors = [*field.errors, str(exc)]


@bp.route("/proposte/nuova", methods=["GET", "POST"])
@authz.login_required
def new():
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
            db.session.rollback()
            _attach(form, exc)
        else:
            db.session.commit()
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
    if form.validate_on_submit():
        try:
            services.update_draft(proposal, current_user, **_form_fields(form))
        except services.ProposalError as exc:
            db.session.rollback()
            _attach(form, exc)
        else:
            db.session.commit()
            flash(_("Modifiche salvate."), "success")
            return _back(proposal)
    status = 422 if form.is_submitted() else 200
    return render_template("proposals/form.html", form=form, proposal=proposal,
                           facilitator=False,
                           breadcrumbs=[_crumb(), (proposal.title, url_for(
                               "proposals.detail", proposal_id=proposal.id)),
                               (_("Modifica"), None)]), status


@bp.post("/proposte/<int:proposal_id>/invia")
@authz.login_required
def submit(proposal_id: int):
    proposal = _load(proposal_id)
    authz.require("proposal.submit", proposal)
    if not EmptyForm().validate_on_submit():
        abort(400)
    _apply(lambda: services.submit(proposal, current_user), None,
           _("Proposta inviata ai moderatori: riceverete una risposta entro %(days)d giorni.",
             days=services.MODERATION_DEADLINE_DAYS))
    return _back(proposal)


@bp.post("/proposte/<int:proposal_id>/ritira")
@authz.login_required
def withdraw(proposal_id: int):
    proposal = _load(proposal_id)
    authz.require("proposal.withdraw", proposal)
    form = WithdrawForm()
    if not form.validate_on_submit():
        return _render_detail(proposal, 422, withdraw_form=form)
    services.transition(proposal, S.WITHDRAWN, current_user, form.note.data)
    db.session.commit()
    flash(_("Proposta ritirata."), "info")
    return _back(proposal)


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
    db.session.commit()
    flash(_("Bozza eliminata."), "info")
    return redirect(url_for("proposals.mine"), code=303)


# --------------------------------------------------------------------------- co-proposers


@bp.post("/proposte/<int:proposal_id>/co-proponenti")
@authz.login_required
def invite(proposal_id: int):
    proposal = _load(proposal_id)
    authz.require("proposal.invite", proposal)
    form = InviteForm()
    if form.validate_on_submit():
        from portal.accounts.services import find_user_by_email

        user = find_user_by_email(form.email.data)
        household = user.household if user is not None else None
        if household is None or household.status == HouseholdStatus.REJECTED:
            form.email.errors.append(_("Non troviamo una famiglia della Rete con questo "
                                       "indirizzo."))
        elif _apply(lambda: services.invite_co_proposer(proposal, current_user, household),
                    form.email, _("Invito inviato a %(name)s.", name=household.name)):
            return _back(proposal, "#co-proponenti")
    return _render_detail(proposal, 422, invite_form=form)


@bp.post("/proposte/inviti/<int:invitation_id>")
@authz.login_required
def answer(invitation_id: int):
    invitation = db.session.get(CoProposer, invitation_id) or abort(404)
    authz.require("co_proposer.answer", invitation)
    form = AnswerForm()
    if not form.validate_on_submit():
        flash(_("Scegli se accettare o rifiutare."), "error")
        return redirect(url_for("proposals.mine"), code=303)
    services.answer_invitation(invitation, current_user, form.answer.data == "accept")
    db.session.commit()
    flash(_("Risposta registrata."), "success")
    return redirect(url_for("proposals.mine"), code=303)


# --------------------------------------------------------------------------- moderation


@bp.get("/proposte/moderazione")
@authz.roles(Role.MODERATOR)
def queue():
    from portal.db_setup import utcnow

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
    if form.validate_on_submit() and _apply(
            lambda: services.transition(proposal, form.decision.data, current_user,
                                        form.note.data), form.note,
            lambda: _("Decisione registrata: %(state)s.",
                      state=services.state_label(proposal.state))):
        return redirect(url_for("proposals.queue"), code=303)
    return _render_detail(proposal, 422, moderation_form=form)


@bp.post("/proposte/<int:proposal_id>/unisci")
@authz.roles(Role.MODERATOR)
def merge(proposal_id: int):
    proposal = _load(proposal_id)
    authz.require("proposal.moderate", proposal)
    form = _merge_form(_merge_choices(proposal))
    if not form.validate_on_submit():
        return _render_detail(proposal, 422, merge_form=form)
    from sqlalchemy.exc import OperationalError

    from portal.voting.services import is_conflict

    for _attempt in range(3):  # a transaction that lost a race with votes runs again
        into = _load(form.into.data)
        try:
            services.merge(proposal, into, current_user, form.note.data)
            db.session.commit()
        except services.ProposalError as exc:
            db.session.rollback()
            form.into.errors.append(str(exc))
            return _render_detail(proposal, 422, merge_form=form)
        except OperationalError as exc:
            db.session.rollback()
            if not is_conflict(exc):
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
    if form.validate_on_submit() and _apply(
            lambda: services.hide_proposal(proposal, current_user, form.reason.data),
            form.reason, _("Proposta nascosta; la cronologia pubblica riporta il motivo.")):
        return _back(proposal)
    return _render_detail(proposal, 422, hide_form=form)


@bp.post("/proposte/<int:proposal_id>/mostra")
@authz.roles(Role.MODERATOR)
def unhide(proposal_id: int):
    proposal = _load(proposal_id)
    authz.require("proposal.moderate", proposal)
    if not EmptyForm().validate_on_submit():
        abort(400)
    _apply(lambda: services.unhide_proposal(proposal, current_user), None,
           _("La proposta è di nuovo visibile."))
    return _back(proposal)


@bp.post("/proposte/segnalazioni/<int:report_id>/archivia")
@authz.roles(Role.MODERATOR)
def dismiss(report_id: int):
    entry = db.session.get(Report, report_id) or abort(404)
    authz.require("proposal.moderate", entry.proposal)
    if not EmptyForm().validate_on_submit():
        abort(400)
    services.dismiss_report(entry, current_user)
    db.session.commit()
    flash(_("Segnalazione archiviata senza provvedimenti."), "info")
    return redirect(url_for("proposals.queue"), code=303)


@bp.post("/proposte/<int:proposal_id>/segnala")
@authz.login_required
def report(proposal_id: int):
    proposal = _load(proposal_id)
    authz.require("proposal.report", proposal)
    form = ReportForm()
    if form.validate_on_submit():
        services.report(current_user, proposal, form.reason.data)
        db.session.commit()
        flash(_("Grazie: i moderatori esamineranno la segnalazione."), "success")
        return _back(proposal)
    return _render_detail(proposal, 422, report_form=form)


# --------------------------------------------------------------------------- comments


def _comment(comment_id: int) -> Comment:
    comment = db.session.get(Comment, comment_id)
    if comment is None:
        abort(404)
    authz.require("proposal.view", comment.proposal)
    return comment


@bp.post("/proposte/<int:proposal_id>/commenti")
@authz.login_required
def comment(proposal_id: int):
    proposal = _load(proposal_id)
    authz.require("proposal.comment", proposal)
    form = CommentForm()
    if form.validate_on_submit():
        parent = None
        if form.parent_id.data:
            parent = db.session.get(Comment, int(form.parent_id.data))
            if parent is None or parent.proposal_id != proposal.id:
                abort(404)
        try:
            created = services.add_comment(proposal, current_user, form.body.data, parent)
        except services.ProposalError as exc:
            db.session.rollback()
            form.body.errors.append(str(exc))
        else:
            db.session.commit()
            if request.htmx:
                return render_template("proposals/_comments.html",
                                       **_detail_context(proposal))
            return _back(proposal, f"#commento-{created.id}")
    if request.htmx:
        return render_template("proposals/_comments.html",
                               **_detail_context(proposal, comment_form=form)), 422
    return _render_detail(proposal, 422, comment_form=form)


@bp.route("/proposte/commenti/<int:comment_id>/modifica", methods=["GET", "POST"])
@authz.login_required
def edit_comment(comment_id: int):
    comment = _comment(comment_id)
    authz.require("comment.edit", comment)
    form = CommentForm(obj=None if request.method == "POST" else comment)
    if form.validate_on_submit():
        services.edit_comment(comment, current_user, form.body.data)
        db.session.commit()
        return _back(comment.proposal, f"#commento-{comment.id}")
    return _comment_page("proposals/comment_edit.html", comment, form,
                         _("Modifica il commento"))


@bp.route("/proposte/commenti/<int:comment_id>/segnala", methods=["GET", "POST"])
@authz.login_required
def report_comment(comment_id: int):
    comment = _comment(comment_id)
    authz.require("comment.report", comment)
    form = ReportForm()
    if form.validate_on_submit():
        services.report(current_user, comment.proposal, form.reason.data, comment)
        db.session.commit()
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
    if form.validate_on_submit() and _apply(
            lambda: services.hide_comment(comment, current_user, form.reason.data),
            form.reason, _("Commento nascosto; la cronologia pubblica riporta il motivo.")):
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
    _apply(lambda: services.unhide_comment(comment, current_user), None,
           _("Il commento è di nuovo visibile."))
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


