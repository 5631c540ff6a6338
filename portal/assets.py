"""Light answers: compressed pages and static files with fingerprinted names.

- Flask-Compress compresses every answer the app writes (pages, JSON, CSV, feeds), streamed
  ones included (chunk by chunk, so a long CSV export still streams).
- WhiteNoise serves static/ in front of the app (gunicorn alone is enough), with the gzip and
  brotli copies made at setup.
- `make setup` runs `python -m portal.assets static templates` after compiling the stylesheet:
  the icons the templates name are cut out of Bootstrap Italia's sprite, then every
  static file gets a copy named after its content under static/build/immutable/ (the relative
  url() of a stylesheet pointing at the copies too), listed in static/build/manifest.json.
  `url_for('static', filename=...)` then gives the fingerprinted copy, which WhiteNoise sends
  with a cache lifetime of ten years: a changed file has another name. Without the manifest
  (or in debug, where files change under the developer's hands) the plain names are served.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path, PurePosixPath

from flask import Flask
from flask_compress import Compress
from whitenoise import WhiteNoise
from whitenoise.compress import Compressor

#: where the build step writes (git-ignored), inside the static folder
BUILD = "build"
IMMUTABLE = f"{BUILD}/immutable"
MANIFEST = f"{BUILD}/manifest.json"
#: folders of static/ that are sources of the build, never served as they are
SOURCES_ONLY = ("scss",)
#: cache lifetime of the files without a fingerprint (favicon, axe for the tests)
PLAIN_MAX_AGE = 3600

COMPRESS_MIMETYPES = [
    "text/html", "text/css", "text/javascript", "application/javascript", "application/json",
    "application/problem+json", "text/csv", "text/plain", "text/calendar",
    "application/atom+xml", "application/xml", "image/svg+xml",
]

compress = Compress()

SPRITE = "vendor/bootstrap-italia/svg/sprites.svg"
ICONS = f"{BUILD}/icons.svg"
_ICON_REF = re.compile(r"""icons\.svg['"]\)\s*\}\}#([\w-]+)""")
_SYMBOL = re.compile(r'<symbol id="([^"]+)".*?</symbol>', re.DOTALL)
_CSS_URL = re.compile(r"""url\(\s*(["']?)([^"')]+)\1\s*\)""")


# --------------------------------------------------------------------------- build step


def _fingerprinted(rel: str, content: bytes) -> str:
    path = PurePosixPath(rel)
    digest = hashlib.md5(content, usedforsecurity=False).hexdigest()[:12]
    return str(PurePosixPath(IMMUTABLE) / path.parent / f"{path.stem}.{digest}{path.suffix}")


def _rewrite_css(rel: str, text: str, manifest: dict[str, str]) -> str:
    """Point the relative url() of a stylesheet at the fingerprinted copies. The copies keep
    the folders of their originals, so only the file name of each reference changes."""
    here = PurePosixPath(rel).parent

    def swap(match: re.Match) -> str:
        quote, ref = match.group(1), match.group(2)
        if ref.startswith(("data:", "http:", "https:", "/", "#")):
            return match.group(0)
        ref_path, _, rest = ref.partition("#")
        ref_path, _, query = ref_path.partition("?")
        target = os.path.normpath(str(here / ref_path)).replace(os.sep, "/")
        if target not in manifest:
            return match.group(0)
        new_name = PurePosixPath(manifest[target]).name
        new_ref = str(PurePosixPath(ref_path).parent / new_name)
        suffix = ("?" + query if query else "") + ("#" + rest if rest else "")
        return f"url({quote}{new_ref}{suffix}{quote})"

    return _CSS_URL.sub(swap, text)


def icons(static: Path, templates: Path) -> list[str]:
    """Write build/icons.svg: the symbols of Bootstrap Italia's sprite (over 90 KB) that the
    templates name (`build/icons.svg') }}#it-...`), so that a page fetches only those."""
    named = set()
    for template in templates.rglob("*.html"):
        named.update(_ICON_REF.findall(template.read_text("utf-8")))
    sprite = (static / SPRITE).read_text("utf-8")
    symbols = {m.group(1): m.group(0) for m in _SYMBOL.finditer(sprite)}
    unknown = named - symbols.keys()
    if unknown:
        raise SystemExit(f"icons not in {SPRITE}: {', '.join(sorted(unknown))}")
    target = static / ICONS
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text('<svg xmlns="http://www.w3.org/2000/svg">'
                      + "".join(symbols[name] for name in sorted(named)) + "</svg>\n", "utf-8")
    return sorted(named)


def build(static: Path) -> dict[str, str]:
    """Write the fingerprinted copies, their gzip/brotli versions and the manifest."""
    out = static / IMMUTABLE
    files = sorted(
        p.relative_to(static).as_posix() for p in static.rglob("*")
        if p.is_file()
        and not p.relative_to(static).as_posix().startswith((IMMUTABLE + "/", MANIFEST))
        and p.relative_to(static).parts[0] not in SOURCES_ONLY
        and not p.name.startswith(".")
    )
    manifest: dict[str, str] = {}
    # Stylesheets last: their url() name the other files' copies.
    for rel in sorted(files, key=lambda r: r.endswith(".css")):
        content = (static / rel).read_bytes()
        if rel.endswith(".css"):
            content = _rewrite_css(rel, content.decode("utf-8"), manifest).encode("utf-8")
        manifest[rel] = _fingerprinted(rel, content)
        target = static / manifest[rel]
        if not target.exists():  # the name is the content: a copy there is this one
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".tmp")
            partial.write_bytes(content)
            partial.replace(target)
    # Copies of older contents go; a running server never sees a current file missing.
    current = {static / name for name in manifest.values()}
    compressor = Compressor(quiet=True)
    for path in sorted(out.rglob("*")):
        if not path.is_file():
            continue
        original = path.with_suffix("") if path.suffix in (".gz", ".br") else path
        if original not in current:
            path.unlink()
        elif path is original and compressor.should_compress(path.name) and not all(
                path.with_name(path.name + ext).exists() for ext in (".gz", ".br")):
            for _ in compressor.compress(str(path)):
                pass
    partial = static / f"{MANIFEST}.tmp"
    partial.write_text(json.dumps(manifest, indent=0, sort_keys=True), "utf-8")
    partial.replace(static / MANIFEST)
    return manifest


