"""Pages of the tables: public records, and the work of chairs, secretaries and officers."""

from __future__ import annotations

import json
from datetime import date, datetime
from types import SimpleNamespace

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from portal import authz
from portal.authz import Role
from portal.catalogue.models import GoodPractice
from portal.core.services import absolute_url
from portal.db_setup import utcnow
from portal.extensions import db
from portal.forms import EmptyForm
from portal.i18n import ROME
from portal.network.models import Association, Comune
from portal.tables import bp, calendar, documents, loop, public, services
from portal.tables.forms import (
    AgendaItemForm,
    CommentForm,
    ImplementedForm,
    IntroForm,
    ItemForm,
    MeetingForm,
    MemberForm,
    MoveForm,
    ProgressForm,
    ReasonForm,
)
from portal.tables.models import (
    AgendaItem,
    AttendanceStatus,
    Decision,
    Meeting,
    MeetingStatus,
    Project,
    Table,
    TableMember,
)
from portal.web import id_arg, page_arg, parse_id, parse_int, refuse, wants_partial

TABLE_ROLES = (Role.TABLE_CHAIR, Role.TABLE_SECRETARY, Role.TABLE_MEMBER)
MANAGERS = (Role.TABLE_CHAIR, Role.TABLE_SECRETARY)
PROJECT_ROLES = (Role.COMUNE_OFFICER, Role.TABLE_CHAIR, Role.TABLE_SECRETARY)
#: members listed on a table's page; the inter-municipal table can seat every Comune
MEMBERS_SHOWN = 60
#: tables per page of the index (the Rete can hold every Comune of a region)
INDEX_PAGE = 50
#: meetings on a table's page: the next ones and the latest past ones; the rest is in the
#: yearly archive (ten years of meetings must not make the page heavier)
UPCOMING_SHOWN = 5
PAST_SHOWN = 10
#: projects listed in each section of an accountability page (the heading counts them all,
#: and links to the whole section, PROJECTS_PAGE a page)
PROJECTS_SHOWN = 20
PROJECTS_PAGE = 50


def _table_or_404(slug: str) -> Table:
    return db.first_or_404(db.select(Table).where(Table.slug == slug))


def _meeting_or_404(meeting_id: int) -> Meeting:
    return db.get_or_404(Meeting, meeting_id)


def _crumbs(table: Table | None = None, *more) -> list:
    crumbs = [(_("Tavoli"), url_for("tables.index"))]
    if table is not None:
        crumbs.append((table.name, url_for("tables.table", slug=table.slug)))
    crumbs.extend(more)
    if len(crumbs) and crumbs[-1][1] is not None:
        crumbs[-1] = (crumbs[-1][0], None)
    return crumbs


def _submit(form, field: str, save, done: str, target: str, page):
    """A posted form: when valid, `save()` through the service, flash `done` and answer 303
    to `target` (the request's end commits); when invalid or a rule of the service is broken
    (the message goes on `field` unless the service names one), `page(form)` answers 422
    with the errors."""
    if form.validate_on_submit():
        try:
            save()
        except services.TablesError as exc:
            refuse(form, exc, field)  # rolled back: `page` reads the records again
            return page(form)
        flash(done, "success")
        return redirect(target, code=303)
    return page(form)


# --------------------------------------------------------------------------- public pages


@bp.get("/tavoli")
@authz.public
def index():
    after = (request.args.get("dopo") or "")[:180] or None
    rows = services.index_rows(after, INDEX_PAGE)
    next_url = None
    if len(rows) > INDEX_PAGE:
        rows = rows[:INDEX_PAGE]
        next_url = url_for("tables.index", dopo=rows[-1].slug)
    rete = services.rete_table_row() if after is None else None
    tables = ([rete] if rete else []) + rows
    return render_template("tables/index.html", tables=tables,
                           upcoming=services.next_meetings([t.id for t in tables]),
                           page={"next_url": next_url,
                                 "prev_url": url_for("tables.index") if after else None},
                           breadcrumbs=[(_("Tavoli"), None)])


def _table_info_or_404(slug: str) -> services.TableInfo:
    table = services.table_info(slug)
    if table is None:
        abort(404)
    return table


