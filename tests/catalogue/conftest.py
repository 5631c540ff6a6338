"""Fixtures of the catalogue tests: practices built through the real services."""

from __future__ import annotations

import pytest

from portal.extensions import db as _db


class Practices:
    """Builds practices with create_draft / publish, as the pages do."""

    def __init__(self, app, factory):
        self.app = app
        self.factory = factory
        self._admin = None

    @property
    def admin(self):
        if self._admin is None:
            from portal.authz import Role

            self._admin = self.factory.grant(self.factory.user(name="Coordinatrice"),
                                             Role.COORDINATOR, 0)
        return self._admin

    def make(self, title="Pedibus casa-scuola", summary="Bambini a scuola a piedi.", body="",
             themes=(), comuni=(), status="attiva", promoters=(), published=True, **extra):
        from portal.catalogue import services

        with self.app.test_request_context("/"):
            comuni = list(comuni) or [self.factory.comune()]
            practice = services.create_draft(self.admin, {
                "title": title, "summary": summary, "body": body, "themes": list(themes),
                "comuni": [c.id for c in comuni], "status": status,
                "promoters": [{"name": n, "kind": k} for n, k in promoters], **extra})
            if published:
                services.publish(self.admin, practice)
            _db.session.commit()
            return practice

    def adopt(self, practice, comune, status="attiva"):
        from portal.catalogue import services

        with self.app.test_request_context("/"):
            practice = _db.session.merge(practice)
            services.declare_adoption(self.admin, practice, comune, status, None, None)
            _db.session.commit()


@pytest.fixture
def practices(app, factory):
    from portal.catalogue.services import ensure_default_themes

    ensure_default_themes()
    _db.session.commit()
    return Practices(app, factory)


@pytest.fixture
def uploads(app, tmp_path):
    """Uploaded files go to a fresh directory for this test."""
    old = app.config["UPLOAD_DIR"]
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    app.extensions.pop("portal_storage", None)
    yield tmp_path / "uploads"
    app.config["UPLOAD_DIR"] = old
    app.extensions.pop("portal_storage", None)
