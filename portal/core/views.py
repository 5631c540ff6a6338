"""Home page, accessibility statement, privacy notice, language switch, development mail."""

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import authz
from portal.core import bp
from portal.core.models import Activity, Notification, OutboxMessage
from portal.core.services import home_context
from portal.db_setup import utcnow
from portal.extensions import db
from portal.forms import EmptyForm
from portal.i18n import LANG_COOKIE
from portal.web import safe_next


@bp.get("/")
@authz.public
def home():
    # loaders, not rows: the page's body is a fragment kept for everyone (see the template)
    return render_template("core/home.html", latest_events=latest_events,
                           home_context=home_context)


#: Events on the home page.
HOME_EVENTS = 8


def latest_events() -> list[Activity]:
    """The Rete's latest events, each told once: an event is recorded for every Comune it
    concerns (a practice running in three Comuni is published in each Comune's feed), but the
    Rete-wide feed shows it a single time."""
    rows = db.session.scalars(
        db.select(Activity).order_by(Activity.at.desc(), Activity.id.desc())
        .limit(HOME_EVENTS * 3)).all()
    events, seen = [], set()
    for event in rows:
        key = (event.kind, event.link, event.title)
        if key not in seen:
            seen.add(key)
            events.append(event)
    return events[:HOME_EVENTS]


@bp.get("/accessibilita")
@authz.public
def accessibility():
    return render_template(
        "core/accessibility.html", breadcrumbs=[(_("Dichiarazione di accessibilità"), None)]
    )


@bp.get("/privacy")
@authz.public
def privacy():
    return render_template("core/privacy.html",
                           breadcrumbs=[(_("Informativa sulla privacy"), None)])


@bp.get("/favicon.ico")
@authz.public
def favicon():
    """Browsers ask for /favicon.ico on pages that name no icon (and some on every page)."""
    return current_app.send_static_file("favicon.svg")


@bp.get("/lingua/<code>")
@authz.public
def language(code: str):
    """Remember the interface language in a cookie and go back where the user was."""
    response = redirect(safe_next(request.args.get("next"), url_for("core.home")), code=303)
    if code in current_app.config["LANGUAGES"]:
        response.set_cookie(
            LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
            secure=current_app.config["SESSION_COOKIE_SECURE"],
        )
    return response


@bp.get("/dev/posta")
@authz.debug_only
def dev_mail():
    """Development only: the mail the portal would have sent."""
    messages = db.session.scalars(
        db.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(50)
    ).all()
    return render_template("core/dev_mail.html", messages=messages)


@bp.get("/account/notifiche")
@authz.login_required
def notifications():
    items = db.session.scalars(
        db.select(Notification).where(Notification.user_id == current_user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(100)
    ).all()
    return render_template("core/notifications.html", items=items, form=EmptyForm(),
                           breadcrumbs=[(_("La mia area"), url_for("accounts.dashboard")),
                                        (_("Notifiche"), None)])


@bp.post("/account/notifiche/lette")
@authz.login_required
def notifications_read():
    """Mark every notification of the user as read."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    db.session.execute(
        db.update(Notification)
        .where(Notification.user_id == current_user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    return redirect(url_for("core.notifications"), code=303)