@bp.get("/tavoli/<slug>")
@authz.public
def table(slug: str):
    page = public.table_page(slug, seats_shown=MEMBERS_SHOWN, upcoming=UPCOMING_SHOWN,
                             past=PAST_SHOWN, decisions=10)
    if page is None:
        abort(404)
    table = page.table
    can_manage = authz.can("tables.manage_meetings", table)
    can_seat = authz.can("tables.manage_members", table)
    seats = page.seats
    return render_template(
        "tables/table.html", table=table, table_url=url_for("tables.table", slug=table.slug),
        members=seats,
        member_count=services.member_count(table) if len(seats) == MEMBERS_SHOWN else None,
        upcoming=page.upcoming, past=page.past, years=page.years, decisions=page.decisions,
        drafts=services.draft_meetings(table) if can_manage else [],
        may_meet=can_manage, may_seat=can_seat, breadcrumbs=_crumbs(table),
    )


@bp.get("/tavoli/<slug>/sedute")
@authz.public
def archive(slug: str):
    table = _table_info_or_404(slug)
    asked = parse_int(request.args.get("anno"), 1900, 2999)
    years, year, meetings = services.archive_year(table, asked)
    return render_template("tables/archive.html", table=table, years=years, year=year,
                           meetings=meetings,
                           breadcrumbs=_crumbs(table, (_("Sedute del %(y)d", y=year), None)))


@bp.get("/tavoli/<slug>/delibere")
@authz.public
def decisions(slug: str):
    table = _table_info_or_404(slug)
    before = _parse_cursor(request.args.get("prima"))
    rows = services.decision_page(table.id, limit=21, before=before)
    next_url = None
    if len(rows) > 20:
        rows = rows[:20]
        last = rows[-1]
        next_url = url_for("tables.decisions", slug=slug,
                           prima=f"{last.decided_on.isoformat()}_{last.id}")
    return render_template("tables/decisions.html", table=table, decisions=rows,
                           page={"next_url": next_url,
                                 "prev_url": url_for("tables.decisions", slug=slug)
                                 if before else None},
                           breadcrumbs=_crumbs(table, (_("Delibere"), None)))


def _parse_cursor(raw: str | None) -> tuple[date, int] | None:
    if not raw or "_" not in raw or len(raw) > 40:
        return None
    day, _sep, ident = raw.partition("_")
    try:
        day_value = date.fromisoformat(day)
    except ValueError:
        return None
    id_value = parse_id(ident)
    return (day_value, id_value) if id_value is not None else None


@bp.get("/tavoli/<slug>/calendario.ics")
@authz.public
def table_ics(slug: str):
    table = _table_or_404(slug)
    return calendar.response(calendar.feed(table.name, [table.id]), f"{table.slug}.ics")


@bp.get("/comuni/<slug>/sedute.ics")
@authz.public
def comune_ics(slug: str):
    comune = db.first_or_404(db.select(Comune).where(Comune.slug == slug))
    ids = [t.id for t in db.session.scalars(db.select(Table).where(
        (Table.comune_id == comune.id) | Table.comune_id.is_(None)))]
    return calendar.response(
        calendar.feed(_("Sedute dei tavoli per %(c)s", c=comune.name), ids),
        f"sedute-{comune.slug}.ics")


