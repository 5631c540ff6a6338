"""Pages of voting rounds: the rounds, voting (htmx or plain forms), results and their CSV.

The request commits (portal/db_setup.py): a vote or a form the services accepted is committed
when the view answers, a refusal is rolled back. GETs never write: a round past its closing
time is shown closed with its results computed on the spot until `flask voting close` has
stored them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import defer, joinedload

from portal import authz
from portal.accounts.policies import require_confirmed
from portal.authz import Role
from portal.core.services import audit
from portal.db_setup import utcnow
from portal.extensions import db
from portal.i18n import money
from portal.proposals import services as proposals
from portal.proposals import themes as proposal_themes
from portal.proposals.models import ProposalState
from portal.voting import bp, hooks, services
from portal.voting.forms import RoundForm, VoteForm
from portal.voting.models import Round, RoundEntry, RoundRule, RoundState
from portal.web import id_arg, parse_int, refuse, safe_next, wants_partial


def _crumb():
    return (_("Votazioni"), url_for("voting.index"))


def _load(round_id: int) -> Round:
    return db.get_or_404(Round, round_id)


def _household():
    if not current_user.is_authenticated:
        return None
    return current_user.household


def vote_context(round_: Round, proposal_id: int, entry: RoundEntry | None = None,
                 ballot: services.Ballot | None = None, error: str | None = None,
                 form: VoteForm | None = None, household=None) -> dict:
    """What the vote box of one proposal in one round (voting/_vote.html) needs."""
    if entry is None:
        entry = db.session.get(RoundEntry, (round_.id, proposal_id))
    if household is None:
        household = _household()
    problem = None
    if current_user.is_authenticated:
        problem = services.eligibility_problem(round_, household)
    if ballot is None:
        ballot = services.ballot(round_, household.id if household and not problem else None)
    return dict(round=round_, entry=entry, proposal_id=proposal_id,
                state=services.round_state(round_), logged_in=current_user.is_authenticated,
                voted=ballot.has(proposal_id), ballot=ballot, problem=problem, error=error,
                form=form or VoteForm(formdata=None))


def ballot_summary(round_: Round, ballot: services.Ballot) -> dict:
    remaining_supports = remaining_cents = None
    if round_.rule == RoundRule.SUPPORTS:
        remaining_supports = max(0, round_.max_supports - ballot.used_supports)
    else:
        remaining_cents = max(0, round_.budget_cents - ballot.used_cents)
    return dict(remaining_supports=remaining_supports, remaining_cents=remaining_cents,
                used_supports=ballot.used_supports, used_cents=ballot.used_cents)


# --------------------------------------------------------------------------- a proposal's page


def proposal_panel(proposal):
    """The proposal's latest round on its page (registered with the proposals module): the
    round's link and, while it is open and the proposal can be voted, the vote box."""
    if proposal.state == ProposalState.PUBLISHED:
        running = services.open_round_without(proposal)
        if running is not None:
            return "voting/_proposal_waiting.html", dict(round=running)
    latest = services.latest_entry_for(proposal.id)
    if latest is None:
        return None
    round_, entry = latest
    vote = None
    if proposal.state == ProposalState.PUBLISHED and round_.is_open(utcnow()):
        vote = vote_context(round_, proposal.id, entry=entry)
    return "voting/_proposal_panel.html", dict(round=round_, entry=entry, vote=vote)


def register_with_proposals() -> None:
    """What the proposals module (below) needs from voting, registered at init_app."""
    proposals.register_proposal_panel(proposal_panel)
    proposals.register_supporters(services.supporter_households)
    proposals.register_round_filter(services.round_options, services.round_proposal_ids)
    proposals.merge_blocked.connect(services.merge_refusal)
    proposals.proposal_merged.connect(services.on_merge)


# --------------------------------------------------------------------------- rounds


@bp.get("/votazioni")
@authz.public
def index():
    table_id = id_arg("tavolo")
    table = hooks.table(table_id) if table_id else None
    rounds = services.rounds_for(table.id if table else None)
    now = utcnow()
    groups = {state: [] for state in RoundState}
    for r in rounds:
        groups[services.round_state(r, now)].append(r)
    manageable = (services.managed_tables(current_user)
                  if current_user.is_authenticated else [])
    return render_template("voting/index.html", groups=groups, table=table,
                           manageable=manageable, RoundState=RoundState,
                           breadcrumbs=[(_("Votazioni"), None)])