# --------------------------------------------------------------------------- runtime


def _load_manifest(static: Path) -> dict[str, str]:
    try:
        return json.loads((static / MANIFEST).read_text("utf-8"))
    except FileNotFoundError:
        return {}


def init_app(app: Flask) -> None:
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESS_MIMETYPES)
    app.config.setdefault("COMPRESS_ALGORITHM", ["zstd", "br", "gzip"])
    # A streamed answer (CSV exports) is compressed chunk by chunk, in every coding.
    app.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["zstd", "br", "gzip"])
    compress.init_app(app)

    static = Path(app.static_folder)
    prefix = app.static_url_path.rstrip("/") + "/"
    manifest = {} if app.debug else _load_manifest(static)
    app.extensions["static_manifest"] = manifest

    @app.url_defaults
    def _fingerprint(endpoint: str, values: dict) -> None:
        if endpoint == "static" and manifest:
            name = values.get("filename")
            if name in manifest:
                values["filename"] = manifest[name]

    from portal.security import SECURITY_HEADERS

    def static_headers(headers, path: str, url: str) -> None:
        # The app's own after_request hooks do not see what WhiteNoise answers: the same
        # headers as every other answer (security.py), Vary included.
        for name, value in SECURITY_HEADERS:
            headers.setdefault(name, value)
        vary = [v for v in (headers.get("Vary") or "").split(", ") if v]
        headers["Vary"] = ", ".join([*vary, "HX-Request"])

    app.wsgi_app = WhiteNoise(
        app.wsgi_app, root=str(static), prefix=prefix, max_age=PLAIN_MAX_AGE,
        autorefresh=app.debug,
        immutable_file_test=lambda path, url: url.startswith(f"{prefix}{IMMUTABLE}/"),
        add_headers_function=static_headers,
    )


if __name__ == "__main__":  # python -m portal.assets static templates
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "static")
    icons(folder, Path(sys.argv[2] if len(sys.argv) > 2 else "templates"))
    written = build(folder)
    print(f"{len(written)} static files fingerprinted into {folder / IMMUTABLE}")
