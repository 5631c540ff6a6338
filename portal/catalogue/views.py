"""Pages of the catalogue: search, practice page, history, files, drafting, adoption, themes."""

from __future__ import annotations

import csv
import io
import tempfile

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import authz
from portal.authz import Role
from portal.catalogue import bp, search, services
from portal.catalogue.forms import (
    AdoptionForm,
    FileForm,
    IndicatorForm,
    PracticeForm,
    PromoterForm,
    ThemeForm,
)
from portal.catalogue.listing import (
    BadSearch,
    Pager,
    current_args,
    facet_view,
    links,
    list_url,
    parse_search,
    texts,
)
from portal.catalogue.models import (
    Adoption,
    GoodPractice,
    Indicator,
    PracticeFile,
    PracticeRevision,
    Promoter,
    Theme,
)
from portal.extensions import db
from portal.forms import EmptyForm
from portal.i18n import money
from portal.network.models import Association, Comune
from portal.storage import send_file_safely
from portal.web import parse_id, refuse, wants_partial


def _crumbs(*extra):
    return [(texts()["list_title"], links().index), *extra]


def _sort_options(has_text: bool) -> list[tuple[str, str]]:
    """The sort choices; the empty one is the default: relevance with text, else newest."""
    return texts()["sort_options"]


@bp.get("/pratiche")
@authz.public
def index():
    args = current_args(request.args)
    partial = wants_partial()
    try:
        wanted, chosen = parse_search(request.args)
    except BadSearch as exc:
        context = {"error": exc.message, "args": args, "result": None, "facets": [],
                   "pager": None, "sort_options": _sort_options(False), "sort": "",
                   "list_url": list_url, "chosen": {}, "breadcrumbs": [(_("Buone pratiche"), None)]}
        template = "catalogue/_results.html" if partial else "catalogue/index.html"
        return render_template(template, oob=partial, **context), 400
    result = search.find(wanted)
    context = {
        "error": None, "args": args, "result": result, "facets": facet_view(result, args),
        "pager": Pager(wanted, result.total, args, "catalogue.index"),
        "sort_options": _sort_options(wanted.is_text), "chosen": chosen,
        "sort": request.args.get("ordina", "") if request.args.get("ordina") in search.SORTS
        else "",
        "list_url": list_url, "breadcrumbs": [(texts()["list_title"], None)],
    }
    if partial:
        # The live search sends the whole form, empty fields too ("ordina="): the address bar
        # shows the search's own address instead, built like every link of the list.
        return render_template("catalogue/_results.html", oob=True, **context), {
            "HX-Push-Url": list_url(args, pagina=wanted.page if wanted.page > 1 else None)}
    return render_template("catalogue/index.html", oob=False, **context)


# --------------------------------------------------------------------------- open data: CSV

