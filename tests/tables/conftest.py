"""Builders for the tables tests: a seated table, meetings, proposals, published minutes."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest

from portal.db_setup import utcnow
from portal.extensions import db as _db
from tests.conftest import login


class Tables:
    """Real rows made through the services, committed so that requests see them."""

    def __init__(self, app, factory):
        self.app = app
        self.factory = factory

    def seated(self, n_members: int = 3, name: str = "Seveso", istat: str = "108040"):
        from portal.tables import services

        comune = self.factory.comune(name, istat)
        table = self.factory.table(comune)
        chair = self.factory.user(name="Paola Presidente")
        secretary = self.factory.user(name="Sergio Segretario")
        others = [self.factory.user(name=f"Componente {i}") for i in range(n_members)]
        with self.app.test_request_context():
            services.add_member(None, table, chair.email, "chair", "comune", comune.id,
                                title="Assessore alla famiglia")
            services.add_member(None, table, secretary.email, "secretary", "families")
            for user in others:
                services.add_member(None, table, user.email, "member", "families")
            _db.session.commit()
        return SimpleNamespace(comune=comune, table=table, chair=chair, secretary=secretary,
                               others=others)

    def proposal(self, table, state: str = "selected", title: str = "Pedibus per la scuola"):
        from portal.proposals.models import Proposal

        author = self.factory.user(name="Giulia Autrice")
        household = self.factory.household(user=author, comune=table.comune)
        proposal = Proposal(comune_id=table.comune_id, table_id=table.id,
                            household_id=household.id, author_id=author.id, title=title,
                            summary="Accompagnare a piedi i bambini a scuola.", body="Testo",
                            state=state, published_at=utcnow())
        _db.session.add(proposal)
        _db.session.commit()
        return proposal, author

    def meeting(self, t, items=("Comunicazioni del presidente",), proposals=(), convene=True,
                when: datetime | None = None):
        from portal.tables import services

        with self.app.test_request_context():
            meeting = services.create_meeting(t.chair, t.table, {
                "title": "Seduta ordinaria", "starts_at": when or utcnow() + timedelta(days=7),
                "place": "Sala consiliare"})
            for title in items:
                services.add_agenda_item(t.chair, meeting, title, None)
            for p in proposals:
                services.add_agenda_item(t.chair, meeting, None, None, p.id)
            if convene:
                services.convene(t.chair, meeting)
            _db.session.commit()
        return meeting

    def held(self, meeting):
        """The meeting takes place: its start moves to an hour ago (minutes open then)."""
        meeting = _db.session.merge(meeting)
        if meeting.starts_at > utcnow():
            meeting.starts_at = utcnow() - timedelta(hours=1)
            meeting.ends_at = None
            _db.session.commit()
        return meeting

    def attend(self, t, meeting, present: int):
        """The meeting is held: mark the first `present` seats present, the others absent."""
        from portal.tables import services

        self.held(meeting)

        seats = services.members(t.table)
        marks = {s.id: ("present" if i < present else "absent", None)
                 for i, s in enumerate(seats)}
        with self.app.test_request_context():
            services.record_attendance(t.chair, meeting, marks)
            _db.session.commit()

    def decide(self, t, meeting, outcome="approved", votes=(3, 1, 0), **extra):
        """Draft every item with `outcome`, approve and publish; return the revision."""
        from portal.tables import services

        self.held(meeting)

        with self.app.test_request_context():
            minutes = services.minutes_for(meeting, create=True)
            for entry in minutes.items:
                data = {"discussion": "Il tavolo discute.", "outcome": outcome,
                        "votes_for": votes[0], "votes_against": votes[1],
                        "votes_abstained": votes[2], "responsible": "Ufficio Servizi Sociali",
                        "deadline": date.today() + timedelta(days=90),
                        "motivation": "Manca la copertura di bilancio."}
                data.update(extra)
                services.save_item(t.secretary, minutes, entry, data)
            services.approve(t.chair, minutes)
            revision = services.publish(t.secretary, minutes)
            _db.session.commit()
        return revision


@pytest.fixture
def tables(app, factory) -> Tables:
    return Tables(app, factory)


@pytest.fixture
def as_user(client):
    def _as(user):
        login(client, user.email)
        return user
    return _as
