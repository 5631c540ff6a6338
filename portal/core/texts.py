"""Texts the portal writes itself, stored as a key and its values and translated when shown.

An event of the activity stream or a line of a proposal's history written by the portal
("Proposta approvata: …", "In realizzazione. Responsabile: …") is stored as a message key of
`MESSAGES` with its values (JSON), so that each reader sees it in their own language, whatever
the language of whoever caused it. The Italian text is stored beside them too: it is what an
unknown key (a message retired later) and rows written before keys existed show. What people
write (a title, a motivation, a moderator's note) stays a value, shown as it was written.

The msgid of each key is the Italian text with its %(name)s placeholders, marked with `N_`
so that `make translations-update` extracts it; values named in a message's `dates` are ISO
dates, shown in the reader's date format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import force_locale, gettext

from portal.i18n import date_filter


def N_(msgid: str) -> str:
    """Mark `msgid` for extraction; it is translated when shown (babel's gettext_noop)."""
    return msgid


@dataclass(frozen=True)
class Message:
    msgid: str
    #: the values that are ISO dates ("2026-12-07"), shown in the reader's format
    dates: tuple[str, ...] = ()


MESSAGES: dict[str, Message] = {
    # the activity stream (home page, a Comune's page)
    "comune.joined": Message(N_("%(name)s entra nella Rete")),
    "proposal.published": Message(N_("Nuova proposta: %(title)s")),
    "proposal.approved": Message(N_("Proposta approvata: %(title)s")),
    "proposal.implemented": Message(N_("Proposta realizzata: %(title)s")),
    "practice.published": Message(N_("Nuova buona pratica: %(title)s")),
    "practice.adopted": Message(N_("%(comune)s adotta «%(title)s»")),
    "meeting.convened": Message(N_("%(table)s: seduta convocata per il %(when)s"), ("when",)),
    "meeting.recorded": Message(N_("%(table)s: registrata la seduta del %(when)s"), ("when",)),
    "minutes.published": Message(N_("%(table)s: pubblicato il verbale della seduta del "
                                    "%(day)s"), ("day",)),
    "minutes.corrected": Message(N_("%(table)s: verbale del %(day)s corretto (revisione "
                                    "%(n)d)"), ("day",)),
    # a proposal's history
    "history.selected": Message(N_("Selezionata dalla votazione «%(title)s».")),
    "history.selected_by_table": Message(N_("Selezionata dalla votazione del tavolo.")),
    "history.on_agenda": Message(N_("All'ordine del giorno della seduta del %(when)s"),
                                 ("when",)),
    "history.approved": Message(N_("Approvata dal %(table)s nella seduta del %(day)s."),
                                ("day",)),
    "history.not_approved": Message(N_("Non approvata dal %(table)s nella seduta del %(day)s. "
                                       "Motivazione: %(why)s"), ("day",)),
    "history.in_progress": Message(N_("In realizzazione. Responsabile: %(who)s; scadenza: "
                                      "%(when)s."), ("when",)),
    "history.in_progress_short": Message(N_("In realizzazione.")),
}


@dataclass(frozen=True)
class Text:
    """A text the portal writes: a key of `MESSAGES` and its values (JSON-ready)."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return render(self.key, self.params, "")

    def italian(self) -> str:
        """The text as stored beside the key (the portal's language)."""
        with force_locale("it"):
            return render(self.key, self.params, "")


def text(key: str, **params: Any) -> Text:
    """A text of `MESSAGES`; a date value is stored as its ISO form."""
    if key not in MESSAGES:
        raise KeyError(f"unknown portal text {key!r}")
    return Text(key, {name: value.isoformat() if isinstance(value, date) else value
                      for name, value in params.items()})


def render(key: str | None, params: dict[str, Any] | None, stored: str | None) -> str:
    """The text in the reader's language; `stored` when there is no key or it is unknown."""
    message = MESSAGES.get(key) if key else None
    if message is None:
        return stored or ""
    values = dict(params or {})
    for name in message.dates:
        if isinstance(values.get(name), str):
            try:
                values[name] = date_filter(date.fromisoformat(values[name]))
            except ValueError:
                pass  # shown as stored
    try:
        # formatted here, not by gettext(msgid, **values), which leaves a message without
        # values as it is ("%(when)s" and all)
        return gettext(message.msgid) % values
    except (KeyError, TypeError, ValueError):
        # values that no longer fit the message (a placeholder renamed since): the stored text
        return stored or ""