@bp.get("/sedute/<int:meeting_id>.ics")
@authz.public
def meeting_ics(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    authz.require("tables.view_meeting", meeting)
    return calendar.response(calendar.single(meeting), f"seduta-{meeting.id}.ics")


@bp.get("/tavoli/<slug>/delibere.atom")
@authz.public
def table_atom(slug: str):
    table = _table_or_404(slug)
    rows = services.latest_decisions([table.id], limit=50)
    body = render_template("tables/decisions_atom.xml", table=table, decisions=rows,
                           updated=max((d.published_at for d in rows), default=utcnow()),
                           outcome_text=documents.OUTCOME_TEXT)
    response = make_response(body)
    response.content_type = "application/atom+xml; charset=utf-8"
    return response


@bp.get("/sedute/<int:meeting_id>")
@authz.public
def meeting(meeting_id: int):
    meeting = services.meeting_page(meeting_id)
    if meeting is None:
        abort(404)  # (a light read model, not an entity: no get_or_404)
    authz.require("tables.view_meeting", meeting)
    revision = meeting.revision
    if revision is None:
        revisions = []
    elif revision.number == 1:
        revisions = [revision]  # the only one: no query needed
    else:
        revisions = services.revisions(meeting)
    # Only a secretary may start the minutes: anyone else gets no form (and no CSRF token,
    # so an anonymous visit sets no cookie).
    signed_in = current_user.is_authenticated  # visitors: no policy to ask
    may_start = (signed_in and meeting.minutes_id is None
                 and meeting.status == MeetingStatus.CONVENED
                 and authz.can("tables.draft_minutes", meeting))
    return render_template(
        "tables/meeting.html", meeting=meeting, table=meeting.table, minutes=meeting.minutes_id,
        meeting_url=url_for("tables.meeting", meeting_id=meeting.id),
        table_url=url_for("tables.table", slug=meeting.table.slug),
        may_manage=signed_in and authz.can("tables.manage_meetings", meeting.table),
        may_read_draft=signed_in and authz.can("tables.read_draft", meeting),
        revision=revision, content=services.content_of(revision) if revision else None,
        revisions=revisions, quorum=services.quorum(meeting) if revision is None else None,
        form=EmptyForm() if may_start else None, may_start=may_start,
        breadcrumbs=_crumbs(meeting.table, (meeting.title, None)),
    )


@bp.get("/sedute/<int:meeting_id>/verbale/revisioni/<int:number>")
@authz.public
def revision(meeting_id: int, number: int):
    meeting = _meeting_or_404(meeting_id)
    rev = services.revision(meeting, number)
    if rev is None:
        abort(404)
    return render_template(
        "tables/revision.html", meeting=meeting, table=meeting.table, revision=rev,
        content=services.content_of(rev), diff=services.revision_diff(meeting, number),
        revisions=services.revisions(meeting), verified=services.verify(rev),
        outcome_text=documents.OUTCOME_TEXT,
        breadcrumbs=_crumbs(meeting.table,
                            (meeting.title, url_for("tables.meeting", meeting_id=meeting.id)),
                            (_("Revisione %(n)d", n=number), None)),
    )


def _revision_arg(meeting: Meeting):
    number = id_arg("revisione") or meeting.minutes_revision
    rev = services.revision(meeting, number) if number else None
    if rev is None:
        abort(404)
    return rev


@bp.get("/sedute/<int:meeting_id>/verbale/stampa")
@authz.public
def minutes_print(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    rev = _revision_arg(meeting)
    return render_template("tables/print.html", meeting=meeting, table=meeting.table,
                           revision=rev, content=services.content_of(rev))


@bp.get("/sedute/<int:meeting_id>/verbale.pdf")
@authz.public
def minutes_pdf(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    rev = _revision_arg(meeting)
    url = absolute_url(url_for("tables.revision", meeting_id=meeting.id, number=rev.number))
    response = make_response(documents.pdf(json.loads(rev.content), rev.content_hash, url))
    response.content_type = "application/pdf"
    response.headers["Content-Disposition"] = (
        f'inline; filename="verbale-seduta-{meeting.id}-rev{rev.number}.pdf"')
    return response


@bp.get("/delibere/<int:decision_id>")
@authz.public
def decision(decision_id: int):
    decision = db.get_or_404(Decision, decision_id)
    current = services.current_version(decision)
    project = (services.project_for_proposal(decision.proposal_id)
               if decision.proposal_id else None)
    return render_template(
        "tables/decision.html", decision=decision, current=current, project=project,
        outcome_text=documents.OUTCOME_TEXT, practice_url=_practice_url(project),
        breadcrumbs=_crumbs(decision.table, (decision.title, None)),
    )


def _practice_url(project: Project | None) -> str | None:
    """The catalogue page of the practice a project became, when the catalogue has one."""
    if project is None or project.practice_id is None:
        return None
    practice = db.session.get(GoodPractice, project.practice_id)
    if practice is None:
        return None
    for endpoint in ("catalogue.detail", "catalogue.practice", "catalogue.show"):
        if endpoint in current_app.view_functions:
            return url_for(endpoint, slug=practice.slug)
    return None


# --------------------------------------------------------------------------- members


def _member_form() -> MemberForm:
    form = MemberForm()
    form.comune_id.choices = [("", _("— nessuno —"))] + [
        (str(c.id), c.name) for c in db.session.scalars(db.select(Comune).order_by(Comune.name))]
    form.association_id.choices = [("", _("— nessuna —"))] + [
        (str(a.id), a.name)
        for a in db.session.scalars(db.select(Association).order_by(Association.name))]
    return form


def _members_page(table: Table, form: MemberForm, status: int = 200):
    return render_template(
        "tables/members.html", table=table, members=services.members(table), form=form,
        remove_form=EmptyForm(), represents=services.represents,
        breadcrumbs=_crumbs(table, (_("Componenti"), None)),
    ), status


@bp.route("/tavoli/<slug>/componenti", methods=["GET", "POST"])
@authz.roles(Role.TABLE_CHAIR, Role.COMUNE_OFFICER)
def members(slug: str):
    table = _table_or_404(slug)
    authz.require("tables.manage_members", table)
    form = _member_form()
    if not form.is_submitted():
        return _members_page(table, form)
    if form.validate():
        try:
            services.add_member(current_user, table, form.email.data, form.role.data,
                                form.body_kind.data, form.as_int(form.comune_id.data),
                                form.as_int(form.association_id.data), form.title.data)
        except services.TablesError as exc:
            refuse(form, exc, "email")
            return _members_page(table, form, 422)
        flash(_("Componente aggiunto al tavolo."), "success")
        return redirect(url_for("tables.members", slug=slug), code=303)
    return _members_page(table, form, 422)


@bp.post("/tavoli/<slug>/componenti/<int:member_id>/rimuovi")
@authz.roles(Role.TABLE_CHAIR, Role.COMUNE_OFFICER)
def remove_member(slug: str, member_id: int):
    table = _table_or_404(slug)
    member = db.session.get(TableMember, member_id)
    if member is None or member.table_id != table.id:
        abort(404)
    authz.require("tables.manage_members", table)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        services.remove_member(current_user, member)
    except services.TablesError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        flash(_("%(name)s non fa più parte del tavolo.", name=member.user.name), "success")
    return redirect(url_for("tables.members", slug=slug), code=303)


# --------------------------------------------------------------------------- meetings


def _meeting_data(form: MeetingForm) -> dict:
    starts = datetime.combine(form.day.data, form.start_time.data, tzinfo=ROME)
    ends = (datetime.combine(form.day.data, form.ends_time.data, tzinfo=ROME)
            if form.ends_time.data else None)
    return {"title": form.title.data, "starts_at": starts, "ends_at": ends,
            "place": form.place.data, "online_url": form.online_url.data,
            "notes": form.notes.data}


def _meeting_form_page(table: Table, form: MeetingForm, meeting: Meeting | None,
                       status: int = 200):
    label = _("Modifica la seduta") if meeting else _("Nuova seduta")
    return render_template("tables/meeting_form.html", table=table, form=form, meeting=meeting,
                           heading=label, breadcrumbs=_crumbs(table, (label, None))), status


@bp.route("/tavoli/<slug>/sedute/nuova", methods=["GET", "POST"])
@authz.roles(*MANAGERS)
def new_meeting(slug: str):
    table = _table_or_404(slug)
    authz.require("tables.manage_meetings", table)
    form = MeetingForm()
    if not form.is_submitted():
        return _meeting_form_page(table, form, None)
    if form.validate():
        try:
            meeting = services.create_meeting(current_user, table, _meeting_data(form))
        except services.TablesError as exc:
            refuse(form, exc, "title")
            return _meeting_form_page(table, form, None, 422)
        flash(_("Seduta creata: ora prepara l'ordine del giorno."), "success")
        return redirect(url_for("tables.agenda", meeting_id=meeting.id), code=303)
    return _meeting_form_page(table, form, None, 422)


@bp.route("/sedute/<int:meeting_id>/modifica", methods=["GET", "POST"])
@authz.roles(*MANAGERS)
def edit_meeting(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    authz.require("tables.manage_meetings", meeting.table)
    form = MeetingForm(obj=meeting)
    if not form.is_submitted():
        starts = services.local(meeting.starts_at)
        form.day.data, form.start_time.data = starts.date(), starts.time()
        if meeting.ends_at:
            form.ends_time.data = services.local(meeting.ends_at).time()
        return _meeting_form_page(meeting.table, form, meeting)
    if form.validate():
        try:
            services.update_meeting(current_user, meeting, _meeting_data(form))
        except services.TablesError as exc:
            refuse(form, exc, "title")
            return _meeting_form_page(meeting.table, form, meeting, 422)
        flash(_("Seduta aggiornata."), "success")
        return redirect(url_for("tables.agenda", meeting_id=meeting.id), code=303)
    return _meeting_form_page(meeting.table, form, meeting, 422)


def _agenda_page(meeting: Meeting, form: AgendaItemForm | None = None, status: int = 200):
    template = "tables/_agenda.html" if wants_partial() else "tables/agenda.html"
    return render_template(
        template, meeting=meeting, table=meeting.table, form=form or AgendaItemForm(),
        offered=services.offered_proposals(meeting) if meeting.minutes is None
        and meeting.status != MeetingStatus.CANCELLED else [],
        action_form=EmptyForm(), move_form=MoveForm(), reason_form=ReasonForm(),
        local=services.local,
        breadcrumbs=_crumbs(meeting.table,
                            (meeting.title, url_for("tables.meeting", meeting_id=meeting.id)),
                            (_("Ordine del giorno"), None)),
    ), status


@bp.get("/sedute/<int:meeting_id>/ordine-del-giorno")
@authz.roles(*MANAGERS)
def agenda(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    authz.require("tables.manage_meetings", meeting.table)
    return _agenda_page(meeting)


@bp.post("/sedute/<int:meeting_id>/punti")
@authz.roles(*MANAGERS)
def add_item(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    authz.require("tables.manage_meetings", meeting.table)
    form = AgendaItemForm()
    if form.validate_on_submit():
        try:
            services.add_agenda_item(current_user, meeting, form.title.data,
                                     form.description.data, form.proposal())
        except services.TablesError as exc:
            refuse(form, exc, "title")
            return _agenda_page(meeting, form, 422)
        if wants_partial():
            return _agenda_page(meeting)
        flash(_("Punto aggiunto all'ordine del giorno."), "success")
        return redirect(url_for("tables.agenda", meeting_id=meeting.id), code=303)
    return _agenda_page(meeting, form, 422)


def _item_or_404(meeting: Meeting, item_id: int) -> AgendaItem:
    item = db.session.get(AgendaItem, item_id)
    if item is None or item.meeting_id != meeting.id:
        abort(404)
    return item


def _item_action(meeting_id: int, item_id: int, form_class, act):
    """Move or remove an agenda item: 400 on a bad form, a broken rule flashed; then the
    agenda again (its partial for htmx)."""
    meeting = _meeting_or_404(meeting_id)
    item = _item_or_404(meeting, item_id)
    authz.require("tables.manage_meetings", meeting.table)
    form = form_class()
    if not form.validate_on_submit():
        abort(400)
    try:
        act(item, form)
    except services.TablesError as exc:
        db.session.rollback()  # the redirect below would otherwise commit the half-done change
        flash(str(exc), "error")
    if wants_partial():
        return _agenda_page(meeting)
    return redirect(url_for("tables.agenda", meeting_id=meeting.id), code=303)


@bp.post("/sedute/<int:meeting_id>/punti/<int:item_id>/sposta")
@authz.roles(*MANAGERS)
def move_item(meeting_id: int, item_id: int):
    return _item_action(meeting_id, item_id, MoveForm, lambda item, form:
                        services.move_agenda_item(current_user, item, form.direction.data))


@bp.post("/sedute/<int:meeting_id>/punti/<int:item_id>/rimuovi")
@authz.roles(*MANAGERS)
def remove_item(meeting_id: int, item_id: int):
    return _item_action(meeting_id, item_id, EmptyForm, lambda item, _form:
                        services.remove_agenda_item(current_user, item))


@bp.post("/sedute/<int:meeting_id>/convoca")
@authz.roles(*MANAGERS)
def convene(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    authz.require("tables.manage_meetings", meeting.table)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        services.convene(current_user, meeting)
    except services.TablesError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _agenda_page(db.session.get(Meeting, meeting_id), status=422)
    if meeting.recorded_afterwards:
        flash(_("Seduta già svolta registrata: ora inserisci presenze e verbale."), "success")
    else:
        flash(_("Seduta convocata: componenti e proponenti sono stati avvisati."), "success")
    return redirect(url_for("tables.meeting", meeting_id=meeting.id), code=303)


@bp.post("/sedute/<int:meeting_id>/annulla")
@authz.roles(*MANAGERS)
def cancel(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    authz.require("tables.manage_meetings", meeting.table)
    form = ReasonForm()
    if form.validate_on_submit():
        try:
            services.cancel_meeting(current_user, meeting, form.reason.data)
        except services.TablesError as exc:
            refuse(form, exc, "reason")
        else:
            flash(_("Seduta annullata."), "success")
            return redirect(url_for("tables.meeting", meeting_id=meeting.id), code=303)
    meeting = db.session.get(Meeting, meeting_id)
    return render_template("tables/agenda.html", meeting=meeting, table=meeting.table,
                           form=AgendaItemForm(), offered=[], action_form=EmptyForm(),
                           move_form=MoveForm(), reason_form=form, local=services.local,
                           breadcrumbs=_crumbs(meeting.table, (meeting.title, None))), 422


# --------------------------------------------------------------------------- attendance


def _attendance_page(meeting: Meeting, marks: dict, errors: dict, status: int = 200):
    return render_template(
        "tables/attendance.html", meeting=meeting, table=meeting.table,
        seats=services.members(meeting.table), marks=marks, errors=errors, form=EmptyForm(),
        quorum=services.quorum(meeting), choices=[
            (AttendanceStatus.PRESENT.value, _("Presente")),
            (AttendanceStatus.ABSENT.value, _("Assente")),
            (AttendanceStatus.DELEGATED.value, _("Con delega"))],
        breadcrumbs=_crumbs(meeting.table,
                            (meeting.title, url_for("tables.meeting", meeting_id=meeting.id)),
                            (_("Presenze"), None)),
    ), status


@bp.route("/sedute/<int:meeting_id>/presenze", methods=["GET", "POST"])
@authz.roles(*MANAGERS)
def attendance(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    authz.require("tables.manage_meetings", meeting.table)
    form = EmptyForm()
    if request.method == "GET":
        marks = {a.member_id: (a.status, a.delegate) for a in services.attendance(meeting)}
        return _attendance_page(meeting, marks, {})
    if not form.validate_on_submit():
        abort(400)
    marks, errors = {}, {}
    for seat in services.members(meeting.table):
        status = request.form.get(f"status_{seat.id}", "")
        delegate = " ".join(request.form.get(f"delegate_{seat.id}", "").split())[:120]
        if any(ord(c) < 32 for c in delegate):
            errors[seat.id] = _("Il testo contiene caratteri non ammessi.")
        elif status not in AttendanceStatus._value2member_map_:
            errors[seat.id] = _("Scegli presente, assente o con delega.")
        elif status == AttendanceStatus.DELEGATED and not delegate:
            errors[seat.id] = _("Indica chi ha ricevuto la delega.")
        marks[seat.id] = (status, delegate or None)
    if not errors:
        try:
            result = services.record_attendance(current_user, meeting, marks)
        except services.TablesError as exc:
            db.session.rollback()
            errors[0] = str(exc)
        else:
            flash(_("Presenze registrate: %(p)d su %(m)d, numero legale %(q)s.",
                    p=result.present, m=result.members,
                    q=_("raggiunto") if result.reached else _("non raggiunto")),
                  "success" if result.reached else "warning")
            return redirect(url_for("tables.meeting", meeting_id=meeting.id), code=303)
    return _attendance_page(meeting, marks, errors, 422)


# --------------------------------------------------------------------------- minutes


def _draft_page(meeting: Meeting, status: int = 200, intro_form=None, comment_form=None,
                reason_form=None):
    minutes = meeting.minutes
    if intro_form is None:
        intro_form = IntroForm(formdata=None, intro=minutes.intro if minutes else "")
    return render_template(
        "tables/minutes_draft.html", meeting=meeting, table=meeting.table, minutes=minutes,
        intro_form=intro_form, comment_form=comment_form or CommentForm(formdata=None),
        reason_form=reason_form or ReasonForm(formdata=None), action_form=EmptyForm(),
        comments=services.comments(minutes) if minutes else [],
        quorum=services.quorum(meeting), outcome_text=documents.OUTCOME_TEXT,
        render=documents.render_markdown,
        breadcrumbs=_crumbs(meeting.table,
                            (meeting.title, url_for("tables.meeting", meeting_id=meeting.id)),
                            (_("Bozza del verbale"), None)),
    ), status


@bp.get("/sedute/<int:meeting_id>/verbale/bozza")
@authz.roles(*TABLE_ROLES)
def minutes_draft(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    authz.require("tables.read_draft", meeting)
    return _draft_page(meeting)


@bp.post("/sedute/<int:meeting_id>/verbale")
@authz.roles(Role.TABLE_SECRETARY)
def minutes_start(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    authz.require("tables.draft_minutes", meeting)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        services.minutes_for(meeting, create=True)
    except services.TablesError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("tables.meeting", meeting_id=meeting.id), code=303)
    return redirect(url_for("tables.minutes_draft", meeting_id=meeting.id), code=303)


def _minutes_or_404(meeting: Meeting):
    if meeting.minutes is None:
        abort(404)
    return meeting.minutes


def _draft_submit(meeting_id: int, policy: str, form_class, slot: str, field: str, save,
                  done: str, anchor: str = ""):
    """A form of the draft minutes' page (`slot` names it there), posted by who `policy`
    allows: see `_submit`; back to the draft, at `anchor`."""
    meeting = _meeting_or_404(meeting_id)
    minutes = _minutes_or_404(meeting)
    authz.require(policy, meeting)
    form = form_class()
    return _submit(form, field, lambda: save(minutes, form), done,
                   url_for("tables.minutes_draft", meeting_id=meeting.id) + anchor,
                   lambda form: _draft_page(meeting, 422, **{slot: form}))


@bp.post("/sedute/<int:meeting_id>/verbale/apertura")
@authz.roles(Role.TABLE_SECRETARY)
def minutes_intro(meeting_id: int):
    return _draft_submit(meeting_id, "tables.draft_minutes", IntroForm, "intro_form", "intro",
                         lambda minutes, form: services.save_intro(current_user, minutes,
                                                                   form.intro.data),
                         _("Apertura del verbale salvata."))


def _item_page(meeting: Meeting, entry, form: ItemForm, status: int = 200):
    return render_template(
        "tables/minutes_item.html", meeting=meeting, table=meeting.table, entry=entry,
        form=form, quorum=services.quorum(meeting),
        breadcrumbs=_crumbs(meeting.table,
                            (meeting.title, url_for("tables.meeting", meeting_id=meeting.id)),
                            (_("Bozza del verbale"),
                             url_for("tables.minutes_draft", meeting_id=meeting.id)),
                            (_("Punto %(n)d", n=entry.agenda_item.position), None)),
    ), status


@bp.route("/sedute/<int:meeting_id>/verbale/punti/<int:item_id>", methods=["GET", "POST"])
@authz.roles(Role.TABLE_SECRETARY)
def minutes_item(meeting_id: int, item_id: int):
    meeting = _meeting_or_404(meeting_id)
    minutes = _minutes_or_404(meeting)
    entry = services.item_of(minutes, item_id)
    if entry is None:
        abort(404)
    authz.require("tables.draft_minutes", meeting)
    if request.method == "GET":
        form = ItemForm(formdata=None, obj=entry)
        if entry.amount_cents:
            form.amount.data = entry.amount_cents
        return _item_page(meeting, entry, form)
    form = ItemForm()
    if form.validate_on_submit():
        try:
            services.save_item(current_user, minutes, entry, form.values())
        except services.TablesError as exc:
            refuse(form, exc, "outcome")
            meeting = db.session.get(Meeting, meeting_id)
            entry = services.item_of(meeting.minutes, item_id)
            return _item_page(meeting, entry, form, 422)
        flash(_("Punto %(n)d salvato.", n=entry.agenda_item.position), "success")
        return redirect(url_for("tables.minutes_draft", meeting_id=meeting.id) +
                        f"#punto-{entry.agenda_item.position}", code=303)
    return _item_page(meeting, entry, form, 422)


@bp.post("/sedute/<int:meeting_id>/verbale/commenti")
@authz.roles(*TABLE_ROLES)
def minutes_comment(meeting_id: int):
    return _draft_submit(meeting_id, "tables.read_draft", CommentForm, "comment_form", "body",
                         lambda minutes, form: services.add_comment(current_user, minutes,
                                                                    form.body.data),
                         _("Commento aggiunto."), anchor="#commenti")


def _minutes_action(meeting_id: int, policy: str, action, done: str):
    meeting = _meeting_or_404(meeting_id)
    minutes = _minutes_or_404(meeting)
    authz.require(policy, meeting)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        action(current_user, minutes)
    except services.TablesError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _draft_page(db.session.get(Meeting, meeting_id), 422)
    flash(done, "success")
    return None


@bp.post("/sedute/<int:meeting_id>/verbale/approva")
@authz.roles(Role.TABLE_CHAIR)
def minutes_approve(meeting_id: int):
    failed = _minutes_action(meeting_id, "tables.approve_minutes", services.approve,
                             _("Verbale approvato: ora può essere pubblicato."))
    return failed or redirect(url_for("tables.minutes_draft", meeting_id=meeting_id), code=303)


@bp.post("/sedute/<int:meeting_id>/verbale/pubblica")
@authz.roles(*MANAGERS)
def minutes_publish(meeting_id: int):
    failed = _minutes_action(meeting_id, "tables.publish_minutes", services.publish,
                             _("Verbale pubblicato. Da ora non si modifica più: ogni correzione "
                               "sarà una nuova revisione."))
    return failed or redirect(url_for("tables.meeting", meeting_id=meeting_id), code=303)


@bp.post("/sedute/<int:meeting_id>/verbale/correggi")
@authz.roles(*MANAGERS)
def minutes_correct(meeting_id: int):
    return _draft_submit(meeting_id, "tables.publish_minutes", ReasonForm, "reason_form",
                         "reason",
                         lambda minutes, form: services.open_correction(current_user, minutes,
                                                                        form.reason.data),
                         _("Correzione aperta: modifica la bozza, poi fai approvare e pubblica "
                           "la nuova revisione."))


# --------------------------------------------------------------------------- accountability


def _projects_page(comune: Comune | None):
    """The accountability page: each section's first projects, or (?sezione=) one section
    whole, a page at a time (?pagina=)."""
    crumbs = ([(_("Comuni"), url_for("network.comuni")),
               (comune.name, url_for("network.comune", slug=comune.slug))] if comune else [])
    here = (url_for("tables.comune_projects", slug=comune.slug) if comune
            else url_for("tables.projects"))
    section = request.args.get("sezione")
    if section is not None:
        if section not in services.PROJECT_SECTIONS:
            abort(404)
        found = services.project_section_page(
            section, comune.id if comune else None, rete=comune is None, page=page_arg(),
            per_page=PROJECTS_PAGE)
        if found is None:
            abort(404)
        args = {"slug": comune.slug} if comune else {}
        endpoint = "tables.comune_projects" if comune else "tables.projects"

        def page_url(n: int) -> str:
            return url_for(endpoint, sezione=section, pagina=n if n > 1 else None, **args)

        pager = SimpleNamespace(
            prev_url=page_url(found.page - 1) if found.page > 1 else None,
            next_url=page_url(found.page + 1) if found.page < found.pages else None)
        title = _section_titles()[section]
        return render_template(
            "tables/projects_section.html", comune=comune, found=found, pager=pager,
            title=title, overview_url=here,
            breadcrumbs=[*crumbs, (_("Progetti approvati"), here), (title, None)])
    sections = services.project_sections(comune.id if comune else None, rete=comune is None,
                                         limit=PROJECTS_SHOWN)
    return render_template(
        "tables/projects.html", comune=comune, overdue=sections.overdue,
        in_progress=sections.in_progress, implemented=sections.implemented,
        totals=sections.totals, titles=_section_titles(),
        overview_url=here, breadcrumbs=[*crumbs, (_("Progetti approvati"), None)],
    )


def _section_titles() -> dict[str, str]:
    return {services.SECTION_OVERDUE: _("In ritardo"),
            services.SECTION_RUNNING: _("In realizzazione"),
            services.SECTION_DONE: _("Realizzati")}


@bp.get("/progetti")
@authz.public
def projects():
    return _projects_page(None)


@bp.get("/comuni/<slug>/progetti")
@authz.public
def comune_projects(slug: str):
    return _projects_page(db.first_or_404(db.select(Comune).where(Comune.slug == slug)))


def _project_or_404(project_id: int) -> Project:
    return db.get_or_404(Project, project_id)


def _project_page(project: Project, status: int = 200, progress_form=None, done_form=None):
    return render_template(
        "tables/project.html", project=project, today=services.today(),
        progress_form=progress_form or ProgressForm(formdata=None, percent=project.progress),
        done_form=done_form or ImplementedForm(formdata=None, prefix="done"),
        action_form=EmptyForm(),
        practice_url=_practice_url(project), outcome_text=documents.OUTCOME_TEXT,
        breadcrumbs=[(_("Progetti approvati"), url_for("tables.projects")),
                     (project.title, None)],
    ), status


@bp.get("/progetti/<int:project_id>")
@authz.public
def project(project_id: int):
    return _project_page(_project_or_404(project_id))


def _project_submit(project_id: int, form_class, slot: str, field: str, save, done: str):
    """A form of a project's page (`slot` names it there), posted by its responsible office:
    see `_submit`; back to the project."""
    project = _project_or_404(project_id)
    authz.require("tables.update_project", project)
    form = form_class()
    return _submit(form, field, lambda: save(project, form), done,
                   url_for("tables.project", project_id=project.id),
                   lambda form: _project_page(project, 422, **{slot: form}))


@bp.post("/progetti/<int:project_id>/avanzamento")
@authz.roles(*PROJECT_ROLES)
def project_update(project_id: int):
    return _project_submit(project_id, ProgressForm, "progress_form", "percent",
                           lambda project, form: services.post_update(
                               current_user, project, form.percent.data, form.note.data),
                           _("Avanzamento pubblicato."))


@bp.post("/progetti/<int:project_id>/realizzato")
@authz.roles(*PROJECT_ROLES)
def project_done(project_id: int):
    return _project_submit(project_id, lambda: ImplementedForm(prefix="done"), "done_form",
                           "note",
                           lambda project, form: services.mark_implemented(
                               current_user, project, form.note.data),
                           _("Progetto segnato come realizzato."))


@bp.post("/progetti/<int:project_id>/buona-pratica")
@authz.roles(*PROJECT_ROLES)
def project_practice(project_id: int):
    project = _project_or_404(project_id)
    authz.require("tables.create_practice", project)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        target = loop.start_practice(current_user, project)
    except services.TablesError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("tables.project", project_id=project.id), code=303)
    return redirect(target, code=303)