#: proposals on one page of a round's list
ROUND_PAGE = 20


def _here() -> str:
    """This page's path and query: where a plain vote comes back to (same page, filters)."""
    return request.full_path.rstrip("?")


@bp.get("/votazioni/<int:round_id>")
@authz.public
def show(round_id: int):
    """The round, its rules, the household's ballot and one page of its proposals (filters,
    sort and a cursor in the query string); htmx asks for the list alone."""
    # The table with the round: its Comune says who votes, its name heads the page. The
    # stored results (every step of the count) stay unread: the entries say which were
    # selected once they are stored.
    round_ = db.get_or_404(Round, round_id,
                           options=[joinedload(Round.table), defer(Round.results)])
    state = services.round_state(round_)
    closed = state == RoundState.CLOSED
    selected = (services.selected_ids(services.results_of(round_))
                if closed and round_.results_at is None else set())
    household = _household()
    problem = (services.eligibility_problem(round_, household)
               if current_user.is_authenticated else None)
    voter_id = household.id if household and not problem else None
    ballot = services.ballot(round_, voter_id)
    filters = services.RoundFilters(request.args, round_,
                                    default="sostegni" if closed else "elenco")
    page = services.round_page(round_, filters, voter_id, per_page=ROUND_PAGE)
    # What every vote box of the page shares, worked out once for the page.
    box = dict(round=round_, state=state, logged_in=current_user.is_authenticated,
               ballot=ballot, problem=problem, error=None, form=VoteForm(formdata=None))
    rows = [(entry, dict(box, entry=entry, proposal_id=entry.proposal_id,
                         voted=ballot.has(entry.proposal_id))) for entry in page.entries]
    context = dict(round=round_, page=page, rows=rows, filters=filters, state=state,
                   ballot=ballot, problem=problem, summary=ballot_summary(round_, ballot),
                   selected=selected, next_url=_here(), RoundState=RoundState,
                   RoundRule=RoundRule)
    if wants_partial() and request.headers.get("HX-Target") == f"round-list-{round_.id}":
        return render_template("voting/_round_list.html", **context)
    return render_template(
        "voting/round.html", **context, themes=proposal_themes.themes(),
        # (only a round still to open offers its managers a change)
        can_manage=(state == RoundState.SCHEDULED
                    and services.can_manage_table(current_user, round_.table)),
        breadcrumbs=[_crumb(), (round_.title, None)])


def _round_form(table, round_: Round | None = None, **kwargs) -> RoundForm:
    form = RoundForm(**kwargs)
    form.proposals.choices = [
        (p.id, p.title + (f" — {money(p.estimated_cost_cents)}"
                          if p.estimated_cost_cents is not None else ""))
        for p in services.candidates(table.id, round_)]
    return form


def _round_values(form: RoundForm) -> dict:
    return dict(title=form.title.data, description=form.description.data,
                opens_at=form.opens_at.data, closes_at=form.closes_at.data, rule=form.rule.data,
                max_supports=form.max_supports.data, threshold=form.threshold.data,
                budget_cents=form.budget.data, proposal_ids=form.proposals.data or [])


@bp.route("/votazioni/nuova", methods=["GET", "POST"])
@authz.roles(Role.TABLE_SECRETARY, Role.COMUNE_OFFICER)
def new():
    table_id = id_arg("tavolo")
    if not table_id:
        tables = services.managed_tables(current_user)
        if len(tables) == 1:
            return redirect(url_for("voting.new", tavolo=tables[0].id))
        return render_template("voting/choose_table.html", tables=tables,
                               breadcrumbs=[_crumb(), (_("Nuova votazione"), None)])
    table = hooks.table(table_id) if 0 < table_id < 2**31 else None
    if table is None:
        abort(404)
    if not services.can_manage_table(current_user, table):
        abort(403)
    form = _round_form(table)
    if not form.is_submitted():
        form.proposals.data = [value for value, _label in form.proposals.choices]
        form.rule.data = "supports"
        form.max_supports.data, form.threshold.data = 3, 10
    if form.validate_on_submit():
        try:
            round_ = services.create_round(current_user, table, **_round_values(form))
        except services.VotingError as exc:
            refuse(form, exc, "title")
        else:
            flash(_("Votazione programmata."), "success")
            return redirect(url_for("voting.show", round_id=round_.id), code=303)
    status = 422 if form.is_submitted() else 200
    return render_template("voting/form.html", form=form, table=table, round=None,
                           breadcrumbs=[_crumb(), (_("Nuova votazione"), None)]), status


