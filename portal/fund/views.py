"""Public accounts of the funds (/fondo) and the fund managers' pages (/fondo/<slug>/gestione).

The public pages read only the figures the ledger keeps (balances, monthly totals, campaign
totals) and anonymised movements; the manager's forms post through the ledger with the
idempotency key the form was shown with.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from types import SimpleNamespace

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from portal import authz
from portal.authz import Role
from portal.db_setup import utcnow
from portal.extensions import db
from portal.fund import bp, forms, services
from portal.fund.ledger import IdempotencyConflict, LedgerError, find_fund, fund_for
from portal.fund.models import FundCampaign, FundTransaction
from portal.i18n import machine_time
from portal.web import id_arg, page_arg, refuse

PAGE = 25
FUNDS_PAGE = 50


def _place_or_404(slug: str) -> services.Place:
    place = services.place_for(slug)
    if place is None:
        abort(404)
    return place


def _today() -> date:
    now = utcnow()
    return now.astimezone(services.ledger.ROME).date()


def _public_context(place: services.Place) -> dict:
    fund = find_fund(place.comune_id)
    return dict(place=place, fund=fund, summary=services.summary(fund, today=_today()),
                campaigns=services.campaigns(fund), label=services.category_label,
                manage=authz.can("fund.manage", place))


@bp.get("/fondo")
@authz.public
def index():
    """The Rete's fund and every Comune's."""
    page = page_arg()
    funds, total = services.funds_overview(page, FUNDS_PAGE)
    if page > 1 and not funds:
        abort(404)
    pages = SimpleNamespace(
        prev_url=url_for("fund.index", pagina=page - 1) if page > 1 else None,
        next_url=url_for("fund.index", pagina=page + 1) if page * FUNDS_PAGE < total else None)
    context = _public_context(services.place_for(services.RETE))
    return render_template("fund/index.html", funds=funds, total=total, pages=pages, **context)


@bp.get("/fondo/<slug>")
@authz.public
def fund_page(slug: str):
    if slug == services.RETE:
        return redirect(url_for("fund.index"), 301)
    place = _place_or_404(slug)
    return render_template("fund/fund.html", **_public_context(place))


@bp.get("/fondo/<slug>/movimenti.csv")
@authz.public
def movements_csv(slug: str):
    """Every movement, anonymised: date, kind, category, amount, memo (no names)."""
    place = _place_or_404(slug)
    fund = find_fund(place.comune_id)
    read = services.public_rows(fund) if fund is not None else None

    def rows():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["data", "tipo", "categoria", "importo_euro", "descrizione"])
        if read is not None:
            for n, (at, kind, category, cents, memo) in enumerate(read()):
                sign = "-" if cents < 0 else ""
                whole, rest = divmod(abs(cents), 100)
                writer.writerow([machine_time(at), kind, category, f"{sign}{whole}.{rest:02d}",
                                 memo])
                if n % 500 == 499:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(rows()), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="fondo-{place.slug}-movimenti.csv"')
    return response


# --------------------------------------------------------------------------- managers


@authz.policy("fund.manage")
def _may_manage(user, place) -> bool:
    return services.may_manage(user, place.comune_id)


def _managed(slug: str) -> services.Place:
    place = _place_or_404(slug)
    authz.require("fund.manage", place)
    return place


def _manager_forms(place, fund, today: date, **given) -> dict:
    campaigns = services.open_campaigns(fund, today)
    donation = given.get("donation") or forms.DonationForm(
        campaigns=campaigns, formdata=None, key=forms.new_key())
    allocation = given.get("allocation") or forms.AllocationForm(formdata=None,
                                                                 key=forms.new_key())
    campaign = given.get("campaign") or forms.CampaignForm(
        formdata=None, proposals=services.campaign_proposals(fund, place.comune_id),
        opens_on=today)
    return dict(donation_form=donation, allocation_form=allocation, campaign_form=campaign)


def _manager_page(place: services.Place, status: int = 200, **given):
    fund = find_fund(place.comune_id)  # created by the first movement, not by a visit
    before = id_arg("prima")
    rows, next_id = services.movements(fund, before, PAGE)
    context = dict(
        place=place, fund=fund, summary=services.summary(fund, today=_today()),
        rows=rows, signed=services.signed_amounts(fund, rows),
        reversed=services.reversed_ids(rows), donors=services.donors(rows),
        next_url=url_for("fund.manage", slug=place.slug, prima=next_id) if next_id else None,
        first_url=url_for("fund.manage", slug=place.slug) if before else None,
        campaigns=services.campaigns(fund), label=services.category_label,
        kind_label=lambda k: str(services.KIND_LABELS.get(k, k)),
        **_manager_forms(place, fund, _today(), **given))
    return render_template("fund/manage.html", **context), status


@bp.get("/fondo/<slug>/gestione")
@authz.roles(Role.FUND_MANAGER)
def manage(slug: str):
    return _manager_page(_managed(slug))


def _refused(place, form_name: str, form, exc: LedgerError):
    refuse(form, exc, "amount")
    status = 409 if isinstance(exc, IdempotencyConflict) else 422
    return _manager_page(place, status, **{form_name: form})


def _done(place, message: str):
    flash(message, "success")
    return redirect(url_for("fund.manage", slug=place.slug), 303)


@bp.post("/fondo/<slug>/gestione/donazione")
@authz.roles(Role.FUND_MANAGER)
def donation(slug: str):
    place = _managed(slug)
    fund = fund_for(place.comune_id)
    form = forms.DonationForm(campaigns=services.open_campaigns(fund, _today()))
    if not form.validate():
        return _manager_page(place, 422, donation=form)
    campaign = db.session.get(FundCampaign, form.campaign_id) if form.campaign_id else None
    try:
        services.record_donation(fund, amount_cents=form.amount.data,
                                 key=f"donation:{fund.id}:{form.key.data}",
                                 donor_name=form.donor_name.data, memo=form.memo.data or "",
                                 campaign=campaign, actor=current_user)
    except LedgerError as exc:
        return _refused(place, "donation", form, exc)
    return _done(place, _("Donazione registrata."))


@bp.post("/fondo/<slug>/gestione/stanziamento")
@authz.roles(Role.FUND_MANAGER)
def allocation(slug: str):
    place = _managed(slug)
    fund = fund_for(place.comune_id)
    form = forms.AllocationForm()
    if not form.validate():
        return _manager_page(place, 422, allocation=form)
    try:
        services.record_allocation(fund, amount_cents=form.amount.data,
                                   key=f"allocation:{fund.id}:{form.key.data}",
                                   memo=form.memo.data or "", actor=current_user)
    except LedgerError as exc:
        return _refused(place, "allocation", form, exc)
    return _done(place, _("Stanziamento registrato."))


@bp.post("/fondo/<slug>/gestione/raccolta")
@authz.roles(Role.FUND_MANAGER)
def campaign(slug: str):
    place = _managed(slug)
    fund = fund_for(place.comune_id)
    form = forms.CampaignForm(proposals=services.campaign_proposals(fund))
    if not form.validate():
        return _manager_page(place, 422, campaign=form)
    try:
        services.create_campaign(
            fund, proposal_id=int(form.proposal_id.data), title=form.title.data,
            description=form.description.data, target_cents=form.target.data,
            opens_on=form.opens_on.data, closes_on=form.closes_on.data, actor=current_user)
    except LedgerError as exc:
        refuse(form, exc, "title")
        return _manager_page(place, 422, campaign=form)
    return _done(place, _("Raccolta fondi aperta."))


def _movement_or_404(place, transaction_id: int) -> FundTransaction:
    fund = find_fund(place.comune_id)
    tx = db.session.get(FundTransaction, transaction_id)
    if fund is None or tx is None or tx.fund_id != fund.id:
        abort(404)
    return tx


@bp.route("/fondo/<slug>/gestione/movimenti/<int:transaction_id>", methods=["GET", "POST"])
@authz.roles(Role.FUND_MANAGER)
def movement(slug: str, transaction_id: int):
    """One movement, its entries, and the form that reverses it (with a reason)."""
    place = _managed(slug)
    tx = _movement_or_404(place, transaction_id)
    fund = tx.fund
    form = forms.ReversalForm() if request.method == "POST" else forms.ReversalForm(
        formdata=None, key=forms.new_key())
    status = 200
    if request.method == "POST":
        if form.validate():
            try:
                services.reverse_movement(tx, reason=form.reason.data,
                                          key=f"reversal:{fund.id}:{form.key.data}",
                                          actor=current_user)
            except LedgerError as exc:
                refuse(form, exc, "reason")
                status = 409 if isinstance(exc, IdempotencyConflict) else 422
            else:
                return _done(place, _("Storno registrato."))
        else:
            status = 422
    reversal = db.session.scalar(db.select(FundTransaction).where(
        FundTransaction.reverses_id == tx.id))
    return render_template(
        "fund/movement.html", place=place, tx=tx, form=form, reversal=reversal,
        signed=services.signed_amounts(fund, [tx]).get(tx.id, 0),
        donor=services.donors([tx]).get(tx.id), label=services.category_label,
        kind_label=lambda k: str(services.KIND_LABELS.get(k, k))), status


def _manages_a_fund(user) -> bool:
    return authz.is_coordinator(user) or bool(authz.scope_ids(user, Role.FUND_MANAGER))


def _managed_places() -> list[services.Place]:
    return services.managed_places(current_user)


def _comune_panel(comune) -> tuple[str, dict]:
    """The fund's figures on the Comune's page."""
    fund = find_fund(comune.id)
    return "fund/_comune_panel.html", {"slug": comune.slug,
                                       "summary": services.summary(fund, today=_today())}


def init_app(app) -> None:
    from portal.core.services import register_dashboard_panel
    from portal.network.services import register_comune_panel

    register_dashboard_panel("fund/_dashboard_panel.html", _manages_a_fund)
    register_comune_panel(_comune_panel)
    app.jinja_env.globals["fund_managed_places"] = _managed_places
