"""Response headers, cookie rules and the Italian error pages."""

import logging

from flask import Flask, abort, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; object-src 'none'"
)

ERROR_TEXT = {
    400: (_l("Richiesta non valida"), _l("La richiesta non è valida o il modulo è scaduto. "
          "Torna indietro, ricarica la pagina e riprova.")),
    401: (_l("Accesso richiesto"), _l("Per continuare devi accedere al portale.")),
    403: (_l("Accesso non consentito"), _l("Non hai i permessi per vedere questa pagina o fare "
          "questa operazione.")),
    404: (_l("Pagina non trovata"), _l("La pagina che cerchi non esiste o è stata spostata.")),
    405: (_l("Operazione non consentita"), _l("Questa pagina non accetta questo tipo di "
          "richiesta.")),
    413: (_l("File o modulo troppo grande"), _l("Quello che hai inviato supera la dimensione "
          "massima consentita. Riduci il file e riprova.")),
    422: (_l("Dati non validi"), _l("Alcuni dati inviati non sono validi.")),
    429: (_l("Troppi tentativi"), _l("Hai fatto troppi tentativi in poco tempo. "
          "Attendi qualche minuto e riprova.")),
    500: (_l("Errore del portale"), _l("Si è verificato un errore imprevisto. È stato "
          "registrato: riprova tra qualche minuto.")),
}

#: The last resort when even the error page cannot be rendered (database down, template error).
FALLBACK_PAGE = (
    '<!doctype html><html lang="it"><head><meta charset="utf-8"><title>{title}</title></head>'
    "<body><main><h1>{title}</h1><p>{text}</p><p><a href=\"/\">Torna alla home</a></p></main>"
    "</body></html>"
)


#: Sent with every answer unless the view set its own.
SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
_LOWER = {name: name.lower() for name, _value in (*SECURITY_HEADERS, HSTS)}


def _add_missing(headers, wanted) -> None:
    # One pass over the answer's few headers (Headers.setdefault scans them, and raises and
    # catches a KeyError, once per header it adds).
    present = {name.lower() for name, _value in headers}
    for name, value in wanted:
        if _LOWER[name] not in present:
            headers.add(name, value)


def _vary_on_htmx(headers) -> None:
    """`response.vary.add("HX-Request")` without parsing the header into a set and writing it
    back (~50 calls an answer)."""
    current = headers.get("Vary")
    if not current:
        headers["Vary"] = "HX-Request"
    elif "hx-request" not in (name.strip().lower() for name in current.split(",")):
        headers["Vary"] = f"{current}, HX-Request"


def _set_headers(response):
    headers = response.headers
    _add_missing(headers, SECURITY_HEADERS)
    # Pages answer htmx with a partial and browsers with the full page: caches must know.
    _vary_on_htmx(headers)
    if request.path.startswith("/static/"):
        headers.setdefault("Cache-Control", "public, max-age=3600")
    return response


def _hsts(response):
    _add_missing(response.headers, (HSTS,))
    return response


def answer_csrf_token() -> str:
    """The CSRF token for the forms of this answer.

    The portal's tokens live as long as the session (`WTF_CSRF_TIME_LIMIT = None`), so after a
    POST whose token CSRFProtect has just validated, that token is worth what a new one would
    be, without signing one (an HMAC and a serialisation). Otherwise, a new one. (Not after
    the view cleared the session: those views redirect.)
    """
    from flask import current_app, g
    from flask_wtf.csrf import generate_csrf

    if g.get("csrf_valid") and current_app.config["WTF_CSRF_TIME_LIMIT"] is None:
        # The token CSRFProtect found (form field, then headers) and validated.
        token = g.get("csrf_checked_token")
        if token:
            return token
    return generate_csrf()


def _refuse_control_characters():
    """A NUL in the path or query string is never legitimate (and PostgreSQL refuses it)."""
    raw = request.query_string
    if "\x00" in request.path or b"%00" in raw or b"\x00" in raw:
        abort(400)


def render_error(code: int, message: str | None = None):
    """The Italian (or English) error page for `code`; never a traceback."""
    title, text = ERROR_TEXT.get(code) or ERROR_TEXT[400 if code < 500 else 500]
    try:
        body = render_template("errors/error.html", code=code, title=str(title),
                               text=message or str(text))
    except Exception:  # the page itself failed: answer with plain, static HTML
        log.exception("error page %s could not be rendered", code)
        body = FALLBACK_PAGE.format(title=escape("Errore del portale"),
                                    text=escape("Si è verificato un errore imprevisto."))
    return body, code


def init_app(app: Flask) -> None:
    proxies = app.config.get("PROXY_COUNT", 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.before_request(_refuse_control_characters)
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
        body, code = render_error(exc.code)
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

        try:
            db.session.rollback()
        except Exception:  # a broken connection must not hide the original error
            log.exception("rollback after the error failed")
        if app.config.get("PROPAGATE_TEST_ERRORS"):
            raise exc
        return render_error(500)