@bp.route("/votazioni/<int:round_id>/modifica", methods=["GET", "POST"])
@authz.roles(Role.TABLE_SECRETARY, Role.COMUNE_OFFICER)
def edit(round_id: int):
    round_ = _load(round_id)
    if not services.can_manage_table(current_user, round_.table):
        abort(403)
    form = _round_form(round_.table, round_, obj=None if request.method == "POST" else round_)
    if not form.is_submitted():
        form.proposals.data = [e.proposal_id for e in round_.entries]
        form.budget.data = round_.budget_cents
    frozen = services.round_state(round_) != RoundState.SCHEDULED
    if frozen:
        # an open round keeps its rule, window and proposals: the form shows them as text,
        # with the reason, and edits only its title and description
        if form.is_submitted() and any(request.form.get(name) not in (None, "")
                                       for name in services.FROZEN_FIELDS):
            form.form_errors.append(_("La votazione è già aperta: regola, date e proposte non "
                                      "si possono più cambiare."))
            audit("round.change_refused", round_, {"rule": request.form.get("rule")})
            db.session.commit()  # the attempt is on record although the request is refused
            return _edit_page(round_, form, frozen, 422)
        for name in services.FROZEN_FIELDS:
            delattr(form, name)
        if form.validate_on_submit():
            services.describe_round(round_, current_user, title=form.title.data,
                                    description=form.description.data)
            flash(_("Votazione aggiornata."), "success")
            return redirect(url_for("voting.show", round_id=round_.id), code=303)
        return _edit_page(round_, form, frozen, 422 if form.is_submitted() else 200)
    if form.validate_on_submit():
        try:
            services.update_round(round_, current_user, **_round_values(form))
        except services.VotingError as exc:
            refuse(form, exc, "title")
            if frozen or services.round_state(round_) != RoundState.SCHEDULED:
                # An attempt to change an open round is itself on record: this row is kept
                # although the request, refused, rolls everything else back.
                audit("round.change_refused", round_, {"rule": form.rule.data})
                db.session.commit()
        else:
            flash(_("Votazione aggiornata."), "success")
            return redirect(url_for("voting.show", round_id=round_.id), code=303)
    return _edit_page(round_, form, frozen, 422 if form.is_submitted() else 200)


def _edit_page(round_: Round, form: RoundForm, frozen: bool, status: int):
    return render_template("voting/form.html", form=form, table=round_.table, round=round_,
                           frozen=frozen,
                           breadcrumbs=[_crumb(), (round_.title, url_for(
                               "voting.show", round_id=round_.id)), (_("Modifica"), None)]
                           ), status


# --------------------------------------------------------------------------- votes


def _next_url(form: VoteForm) -> str | None:
    """The page the vote box lives on: the page htmx reports, or the form's `next`."""
    current = request.headers.get("HX-Current-URL")
    if current:
        parts = urlsplit(current)
        if parts.netloc == request.host:
            return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""), "") or None
    return safe_next(form.next.data, "") or None


