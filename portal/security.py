"""Response headers, cookie rules and the Italian error pages."""

import logging
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, abort, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix

from portal.config import development_base_url
from portal.extensions import db

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

#: Sent with every answer unless the view set its own.
SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    # No other site's window keeps a handle on ours (window.opener); the API sets its own CORP.
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


def _set_headers(response):
    headers = response.headers
    for name, value in SECURITY_HEADERS:
        headers.setdefault(name, value)
    # Pages answer htmx with a partial and browsers with the full page: caches must know.
    response.vary.add("HX-Request")
    if request.path.startswith("/static/"):
        headers.setdefault("Cache-Control", "public, max-age=3600")
    return response


#: Under these paths every answer is JSON, errors included, in the envelope of the API's own
#: refusals (portal/api): {"error": <code>, "message": <Italian text>}.
JSON_PATHS = ("/api/",)
#: The `error` code of each status.
JSON_ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                    405: "method_not_allowed", 413: "too_large", 422: "unprocessable",
                    429: "too_many_requests", 500: "server_error"}
#: what a program reading the API needs to hear (the others say what the pages say)
JSON_ERROR_TEXT = {
    400: _l("Richiesta non valida: controlla gli argomenti in /api/v1/openapi.json."),
    404: _l("Nessun dato a questo indirizzo: gli indirizzi dell'API sono in "
            "/api/v1/openapi.json."),
    405: _l("Metodo non consentito: l'API è in sola lettura (GET, HEAD, OPTIONS)."),
}


def wants_json_errors() -> bool:
    return request.path.startswith(JSON_PATHS)


def json_error(code: int, message: str | None = None):
    """The API's error answer: JSON whatever went wrong, never the HTML page."""
    known = code if code in JSON_ERROR_CODES else (400 if code < 500 else 500)
    text = JSON_ERROR_TEXT.get(known) or ERROR_TEXT[known][1]
    response = jsonify(error=JSON_ERROR_CODES[known], message=message or str(text))
    response.status_code = code
    return response


def _hsts(response):
    response.headers.setdefault(*HSTS)
    return response


def _refuse_control_characters():
    """A NUL in the path or query string is never legitimate (and PostgreSQL refuses it)."""
    raw = request.query_string
    if "\x00" in request.path or b"%00" in raw or b"\x00" in raw:
        abort(400)


@cache
def _fallback_page() -> str:
    """The last resort when even the error page cannot be rendered (database down, template
    error): a static page, read as it is, without Jinja."""
    return (Path(__file__).parent.parent / "templates/errors/fallback.html").read_text("utf-8")


def render_error(code: int, message: str | None = None):
    """The Italian (or English) error page for `code`; never a traceback."""
    title, text = ERROR_TEXT.get(code) or ERROR_TEXT[400 if code < 500 else 500]
    try:
        body = render_template("errors/error.html", code=code, title=str(title),
                               text=message or str(text))
    except Exception:  # the page itself failed: answer with plain, static HTML
        log.exception("error page %s could not be rendered", code)
        body = _fallback_page()
    return body, code


def _configure_hosts(app: Flask) -> None:
    """BASE_URL is the one address of the portal: links in mail are built on it, never on the
    Host a request names (a reset asked for with `Host: evil.example` would otherwise mail a
    genuine link to that host), and requests naming another host get 400 (TRUSTED_HOSTS)."""
    config = app.config
    base = (config.get("BASE_URL") or "").strip().rstrip("/")
    if not base:
        if not (app.debug or app.testing):
            raise RuntimeError(
                "BASE_URL is not set: set it to the portal's public address, e.g. "
                "BASE_URL=https://rete.example.it (or FLASK_DEBUG=1 for local development).")
        base = development_base_url()
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path \
            or parts.query or parts.fragment:
        raise RuntimeError(f"BASE_URL must be a scheme and a host, e.g. "
                           f"https://rete.example.it, not {base!r}")
    config["BASE_URL"] = base
    if config.get("TRUSTED_HOSTS") is None:
        hosts = [parts.hostname]
        if app.debug or app.testing:  # the development server answers on both names
            hosts += ["localhost", "127.0.0.1"]
        config["TRUSTED_HOSTS"] = list(dict.fromkeys(hosts))
    proxies = config.get("PROXY_COUNT", 0)
    if proxies:
        # X-Forwarded-Host only when configured: a proxy that passes it on from the visitor
        # would let anyone name the host again.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies,
                                x_host=proxies if config.get("PROXY_TRUST_HOST") else 0)


def init_app(app: Flask) -> None:
    _configure_hosts(app)
    app.before_request(_refuse_control_characters)
    app.after_request(_set_headers)
    if not app.debug and not app.testing:
        app.after_request(_hsts)

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        if wants_json_errors():
            return json_error(400)
        return render_error(400)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        if isinstance(exc, SecurityError):
            # A host outside TRUSTED_HOSTS: the page's links cannot be built for it.
            if wants_json_errors():
                return json_error(400)
            return app.response_class(str(ERROR_TEXT[400][1]), 400, mimetype="text/plain")
        response = exc.get_response()
        if wants_json_errors():  # keeps the status's own headers (Allow, Retry-After)
            body = json_error(exc.code)
            response.set_data(body.get_data())
            response.status_code = exc.code
            response.content_type = body.content_type
            return response
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
        try:
            db.session.rollback()
        except Exception:  # a broken connection must not hide the original error
            log.exception("rollback after the error failed")
        if app.config.get("PROPAGATE_TEST_ERRORS"):
            raise exc
        if wants_json_errors():
            return json_error(500)
        return render_error(500)
