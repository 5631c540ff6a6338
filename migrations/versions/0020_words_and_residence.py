"""core and accounts: texts the portal writes as message keys, declared residence

The activity stream and a proposal's history store what the portal writes as a message key
and its values (`message`, `params`), translated when shown; the Italian text stays beside
them. Rows written before are given their key when their Italian text is one of the portal's
sentences, read back with the sentence as it was then (a copy: the migration must not change
when the code does); any other row is shown as it was written. Households get the address they
declare (`street`, `house_number`), which the Comune officer checks against the anagrafe.

Revision ID: 0020
Revises: 0019
"""

import re
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

#: (activity kind, message key, the Italian sentence written until now)
_ACTIVITY = [
    ("comune.joined", "comune.joined", "%(name)s entra nella Rete"),
    ("proposal.published", "proposal.published", "Nuova proposta: %(title)s"),
    ("proposal.approved", "proposal.approved", "Proposta approvata: %(title)s"),
    ("proposal.implemented", "proposal.implemented", "Proposta realizzata: %(title)s"),
    ("practice.published", "practice.published", "Nuova buona pratica: %(title)s"),
    ("practice.adopted", "practice.adopted", "%(comune)s adotta «%(title)s»"),
    ("meeting.convened", "meeting.convened", "%(table)s: seduta convocata per il %(when)s"),
    ("meeting.convened", "meeting.recorded", "%(table)s: registrata la seduta del %(when)s"),
    ("minutes.published", "minutes.published",
     "%(table)s: pubblicato il verbale della seduta del %(day)s"),
    ("minutes.corrected", "minutes.corrected",
     "%(table)s: verbale del %(day)s corretto (revisione %(n)d)"),
]
#: (proposal event's new state, message key, the Italian sentence written until now)
_HISTORY = [
    ("selected", "history.selected", "Selezionata dalla votazione «%(title)s»."),
    ("selected", "history.selected_by_table", "Selezionata dalla votazione del tavolo."),
    ("on_agenda", "history.on_agenda", "All'ordine del giorno della seduta del %(when)s"),
    ("approved", "history.approved", "Approvata dal %(table)s nella seduta del %(day)s."),
    ("not_approved", "history.not_approved",
     "Non approvata dal %(table)s nella seduta del %(day)s. Motivazione: %(why)s"),
    ("in_progress", "history.in_progress",
     "In realizzazione. Responsabile: %(who)s; scadenza: %(when)s."),
    ("in_progress", "history.in_progress_short", "In realizzazione."),
]
_DATES = {"when", "day"}
_PLACEHOLDER = re.compile(r"%\((\w+)\)([sd])")


def _pattern(sentence: str) -> re.Pattern:
    parts, last = [], 0
    for match in _PLACEHOLDER.finditer(sentence):
        parts.append(re.escape(sentence[last:match.start()]))
        name, kind = match.groups()
        parts.append(rf"(?P<{name}>\d+)" if kind == "d" else rf"(?P<{name}>.+?)")
        last = match.end()
    parts.append(re.escape(sentence[last:]))
    return re.compile("".join(parts), re.DOTALL)


def _params(match: re.Match) -> dict | None:
    params = {}
    for name, value in match.groupdict().items():
        if name in _DATES and value != "-":
            found = re.fullmatch(r"(\d{2})/(\d{2})/(\d{4})", value)
            if found is None:
                return None
            day, month, year = (int(x) for x in found.groups())
            try:
                value = date(year, month, day).isoformat()
            except ValueError:
                return None
        elif name == "n":
            value = int(value)
        params[name] = value
    return params


def _key_old_rows(table: sa.Table, text_column: str, group_column: str, sentences) -> None:
    bind = op.get_bind()
    patterns = [(group, key, _pattern(sentence)) for group, key, sentence in sentences]
    groups = sorted({group for group, _key, _p in patterns})
    rows = bind.execute(sa.select(table.c.id, table.c[group_column], table.c[text_column])
                        .where(table.c[group_column].in_(groups),
                               table.c[text_column].is_not(None))).all()
    updates = []
    for row_id, group, stored in rows:
        for candidate, key, pattern in patterns:
            match = pattern.fullmatch(stored) if candidate == group else None
            params = _params(match) if match else None
            if params is not None:
                updates.append({"row_id": row_id, "message": key, "params": params})
                break
    if updates:
        bind.execute(table.update().where(table.c.id == sa.bindparam("row_id"))
                     .values(message=sa.bindparam("message"), params=sa.bindparam("params")),
                     updates)


def upgrade() -> None:
    op.add_column("activity", sa.Column("message", sa.String(60), nullable=True))
    op.add_column("activity", sa.Column("params", sa.JSON(), nullable=True))
    op.add_column("proposal_events", sa.Column("message", sa.String(60), nullable=True))
    op.add_column("proposal_events", sa.Column("params", sa.JSON(), nullable=True))
    op.add_column("households", sa.Column("street", sa.String(120), nullable=True))
    op.add_column("households", sa.Column("house_number", sa.String(12), nullable=True))

    activity = sa.table("activity", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                        sa.column("title", sa.String), sa.column("message", sa.String),
                        sa.column("params", sa.JSON))
    _key_old_rows(activity, "title", "kind", _ACTIVITY)
    events = sa.table("proposal_events", sa.column("id", sa.Integer),
                      sa.column("to_state", sa.String), sa.column("note", sa.Text),
                      sa.column("message", sa.String), sa.column("params", sa.JSON))
    _key_old_rows(events, "note", "to_state", _HISTORY)


def downgrade() -> None:
    with op.batch_alter_table("households") as batch:
        batch.drop_column("house_number")
        batch.drop_column("street")
    with op.batch_alter_table("proposal_events") as batch:
        batch.drop_column("params")
        batch.drop_column("message")
    with op.batch_alter_table("activity") as batch:
        batch.drop_column("params")
        batch.drop_column("message")
