"""Every page the end-to-end tests visited is valid HTML (Nu HTML Checker) with its headings in
order: valid markup is part of WCAG 2.1 (4.1.1, in EN 301 549, which Italian public sites meet).

The pages are those the browser received during this run (tests/e2e/conftest.py saves each
distinct one); this test runs after all the others and gives them to one run of vnu.jar (npm
package vnu-jar, Java from the system), errors only.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.e2e.conftest import HTML_PAGES, IN_CI, ROOT

VNU_JAR = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


def _java() -> str:
    java = shutil.which("java")
    missing = None if java else "java is missing: apt-get install default-jre-headless"
    if not VNU_JAR.exists():
        missing = f"{VNU_JAR.relative_to(ROOT)} is missing: run `npm ci` (make setup)"
    if missing:
        if IN_CI:
            pytest.fail(missing)
        pytest.skip(missing)
    return java


def vnu_errors(files: list[Path]) -> list[dict]:
    """The errors vnu finds in `files`, one JVM for all of them."""
    result = subprocess.run(  # noqa: S603 - fixed command line, our own files
        [_java(), "-jar", str(VNU_JAR), "--errors-only", "--format", "json", "--stdout",
         "--exit-zero-always", *map(str, files)],
        capture_output=True, text=True, timeout=600, check=False)
    try:
        messages = json.loads(result.stdout)["messages"]
    except (ValueError, KeyError):
        pytest.fail(f"vnu gave no report (exit {result.returncode}):\n{result.stdout[-2000:]}"
                    f"\n{result.stderr[-2000:]}")
    return [m for m in messages if m.get("type") in ("error", "non-document-error")]


class _Headings(HTMLParser):
    """The levels of a page's headings, in document order."""

    def __init__(self):
        super().__init__()
        self.found: list[tuple[int, int]] = []  # (level, line)

    def handle_starttag(self, tag, attrs):
        if len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
            self.found.append((int(tag[1]), self.getpos()[0]))


def heading_skips(html: str) -> list[str]:
    """Where a heading goes more than one level deeper than the one before it (h2 -> h4),
    or the first heading is not an h1."""
    parser = _Headings()
    parser.feed(html)
    faults, previous = [], 0
    for level, line in parser.found:
        if level > previous + 1:
            faults.append(f"line {line}: h{level} after "
                          f"{'h' + str(previous) if previous else 'the start of the page'}")
        previous = level
    return faults


def test_heading_skips_are_found():
    """The heading check itself: a skipped level is reported, levels going back up are not."""
    assert heading_skips("<h1>a</h1><h2>b</h2><h3>c</h3><h2>d</h2><h3>e</h3>") == []
    assert heading_skips("<h1>a</h1><h3>b</h3>") == ["line 1: h3 after h1"]
    assert heading_skips("<h2>a</h2>") == ["line 1: h2 after the start of the page"]


def test_vnu_reports_errors():
    """The checker is wired: an invalid attribute and a datetime with microseconds are found."""
    sample = ROOT / "test-results" / "html-sample" / "invalid.html"
    sample.parent.mkdir(parents=True, exist_ok=True)
    sample.write_text('<!doctype html><html lang="it"><head><title>x</title></head><body>'
                      '<main><h1 hx-get="/">x</h1>'
                      '<time datetime="2026-12-07T20:07:12.123456+00:00">ieri</time>'
                      '</main></body></html>', encoding="utf-8")
    errors = vnu_errors([sample])
    text = "\n".join(e["message"] for e in errors)
    assert "hx-get" in text and "datetime" in text, text


def test_every_visited_page_is_valid_html():
    """Zero vnu errors and no skipped heading level on every page the e2e tests visited."""
    if not HTML_PAGES:
        pytest.skip("no end-to-end test loaded a page in this run")
    where = {path.resolve(): url for url, path in HTML_PAGES}
    errors = vnu_errors([path for _url, path in HTML_PAGES])
    report = []
    for e in errors:
        file = Path(unquote(urlsplit(e.get("url", "")).path)).resolve()
        page = where.get(file, e.get("url", "?"))
        report.append(f"{page} line {e.get('lastLine', '?')}: {e['message']}\n"
                      f"    {(e.get('extract') or '').strip()[:160]}")
    for url, path in HTML_PAGES:
        report += [f"{url} {fault}" for fault in heading_skips(path.read_text("utf-8"))]
    assert not report, (f"{len(report)} HTML fault(s) on {len(HTML_PAGES)} pages "
                        f"(saved in {HTML_PAGES[0][1].parent}):\n" + "\n".join(report))
