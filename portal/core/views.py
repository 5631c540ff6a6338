"""Home page, accessibility statement, privacy notice, language switch, development mail."""

from urllib.parse import urlsplit

from flask import current_app, redirect, render_template, request, url_for

from portal import authz
from portal.core import bp
from portal.core.models import Activity, OutboxMessage
from portal.extensions import db
from portal.i18n import LANG_COOKIE


def safe_next(target: str | None, default: str) -> str:
    """Only local paths are followed after a redirect (no open redirects)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    return target


@bp.get("/")
@authz.public
def home():
    from portal.network.services import network_summary

    summary = network_summary()
    events = db.session.scalars(
        db.select(Activity).order_by(Activity.at.desc(), Activity.id.desc()).limit(8)
    ).all()
    return render_template("core/home.html", summary=summary, events=events)


@bp.get("/accessibilita")
@authz.public
def accessibility():
    return render_template(
        "core/accessibility.html", breadcrumbs=[("Dichiarazione di accessibilità", None)]
    )


@bp.get("/privacy")
@authz.public
def privacy():
    return render_template("core/privacy.html", breadcrumbs=[("Informativa sulla privacy", None)])


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
