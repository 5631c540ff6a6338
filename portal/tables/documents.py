"""What a published revision becomes: canonical JSON and its hash, HTML, text lines, a diff, PDF.

Everything here is a pure function of the revision's content (which never changes once
published).
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass

from portal.catalogue.services import render_markdown as _render_markdown
from portal.i18n import money


def render_markdown(text: str | None) -> str:
    """Markdown to safe HTML, with the one sanitiser of the portal (the catalogue's)."""
    if not text:
        return ""
    return _render_markdown(text)


def canonical_json(content: dict) -> str:
    """The one serialisation that is hashed: sorted keys, no spaces, UTF-8 text."""
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def content_hash(serialised: str) -> str:
    return hashlib.sha256(serialised.encode("utf-8")).hexdigest()


OUTCOME_TEXT = {
    "approved": "approvata",
    "approved_amended": "approvata con modifiche",
    "rejected": "respinta",
    "postponed": "rinviata",
}
ATTENDANCE_TEXT = {"present": "presente", "absent": "assente", "delegated": "con delega"}


def _money(cents: int) -> str:
    return money(cents, "it")  # the record's language


def text_lines(content: dict) -> list[str]:
    """The revision as plain Italian lines (the record's language): for diffs and the PDF."""
    meeting = content["meeting"]
    lines = [
        f"Verbale della seduta del {meeting['local_date']} ore {meeting['local_time']}",
        f"{content['table']['name']}",
        f"Luogo: {meeting.get('place') or '-'}",
    ]
    if meeting.get("online_url"):
        lines.append(f"Collegamento: {meeting['online_url']}")
    lines.append(f"Revisione {content['revision']}")
    if content.get("reason"):
        lines.append(f"Motivo della correzione: {content['reason']}")
    lines.append("")
    quorum = content["quorum"]
    lines.append(f"Presenti {quorum['present']} su {quorum['members']} componenti"
                 f" (numero legale {'raggiunto' if quorum['reached'] else 'non raggiunto'})")
    for person in content["attendance"]:
        extra = f" ({person['delegate']})" if person.get("delegate") else ""
        lines.append(f"- {person['name']}, {person['represents']}: "
                     f"{ATTENDANCE_TEXT[person['status']]}{extra}")
    lines.append("")
    if content.get("intro"):
        lines.extend(content["intro"].splitlines())
        lines.append("")
    for item in content["items"]:
        lines.append(f"{item['position']}. {item['title']}")
        if item.get("proposal_id"):
            lines.append(f"Proposta n. {item['proposal_id']}")
        lines.extend((item.get("discussion") or "").splitlines())
        d = item["decision"]
        lines.append(f"Esito: {OUTCOME_TEXT[d['outcome']]}")
        if d.get("votes_for") is not None:
            lines.append(f"Voti: {d['votes_for']} favorevoli, {d['votes_against']} contrari, "
                         f"{d['votes_abstained']} astenuti")
        if d.get("amount_cents"):
            lines.append(f"Impegno di spesa: {_money(d['amount_cents'])}"
                         f" ({d.get('funding_source') or '-'})")
        if d.get("responsible"):
            lines.append(f"Responsabile: {d['responsible']}")
        if d.get("deadline"):
            lines.append(f"Scadenza: {d['deadline']}")
        if d.get("motivation"):
            lines.append(f"Motivazione: {d['motivation']}")
        lines.append("")
    lines.append(f"Approvato da: {content.get('approved_by') or '-'}")
    lines.append(f"Pubblicato da: {content['published_by']} il {content['published_at']}")
    return lines


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "same" | "added" | "removed" | "gap"
    text: str


def diff(previous: dict | None, current: dict) -> list[DiffLine]:
    """Line changes from `previous` to `current`, with a little context around each."""
    old = text_lines(previous) if previous else []
    new = text_lines(current)
    result: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for group in matcher.get_grouped_opcodes(2):
        if result:
            result.append(DiffLine("gap", "…"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                result.extend(DiffLine("same", line) for line in old[i1:i2])
                continue
            if tag in ("replace", "delete"):
                result.extend(DiffLine("removed", line) for line in old[i1:i2])
            if tag in ("replace", "insert"):
                result.extend(DiffLine("added", line) for line in new[j1:j2])
    return result


def rendered(serialised: str) -> dict:
    """Content of a revision with its Markdown rendered as safe HTML (intro_html and each
    item's discussion_html)."""
    content = json.loads(serialised)
    content["intro_html"] = render_markdown(content.get("intro"))
    for item in content["items"]:
        item["discussion_html"] = render_markdown(item.get("discussion"))
    return content


# --------------------------------------------------------------------------- PDF

_PDF_REPLACE = str.maketrans({"€": "EUR", "—": "-", "–": "-", "’": "'", "‘": "'", "“": '"',
                              "”": '"', "…": "...", "•": "-"})


def _latin1(text: str) -> str:
    # The PDF core fonts cover Latin-1 (all Italian letters); anything else is replaced.
    return text.translate(_PDF_REPLACE).encode("latin-1", "replace").decode("latin-1")


def pdf(content: dict, content_hash_: str, url: str) -> bytes:
    """The revision as a simple, searchable PDF (core fonts, no external files)."""
    from fpdf import FPDF

    doc = FPDF(format="A4")
    doc.set_title(_latin1(f"Verbale - {content['table']['name']}"))
    doc.set_lang("it")
    doc.set_creator("Rete dei Comuni Amici della Famiglia")
    doc.set_auto_page_break(True, margin=18)
    doc.add_page()
    doc.set_font("Helvetica", "B", 15)
    doc.multi_cell(0, 8, _latin1(content["table"]["name"]), new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Helvetica", "", 10)
    for line in text_lines(content):
        bold = line[:1].isdigit() and ". " in line[:5] or line.startswith("Esito:")
        doc.set_font("Helvetica", "B" if bold else "", 10)
        doc.multi_cell(0, 5.5, _latin1(line) or " ", new_x="LMARGIN", new_y="NEXT")
    doc.ln(4)
    doc.set_font("Courier", "", 8)
    doc.multi_cell(0, 4.5, _latin1(f"SHA-256 del contenuto: {content_hash_}"), new_x="LMARGIN",
                   new_y="NEXT")
    doc.multi_cell(0, 4.5, _latin1(f"Originale: {url}"), new_x="LMARGIN", new_y="NEXT")
    return bytes(doc.output())
