"""Cover images and attachments: checked by content, stored outside static/, served safely."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from portal.authz import Role
from portal.catalogue.models import PracticeFile

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
       b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe"
       b"\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
HTML = b"<html><script>alert(document.cookie)</script></html>"


@pytest.fixture
def editor(client, factory, login_as, practices, uploads):
    """An officer logged in, and a published practice of their Comune."""
    seveso = factory.comune("Seveso")
    login_as(Role.COMUNE_OFFICER, seveso.id)
    return practices.make(title="Pedibus", comuni=[seveso])


def upload(client, practice, content: bytes, filename: str, kind="attachment",
           title="Regolamento"):
    return client.form(f"/pratiche/{practice.slug}/file", {
        "f-kind": kind, "f-title": title, "f-file": (io.BytesIO(content), filename)},
        content_type="multipart/form-data")


def test_pdf_attachment_is_stored_outside_static_and_served_safely(client, db, editor,
                                                                   uploads):
    """A PDF is accepted, written under UPLOAD_DIR (not static/), and downloaded with an
    attachment disposition, nosniff and a CSP that lets nothing run."""
    assert upload(client, editor, PDF, "regolamento pedibus.pdf").status_code == 303
    row = db.session.scalar(db.select(PracticeFile))
    assert row.content_type == "application/pdf" and row.size == len(PDF)
    stored = uploads / row.storage_key
    assert stored.read_bytes() == PDF
    assert "static" not in Path(row.storage_key).parts
    response = client.get(f"/pratiche/{editor.slug}/file/{row.id}?scarica=1")
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert 'filename="regolamento pedibus.pdf"' in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "sandbox" in response.headers["Content-Security-Policy"]
    page = client.get(f"/pratiche/{editor.slug}").get_data(as_text=True)
    assert "Regolamento" in page


def test_cover_image_is_shown_with_its_alternative_text(client, db, editor):
    """A PNG cover is shown inline on the page with the alt text the editor wrote; a new
    cover replaces the old one."""
    assert upload(client, editor, PNG, "foto.png", kind="cover",
                  title="Bambini in fila sul marciapiede").status_code == 303
    assert upload(client, editor, PNG, "foto2.png", kind="cover",
                  title="La linea verde").status_code == 303
    covers = db.session.scalars(db.select(PracticeFile).where(PracticeFile.kind == "cover")).all()
    assert len(covers) == 1
    html = client.get(f"/pratiche/{editor.slug}").get_data(as_text=True)
    assert 'alt="La linea verde"' in html
    response = client.get(f"/pratiche/{editor.slug}/file/{covers[0].id}")
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Disposition"].startswith("inline;")


@pytest.mark.parametrize("content,filename,message", [
    (b"just some text", "note.txt", "Tipo di file non ammesso"),
    (HTML, "foto.png", "non corrisponde"),            # a web page pretending to be an image
    (HTML, "documento.pdf", "non corrisponde"),
    (PNG, "documento.pdf", "non corrisponde"),         # an image called .pdf
    (PDF, "foto", "non corrisponde"),                  # no extension at all
    (b"", "vuoto.pdf", "vuoto"),
    (b"MZ\x90\x00" + b"\x00" * 60, "programma.exe", "Tipo di file non ammesso"),
])
def test_bad_files_are_refused_with_a_clear_message(client, db, editor, uploads, content,
                                                    filename, message):
    """Wrong types, disguised files and empty files are refused with 422 and a message;
    nothing is stored."""
    response = upload(client, editor, content, filename)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(PracticeFile.id))) == 0
    assert not uploads.exists() or not any(p.is_file() for p in uploads.rglob("*"))


def test_pdf_is_not_a_cover(client, db, editor):
    """The cover must be an image."""
    response = upload(client, editor, PDF, "locandina.pdf", kind="cover")
    assert response.status_code == 422
    assert "La copertina deve essere" in response.get_data(as_text=True)


def test_oversized_files_are_refused(client, db, editor):
    """A cover above 2 MB is refused with the limit in the message; above the request limit
    the portal answers 413 with its own page."""
    big = PNG + b"\x00" * (2 * 1024 * 1024)
    response = upload(client, editor, big, "grande.png", kind="cover")
    assert response.status_code == 422
    assert "al massimo 2 MB" in response.get_data(as_text=True)
    huge = PDF + b"\x00" * (client.application.config["MAX_CONTENT_LENGTH"] + 10)
    response = upload(client, editor, huge, "enorme.pdf")
    assert response.status_code == 413
    assert db.session.scalar(db.select(db.func.count(PracticeFile.id))) == 0


def test_missing_file_is_a_form_error(client, editor):
    """Submitting the upload form without choosing a file says so."""
    response = client.form(f"/pratiche/{editor.slug}/file", {"f-kind": "attachment",
                                                              "f-title": "Niente"})
    assert response.status_code == 422
    assert "Scegli un file" in response.get_data(as_text=True)


def test_files_of_drafts_are_private(client, db, factory, practices, uploads, login_as):
    """An attachment of a draft is not served to anonymous users; removing a file deletes
    its bytes."""
    seveso = factory.comune("Seveso")
    draft = practices.make(comuni=[seveso], published=False)
    login_as(Role.COMUNE_OFFICER, seveso.id)
    assert upload(client, draft, PDF, "bozza.pdf").status_code == 303
    row = db.session.scalar(db.select(PracticeFile))
    path = f"/pratiche/{draft.slug}/file/{row.id}"
    assert client.get(path).status_code == 200
    assert client.get(path).headers["Cache-Control"] == "private, no-store"
    client.form("/esci")
    assert client.get(path).status_code == 404
    login_as(Role.COMUNE_OFFICER, seveso.id)
    stored = uploads / row.storage_key
    assert stored.exists()
    assert client.form(f"/pratiche/{draft.slug}/file/{row.id}/elimina").status_code == 303
    assert not stored.exists()


def test_file_of_another_practice_is_not_found(client, db, editor, practices):
    """A file id is only served under its own practice."""
    assert upload(client, editor, PDF, "a.pdf").status_code == 303
    other = practices.make(title="Altra")
    row = db.session.scalar(db.select(PracticeFile))
    assert client.get(f"/pratiche/{other.slug}/file/{row.id}").status_code == 404


def test_storage_keys_cannot_escape_the_directory(app, uploads):
    """The local storage refuses keys that are not ours (paths, traversal)."""
    from portal.storage import LocalStorage, StorageError

    storage = LocalStorage(uploads)
    for key in ("../etc/passwd", "/etc/passwd", "a/../../b.pdf", "a\\b.pdf", "x.pdf\x00"):
        with pytest.raises(StorageError):
            storage.save(key, io.BytesIO(b"x"), "text/plain")
