"""The GAF's pages: groups by Comune, a group's page, a household's order with steppers (htmx
or plain POST), and the coordinator's pages: rounds, aggregate per supplier (printable and
CSV), bills, delivery ticks, suppliers and products."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal import authz
from portal.db_setup import utcnow
from portal.extensions import db
from portal.forms import EmptyForm
from portal.fund.ledger import ROME, LedgerError
from portal.gaf import bp, forms, services
from portal.gaf.models import (
    GafGroup,
    GafOrder,
    GafProduct,
    GafRound,
    GafSupplier,
    RoundState,
)
from portal.gaf.services import GafError
from portal.web import refuse, wants_partial


def state_label(state: str) -> str:
    return {RoundState.OPEN: _("aperto"), RoundState.CLOSED: _("chiuso"),
            RoundState.DELIVERED: _("consegnato"), RoundState.SETTLED: _("saldato")
            }.get(state, state)


def _round_and_group(round_id: int) -> tuple[GafRound, GafGroup]:
    round_ = db.get_or_404(GafRound, round_id)
    return round_, db.session.get(GafGroup, round_.group_id)


def _managed_group(group_id: int) -> GafGroup:
    group = db.get_or_404(GafGroup, group_id)
    authz.require("gaf.manage", group)
    return group


def _rome_month():
    return utcnow().astimezone(ROME).date().replace(day=1)


# --------------------------------------------------------------------------- public


@bp.get("/gaf")
@authz.public
def index():
    """Every group, by Comune."""
    from portal.network.models import Comune

    rows = db.session.execute(
        select(GafGroup, Comune.name).join(Comune, Comune.id == GafGroup.comune_id)
        .order_by(Comune.name, GafGroup.name)).all()
    by_comune: dict[str, list[GafGroup]] = {}
    for group, comune_name in rows:
        by_comune.setdefault(comune_name, []).append(group)
    return render_template("gaf/index.html", by_comune=by_comune)


def _group_page(group: GafGroup, status: int = 200, join_form=None, commitment_form=None):
    household_id = getattr(current_user, "household_id", None) \
        if current_user.is_authenticated else None
    member = services.membership(group.id, household_id)
    current = services.current_round(group)
    ordered = services.ordered_in_month(household_id, group.id, _rome_month()) \
        if member else 0
    if member and commitment_form is None:
        commitment_form = forms.CommitmentForm(formdata=None,
                                               commitment=member.monthly_commitment_cents)
    return render_template(
        "gaf/group.html", group=group, suppliers=services.suppliers(group), member=member,
        current=current, rounds=services.rounds(group), ordered=ordered,
        join_form=join_form or forms.JoinForm(formdata=None),
        commitment_form=commitment_form, leave_form=EmptyForm(formdata=None),
        may_join=member is None and authz.can("gaf.join", group),
        manage=authz.can("gaf.manage", group), state_label=state_label), status


@bp.get("/gaf/<int:group_id>")
@authz.public
def group(group_id: int):
    return _group_page(db.get_or_404(GafGroup, group_id))


@bp.post("/gaf/<int:group_id>/aderisci")
@authz.login_required
def join(group_id: int):
    group = db.get_or_404(GafGroup, group_id)
    authz.require("gaf.join", group)
    form = forms.JoinForm()
    if not form.validate():
        return _group_page(group, 422, join_form=form)
    try:
        services.join(group, current_user.household, form.commitment.data or 0)
    except GafError as exc:
        refuse(form, exc, "commitment")
        return _group_page(group, 422, join_form=form)
    flash(_("Il tuo nucleo fa ora parte del gruppo."), "success")
    return redirect(url_for("gaf.group", group_id=group.id), 303)


@bp.post("/gaf/<int:group_id>/impegno")
@authz.login_required
def commitment(group_id: int):
    group = db.get_or_404(GafGroup, group_id)
    authz.require("gaf.order", group)
    form = forms.CommitmentForm()
    if not form.validate():
        return _group_page(group, 422, commitment_form=form)
    member = services.membership(group.id, current_user.household_id)
    try:
        services.set_commitment(member, form.commitment.data)
    except GafError as exc:
        refuse(form, exc, "commitment")
        return _group_page(group, 422, commitment_form=form)
    flash(_("Impegno mensile aggiornato."), "success")
    return redirect(url_for("gaf.group", group_id=group.id), 303)


@bp.post("/gaf/<int:group_id>/lascia")
@authz.login_required
def leave(group_id: int):
    group = db.get_or_404(GafGroup, group_id)
    authz.require("gaf.order", group)
    form = EmptyForm()
    if not form.validate():
        abort(400)
    try:
        services.leave(group, current_user.household)
    except GafError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
        return redirect(url_for("gaf.group", group_id=group.id), 303)
    flash(_("Il tuo nucleo ha lasciato il gruppo."), "success")
    return redirect(url_for("gaf.group", group_id=group.id), 303)


# --------------------------------------------------------------------------- the order


def _order_context(round_: GafRound, group: GafGroup, errors: dict | None = None) -> dict:
    order = services.order_of(round_.id, current_user.household_id)
    supplier_list = services.suppliers(group)
    member = services.membership(group.id, current_user.household_id)
    return dict(round=round_, group=group, order=order, suppliers=supplier_list,
                quantities=services.quantities(order), errors=errors or {},
                open=services.is_open(round_), form=forms.QuantityForm(formdata=None),
                member=member, state_label=state_label,
                ordered=services.ordered_in_month(current_user.household_id, group.id,
                                                  round_.delivery_on))


@bp.get("/gaf/giri/<int:round_id>/ordine")
@authz.login_required
def order(round_id: int):
    round_, group = _round_and_group(round_id)
    authz.require("gaf.order", group)
    return render_template("gaf/order.html", **_order_context(round_, group))


@bp.post("/gaf/giri/<int:round_id>/ordine/<int:product_id>")
@authz.login_required
def set_quantity(round_id: int, product_id: int):
    round_, group = _round_and_group(round_id)
    authz.require("gaf.order", group)
    product = db.get_or_404(GafProduct, product_id)
    form = forms.QuantityForm()
    error = None
    if not form.validate():
        error = " ".join(str(e) for errs in form.errors.values() for e in errs)
    else:
        try:
            services.set_quantity(round_.id, current_user.household_id, product.id,
                                  form.quantity.data)
        except GafError as exc:
            db.session.rollback()
            error = exc.message
    if error is None and not wants_partial():
        return redirect(url_for("gaf.order", round_id=round_.id) + f"#p{product.id}", 303)
    context = _order_context(round_, group, {product.id: error} if error else None)
    status = 422 if error else 200
    if wants_partial():
        response = Response(render_template("gaf/_order.html", **context), status=status)
    else:
        response = Response(render_template("gaf/order.html", **context), status=status)
    response.headers["Vary"] = "HX-Request"
    return response


# --------------------------------------------------------------------------- coordinator


def _manage_page(group: GafGroup, status: int = 200, round_form=None, supplier_form=None):
    return render_template(
        "gaf/manage.html", group=group, rounds=services.rounds(group, 24),
        suppliers=services.suppliers(group, active_only=False),
        round_form=round_form or forms.RoundForm(formdata=None),
        supplier_form=supplier_form or forms.SupplierForm(formdata=None),
        action_form=EmptyForm(formdata=None), state_label=state_label), status


@bp.get("/gaf/<int:group_id>/gestione")
@authz.login_required
def manage(group_id: int):
    return _manage_page(_managed_group(group_id))


@bp.post("/gaf/<int:group_id>/giri")
@authz.login_required
def new_round(group_id: int):
    group = _managed_group(group_id)
    form = forms.RoundForm()
    if not form.validate():
        return _manage_page(group, 422, round_form=form)
    closes_at = datetime.combine(form.closes_on.data, form.closes_time.data, ROME)
    try:
        round_ = services.create_round(group, utcnow(), closes_at, form.delivery_on.data)
    except GafError as exc:
        refuse(form, exc, "closes_on")
        return _manage_page(group, 422, round_form=form)
    flash(_("Giro d'ordine aperto."), "success")
    return redirect(url_for("gaf.summary", round_id=round_.id), 303)


_ACTIONS = {"chiudi": services.close, "consegna": services.deliver, "salda": services.settle}


def _action_done(action: str) -> str:
    return {"chiudi": _("Giro chiuso: gli ordini non cambiano più."),
            "consegna": _("Giro segnato come consegnato."),
            "salda": _("Giro saldato: la quota è nel fondo solidale.")}[action]


@bp.post("/gaf/giri/<int:round_id>/<any(chiudi, consegna, salda):action>")
@authz.login_required
def round_action(round_id: int, action: str):
    round_, group = _round_and_group(round_id)
    authz.require("gaf.manage", group)
    form = EmptyForm()
    if not form.validate():
        abort(400)
    try:
        _ACTIONS[action](round_)
    except (GafError, LedgerError) as exc:
        db.session.rollback()
        flash(exc.message, "danger")
        return redirect(url_for("gaf.summary", round_id=round_id), 303)
    flash(_action_done(action), "success")
    return redirect(url_for("gaf.summary", round_id=round_id), 303)


@bp.get("/gaf/giri/<int:round_id>/riepilogo")
@authz.login_required
def summary(round_id: int):
    """The aggregate per supplier (printable), each household's bill, the delivery ticks."""
    round_, group = _round_and_group(round_id)
    authz.require("gaf.manage", group)
    return render_template(
        "gaf/summary.html", round=round_, group=group, aggregate=services.aggregate(round_),
        bills=services.bills(round_), action_form=EmptyForm(formdata=None),
        tick_form=forms.TickForm(formdata=None), state_label=state_label,
        share=services.fund_share(round_.total_cents or 0, group.fund_share_bp))


