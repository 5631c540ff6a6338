"""Response headers, cookie rules and the Italian error pages."""

import logging

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; object-src 'none'"
)

ERROR_TEXT = {
    400: ("Richiesta non valida", "La richiesta non è valida o il modulo è scaduto. "
          "Torna indietro, ricarica la pagina e riprova."),
    401: ("Accesso richiesto", "Per continuare devi accedere al portale."),
    403: ("Accesso non consentito", "Non hai i permessi per vedere questa pagina o fare "
          "questa operazione."),
    404: ("Pagina non trovata", "La pagina che cerchi non esiste o è stata spostata."),
    405: ("Operazione non consentita", "Questa pagina non accetta questo tipo di richiesta."),
    413: ("File o modulo troppo grande", "Quello che hai inviato supera la dimensione "
          "massima consentita. Riduci il file e riprova."),
    422: ("Dati non validi", "Alcuni dati inviati non sono validi."),
    429: ("Troppi tentativi", "Hai fatto troppi tentativi in poco tempo. "
          "Attendi qualche minuto e riprova."),
    500: ("Errore del portale", "Si è verificato un errore imprevisto. È stato registrato: "
          "riprova tra qualche minuto."),
}


def _set_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    headers.add("Vary", "HX-Request")
    if request.path.startswith("/static/vendor/") or request.path.startswith("/static/"):
        headers.setdefault("Cache-Control", "public, max-age=3600")
    return response


def _hsts(response):
    response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def render_error(code: int, message: str | None = None):
    title, text = ERROR_TEXT.get(code, ERROR_TEXT[500])
    body = render_template(
        "errors/error.html", code=code, title=_(title), text=message or _(text)
    )
    return body, code


def init_app(app: Flask) -> None:
    app.after_request(_set_headers)
    if not app.debug and not app.testing:
        app.after_request(_hsts)

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return render_error(400)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        response = exc.get_response()
        body, code = render_error(exc.code if exc.code in ERROR_TEXT else exc.code)
        response.set_data(body)
        response.status_code = code
        response.content_type = "text/html; charset=utf-8"
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        from portal.extensions import db

        db.session.rollback()
        if app.config.get("PROPAGATE_TEST_ERRORS"):
            raise exc
        return render_error(500)
