"""Uploaded files: one storage interface, content sniffing, and safe serving.

The portal never trusts a file's name or the type the browser sends: `sniff()` reads the first
bytes and recognises the few formats we accept (PDF, PNG, JPEG, GIF, WebP). Bytes live in a
`Storage` backend under opaque keys, outside `static/`. `LocalStorage` (the default) writes under
UPLOAD_DIR; another backend (S3-compatible object storage for several nodes) registers itself
with `register_backend("s3", factory)` and is chosen with the STORAGE_BACKEND setting, and
every module keeps calling `storage()` unchanged. Files are always served by `send_file_safely`
(attachment disposition, nosniff, a CSP that forbids everything) or by a backend's signed URL.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import Flask, Response, current_app, redirect

#: Content-Security-Policy of served files: nothing runs, nothing loads, even if opened inline
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'none'; sandbox"
CHUNK = 64 * 1024


class StorageError(Exception):
    """The storage could not save or read a file."""


class Storage(Protocol):
    """What every backend offers. Keys are ours ("catalogue/ab/<random>.pdf"), never a path
    a user typed."""

    def save(self, key: str, stream: BinaryIO, content_type: str) -> None: ...

    def open(self, key: str) -> BinaryIO: ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...

    def url(self, key: str, filename: str, inline: bool) -> str | None:
        """A direct (signed) URL for the file, or None to stream it through the app."""
        ...


_KEY = re.compile(r"^[a-z0-9_-]+(/[a-z0-9_-]+)*\.[a-z0-9]{2,5}$")


class LocalStorage:
    """Files under a directory on local disk (one node, or a shared volume)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise StorageError(f"invalid storage key {key!r}")
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise StorageError(f"storage key outside the root: {key!r}")
        return path

    def save(self, key: str, stream: BinaryIO, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary name then rename: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    out.write(chunk)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise StorageError(f"missing file {key!r}") from exc

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def url(self, key: str, filename: str, inline: bool) -> str | None:
        return None


_BACKENDS: dict[str, Callable[[Flask], Storage]] = {
    "local": lambda app: LocalStorage(app.config["UPLOAD_DIR"]),
}


def register_backend(name: str, factory: Callable[[Flask], Storage]) -> None:
    """Make a backend available as STORAGE_BACKEND=name; `factory(app)` builds it."""
    _BACKENDS[name] = factory


def storage(app: Flask | None = None) -> Storage:
    """The configured backend of the app (built once per app)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    backend = app.extensions.get("portal_storage")
    if backend is None:
        name = app.config.get("STORAGE_BACKEND", "local")
        if name not in _BACKENDS:
            raise StorageError(f"unknown STORAGE_BACKEND {name!r}")
        backend = app.extensions["portal_storage"] = _BACKENDS[name](app)
    return backend


def new_key(prefix: str, extension: str) -> str:
    """An unguessable key under `prefix`, spread over subdirectories."""
    token = secrets.token_hex(16)
    return f"{prefix}/{token[:2]}/{token}.{extension}"


# --------------------------------------------------------------------------- content types


@dataclass(frozen=True)
class FileType:
    mime: str
    #: extensions a file of this type may carry (the first is the canonical one)
    extensions: tuple[str, ...]

    @property
    def is_image(self) -> bool:
        return self.mime.startswith("image/")


PDF = FileType("application/pdf", ("pdf",))
PNG = FileType("image/png", ("png",))
JPEG = FileType("image/jpeg", ("jpg", "jpeg"))
GIF = FileType("image/gif", ("gif",))
WEBP = FileType("image/webp", ("webp",))
IMAGES = (PNG, JPEG, GIF, WEBP)


def sniff(head: bytes) -> FileType | None:
    """The type of a file from its first bytes, or None if it is none we accept."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    return None


def extension_of(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def safe_filename(filename: str, fallback: str = "file") -> str:
    """A display name without paths, control characters or quotes (for Content-Disposition)."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join(c for c in name if c.isprintable() and c not in '"<>:|?*;')
    name = " ".join(name.split()).strip(". ")
    return name[:150] or fallback


class UploadRejected(ValueError):
    """The file is not acceptable; the message says why, for the user."""


def check_upload(stream: BinaryIO, filename: str, allowed: tuple[FileType, ...],
                 max_size: int, messages: dict[str, str]) -> tuple[FileType, int]:
    """Check a file's real type and size; return them or raise UploadRejected.

    `messages` holds the translated texts for "empty", "size", "type" and "disguised".
    A file whose content is of an accepted type but whose name says otherwise (a PNG called
    .pdf, an HTML page called .png) is refused as disguised.
    """
    head = stream.read(64)
    kind = sniff(head)
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    if size == 0:
        raise UploadRejected(messages["empty"])
    if size > max_size:
        raise UploadRejected(messages["size"])
    ext = extension_of(filename)
    claimed = next((t for t in (PDF, *IMAGES) if ext in t.extensions), None)
    if kind is None or kind not in allowed:
        if claimed is not None and claimed in allowed:
            raise UploadRejected(messages["disguised"])
        raise UploadRejected(messages["type"])
    if ext not in kind.extensions:
        raise UploadRejected(messages["disguised"])
    return kind, size


# --------------------------------------------------------------------------- serving


def _disposition(filename: str, inline: bool) -> str:
    from urllib.parse import quote

    ascii_name = filename.encode("ascii", "ignore").decode() or "file"
    ascii_name = ascii_name.replace('"', "")
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def send_file_safely(key: str, filename: str, content_type: str, inline: bool = False,
                     max_age: int = 3600) -> Response:
    """Serve a stored file with headers that stop browsers from running or guessing it."""
    backend = storage()
    direct = backend.url(key, filename, inline)
    if direct:
        return redirect(direct, code=302)  # type: ignore[return-value]
    try:
        handle = backend.open(key)
    except StorageError:
        from flask import abort

        current_app.logger.warning("stored file %s is missing", key)
        abort(404)

    def stream() -> Iterator[bytes]:
        with handle:
            while chunk := handle.read(CHUNK):
                yield chunk

    response = Response(stream(), mimetype=content_type, direct_passthrough=True)
    response.headers["Content-Disposition"] = _disposition(filename, inline)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_CSP
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