@bp.get("/gaf/giri/<int:round_id>/riepilogo.csv")
@authz.login_required
def summary_csv(round_id: int):
    round_, group = _round_and_group(round_id)
    authz.require("gaf.manage", group)
    # plain values: the request's session is over while the body streams
    table = [(entry.supplier.name, [(p.name, p.unit, q, p.price_cents, amount)
                                    for p, q, amount in entry.lines])
             for entry in services.aggregate(round_)]

    def rows():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["fornitore", "prodotto", "unita", "quantita", "prezzo_euro",
                         "importo_euro"])
        for supplier_name, lines in table:
            for name, unit, quantity, price, amount in lines:
                writer.writerow([supplier_name, name, unit, quantity, _euro(price),
                                 _euro(amount)])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(rows()), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="gaf-giro-{round_.id}-fornitori.csv"')
    return response


def _euro(cents: int) -> str:
    whole, rest = divmod(cents, 100)
    return f"{whole}.{rest:02d}"


@bp.post("/gaf/giri/<int:round_id>/consegne/<int:order_id>")
@authz.login_required
def tick(round_id: int, order_id: int):
    round_, group = _round_and_group(round_id)
    authz.require("gaf.manage", group)
    order_ = db.get_or_404(GafOrder, order_id)
    form = forms.TickForm()
    if not form.validate():
        abort(422)
    try:
        services.tick(round_, order_, form.delivered.data == "1")
    except GafError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
    return redirect(url_for("gaf.summary", round_id=round_id) + "#consegne", 303)


