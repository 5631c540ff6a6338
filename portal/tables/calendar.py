"""iCalendar feeds of meetings: per table, per Comune, and one ("aggiungi al calendario")."""

from __future__ import annotations

from datetime import timedelta

from flask import make_response, url_for
from flask_babel import gettext as _
from icalendar import Calendar, Event
from sqlalchemy import select

from portal.core.services import absolute_url
from portal.db_setup import utcnow
from portal.extensions import db
from portal.tables.models import Meeting, MeetingStatus, Table

#: a feed carries the meetings of the last two years and every future one
FEED_PAST = timedelta(days=730)
FEED_LIMIT = 500


def _calendar(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", "-//Rete dei Comuni Amici della Famiglia//Tavoli//IT")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Europe/Rome")
    return cal


def _event(meeting: Meeting, table_name: str) -> Event:
    event = Event()
    event.add("uid", f"seduta-{meeting.id}@rete-comuni-amici-famiglia")
    event.add("dtstamp", meeting.convened_at or meeting.created_at or utcnow())
    event.add("dtstart", meeting.starts_at)
    event.add("dtend", meeting.ends_at or meeting.starts_at + timedelta(hours=2))
    event.add("summary", f"{table_name}: {meeting.title}")
    if meeting.place:
        event.add("location", meeting.place)
    link = absolute_url(url_for("tables.meeting", meeting_id=meeting.id))
    event.add("url", link)
    description = [meeting.notes or "", meeting.online_url or "", link]
    event.add("description", "\n\n".join(d for d in description if d))
    event.add("status", "CANCELLED" if meeting.status == MeetingStatus.CANCELLED else "CONFIRMED")
    return event


def feed(name: str, table_ids: list[int]) -> Calendar:
    cal = _calendar(name)
    rows = db.session.execute(
        select(Meeting, Table.name).join(Table, Table.id == Meeting.table_id)
        .where(Meeting.table_id.in_(table_ids), Meeting.status != MeetingStatus.DRAFT,
               Meeting.starts_at >= utcnow() - FEED_PAST)
        .order_by(Meeting.starts_at.desc()).limit(FEED_LIMIT)).all()
    for meeting, table_name in reversed(rows):
        cal.add_component(_event(meeting, table_name))
    return cal


def single(meeting: Meeting) -> Calendar:
    cal = _calendar(_("Seduta: %(t)s", t=meeting.title))
    cal.add_component(_event(meeting, meeting.table.name))
    return cal


def response(cal: Calendar, filename: str):
    resp = make_response(cal.to_ical())
    resp.content_type = "text/calendar; charset=utf-8"
    resp.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp
