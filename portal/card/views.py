"""Family Card pages: Family Pay (the household's phone page), the card request, the public
directory of merchants, the shop's application, the officer's queue and the till (/cassa)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import segno
from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal import authz
from portal.authz import Role
from portal.card import bp, forms, services
from portal.card.models import Card, CardRequest, Merchant, MerchantStatus, Purchase
from portal.extensions import db, limiter
from portal.forms import EmptyForm
from portal.network.models import Comune
from portal.web import id_arg, page_arg, parse_int, refuse

MONTH_RE = re.compile(r"^(20[0-9]{2})-(0[1-9]|1[0-2])$")


# --------------------------------------------------------------------------- policies


@authz.policy("card.operate")
def _may_operate(user, merchant: Merchant) -> bool:
    return (authz.is_coordinator(user)
            or authz.has_role(user, Role.MERCHANT_OPERATOR, merchant.id))


@authz.policy("card.decide")
def _may_decide(user, comune_id: int) -> bool:
    return authz.is_coordinator(user) or authz.has_role(user, Role.COMUNE_OFFICER, comune_id)


def _officer_comuni() -> set[int] | None:
    if authz.is_coordinator(current_user):
        return None
    return authz.scope_ids(current_user, Role.COMUNE_OFFICER)


def _month_arg() -> tuple[int, int]:
    raw = request.args.get("mese")
    if raw is None:
        today = services.rome_today()
        return today.year, today.month
    match = MONTH_RE.match(raw) if isinstance(raw, str) else None
    if not match:
        abort(400)
    return int(match.group(1)), int(match.group(2))


def _qr(card: Card) -> str:
    return segno.make(services.make_token(card), error="m").svg_data_uri(scale=5, border=2)


# --------------------------------------------------------------------------- Family Pay


@bp.get("/family-pay")
@authz.login_required
def family_pay():
    household = current_user.household
    card = services.card_of(getattr(household, "id", None))
    context = dict(household=household, card=card, pending=None, offers=[], totals=None)
    if household is not None:
        context["pending"] = services.open_request(household.id)
        context["offers"] = services.comune_offers(household.comune_id)
    if card is not None:
        context.update(status=services.effective_status(card), qr=_qr(card),
                       totals=services.household_totals(card),
                       number=services.format_number(card.number),
                       can_renew=services.can_renew(card))
    response = Response(render_template("card/family_pay.html", badge=services.badge,
                                        **context))
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.get("/family-pay/manifest.webmanifest")
@authz.public
def manifest():
    return Response(render_template("card/manifest.webmanifest"),
                    mimetype="application/manifest+json")


@bp.get("/familypay-sw.js")
@authz.public
def service_worker():
    response = current_app.send_static_file("js/familypay-sw.js")
    response.headers["Service-Worker-Allowed"] = "/family-pay"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/family-card/richiesta", methods=["GET", "POST"])
@authz.login_required
def request_card():
    household = current_user.household
    form = forms.RequestForm()
    status = 200
    if request.method == "POST":
        if form.validate():
            try:
                card_request = services.request_card(current_user, household, form.isee.data)
            except services.CardError as exc:
                refuse(form, exc, "isee")
                status = 422
            else:
                if card_request.status == "approved":
                    flash(_("La Family Card è pronta."), "success")
                elif card_request.status == "pending":
                    flash(_("Richiesta inviata: l'ufficio del Comune la esamina."), "success")
                else:
                    flash(card_request.note, "warning")
                return redirect(url_for("card.family_pay"), 303)
        else:
            status = 422
    rule = services.rule_for(household.comune_id) if household else None
    return render_template("card/request.html", form=form, household=household,
                           rule=rule), status


@bp.post("/family-card/rinnovo")
@authz.login_required
def renew():
    card = services.card_of(current_user.household_id)
    if card is None:
        abort(404)
    form = EmptyForm()
    if not form.validate():
        abort(400)
    try:
        services.renew_card(card)
    except services.CardError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
        return redirect(url_for("card.family_pay"), 303)
    flash(_("Carta rinnovata per due anni."), "success")
    return redirect(url_for("card.family_pay"), 303)


@bp.get("/family-pay/estratto")
@authz.login_required
def household_statement():
    card = services.card_of(current_user.household_id)
    if card is None:
        abort(404)
    year, month = _month_arg()
    rows, totals = services.statement(year=year, month=month, card_id=card.id)
    names = dict(db.session.execute(select(Merchant.id, Merchant.name).where(
        Merchant.id.in_({p.merchant_id for p in rows}))).all()) if rows else {}
    if request.args.get("formato") == "csv":
        return _csv(f"family-card-{year}-{month:02d}.csv",
                    [_("Data"), _("Esercizio"), _("Scontrino"), _("Importo"), _("Sconto"),
                     _("Al fondo"), _("Annullato")],
                    [(p.created_at.isoformat(), names.get(p.merchant_id, ""), p.receipt,
                      p.amount_cents, p.discount_cents, p.fund_share_cents,
                      "sì" if p.cancelled_at else "") for p in rows])
    return render_template("card/statement.html", rows=rows, totals=totals, names=names,
                           year=year, month=month, merchant=None)


def _csv(filename: str, header: list, rows: list) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["'" + c if isinstance(c, str) and c[:1] in "=+-@" else c
                         for c in row])
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


# --------------------------------------------------------------------------- directory


@bp.get("/esercenti")
@authz.public
def directory():
    comune_id = id_arg("comune")
    category = request.args.get("categoria") or None
    if category is not None and category not in services.CATEGORIES:
        abort(400)
    raw_discount = request.args.get("sconto")
    discount = parse_int(raw_discount, 0, 100) if raw_discount else 0
    if discount is None:
        abort(400)
    page = page_arg()
    rows, more = services.directory(comune_id=comune_id, category=category,
                                    min_discount_bp=discount * 100, page=page)
    comuni = db.session.execute(select(Comune.id, Comune.name).order_by(Comune.name)).all()
    args = {k: v for k, v in (("comune", comune_id), ("categoria", category),
                              ("sconto", discount or None)) if v}
    pages = type("Pages", (), dict(
        prev_url=url_for("card.directory", pagina=page - 1, **args) if page > 1 else None,
        next_url=url_for("card.directory", pagina=page + 1, **args) if more else None))
    return render_template("card/directory.html", rows=rows, comuni=comuni,
                           categories=services.CATEGORIES, comune_id=comune_id,
                           category=category, discount=discount, pages=pages,
                           badge=services.badge)


@bp.get("/esercenti/<int:merchant_id>")
@authz.public
def merchant_page(merchant_id: int):
    merchant = db.session.get(Merchant, merchant_id)
    if merchant is None or merchant.status != MerchantStatus.APPROVED:
        abort(404)
    return render_template("card/merchant.html", merchant=merchant,
                           offers=services.current_offers(merchant.id), badge=services.badge)


@bp.route("/esercenti/aderisci", methods=["GET", "POST"])
@authz.login_required
def apply():
    form = forms.MerchantForm()
    comuni = db.session.execute(select(Comune.id, Comune.name).order_by(Comune.name)).all()
    form.comune_id.choices = [("", _("Scegli il Comune"))] + [(str(i), n) for i, n in comuni]
    status = 200
    if request.method == "POST":
        if form.validate():
            comune_id = parse_int(form.comune_id.data)
            if comune_id is None or comune_id not in {i for i, _n in comuni}:
                form.comune_id.errors = [_("Scegli un Comune della Rete.")]
                status = 422
            else:
                try:
                    services.apply_merchant(
                        current_user, name=form.name.data, vat_number=form.vat_number.data,
                        address=form.address.data, category=form.category.data,
                        comune_id=comune_id, contact_email=form.contact_email.data,
                        contact_phone=form.contact_phone.data or "",
                        description=form.description.data or "")
                except services.CardError as exc:
                    refuse(form, exc)
                    status = 422
                else:
                    flash(_("Domanda inviata: l'ufficio del Comune la esamina."), "success")
                    return redirect(url_for("card.directory"), 303)
        else:
            status = 422
    return render_template("card/apply.html", form=form), status


# --------------------------------------------------------------------------- the officer


@bp.get("/family-card/ufficio")
@authz.roles(Role.COMUNE_OFFICER)
def queue():
    return _queue_page()


@bp.post("/family-card/richieste/<int:request_id>/decisione")
@authz.roles(Role.COMUNE_OFFICER)
def decide_request(request_id: int):
    card_request = db.get_or_404(CardRequest, request_id)
    authz.require("card.decide", card_request.comune_id)
    form = forms.DecisionForm()
    if form.validate():
        try:
            services.decide_request(current_user, card_request, form.decision.data == "approve",
                                    form.note.data or "")
        except services.CardError as exc:
            refuse(form, exc)
        else:
            flash(_("Decisione registrata."), "success")
            return redirect(url_for("card.queue"), 303)
    return _queue_page(422, form=form)


@bp.post("/esercenti/<int:merchant_id>/decisione")
@authz.roles(Role.COMUNE_OFFICER)
def decide_merchant(merchant_id: int):
    merchant = db.get_or_404(Merchant, merchant_id)
    authz.require("card.decide", merchant.comune_id)
    form = forms.DecisionForm()
    if form.validate():
        try:
            services.decide_merchant(current_user, merchant, form.decision.data == "approve")
        except services.CardError as exc:
            refuse(form, exc)
        else:
            flash(_("Decisione registrata."), "success")
            return redirect(url_for("card.queue"), 303)
    return _queue_page(422, form=form)


def _queue_page(status: int = 200, **forms_):
    comuni = _officer_comuni()
    ids = sorted(comuni) if comuni is not None else []
    places = db.session.execute(select(Comune.id, Comune.name).where(Comune.id.in_(ids))
                                .order_by(Comune.name)).all()
    rule_forms = forms_.pop("rule_forms", {})
    for comune_id, _name in places:
        if comune_id not in rule_forms:
            rule = services.rule_for(comune_id)
            form = forms.RuleForm(formdata=None, min_children=rule.min_children,
                                  child_max_age=rule.child_max_age,
                                  isee_ceiling=rule.isee_ceiling_cents)
            rule_forms[comune_id] = form
    forms_.setdefault("form", forms.DecisionForm(formdata=None))
    return render_template("card/queue.html", requests=services.pending_requests(comuni),
                           merchants=services.pending_merchants(comuni), places=places,
                           rule_forms=rule_forms, euro=services.ledger.euro, **forms_), status


@bp.post("/family-card/ufficio/regola/<int:comune_id>")
@authz.roles(Role.COMUNE_OFFICER)
def set_rule(comune_id: int):
    authz.require("card.decide", comune_id)
    if db.session.get(Comune, comune_id) is None:
        abort(404)
    form = forms.RuleForm()
    if form.validate():
        try:
            services.set_rule(current_user, comune_id, min_children=form.min_children.data,
                              child_max_age=form.child_max_age.data,
                              isee_ceiling_cents=form.isee_ceiling.data)
        except services.CardError as exc:
            refuse(form, exc, "isee_ceiling")
        else:
            flash(_("Regola della Family Card salvata."), "success")
            return redirect(url_for("card.queue"), 303)
    return _queue_page(422, rule_forms={comune_id: form})


@bp.get("/family-card/ufficio/carta")
@authz.roles(Role.COMUNE_OFFICER)
def find_card():
    card = services.find_card(request.args.get("numero", ""))
    if card is None or not authz.can("card.decide", card.comune_id):
        return render_template("card/officer_card.html", card=None), 404
    return render_template("card/officer_card.html", card=card,
                           status=services.effective_status(card),
                           form=forms.CardStatusForm(formdata=None, status=card.status),
                           number=services.format_number(card.number))


@bp.post("/family-card/carte/<int:card_id>/stato")
@authz.roles(Role.COMUNE_OFFICER)
def card_status(card_id: int):
    card = db.get_or_404(Card, card_id)
    authz.require("card.decide", card.comune_id)
    form = forms.CardStatusForm()
    if form.validate():
        try:
            services.set_card_status(current_user, card, form.status.data)
        except services.CardError as exc:
            refuse(form, exc, "status")
        else:
            flash(_("Stato della carta aggiornato."), "success")
            return redirect(url_for("card.find_card", numero=card.number), 303)
    return render_template("card/officer_card.html", card=card, form=form,
                           status=services.effective_status(card),
                           number=services.format_number(card.number)), 422


# --------------------------------------------------------------------------- the till


def _check_limit() -> str:
    return current_app.config.get("RATELIMIT_CARD_CHECK", "30 per minute")


def _operator() -> str:
    """The limiter's key at the till: the operator's account, from whatever device."""
    return "card-check:" + (current_user.get_id() or request.remote_addr or "")


def _till_merchant(merchant_id: int) -> Merchant:
    merchant = db.get_or_404(Merchant, merchant_id)
    authz.require("card.operate", merchant)
    return merchant


def _till(merchant: Merchant, status: int = 200, **context):
    context.setdefault("check", forms.CheckForm(formdata=None))
    context.setdefault("purchase", None)
    response = Response(render_template(
        "card/till.html", merchant=merchant, offer=services.best_offer(merchant.id),
        recent=services.merchant_purchases(merchant.id), cancel=EmptyForm(),
        now=services.utcnow(), window=services.CANCEL_WINDOW, **context), status)
    response.headers["Cache-Control"] = "no-store"
    # the till may scan the QR code with the phone's camera (the portal's default refuses it)
    response.headers["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=()"
    return response


@bp.get("/cassa")
@authz.roles(Role.MERCHANT_OPERATOR)
def till_index():
    merchants = services.operated_merchants(current_user)
    if len(merchants) == 1:
        return redirect(url_for("card.till", merchant_id=merchants[0].id))
    return render_template("card/till_choose.html", merchants=merchants)


@bp.get("/cassa/<int:merchant_id>")
@authz.roles(Role.MERCHANT_OPERATOR)
def till(merchant_id: int):
    return _till(_till_merchant(merchant_id))


@bp.post("/cassa/<int:merchant_id>/verifica")
@authz.roles(Role.MERCHANT_OPERATOR)
@limiter.limit(_check_limit, key_func=_operator, methods=["POST"])
def check(merchant_id: int):
    merchant = _till_merchant(merchant_id)
    form = forms.CheckForm()
    if not form.validate():
        return _till(merchant, 422, check=form)
    result = services.check_card(form.card.data)
    purchase = None
    if result.valid:
        purchase = forms.PurchaseForm(formdata=None)
        purchase.card.data = form.card.data
    return _till(merchant, 200 if result.valid else 422, check=form, result=result,
                 purchase=purchase)


@bp.post("/cassa/<int:merchant_id>/acquisto")
@authz.roles(Role.MERCHANT_OPERATOR)
@limiter.limit(_check_limit, key_func=_operator, methods=["POST"])
def purchase(merchant_id: int):
    merchant = _till_merchant(merchant_id)
    form = forms.PurchaseForm()
    if form.validate():
        try:
            done, created = services.record_purchase(
                current_user, merchant, form.card.data or "", form.amount.data,
                form.receipt.data)
        except services.ReceiptConflict as exc:
            refuse(form, exc, "receipt")
            return _till(merchant, 409, purchase=form)
        except (services.CardError, services.ledger.LedgerError) as exc:
            refuse(form, exc, "receipt")
        else:
            if created:
                flash(_("Acquisto registrato: sconto %(d)s €, al fondo %(f)s €.",
                        d=services.ledger.euro(done.discount_cents),
                        f=services.ledger.euro(done.fund_share_cents)), "success")
            else:
                flash(_("Questo scontrino era già registrato."), "info")
            return redirect(url_for("card.till", merchant_id=merchant.id), 303)
    return _till(merchant, 422, purchase=form)


@bp.post("/cassa/<int:merchant_id>/acquisti/<int:purchase_id>/annulla")
@authz.roles(Role.MERCHANT_OPERATOR)
def cancel(merchant_id: int, purchase_id: int):
    merchant = _till_merchant(merchant_id)
    purchase = db.session.get(Purchase, purchase_id)
    if purchase is None or purchase.merchant_id != merchant.id:
        abort(404)
    form = EmptyForm()
    if not form.validate():
        abort(400)
    try:
        services.cancel_purchase(current_user, purchase)
    except (services.CardError, services.ledger.LedgerError) as exc:
        db.session.rollback()
        flash(exc.message, "danger")
        return _till(merchant, 422)
    flash(_("Acquisto annullato: la quota al fondo è stata stornata."), "success")
    return redirect(url_for("card.till", merchant_id=merchant.id), 303)


@bp.get("/cassa/<int:merchant_id>/estratto")
@authz.roles(Role.MERCHANT_OPERATOR)
def merchant_statement(merchant_id: int):
    merchant = _till_merchant(merchant_id)
    year, month = _month_arg()
    rows, totals = services.statement(year=year, month=month, merchant_id=merchant.id)
    if request.args.get("formato") == "csv":
        return _csv(f"estratto-{merchant.id}-{year}-{month:02d}.csv",
                    [_("Data"), _("Scontrino"), _("Importo"), _("Sconto"), _("Al fondo"),
                     _("Annullato")],
                    [(p.created_at.isoformat(), p.receipt, p.amount_cents, p.discount_cents,
                      p.fund_share_cents, "sì" if p.cancelled_at else "") for p in rows])
    return render_template("card/statement.html", rows=rows, totals=totals, names={},
                           year=year, month=month, merchant=merchant)


def month_label(year: int, month: int) -> date:
    return date(year, month, 1)