# --------------------------------------------------------------------------- suppliers


@bp.post("/gaf/<int:group_id>/fornitori")
@authz.login_required
def new_supplier(group_id: int):
    group = _managed_group(group_id)
    form = forms.SupplierForm()
    if not form.validate():
        return _manage_page(group, 422, supplier_form=form)
    supplier = services.save_supplier(group, None, name=form.name.data, town=form.town.data or "",
                                      patto=form.patto.data, active=form.active.data)
    flash(_("Fornitore aggiunto."), "success")
    return redirect(url_for("gaf.supplier", supplier_id=supplier.id), 303)


def _supplier_page(supplier: GafSupplier, group: GafGroup, status: int = 200,
                   supplier_form=None, product_form=None):
    return render_template(
        "gaf/supplier.html", supplier=supplier, group=group,
        # prefixed: the product form on the same page has its own "name"
        supplier_form=supplier_form or forms.SupplierForm(formdata=None, obj=supplier,
                                                          prefix="fornitore"),
        product_form=product_form or forms.ProductForm(formdata=None)), status


def _managed_supplier(supplier_id: int) -> tuple[GafSupplier, GafGroup]:
    supplier = db.get_or_404(GafSupplier, supplier_id)
    group = db.session.get(GafGroup, supplier.group_id)
    authz.require("gaf.manage", group)
    return supplier, group


@bp.route("/gaf/fornitori/<int:supplier_id>", methods=["GET", "POST"])
@authz.login_required
def supplier(supplier_id: int):
    supplier, group = _managed_supplier(supplier_id)
    form = forms.SupplierForm(prefix="fornitore")
    if not form.is_submitted():
        return _supplier_page(supplier, group)
    if not form.validate():
        return _supplier_page(supplier, group, 422, supplier_form=form)
    services.save_supplier(group, supplier, name=form.name.data, town=form.town.data or "",
                           patto=form.patto.data, active=form.active.data)
    flash(_("Fornitore aggiornato."), "success")
    return redirect(url_for("gaf.supplier", supplier_id=supplier.id), 303)


def _save_product(supplier, product, form):
    return services.save_product(
        supplier, product, name=form.name.data, unit=form.unit.data,
        price_cents=form.price.data, min_qty=form.min_qty.data, multiple=form.multiple.data,
        max_qty=form.max_qty.data, available=form.available.data)


@bp.post("/gaf/fornitori/<int:supplier_id>/prodotti")
@authz.login_required
def new_product(supplier_id: int):
    supplier, group = _managed_supplier(supplier_id)
    form = forms.ProductForm()
    if not form.validate():
        return _supplier_page(supplier, group, 422, product_form=form)
    try:
        _save_product(supplier, None, form)
    except GafError as exc:
        refuse(form, exc, "name")
        return _supplier_page(supplier, group, 422, product_form=form)
    flash(_("Prodotto aggiunto."), "success")
    return redirect(url_for("gaf.supplier", supplier_id=supplier.id), 303)


@bp.route("/gaf/prodotti/<int:product_id>", methods=["GET", "POST"])
@authz.login_required
def product(product_id: int):
    product = db.get_or_404(GafProduct, product_id)
    supplier, group = _managed_supplier(product.supplier_id)
    form = forms.ProductForm()
    if form.is_submitted():
        if form.validate():
            try:
                _save_product(supplier, product, form)
            except GafError as exc:
                refuse(form, exc, "name")
            else:
                flash(_("Prodotto aggiornato."), "success")
                return redirect(url_for("gaf.supplier", supplier_id=supplier.id), 303)
        status = 422
    else:
        form = forms.ProductForm(formdata=None, obj=product, price=product.price_cents)
        status = 200
    return render_template("gaf/product.html", product=product, supplier=supplier,
                           group=group, form=form), status
