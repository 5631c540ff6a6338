"""View plumbing shared by every module: htmx partials and a service's refusal on a form."""

from __future__ import annotations

from flask import request

from portal.extensions import db


def wants_partial() -> bool:
    """An htmx request that wants a fragment: not a boosted navigation, nor a history restore
    (those want the whole page)."""
    htmx = request.htmx
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def refuse(form, exc: Exception, field: str | None = None) -> None:
    """Roll back what the service did and show its refusal on the form: on the field the
    error names (`exc.field`), else on `field`, else on the form's first field. The view
    then answers 422 with the form."""
    db.session.rollback()
    name = getattr(exc, "field", None)
    if not name or name not in form:
        name = field if field and field in form else next(
            f.name for f in form if f.type not in ("CSRFTokenField", "HiddenField"))
    form[name].errors = [*form[name].errors, str(exc)]