def _ballot_change(round_id: int, proposal_id: int, change, done: str):
    """Run a vote or a withdrawal for the signed-in user's household and answer it: the
    vote box (htmx, 422 with the reason when refused), or a redirect with a message."""
    form = VoteForm()
    error = outcome = None
    try:
        outcome = change(round_id, proposal_id, current_user.household_id)
    except services.RoundNotFound:
        abort(404)
    except services.VotingError as exc:
        db.session.rollback()
        error = str(exc)
    next_url = _next_url(form)
    if wants_partial():
        if outcome is not None:  # what the change read under its lock is still current
            round_ = outcome.round
            context = vote_context(round_, proposal_id, entry=outcome.entry,
                                   ballot=outcome.ballot, form=form,
                                   household=outcome.household)
        else:
            round_ = _load(round_id)
            context = vote_context(round_, proposal_id, error=error, form=form)
        if context["entry"] is None:  # not in the round: there is no box to show
            abort(404)
        return render_template("voting/_vote.html", v=context, oob=True, next_url=next_url,
                               summary=ballot_summary(round_, context["ballot"])
                               ), 422 if error else 200
    if error:
        flash(error, "error")
    elif outcome.changed:
        flash(done, "success")
    return redirect(next_url or url_for("voting.show", round_id=round_id), code=303)


@bp.post("/votazioni/<int:round_id>/proposte/<int:proposal_id>/voto")
@authz.login_required
def vote(round_id: int, proposal_id: int):
    """Cast a vote (CSRFProtect checked the token before the view, as on every POST)."""
    require_confirmed()
    return _ballot_change(
        round_id, proposal_id,
        lambda rid, pid, hid: services.cast_vote(rid, pid, hid, current_user.id),
        _("Voto registrato."))


@bp.post("/votazioni/<int:round_id>/proposte/<int:proposal_id>/ritira")
@authz.login_required
def withdraw(round_id: int, proposal_id: int):
    return _ballot_change(round_id, proposal_id, services.withdraw_vote, _("Voto ritirato."))


@bp.get("/votazioni/<int:round_id>/proposte/<int:proposal_id>/conteggio")
@authz.public
def count(round_id: int, proposal_id: int):
    """The counter alone, polled by htmx so that counts update live."""
    entry = db.get_or_404(RoundEntry, (round_id, proposal_id))
    return render_template("voting/_count.html", entry=entry)


# --------------------------------------------------------------------------- results


def _closed(round_id: int) -> tuple[Round, dict]:
    round_ = _load(round_id)
    results = services.results_of(round_)
    if results is None:
        abort(404)
    return round_, results


#: rows on one page of a round's results
RESULTS_PAGE = 50


@bp.get("/votazioni/<int:round_id>/risultati")
@authz.public
def results(round_id: int):
    """The published computation, a page of steps at a time: the cursor is the rank of the
    first step shown (the stored steps never move once the round is closed)."""
    round_ = db.get_or_404(Round, round_id, options=[joinedload(Round.table)])
    results = services.results_of(round_)
    if results is None:
        flash(_("I risultati saranno pubblicati alla chiusura della votazione."), "info")
        return redirect(url_for("voting.show", round_id=round_.id))
    steps = results.get("steps", [])
    start = parse_int(request.args.get("da"), 1, max(1, len(steps))) or 1
    shown = steps[start - 1:start - 1 + RESULTS_PAGE]
    return render_template(
        "voting/results.html", round=round_, results=results, RoundRule=RoundRule,
        steps=shown, start=start, total=len(steps),
        next_start=start + RESULTS_PAGE if start - 1 + RESULTS_PAGE < len(steps) else None,
        prev_start=max(1, start - RESULTS_PAGE) if start > 1 else None,
        breadcrumbs=[_crumb(), (round_.title, url_for("voting.show", round_id=round_.id)),
                     (_("Risultati"), None)])


@bp.get("/votazioni/<int:round_id>/risultati.csv")
@authz.public
def results_csv(round_id: int):
    round_, results = _closed(round_id)
    office = request.args.get("formato") == "excel"
    name = f"votazione-{round_.id}-risultati{'-excel' if office else ''}.csv"
    return Response(services.results_csv(round_, results, office), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.get("/votazioni/<int:round_id>/voti.csv")
@authz.public
def votes_csv(round_id: int):
    round_ = _load(round_id)
    if services.round_state(round_) != RoundState.CLOSED:
        abort(404)
    # Streamed: the votes are bucketed on disk inside the request, then sent sorted.
    return Response(services.votes_csv(round_), mimetype="text/csv",
                    headers={"Content-Disposition":
                             f"attachment; filename=votazione-{round_.id}-voti.csv",
                             "X-Content-Type-Options": "nosniff"})
