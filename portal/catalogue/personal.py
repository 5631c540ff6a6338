"""The catalogue's personal data: what a person wrote, uploaded, published or declared.

Practices, their revisions, files and adoptions are the work of a Comune or an association,
written by its officers in office: on deletion they stay with their owner, no longer naming
the account (the history shows "utente cancellato").
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from portal.catalogue.models import Adoption, GoodPractice, PracticeFile, PracticeRevision
from portal.core.personal import by_person, forget, register_personal, rows


def _export_practices(user) -> dict[str, Any]:
    return {"practices": rows(
        GoodPractice, by_person(user, GoodPractice.created_by_id, GoodPractice.published_by_id),
        ("id", "slug", "title", "created_at", "created_by_id", "published_at",
         "published_by_id"))}


def _forget_practices(user) -> None:
    forget(user, GoodPractice.created_by_id, GoodPractice.published_by_id)


def _export_revisions(user) -> dict[str, Any]:
    return {"practice_revisions": rows(PracticeRevision, PracticeRevision.author_id == user.id,
                                       ("practice_id", "number", "created_at", "note"))}


def _forget_revisions(user) -> None:
    forget(user, PracticeRevision.author_id)


def _export_files(user) -> dict[str, Any]:
    return {"practice_files": rows(PracticeFile, PracticeFile.uploaded_by_id == user.id,
                                   ("practice_id", "kind", "filename", "title", "created_at"))}


def _forget_files(user) -> None:
    forget(user, PracticeFile.uploaded_by_id)


def _export_adoptions(user) -> dict[str, Any]:
    return {"adoptions_declared": rows(Adoption, Adoption.declared_by_id == user.id,
                                       ("practice_id", "comune_id", "status", "notes",
                                        "created_at"))}


def _forget_adoptions(user) -> None:
    forget(user, Adoption.declared_by_id)


def init_app(app: Flask) -> None:
    register_personal(app, GoodPractice, _export_practices, _forget_practices)
    register_personal(app, PracticeRevision, _export_revisions, _forget_revisions)
    register_personal(app, PracticeFile, _export_files, _forget_files)
    register_personal(app, Adoption, _export_adoptions, _forget_adoptions)
