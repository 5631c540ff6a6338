"""Light answers (portal/assets.py): compressed pages, data and streams, and static files under
fingerprinted names with long cache lifetimes, their stylesheets' url() included."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zlib
from pathlib import Path

import brotli
import pytest
from flask import Response, stream_with_context
from flask.testing import FlaskClient

from portal import assets, authz

STATIC = Path(__file__).resolve().parents[2] / "static"
BUILT = (STATIC / assets.MANIFEST).exists()
needs_build = pytest.mark.skipif(not BUILT, reason="static/build is made by `make setup`")


def test_pages_and_data_are_compressed_in_what_the_client_accepts(client):
    plain = client.get("/comuni")
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]
    for coding, decode in (("br", brotli.decompress), ("gzip", gzip.decompress)):
        packed = client.get("/comuni", headers={"Accept-Encoding": coding})
        assert packed.headers["Content-Encoding"] == coding
        assert len(packed.data) < len(plain.data) / 2
        assert decode(packed.data) == plain.data
    api = client.get("/api/v1/comuni", headers={"Accept-Encoding": "gzip"})
    if api.status_code == 200 and len(gzip.decompress(api.data)) > 500:
        assert api.headers["Content-Encoding"] == "gzip"
        json.loads(gzip.decompress(api.data))


def test_a_streamed_csv_is_compressed_and_still_streams(fresh_app):
    """Compressed data comes out while the view is still yielding rows: the answer is never
    held whole (the compressor sends a block every few tens of KB of rows)."""
    app = fresh_app()
    produced = []

    def line(n: int, i: int) -> str:
        return f"{n},{i},{hashlib.sha256(f'{n}-{i}'.encode()).hexdigest()[:16]}\n"

    @app.get("/flusso.csv")
    @authz.public
    def flow():
        def rows():
            for n in range(2000):
                produced.append(n)
                yield "".join(line(n, i) for i in range(50))
        return Response(stream_with_context(rows()), mimetype="text/csv")

    # Flask's own client: the portal's reads a streamed answer whole
    client = FlaskClient(app, app.response_class)
    response = client.get("/flusso.csv", headers={"Accept-Encoding": "gzip"}, buffered=False)
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Content-Length" not in response.headers
    chunks = response.response
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    first = b""
    for chunk in chunks:
        first += decoder.decompress(chunk)
        if first:
            break
    # the first bytes arrived long before the view produced its last row
    assert first.startswith(line(0, 0).encode())
    assert len(produced) < 200
    rest = b"".join(decoder.decompress(chunk) for chunk in chunks) + decoder.flush()
    response.close()
    lines = (first + rest).decode().splitlines()
    assert len(lines) == 2000 * 50 and lines[-1] + "\n" == line(1999, 49)


def test_build_names_files_by_content_and_points_stylesheets_at_them(tmp_path):
    static = tmp_path / "static"
    (static / "css").mkdir(parents=True)
    (static / "fonts").mkdir()
    (static / "scss").mkdir()
    (static / "fonts" / "a.woff2").write_bytes(b"font-a")
    (static / "scss" / "x.scss").write_text("$a: 1;")
    (static / "css" / "site.css").write_text(
        '@font-face { src: url("../fonts/a.woff2") format("woff2"); }\n'
        "body { background: url(data:image/png;base64,AAAA); }\n"
        ".x { background: url('../fonts/missing.png'); }\n" + "p { color: red; }\n" * 80)
    manifest = assets.build(static)
    assert set(manifest) == {"css/site.css", "fonts/a.woff2"}  # sources are not served
    font = manifest["fonts/a.woff2"]
    assert re.fullmatch(r"build/immutable/fonts/a\.[0-9a-f]{12}\.woff2", font)
    css = (static / manifest["css/site.css"]).read_text()
    assert f'url("../fonts/{Path(font).name}")' in css
    assert "url(data:image/png;base64,AAAA)" in css and "url('../fonts/missing.png')" in css
    assert (static / (manifest["css/site.css"] + ".gz")).exists()
    assert json.loads((static / assets.MANIFEST).read_text()) == manifest
    # same content, same names: a rebuild changes nothing the browsers hold
    assert assets.build(static) == manifest


def test_icons_keeps_only_the_symbols_the_templates_name(tmp_path):
    static, templates = tmp_path / "static", tmp_path / "templates"
    (static / Path(assets.SPRITE).parent).mkdir(parents=True)
    (templates / "x").mkdir(parents=True)
    (static / assets.SPRITE).write_text(
        '<svg xmlns="http://www.w3.org/2000/svg"><symbol id="it-a" viewBox="0 0 1 1"><path/>'
        '</symbol><symbol id="it-b"><path/></symbol><symbol id="it-c"></symbol></svg>')
    (templates / "x" / "p.html").write_text(
        "<use href=\"{{ url_for('static', filename='build/icons.svg') }}#it-c\"></use>")
    assert assets.icons(static, templates) == ["it-c"]
    assert (static / assets.ICONS).read_text().count("<symbol") == 1
    (templates / "x" / "q.html").write_text(
        "<use href=\"{{ url_for('static', filename='build/icons.svg') }}#it-zz\"></use>")
    with pytest.raises(SystemExit, match="it-zz"):
        assets.icons(static, templates)


@needs_build
def test_pages_link_fingerprinted_files_cached_for_years(client):
    html = client.get("/").get_data(as_text=True)
    links = re.findall(r'(?:href|src)="(/static/[^"#]+)', html)
    assert links and all(link.startswith("/static/build/immutable/") for link in links), links
    assert re.search(r'<script defer src="/static/build/immutable/vendor/htmx/', html)
    assert "bootstrap-italia.bundle" not in html
    for link in links:
        response = client.get(link, headers={"Accept-Encoding": "br"})
        assert response.status_code == 200, link
        assert "immutable" in response.headers["Cache-Control"]
        assert "max-age=315360000" in response.headers["Cache-Control"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        if link.endswith((".css", ".js")):
            assert response.headers["Content-Encoding"] == "br"
        if link.endswith(".css"):
            # every file the stylesheet names is there, under its own fingerprint
            css = brotli.decompress(response.data).decode()
            base = link.rsplit("/", 1)[0]
            for ref in re.findall(r'url\("?(\.\./[^")]+)"?\)', css):
                target = Path(base, ref).resolve().as_posix()
                served = client.get(target)
                assert served.status_code == 200, target
                assert "immutable" in served.headers["Cache-Control"]
    plain = client.get("/static/favicon.svg")
    assert plain.status_code == 200 and "immutable" not in plain.headers["Cache-Control"]


@needs_build
def test_the_stylesheet_holds_only_what_the_pages_use():
    """Bootstrap Italia's components the templates use are in; the rest (carousel, modal,
    timeline...) is not, and no Bootstrap Italia script ships."""
    css = (STATIC / assets.BUILD / "portal.css").read_text()
    for used in (".it-header-slim-wrapper", ".breadcrumb", ".callout", ".card-body",
                 ".pagination-wrapper", ".form-check", ".btn-outline-primary", ".badge",
                 ".alert-danger", ".it-footer", ".visually-hidden-focusable", ".state-badge",
                 "font-display:swap"):
        assert used in css, used
    for unused in (".carousel", ".modal-dialog", ".cookiebar", ".primary-bg-a1", ".it-timeline"):
        assert unused not in css, unused
    assert len(css) < 300_000
    assert not list((STATIC / "vendor" / "bootstrap-italia").glob("js/*"))
