"""Pages of voting rounds: the rounds, voting (htmx or plain forms), results and their CSV."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from portal import authz
from portal.accounts.services import session_token
from portal.authz import Role
from portal.core.views import safe_next
from portal.db_setup import utcnow
from portal.extensions import db
from portal.i18n import kept_text
from portal.voting import bp, services
from portal.voting.forms import RoundForm
from portal.voting.models import Round, RoundEntry, RoundRule, RoundState


def _crumb():
    return (_("Votazioni"), url_for("voting.index"))


def _load(round_id: int) -> Round:
    round_ = db.session.get(Round, round_id)
    if round_ is None:
        abort(404)
    return round_


def _household():
    if not current_user.is_authenticated:
        return None
    return current_user.household


def vote_context(round_: Round, proposal_id: int, entry: RoundEntry | None = None,
                 ballot: services.Ballot | None = None, error: str | None = None) -> dict:
    """What the vote button and counter of one proposal in one round need."""
    if entry is None:
        entry = db.session.get(RoundEntry, (round_.id, proposal_id))
    household = _household()
    now = utcnow()
    state = services.round_state(round_, now)
    problem = None
    if current_user.is_authenticated:
        problem = services.eligibility_problem(round_, household)
    if ballot is None:
        ballot = services.ballot(round_, household.id if household and not problem else None)
    return dict(round=round_, entry=entry, proposal_id=proposal_id, state=state,
                logged_in=current_user.is_authenticated,
                voted=ballot.has(proposal_id), ballot=ballot, problem=problem, error=error,
                RoundRule=RoundRule, RoundState=RoundState)


def ballot_summary(round_: Round, ballot: services.Ballot) -> dict:
    remaining_supports = remaining_cents = None
    if round_.rule == RoundRule.SUPPORTS:
        remaining_supports = max(0, round_.max_supports - ballot.used_supports)
    else:
        remaining_cents = max(0, round_.budget_cents - ballot.used_cents)
    return dict(remaining_supports=remaining_supports, remaining_cents=remaining_cents)


# --------------------------------------------------------------------------- rounds


@bp.get("/votazioni")
@authz.public
def index():
    from portal.tables.models import Table

    table_id = request.args.get("tavolo", type=int)
    table = db.session.get(Table, table_id) if table_id and 0 < table_id < 2**31 else None
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


@bp.get("/votazioni/<int:round_id>")
@authz.public
def show(round_id: int):
    round_ = _load(round_id)
    state = services.round_state(round_)
    if state == RoundState.CLOSED:
        services.ensure_results(round_)
    entries = services.entries_of(round_, order="votes" if state == RoundState.CLOSED else "id")
    household = _household()
    problem = (services.eligibility_problem(round_, household)
               if current_user.is_authenticated else None)
    ballot = services.ballot(round_, household.id if household and not problem else None)
    return render_template(
        "voting/round.html", round=round_, entries=entries, state=state, ballot=ballot,
        problem=problem, summary=ballot_summary(round_, ballot), RoundState=RoundState,
        RoundRule=RoundRule, can_manage=services.can_manage_table(current_user, round_.table),
        vote_context=lambda entry: vote_context(round_, entry.proposal_id, entry, ballot),
        breadcrumbs=[_crumb(), (round_.title, None)])


def _round_form(table, round_: Round | None = None, **kwargs) -> RoundForm:
    form = RoundForm(**kwargs)
    form.proposals.choices = [
        (p.id, p.title + (f" — {p.estimated_cost_cents / 100:,.2f} €".replace(",", "X")
                          .replace(".", ",").replace("X", ".")
                          if p.estimated_cost_cents is not None else ""))
        for p in services.candidates(table.id, round_)]
    return form


def _round_values(form: RoundForm) -> dict:
    return dict(title=form.title.data, description=form.description.data,
                opens_at=form.opens_at.data, closes_at=form.closes_at.data, rule=form.rule.data,
                max_supports=form.max_supports.data, threshold=form.threshold.data,
                budget_cents=form.budget.data, proposal_ids=form.proposals.data or [])


def _attach(form: RoundForm, exc: services.VotingError) -> None:
    name = {"budget": "budget", "proposals": "proposals", "opens_at": "opens_at",
            "closes_at": "closes_at", "max_supports": "max_supports",
            "threshold": "threshold", "rule": "rule"}.get(exc.field or "", "title")
    field = getattr(form, name)
    field.errors = [*field.errors, str(exc)]


@bp.route("/votazioni/nuova", methods=["GET", "POST"])
@authz.roles(Role.TABLE_SECRETARY, Role.COMUNE_OFFICER)
def new():
    from portal.tables.models import Table

    table_id = request.args.get("tavolo", type=int)
    tables = services.managed_tables(current_user)
    if not table_id:
        if len(tables) == 1:
            return redirect(url_for("voting.new", tavolo=tables[0].id))
        return render_template("voting/choose_table.html", tables=tables,
                               breadcrumbs=[_crumb(), (_("Nuova votazione"), None)])
    table = db.session.get(Table, table_id) if 0 < table_id < 2**31 else None
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
            db.session.rollback()
            _attach(form, exc)
        else:
            db.session.commit()
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
    if form.validate_on_submit():
        try:
            services.update_round(round_, current_user, **_round_values(form))
        except services.VotingError as exc:
            db.session.rollback()
            if frozen or services.round_state(round_) != RoundState.SCHEDULED:
                # the refusal itself is audited: keep that row
                from portal.core.services import audit

                audit("round.change_refused", round_, {"rule": form.rule.data})
                db.session.commit()
            _attach(form, exc)
        else:
            db.session.commit()
            flash(_("Votazione aggiornata."), "success")
            return redirect(url_for("voting.show", round_id=round_.id), code=303)
    status = 422 if form.is_submitted() else 200
    return render_template("voting/form.html", form=form, table=round_.table, round=round_,
                           frozen=frozen,
                           breadcrumbs=[_crumb(), (round_.title, url_for(
                               "voting.show", round_id=round_.id)), (_("Modifica"), None)]
                           ), status


# --------------------------------------------------------------------------- votes


def _next_url() -> str | None:
    """The page the vote box lives on: the form's `next`, or the page htmx reports."""
    from urllib.parse import urlsplit

    current = request.headers.get("HX-Current-URL")
    if current:
        parts = urlsplit(current)
        if parts.netloc == request.host:
            return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""), "") or None
    return safe_next(request.form.get("next"), "") or None