CSV_COLUMNS = ("id", "slug", "titolo", "sintesi", "stato", "temi", "comuni", "promotori",
               "data_avvio", "data_conclusione", "destinatari", "numero_beneficiari",
               "costo_euro", "fonti_finanziamento", "contatti", "adozioni", "pubblicata_il",
               "url")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    """A cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


@bp.get("/pratiche.csv")
@authz.public
def export_csv():
    try:
        wanted, _chosen = parse_search(request.args)
    except BadSearch as exc:
        return Response(exc.message + "\n", status=400, mimetype="text/plain")

    # Written to a spooled file inside the request (the database session lives here), then
    # sent: memory stays bounded whatever the size of the export.
    out = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024, mode="w+b")  # noqa: SIM115
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    # ?formato=excel: what Excel in Italian opens in columns (semicolons, decimal comma);
    # without it, comma-separated with a decimal point, for programs. Both start with a BOM.
    office = request.args.get("formato") == "excel"
    writer = csv.writer(text, delimiter=";" if office else ",")
    text.write("\ufeff")
    writer.writerow(CSV_COLUMNS)
    for chunk in search.iter_all(wanted):
        for p in chunk:
            writer.writerow([csv_safe(v) for v in (
                p.id, p.slug, p.title, p.summary, services.status_label(p.status),
                "; ".join(t.name for t in p.themes), "; ".join(c.name for c in p.comuni),
                "; ".join(f"{x.name} ({services.kind_label(x.kind)})" for x in p.promoters),
                p.started_on, p.ended_on, p.beneficiaries, p.beneficiaries_count,
                (f"{p.cost_cents / 100:.2f}".replace(".", "," if office else ".")
                 if p.cost_cents is not None else ""),
                p.funding_sources, p.contacts, p.adoption_count,
                p.published_at.date().isoformat() if p.published_at else "",
                url_for("catalogue.detail", slug=p.slug, _external=True))])
    text.flush()
    text.detach()
    out.seek(0)
    response = send_file(out, mimetype="text/csv", as_attachment=True,
                         download_name="buone-pratiche-excel.csv" if office
                         else "buone-pratiche.csv", max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --------------------------------------------------------------------------- practice page


def _load(slug: str) -> GoodPractice:
    practice = services.practice_by_slug(slug)
    if practice is None or not authz.can("catalogue.view", practice):
        abort(404)
    return practice


def _adoption_form(practice: GoodPractice, comuni: list[Comune]) -> AdoptionForm | None:
    if not comuni or not practice.is_published:
        return None
    form = AdoptionForm()
    form.comune.choices = [(c.id, c.name) for c in comuni]
    return form


@bp.get("/pratiche/<slug>")
@authz.public
def detail(slug: str):
    practice = services.practice_page(slug)
    if practice is None or not authz.can("catalogue.view", practice):
        abort(404)
    adoptions = practice.adoptions
    signed_in = current_user.is_authenticated
    officer_comuni = services.adoption_comuni(current_user) if signed_in else []
    # the owner Comune does not adopt its own practice (declare_adoption refuses it)
    adoption_form = _adoption_form(
        practice, [c for c in officer_comuni if c.id != practice.owner_comune_id])
    if adoption_form is not None and not adoption_form.is_submitted():
        mine = {a.comune_id: a for a in adoptions}
        first = next((mine[c.id] for c in officer_comuni if c.id in mine), None)
        if first is not None:
            adoption_form.comune.data = first.comune_id
            adoption_form.status.data = first.status
            adoption_form.notes.data = first.notes
            adoption_form.started_on.data = first.started_on
    return _detail_page(
        practice, adoption_form=adoption_form,
        indicator_form=IndicatorForm(prefix="ai") if adoption_form else None,
        officer_comune_ids={c.id for c in officer_comuni},
        # no form (and no CSRF token, no session cookie) for anonymous visitors
        form=EmptyForm() if signed_in else None)


def _detail_page(practice: GoodPractice, **context) -> str:
    """The practice page (templates/catalogue/detail.html) of a practice read by
    `services.practice_page`."""
    return render_template(
        "catalogue/detail.html", practice=practice, adoptions=practice.adoptions,
        related=services.related_practices(practice.id, practice.themes), links=links(),
        may_edit=authz.can("catalogue.edit", practice),
        breadcrumbs=_crumbs((practice.title, None)), **context)


@bp.get("/pratiche/<slug>/storia")
@authz.public
def history(slug: str):
    practice = _load(slug)
    revisions = db.session.scalars(
        select(PracticeRevision).where(PracticeRevision.practice_id == practice.id)
        .options(selectinload(PracticeRevision.author))
        .order_by(PracticeRevision.number.desc())).all()
    changes = {}
    for newer, older in zip(revisions, [*revisions[1:], None], strict=True):
        changes[newer.id] = _diff(older.snapshot if older else {}, newer.snapshot)
    return render_template(
        "catalogue/history.html", practice=practice, revisions=revisions, changes=changes,
        breadcrumbs=_crumbs((practice.title, url_for("catalogue.detail", slug=slug)),
                            (_("Storia delle modifiche"), None)))


FIELD_LABELS = {
    "title": "Titolo", "summary": "Sintesi", "body": "Descrizione", "status": "Stato",
    "started_on": "Data di avvio", "ended_on": "Data di conclusione",
    "beneficiaries": "Destinatari", "beneficiaries_count": "Numero di beneficiari",
    "cost_cents": "Costo", "funding_sources": "Fonti di finanziamento", "contacts": "Contatti",
    "origin_label": "Origine", "origin_url": "Collegamento all'origine", "themes": "Temi",
    "comuni": "Comuni", "promoters": "Promotori", "indicators": "Indicatori",
}


def _diff(old: dict, new: dict) -> list[dict]:
    """The fields that changed between two snapshots, with before and after for short ones."""
    import difflib

    out = []
    for key, label in FIELD_LABELS.items():
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        entry = {"label": _(label), "before": None, "after": None, "lines": None}
        if key == "body":
            entry["lines"] = [line for line in difflib.unified_diff(
                (before or "").splitlines(), (after or "").splitlines(), lineterm="", n=0)
                if line[:1] in "+-" and not line.startswith(("+++", "---"))][:40]
        elif key == "cost_cents":
            entry["before"], entry["after"] = money(before), money(after)
        elif isinstance(after, list) or isinstance(before, list):
            entry["before"] = ", ".join(before or []) or "—"
            entry["after"] = ", ".join(after or []) or "—"
        elif key == "status":
            entry["before"] = services.status_label(before) if before else "—"
            entry["after"] = services.status_label(after) if after else "—"
        else:
            entry["before"] = before if before not in (None, "") else "—"
            entry["after"] = after if after not in (None, "") else "—"
        out.append(entry)
    return out


@bp.get("/pratiche/<slug>/file/<int:file_id>")
@authz.public
def file(slug: str, file_id: int):
    practice = _load(slug)
    row = db.get_or_404(PracticeFile, file_id)
    if row.practice_id != practice.id:
        abort(404)
    inline = row.is_image and request.args.get("scarica") is None
    response = send_file_safely(row.storage_key, row.filename, row.content_type, inline=inline)
    if not practice.is_published:
        response.headers["Cache-Control"] = "private, no-store"
    return response


# --------------------------------------------------------------------------- drafting


def _practice_form(practice: GoodPractice | None = None, data: dict | None = None) -> PracticeForm:
    form = PracticeForm(obj=practice, data=data)
    form.themes.choices = [(t.id, t.label) for t in services.themes()]
    if practice is not None:
        active = {t.id for t in services.themes()}
        form.themes.choices += [(t.id, t.label) for t in practice.themes if t.id not in active]
    form.comuni.choices = [(c.id, c.name) for c in db.session.scalars(
        select(Comune).order_by(Comune.name))]
    owners = services.owner_choices(current_user)
    if practice is not None:
        current = (f"comune:{practice.owner_comune_id}" if practice.owner_comune_id else
                   f"association:{practice.owner_association_id}"
                   if practice.owner_association_id else "")
        if current and current not in dict(owners):
            owner_name = (practice.owner_comune.name if practice.owner_comune else
                          practice.owner_association.name if practice.owner_association else "")
            owners.insert(0, (current, owner_name))
        if not form.is_submitted():
            form.owner.data = current
            form.themes.data = [t.id for t in practice.themes]
            form.comuni.data = [c.id for c in practice.comuni]
            form.cost.data = practice.cost_cents
    form.owner.choices = [("", _("Automatico: il mio Comune o la mia associazione"))] + owners
    return form


def _owner_data(form: PracticeForm) -> dict:
    kind, _sep, ident = (form.owner.data or "").partition(":")
    number = parse_id(ident)
    if kind == "comune" and number:
        return {"owner_comune_id": number, "owner_association_id": None}
    if kind == "association" and number:
        return {"owner_comune_id": None, "owner_association_id": number}
    return {}


@bp.route("/pratiche/nuova", methods=["GET", "POST"])
@authz.roles(Role.MODERATOR, Role.COMUNE_OFFICER)
def new():
    authz.require("catalogue.create")
    prefill = services.prefill_from(request.args) if request.method == "GET" else {}
    form = _practice_form(data={k: v for k, v in prefill.items()
                                if k in ("title", "summary", "body", "status",
                                         "origin_label", "origin_url")})
    if prefill.get("comuni") and not form.is_submitted():
        form.comuni.data = [int(c) for c in prefill["comuni"]]
    crumbs = _crumbs((_("Nuova buona pratica"), None))
    if prefill.get("themes") and not form.is_submitted():
        wanted = services.themes_from(prefill["themes"])
        form.themes.data = [t.id for t in wanted]
    if form.validate_on_submit():
        data = form.to_data() | _owner_data(form)
        try:
            practice = services.create_draft(current_user, data)
        except services.CatalogueError as exc:
            refuse(form, exc, _FORM_FIELDS.get(exc.field))
            return render_template("catalogue/form.html", form=form, breadcrumbs=crumbs), 422
        flash(_("Bozza salvata. Aggiungi promotori, risultati e allegati, poi pubblicala."),
              "success")
        return redirect(url_for("catalogue.edit", slug=practice.slug), code=303)
    if form.is_submitted():
        return render_template("catalogue/form.html", form=form, breadcrumbs=crumbs), 422
    return render_template("catalogue/form.html", form=form, breadcrumbs=crumbs)


#: fields the services name that the form calls otherwise
_FORM_FIELDS = {"cost_cents": "cost"}


def _practice_or_404(slug: str) -> GoodPractice:
    practice = services.practice_by_slug(slug)
    if practice is None:
        abort(404)
    return practice


def _editable(slug: str) -> GoodPractice:
    practice = _practice_or_404(slug)
    authz.require("catalogue.edit", practice)
    return practice


def _edit_page(practice: GoodPractice, status: int = 200, **forms):
    form = forms.get("form") or _practice_form(practice)
    promoter_form = forms.get("promoter_form") or PromoterForm(prefix="p", formdata=None)
    promoter_form.association_id.choices = [("", _("— nessuna —"))] + [
        (str(a.id), a.name) for a in db.session.scalars(select(Association).order_by(
            Association.name))]
    indicator_form = forms.get("indicator_form") or IndicatorForm(prefix="i", formdata=None)
    file_form = forms.get("file_form") or FileForm(prefix="f", formdata=None)
    indicators = db.session.scalars(select(Indicator).where(
        Indicator.practice_id == practice.id, Indicator.adoption_id.is_(None))
        .order_by(Indicator.measured_on, Indicator.id)).all()
    return render_template(
        "catalogue/edit.html", practice=practice, form=form, promoter_form=promoter_form,
        indicator_form=indicator_form, file_form=file_form, indicators=indicators,
        action_form=EmptyForm(), upload_limits=services.upload_limit_text(),
        breadcrumbs=_crumbs((practice.title, url_for("catalogue.detail", slug=practice.slug)),
                            (_("Modifica"), None))), status


@bp.route("/pratiche/<slug>/modifica", methods=["GET", "POST"])
@authz.login_required  # catalogue.edit decides, below
def edit(slug: str):
    practice = _editable(slug)
    form = _practice_form(practice)
    if form.validate_on_submit():
        data = form.to_data() | _owner_data(form)
        try:
            services.update_practice(current_user, practice, data, form.note.data)
        except services.CatalogueError as exc:
            refuse(form, exc, _FORM_FIELDS.get(exc.field))
            practice = _editable(slug)
            return _edit_page(practice, 422, form=form)
        flash(_("Modifiche salvate."), "success")
        return redirect(url_for("catalogue.edit", slug=practice.slug), code=303)
    if form.is_submitted():
        return _edit_page(practice, 422, form=form)
    return _edit_page(practice, form=form)


def _action(practice: GoodPractice, policy: str, run, message: str):
    authz.require(policy, practice)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        run()
    except services.CatalogueError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("catalogue.edit", slug=practice.slug), code=303)
    flash(message, "success")
    return redirect(url_for("catalogue.detail", slug=practice.slug), code=303)


@bp.post("/pratiche/<slug>/pubblica")
@authz.roles(Role.COMUNE_OFFICER)
def publish(slug: str):
    practice = _practice_or_404(slug)
    return _action(practice, "catalogue.publish",
                   lambda: services.publish(current_user, practice),
                   _("Buona pratica pubblicata: ora è nel catalogo e nei dati aperti."))


@bp.post("/pratiche/<slug>/ritira")
@authz.roles(Role.COMUNE_OFFICER)
def unpublish(slug: str):
    practice = _practice_or_404(slug)
    return _action(practice, "catalogue.publish",
                   lambda: services.unpublish(current_user, practice),
                   _("La pratica è tornata in bozza e non è più pubblica."))


@bp.post("/pratiche/<slug>/promotori")
@authz.login_required  # catalogue.edit decides, below
def add_promoter(slug: str):
    practice = _editable(slug)
    form = PromoterForm(prefix="p")
    form.association_id.choices = [("", "")] + [
        (str(a.id), a.name) for a in db.session.scalars(select(Association))]
    if form.validate_on_submit():
        try:
            services.add_promoter(current_user, practice, {
                "name": form.name.data, "kind": form.kind.data or None, "role": form.role.data,
                "association_id": form.association_id.data or None})
        except services.CatalogueError as exc:
            refuse(form, exc, _FORM_FIELDS.get(exc.field))
            practice = _editable(slug)
            return _edit_page(practice, 422, promoter_form=form)
        flash(_("Promotore aggiunto."), "success")
        return redirect(url_for("catalogue.edit", slug=slug) + "#promotori", code=303)
    return _edit_page(practice, 422, promoter_form=form)


@bp.post("/pratiche/<slug>/promotori/<int:promoter_id>/elimina")
@authz.login_required  # catalogue.edit decides, below
def remove_promoter(slug: str, promoter_id: int):
    practice = _editable(slug)
    promoter = db.get_or_404(Promoter, promoter_id)
    if promoter.practice_id != practice.id:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    services.remove_promoter(current_user, practice, promoter)
    flash(_("Promotore rimosso."), "success")
    return redirect(url_for("catalogue.edit", slug=slug) + "#promotori", code=303)


@bp.post("/pratiche/<slug>/indicatori")
@authz.login_required  # catalogue.edit decides, below
def add_indicator(slug: str):
    practice = _editable(slug)
    form = IndicatorForm(prefix="i")
    if form.validate_on_submit():
        services.add_indicator(current_user, practice, {
            "name": form.name.data, "value": form.value.number, "unit": form.unit.data,
            "measured_on": form.measured_on.data})
        flash(_("Indicatore aggiunto."), "success")
        return redirect(url_for("catalogue.edit", slug=slug) + "#risultati", code=303)
    return _edit_page(practice, 422, indicator_form=form)


@bp.post("/pratiche/<slug>/indicatori/<int:indicator_id>/elimina")
@authz.login_required  # catalogue.edit decides, below
def remove_indicator(slug: str, indicator_id: int):
    practice = _practice_or_404(slug)
    indicator = db.get_or_404(Indicator, indicator_id)
    if indicator.practice_id != practice.id:
        abort(404)
    if indicator.adoption_id is None:
        authz.require("catalogue.edit", practice)
        back = url_for("catalogue.edit", slug=slug) + "#risultati"
    else:
        authz.require("catalogue.adopt", db.session.get(Adoption, indicator.adoption_id).comune)
        back = url_for("catalogue.detail", slug=slug) + "#adozioni"
    if not EmptyForm().validate_on_submit():
        abort(400)
    services.remove_indicator(current_user, practice, indicator)
    flash(_("Indicatore rimosso."), "success")
    return redirect(back, code=303)


@bp.post("/pratiche/<slug>/file")
@authz.login_required  # catalogue.edit decides, below
def upload(slug: str):
    practice = _editable(slug)
    form = FileForm(prefix="f")
    if form.validate_on_submit():
        upload_ = form.file.data
        try:
            _row, stale = services.add_file(current_user, practice, upload_.stream,
                                            upload_.filename or "", form.kind.data,
                                            form.title.data)
        except services.CatalogueError as exc:
            refuse(form, exc, "file")
            practice = _editable(slug)
            return _edit_page(practice, 422, file_form=form)
        flash(_("File caricato."), "success")
        return redirect(url_for("catalogue.edit", slug=slug) + "#file", code=303)
    return _edit_page(practice, 422, file_form=form)


@bp.post("/pratiche/<slug>/file/<int:file_id>/elimina")
@authz.login_required  # catalogue.edit decides, below
def remove_file(slug: str, file_id: int):
    practice = _editable(slug)
    row = db.get_or_404(PracticeFile, file_id)
    if row.practice_id != practice.id:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    services.remove_file(current_user, practice, row)
    flash(_("File rimosso."), "success")
    return redirect(url_for("catalogue.edit", slug=slug) + "#file", code=303)


@bp.route("/pratiche/<slug>/elimina", methods=["GET", "POST"])
@authz.login_required  # catalogue.edit decides, below
def delete(slug: str):
    """Delete a draft that was never published, after a confirmation page (no JavaScript
    needed). Those who may not edit it get 403; a practice that was ever published, 409."""
    practice = _editable(slug)
    crumbs = _crumbs((practice.title, url_for("catalogue.edit", slug=practice.slug)),
                     (_("Elimina"), None))
    if practice.was_ever_published:
        return render_template("catalogue/delete.html", practice=practice, form=None,
                               refused=services.never_deletable_text(),
                               breadcrumbs=crumbs), 409
    authz.require("catalogue.delete", practice)
    form = EmptyForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        title = practice.title
        services.delete_draft(current_user, practice)
        flash(_("Bozza «%(title)s» eliminata.", title=title), "success")
        return redirect(url_for("catalogue.drafts"), code=303)
    indicator_count = len(practice.indicators)
    return render_template("catalogue/delete.html", practice=practice, form=form, refused=None,
                           indicator_count=indicator_count, breadcrumbs=crumbs)


@bp.get("/pratiche/bozze")
@authz.roles(Role.MODERATOR, Role.COMUNE_OFFICER)
def drafts():
    authz.require("catalogue.create")
    return render_template("catalogue/drafts.html", drafts=services.editable_drafts(current_user),
                           breadcrumbs=_crumbs((_("Bozze"), None)))


# --------------------------------------------------------------------------- adoption


@bp.post("/pratiche/<slug>/adozione")
@authz.roles(Role.COMUNE_OFFICER)
def adopt(slug: str):
    practice = _load(slug)
    comuni = services.adoption_comuni(current_user)
    form = _adoption_form(practice, comuni)
    if form is None:
        abort(403)
    if form.validate_on_submit():
        comune = db.session.get(Comune, form.comune.data)
        authz.require("catalogue.adopt", comune)
        try:
            services.declare_adoption(current_user, practice, comune, form.status.data,
                                      form.notes.data, form.started_on.data)
        except services.CatalogueError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for("catalogue.detail", slug=slug), code=303)
        flash(_("Adozione registrata per %(comune)s.", comune=comune.name), "success")
        return redirect(url_for("catalogue.detail", slug=slug) + "#adozioni", code=303)
    page = services.practice_page(slug)
    return _detail_page(
        page, adoption_form=form, indicator_form=IndicatorForm(prefix="ai", formdata=None),
        officer_comune_ids={c.id for c in comuni}, form=EmptyForm()), 422


@bp.post("/pratiche/<slug>/adozione/<int:adoption_id>/indicatori")
@authz.roles(Role.COMUNE_OFFICER)
def add_adoption_indicator(slug: str, adoption_id: int):
    practice = _load(slug)
    adoption = db.get_or_404(Adoption, adoption_id)
    if adoption.practice_id != practice.id:
        abort(404)
    authz.require("catalogue.adopt", adoption.comune)
    form = IndicatorForm(prefix="ai")
    if form.validate_on_submit():
        services.add_indicator(current_user, practice, {
            "name": form.name.data, "value": form.value.number, "unit": form.unit.data,
            "measured_on": form.measured_on.data}, adoption=adoption)
        flash(_("Indicatore aggiunto all'adozione di %(comune)s.", comune=adoption.comune.name),
              "success")
    else:
        errors = "; ".join(f"{form[name].label.text}: {' '.join(map(str, msgs))}"
                           for name, msgs in form.errors.items() if name in form)
        flash(_("Indicatore non aggiunto. %(errors)s", errors=errors), "error")
    return redirect(url_for("catalogue.detail", slug=slug) + "#adozioni", code=303)


# --------------------------------------------------------------------------- themes


def _themes_page(form: ThemeForm, status: int = 200):
    return render_template("catalogue/themes.html", themes=services.themes(active_only=False),
                           form=form, action_form=EmptyForm(),
                           breadcrumbs=_crumbs((_("Temi"), None))), status


@bp.route("/pratiche/temi", methods=["GET", "POST"])
@authz.roles(Role.COORDINATOR)
def themes():
    authz.require("catalogue.manage_themes")
    form = ThemeForm()
    if form.validate_on_submit():
        try:
            services.add_theme(current_user, form.name.data)
        except services.CatalogueError as exc:
            refuse(form, exc, "name")
            return _themes_page(form, 422)
        flash(_("Tema aggiunto."), "success")
        return redirect(url_for("catalogue.themes"), code=303)
    if form.is_submitted():
        return _themes_page(form, 422)
    return _themes_page(form)


@bp.post("/pratiche/temi/<int:theme_id>/stato")
@authz.roles(Role.COORDINATOR)
def toggle_theme(theme_id: int):
    authz.require("catalogue.manage_themes")
    theme = db.get_or_404(Theme, theme_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    services.set_theme_active(current_user, theme, not theme.active)
    return redirect(url_for("catalogue.themes"), code=303)


def adoption_counter():
    """"adottata da N Comuni" for the cards of a list."""
    from flask_babel import ngettext

    def text(n: int) -> str:
        return ngettext("adottata da %(num)d Comune", "adottata da %(num)d Comuni", n)

    return text


def init_template_globals(app) -> None:
    app.jinja_env.globals.update(
        practice_status_labels=lambda: texts()["status"],
        adoption_counter=adoption_counter,
        practice_status_label=lambda v: texts()["status"].get(v, v),
        promoter_kind_label=lambda v: texts()["kind"].get(v, v),
        adoption_status_label=lambda v: texts()["adoption"].get(v, v))

