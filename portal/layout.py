"""The page's chrome (head links, header, footer) rendered once per worker, not on every page.

The header and footer of Bootstrap Italia are most of the work of rendering a page (some 3,000
Python calls: ~40 translated strings, ~20 `url_for`), yet they depend only on the language, on
whether the visitor is signed in and on the section of the portal being visited. `chrome(part)`
renders `templates/_layout/<part>.html` once for each such combination and keeps the HTML; the
two values that change from request to request are placeholders filled on the way out:

- `chrome_next`: the page to come back to after switching language;
- `chrome_csrf`: the CSRF token of the logout form (signed-in visitors only).

In debug the fragments are rendered every time, so that template edits show at once.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Flask, current_app, render_template, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from portal.i18n import current_locale

NEXT = "rete-chrome-next"
CSRF = "rete-chrome-csrf"
PARTS = ("head", "header", "footer")
#: Blank form pages kept per worker (bounded: query strings are the visitor's to choose).
MAX_FORM_PAGES = 256


def _section() -> str:
    """What the main navigation highlights: the home page, or the blueprint being visited."""
    endpoint = request.endpoint or ""
    return endpoint if endpoint == "core.home" else endpoint.partition(".")[0]


def chrome(part: str) -> Markup:
    if part not in PARTS:
        raise ValueError(f"unknown layout part {part!r}")
    signed_in = part == "header" and current_user.is_authenticated
    section = _section() if part == "header" else ""
    key = (part, current_locale(), signed_in, section)
    store: dict = current_app.extensions["rete_chrome"]
    html = store.get(key)
    if html is None:
        html = render_template(f"_layout/{part}.html", chrome_next=NEXT, chrome_csrf=CSRF,
                               chrome_section=section)
        if not current_app.debug:
            store[key] = html
    if part == "header":
        back = request.full_path if request.query_string else request.path
        html = html.replace(NEXT, quote(back, safe="/"))
        if signed_in:
            html = html.replace(CSRF, generate_csrf())
    return Markup(html)  # noqa: S704 - our own templates, rendered with autoescape


def cached_include(template: str) -> Markup:
    """A fragment that depends on the language only, rendered once per worker and language."""
    key = ("include", template, current_locale())
    store: dict = current_app.extensions["rete_chrome"]
    html = store.get(key)
    if html is None:
        html = render_template(template)
        if not current_app.debug:
            store[key] = html
    return Markup(html)  # noqa: S704 - our own template, rendered with autoescape


def _built(form):
    return form() if isinstance(form, type) else form


def render_form_page(template: str, form, **context) -> str:
    """A public page showing a blank form (log in, register, join the Rete...).

    Such a page is the same for every anonymous visitor but for the CSRF token of their session,
    so it is rendered once per worker, language and URL with the token taken out, and then
    given to each visitor with their own token put back. A form with errors, a pending flash
    message, a signed-in visitor or debug mode get the ordinary rendering.

    `form` is the form, or the class of a blank one: then the form is built only when the page
    is rendered, not when the stored page is given out (building a form costs ~100 calls a
    field).
    """
    if (current_app.debug or request.method != "GET"
            or (not isinstance(form, type) and form.errors)
            or current_user.is_authenticated or session.get("_flashes")):
        return render_template(template, form=_built(form), **context)
    token = generate_csrf()
    key = (template, current_locale(), request.full_path)
    store: dict = current_app.extensions["rete_form_pages"]
    html = store.get(key)
    if html is None:
        html = render_template(template, form=_built(form), **context)
        if len(store) >= MAX_FORM_PAGES:
            store.clear()
        store[key] = html.replace(token, CSRF)
        return html
    return html.replace(CSRF, token)


def init_app(app: Flask) -> None:
    app.extensions["rete_chrome"] = {}
    app.extensions["rete_form_pages"] = {}
    app.jinja_env.globals["chrome"] = chrome
    app.jinja_env.globals["cached_include"] = cached_include