def vote_box_html(round_, proposal_id: int, vote_count: int, title: str, voted: bool,
                  next_url: str, summary: dict) -> Markup:
    """The vote box of an open round after the household's change, with its ballot summary
    (out of band), as voting/_vote.html and _ballot.html render it for a signed-in household:
    the same HTML (tests/voting/test_vote_box.py checks it byte for byte in Italian and
    English), formatted here because the templates cost ~1,000 calls on every vote. The
    templates stay the reference and the source of the strings."""
    from markupsafe import escape

    from portal.i18n import kept_gettext as t
    from portal.i18n import kept_ngettext, money, number
    from portal.security import answer_csrf_token

    rid, pid = int(round_.id), int(proposal_id)
    supports = round_.rule == RoundRule.SUPPORTS
    action = url_for("voting.withdraw" if voted else "voting.vote", round_id=rid,
                     proposal_id=pid)
    done = ""
    if voted:
        note = (t("La tua famiglia sostiene questa proposta.") if supports
                else t("Nella scheda della tua famiglia."))
        done = f'<p class="small mb-1 vote-done" role="status">{note}</p>\n        '
        label = t("Ritira il sostegno") if supports else t("Togli dalla scheda")
        style = "btn-outline-primary"
    else:
        label = t("Sostieni") if supports else t("Metti nella scheda")
        style = "btn-primary"
    if summary["remaining_supports"] is not None:
        left = summary["remaining_supports"]
        remaining = Markup(  # noqa: S704 - our own catalogue; Jinja's ngettext does the same
            kept_ngettext("Ti resta %(num)d sostegno.", "Ti restano %(num)d sostegni.", left)
        ) % {"num": left}
        remaining = f"{remaining}\n\n"
    elif summary["remaining_cents"] is not None:
        remaining = t("Budget ancora disponibile nella tua scheda: %(money)s.",
                      money=money(summary["remaining_cents"]))
        remaining = f"{remaining}\n"
    else:
        remaining = "\n"
    return Markup(  # noqa: S704 - every value is escaped, a number or our own catalogue's
        f'\n<div class="vote-box" id="vote-{rid}-{pid}">\n  <p class="vote-count mb-2">\n'
        f'    <span class="vote-number">{escape(number(vote_count))}</span>\n'
        f'    {t("sostegni") if supports else t("voti")}\n  </p>\n  \n    \n'
        f'      <form method="post" action="{action}"\n            hx-post="{action}"\n'
        f'            hx-target="#vote-{rid}-{pid}" hx-swap="outerHTML" '
        f'hx-disabled-elt="find button">\n'
        f'        <input type="hidden" name="csrf_token" value="{escape(answer_csrf_token())}">\n'
        f'        <input type="hidden" name="next" value="{escape(next_url)}">\n'
        f'        {done}<button type="submit" class="btn {style} btn-sm">{label}'
        f'<span class="visually-hidden"> — {escape(title)}</span></button>\n'
        f'      </form>\n    \n  \n  \n</div>\n'
        f'<p id="ballot-{rid}" class="ballot-summary" hx-swap-oob="true" role="status">\n'
        f'{remaining}</p>')


