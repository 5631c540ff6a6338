"""Valid HTML by construction: htmx through `data-hx-*` attributes, `<time datetime>` values in
the forms HTML takes, no two CSRF fields with one id, headings in order inside what authors
write. (The pages themselves go through the Nu HTML Checker in tests/e2e/test_valid_html.py.)"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from portal.catalogue.services import outline, render_markdown
from portal.i18n import machine_time

ROOT = Path(__file__).resolve().parents[2]
#: an htmx attribute without the data- prefix (invalid HTML): ` hx-get=`, `"hx-target"`...
BARE_HTMX = re.compile(r"(?<![\w-])hx-[a-z]")
#: HTML's global date and time string, to the second, in UTC
VALID_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def _sources():
    for folder, pattern in (("templates", "*.html"), ("templates", "*.xml"),
                            ("static/js", "*.js")):
        yield from (ROOT / folder).rglob(pattern)


def test_htmx_attributes_carry_the_data_prefix():
    """`hx-get` is no HTML attribute; htmx reads `data-hx-get` just as well."""
    bare = [f"{path.relative_to(ROOT)}:{n}: {line.strip()[:120]}"
            for path in _sources()
            for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
            if BARE_HTMX.search(line)]
    assert not bare, "htmx attributes without data-:\n" + "\n".join(bare)


def test_csrf_fields_carry_no_id():
    """WTForms gives every CSRF field id="csrf_token": two forms on a page would share it.
    Templates render the hidden field with id=False (it needs no label)."""
    with_id = [f"{path.relative_to(ROOT)}:{n}" for path in _sources()
               for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
               if re.search(r"\.csrf_token *(\}\}|\((?![^)]*id=False))", line)]
    assert not with_id, "render {{ form.csrf_token(id=False) }}:\n" + "\n".join(with_id)


def test_time_elements_do_not_print_python_timestamps():
    """`isoformat()` of a moment writes microseconds (and +00:00 for a naive one is a guess):
    templates format `<time datetime>` with the machine_time filter."""
    raw = [f"{path.relative_to(ROOT)}:{n}" for path in _sources()
           for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
           if re.search(r"datetime=\"\{\{[^}]*isoformat\(\)", line)]
    assert not raw, "use |machine_time for <time datetime>:\n" + "\n".join(raw)


def test_machine_time_examples():
    assert machine_time(None) == ""
    assert machine_time(date(2026, 12, 7)) == "2026-12-07"
    moment = datetime(2026, 12, 7, 20, 7, 12, 123456, tzinfo=UTC)
    assert machine_time(moment) == "2026-12-07T20:07:12Z"
    # stored times are UTC, also when a driver gives them back naive
    assert machine_time(moment.replace(tzinfo=None)) == "2026-12-07T20:07:12Z"
    rome = timezone(timedelta(hours=1))
    assert machine_time(datetime(2026, 12, 7, 21, 7, 12, tzinfo=rome)) == "2026-12-07T20:07:12Z"


@given(st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(9999, 12, 30),
                    timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)), None])))
def test_machine_time_is_valid_and_the_same_moment(moment):
    text = machine_time(moment)
    assert VALID_MOMENT.fullmatch(text), text
    back = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    assert timedelta(0) <= aware - back < timedelta(seconds=1)


def test_a_practice_body_continues_the_page_outline():
    """What an author writes as "## A" then "#### B" sits under the page's h2 sections as
    h3 then h4: the body starts at h3 and never skips a level."""
    body = render_markdown("## Come funziona\n\ntesto\n\n#### Chi\n\n# Costi\n\n### Voci")
    assert re.findall(r"<h(\d)>", body) == ["3", "4", "3", "4"]


@given(st.lists(st.integers(1, 6), max_size=12))
def test_outline_never_skips_a_level(levels):
    html = "".join(f"<h{n}>t</h{n}><p>x</p>" for n in levels)
    shown = [int(n) for n in re.findall(r"<h(\d)>", outline(html))]
    assert len(shown) == len(levels) and len(re.findall(r"</h(\d)>", outline(html))) == len(levels)
    previous = 2  # the page's section heading
    for level in shown:
        assert 3 <= level <= 5 and level <= previous + 1
        previous = level


def test_a_select_is_required_only_against_an_empty_first_option(app):
    """HTML refuses `required` on a select whose first option is a real value (it always has
    one); with a placeholder first, `required` stays and the browser asks for a choice."""
    from flask import render_template_string
    from wtforms import Form, SelectField
    from wtforms.validators import DataRequired

    class Choice(Form):
        plain = SelectField(choices=[("member", "Componente"), ("chair", "Presidente")],
                            validators=[DataRequired()])
        placeholder = SelectField(choices=[("", "— scegli —"), ("1", "Seveso")],
                                  validators=[DataRequired()])

    form = Choice()
    with app.test_request_context():
        html = render_template_string('{% from "_macros/forms.html" import field %}'
                                      "{{ field(f.plain) }}{{ field(f.placeholder) }}", f=form)
    plain, placeholder = (re.search(rf'<select[^>]*id="{name}"[^>]*>', html).group(0)
                          for name in ("plain", "placeholder"))
    assert "required" not in plain and "required" in placeholder