def _vote_box(outcome: services.VoteOutcome, proposal_id: int, voted: bool):
    """The vote box after a change, from what the ballot transaction read: no query."""
    from types import SimpleNamespace as NS

    round_ = outcome.round
    used = NS(used_supports=outcome.used_supports, used_cents=outcome.used_cents)
    return vote_box_html(round_, proposal_id, outcome.vote_count, outcome.title, voted,
                         _next_url() or request.path, ballot_summary(round_, used))


def _vote_answer(round_id: int, proposal_id: int, error: str | None = None,
                 changed: bool = False):
    if request.htmx:
        db.session.expire_all()
        round_ = _load(round_id)
        context = vote_context(round_, proposal_id, error=error)
        return render_template("voting/_vote.html", v=context, oob=True,
                               next_url=_next_url(),
                               summary=ballot_summary(round_, context["ballot"])
                               ), 422 if error else 200
    if error:
        flash(error, "error")
    elif changed:
        # (kept per language: a vote's redirect translates nothing else)
        flash(kept_text("Voto registrato.") if request.endpoint == "voting.vote"
              else kept_text("Voto ritirato."), "success")
    target = safe_next(request.form.get("next"), url_for("voting.show", round_id=round_id))
    return redirect(target, code=303)


def _ids_ok(*ids: int) -> bool:
    return all(0 < i < 2**31 for i in ids)


def _ballot_change(round_id: int, proposal_id: int, change, voted: bool):
    """Run a vote or a withdrawal for the signed-in user's household (the service's own short
    transaction, whose first read also checks the login session) and answer it: the vote box
    (htmx), or a redirect with a message."""
    if not _ids_ok(round_id, proposal_id):
        abort(404)
    try:
        outcome = change(round_id, proposal_id, session_token())
    except services.NotSignedIn:
        return authz.unauthorized()
    except services.RoundNotFound:
        abort(404)
    except services.VotingError as exc:
        return _vote_answer(round_id, proposal_id, error=str(exc))
    if request.htmx:
        return _vote_box(outcome, proposal_id, voted=voted)
    return _vote_answer(round_id, proposal_id, changed=outcome.changed)


@bp.post("/votazioni/<int:round_id>/proposte/<int:proposal_id>/voto")
@authz.login_checked_by_view
def vote(round_id: int, proposal_id: int):
    """Cast a vote: authenticated, checked, locked and counted in the service's own short
    transaction.

    The CSRF token was checked by CSRFProtect before the view (every POST of the portal).
    """
    return _ballot_change(round_id, proposal_id, services.cast_vote_in_session, voted=True)


@bp.post("/votazioni/<int:round_id>/proposte/<int:proposal_id>/ritira")
@authz.login_checked_by_view
def withdraw(round_id: int, proposal_id: int):
    return _ballot_change(round_id, proposal_id, services.withdraw_vote_in_session,
                          voted=False)


@bp.get("/votazioni/<int:round_id>/proposte/<int:proposal_id>/conteggio")
@authz.public
def count(round_id: int, proposal_id: int):
    """The counter alone, polled by htmx so that counts update live."""
    round_ = _load(round_id)
    entry = db.session.get(RoundEntry, (round_.id, proposal_id)) or abort(404)
    return render_template("voting/_count.html", round=round_, entry=entry)


# --------------------------------------------------------------------------- results


def _closed(round_id: int) -> Round:
    round_ = _load(round_id)
    if services.round_state(round_) != RoundState.CLOSED:
        abort(404)
    services.ensure_results(round_)
    return round_


@bp.get("/votazioni/<int:round_id>/risultati")
@authz.public
def results(round_id: int):
    round_ = _load(round_id)
    if services.round_state(round_) != RoundState.CLOSED:
        flash(_("I risultati saranno pubblicati alla chiusura della votazione."), "info")
        return redirect(url_for("voting.show", round_id=round_.id))
    services.ensure_results(round_)
    entries = services.entries_of(round_)
    sample = db.session.execute(
        select(RoundEntry.proposal_id).where(RoundEntry.round_id == round_.id).limit(1)).first()
    return render_template(
        "voting/results.html", round=round_, entries=entries, RoundRule=RoundRule,
        has_entries=sample is not None,
        breadcrumbs=[_crumb(), (round_.title, url_for("voting.show", round_id=round_.id)),
                     (_("Risultati"), None)])


@bp.get("/votazioni/<int:round_id>/risultati.csv")
@authz.public
def results_csv(round_id: int):
    round_ = _closed(round_id)
    return Response(services.results_csv(round_), mimetype="text/csv",
                    headers={"Content-Disposition":
                             f"attachment; filename=votazione-{round_.id}-risultati.csv"})


@bp.get("/votazioni/<int:round_id>/voti.csv")
@authz.public
def votes_csv(round_id: int):
    round_ = _closed(round_id)
    # Streamed: the votes are bucketed on disk inside the request, then sent sorted.
    return Response(services.votes_csv(round_), mimetype="text/csv",
                    headers={"Content-Disposition":
                             f"attachment; filename=votazione-{round_.id}-voti.csv",
                             "X-Content-Type-Options": "nosniff"})
