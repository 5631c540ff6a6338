"""Personal data: every model about a person is exported and handled on deletion.

The matrix walks every mapped model: one that refers to a person (a foreign key to users or
households, or a column holding an address, an IP, a name) must be registered by its module
(portal/core/personal.py) as exported and deleted, or declared not personal with a reason.
Modules added later (fund, card, GAF) extend it by registering theirs.
"""

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from portal.accounts.models import Household, User
from portal.accounts.services import hash_password
from portal.authz import Role
from portal.core.models import AuditLog, Notification
from portal.core.personal import registry
from portal.db_setup import utcnow
from portal.extensions import db as _db
from portal.network.models import RoleAssignment
from portal.proposals.models import Comment, CoProposer, Proposal, Report
from portal.tables import services as tables
from portal.tables.models import Attendance, Meeting, Minutes, MinutesComment, TableMember
from portal.voting.models import RoundEntry, Vote
from tests.conftest import PASSWORD, login, page_text

PERSON_TABLES = {"users", "households"}
#: columns that hold personal data without a foreign key: addresses, IPs, people's names
PERSONAL_NAME = re.compile(
    r"(^|_)(email|ip|user_agent|phone)$|^(first|contact|posted_by)_name$|^contact_"
    r"|^(to|delegate|published_by|approved_by)$")


def _person_columns(mapper) -> list[str]:
    found = []
    for column in mapper.local_table.columns:
        if any(fk.column.table.name in PERSON_TABLES for fk in column.foreign_keys):
            found.append(column.name)
        elif PERSONAL_NAME.search(column.name):
            found.append(column.name)
    return found


def _person_fks(model, table: str) -> list:
    return [column for column in model.__table__.columns
            if any(fk.column.table.name == table for fk in column.foreign_keys)]


def test_every_model_about_a_person_is_exported_and_deleted_or_declared(app):
    reg = registry(app)
    missing = []
    for mapper in _db.Model.registry.mappers:
        model = mapper.class_
        columns = _person_columns(mapper)
        if not columns:
            continue
        if model in reg.personal:
            entry = reg.personal[model]
            assert callable(entry.export) and callable(entry.delete), model.__name__
            for column, reason in entry.kept.items():
                assert column in columns and reason.strip(), f"{model.__name__}.{column}"
        elif model in reg.not_personal:
            assert reg.not_personal[model].reason.strip(), model.__name__
        else:
            missing.append(f"{model.__name__} ({', '.join(columns)})")
    assert not missing, ("refer to a person but are neither registered as exported and "
                         f"deleted nor declared not personal: {missing}")


def test_the_matrix_sees_the_models_it_must(app):
    """The walk finds what the issue named: seats, votes, comments, roles, the audit log."""
    seen = {m.class_ for m in _db.Model.registry.mappers if _person_columns(m)}
    for model in (TableMember, Vote, Comment, Report, CoProposer, RoleAssignment, AuditLog,
                  MinutesComment, Notification, User, Household):
        assert model in seen


# --------------------------------------------------------------------------- behaviour


@pytest.fixture
def demo(app):
    from portal.seed import seed_all

    seed_all()
    _db.session.commit()
    return app


def _someone_with_everything(factory):
    """A family member with data in every module, added to the demo Rete."""
    entry = _db.session.scalars(select(RoundEntry).join(Vote, (Vote.round_id == RoundEntry.round_id)
                                                        & (Vote.proposal_id
                                                           == RoundEntry.proposal_id))).first()
    proposal = _db.session.get(Proposal, entry.proposal_id)
    comune = proposal.comune
    user = factory.user("ginevra@example.org", name="Ginevra Quadrelli")
    household = factory.household(user=user, comune=comune, name="Famiglia Quadrelli")
    other = factory.user()
    table = proposal.table
    minutes = _db.session.scalars(select(Minutes)).first()
    now = utcnow()

    mine = Proposal(comune_id=comune.id, table_id=table.id, household_id=household.id,
                    author_id=user.id, title="Un parco giochi", summary="Per tutti",
                    state="published", published_at=now)
    draft = Proposal(comune_id=comune.id, table_id=table.id, household_id=household.id,
                     author_id=user.id, title="Bozza di Ginevra", summary="Mai inviata")
    _db.session.add_all([mine, draft])
    _db.session.flush()
    lone = Comment(proposal_id=proposal.id, author_id=user.id, body="Sono d'accordo, Ginevra")
    replied = Comment(proposal_id=proposal.id, author_id=user.id, body="Chi viene sabato?")
    _db.session.add_all([lone, replied])
    _db.session.flush()
    _db.session.add_all([
        Comment(proposal_id=proposal.id, parent_id=replied.id, author_id=other.id,
                body="Io ci sono"),
        Report(proposal_id=proposal.id, reporter_id=user.id, reason="Fuori tema"),
        Report(proposal_id=proposal.id, reporter_id=user.id, reason="Già risolta",
               resolved_at=now, resolution="dismissed"),
        CoProposer(proposal_id=proposal.id, household_id=household.id, invited_by_id=user.id),
        Vote(round_id=entry.round_id, household_id=household.id, proposal_id=proposal.id,
             user_id=user.id),
        TableMember(table_id=table.id, user_id=user.id, body_kind="families",
                    joined_on=now.date()),
        MinutesComment(minutes_id=minutes.id, user_id=user.id, body="Manca il mio intervento",
                       for_revision=1),
        Notification(user_id=user.id, kind="test", title="Benvenuta"),
        AuditLog(actor_id=user.id, action="test.done", ip="192.0.2.7", details={}),
    ])
    _db.session.commit()
    factory.grant(user, Role.FACILITATOR, comune.id)
    return user, household, proposal, table


def _names_at(table_id: int) -> list[str]:
    return [seat.name for seat in tables.seats(table_id, limit=500)]


def test_everything_is_exported_then_deleted(demo, client, factory, db):
    user, household, proposal, table = _someone_with_everything(factory)
    members_before = tables.member_count(table)
    assert "Ginevra Quadrelli" in _names_at(table.id)
    login(client, user.email)

    data = json.loads(client.get("/account/dati.json").get_data(as_text=True))
    assert data["account"]["email"] == "ginevra@example.org"
    assert data["household"]["name"] == "Famiglia Quadrelli"
    assert {p["title"] for p in data["proposals"]} == {"Un parco giochi", "Bozza di Ginevra"}
    assert {c["body"] for c in data["comments"]} >= {"Sono d'accordo, Ginevra",
                                                     "Chi viene sabato?"}
    assert {r["reason"] for r in data["reports"]} == {"Fuori tema", "Già risolta"}
    assert data["co_proposals"][0]["proposal_id"] == proposal.id
    assert [v["proposal_id"] for v in data["votes"]] == [proposal.id]
    assert [s["table_id"] for s in data["table_seats"]] == [table.id]
    assert data["minutes_comments"][0]["body"] == "Manca il mio intervento"
    assert [r["role"] for r in data["roles"]] == ["facilitator"]
    assert data["notifications"][0]["title"] == "Benvenuta"
    assert any(e["action"] == "test.done" and e["ip"] == "192.0.2.7"
               for e in data["activity_log"])
    assert len(data["sessions"]) == 1

    response = client.form("/account/elimina", {"password": PASSWORD, "confirm": "y"})
    assert response.status_code == 303
    db.session.expire_all()

    # No row of a registered model still names the person or the household that went with
    # them, except in the columns declared kept (pointing to anonymised rows).
    reg = registry(demo)
    left = []
    for model, entry in reg.personal.items():
        for table_name, value in (("users", user.id), ("households", household.id)):
            for column in _person_fks(model, table_name):
                if column.name in entry.kept or (model is User and table_name == "users"):
                    continue
                if db.session.scalar(select(column).where(column == value).limit(1)):
                    left.append(f"{model.__name__}.{column.name}")
    assert not left, left

    gone = db.session.get(User, user.id)
    assert gone.deleted_at is not None and "Ginevra" not in gone.name
    assert db.session.get(Household, household.id).anonymised_at is not None
    # the seat is off the public list and the quorum
    assert "Ginevra Quadrelli" not in _names_at(table.id)
    assert "Utente eliminato" not in _names_at(table.id)
    assert tables.member_count(table) == members_before - 1
    assert db.session.scalar(select(TableMember.id).where(  # it never attended: gone
        TableMember.table_id == table.id, TableMember.user_id == user.id)) is None
    # the vote stays counted, for the anonymised household, naming no member
    vote = db.session.scalars(select(Vote).where(Vote.household_id == household.id)).one()
    assert vote.user_id is None
    # the draft went; the published proposal stays without author nor household
    titles = set(db.session.scalars(select(Proposal.title)))
    assert "Bozza di Ginevra" not in titles and "Un parco giochi" in titles
    kept = db.session.scalars(select(Proposal).where(Proposal.title == "Un parco giochi")).one()
    assert kept.author_id is None and kept.household_id is None
    # the comment others replied to keeps its place, not its words; the other went
    bodies = set(db.session.scalars(select(Comment.body)))
    assert "Sono d'accordo, Ginevra" not in bodies and "Chi viene sabato?" not in bodies
    assert "Io ci sono" in bodies
    # the open report stays for the moderators, anonymous; the resolved one went
    assert set(db.session.scalars(select(Report.reason).where(
        Report.proposal_id == proposal.id))) >= {"Fuori tema"}
    assert "Già risolta" not in set(db.session.scalars(select(Report.reason)))
    # the audit log keeps the entry for an anonymous account
    assert db.session.scalar(select(AuditLog.actor_id).where(AuditLog.action == "test.done")) \
        == user.id


def test_a_seat_that_attended_ends_and_keeps_the_meetings_as_recorded(demo, client, factory,
                                                                       db):
    meeting = db.session.scalars(select(Meeting).join(
        Attendance, Attendance.meeting_id == Meeting.id)).first()
    user = factory.user(name="Ottavio Zerbinati")
    seat = TableMember(table_id=meeting.table_id, user_id=user.id, body_kind="families",
                       joined_on=(utcnow() - timedelta(days=400)).date())
    db.session.add(seat)
    db.session.flush()
    db.session.add(Attendance(meeting_id=meeting.id, member_id=seat.id, status="present"))
    db.session.commit()
    before = tables.quorum(meeting)
    count = tables.member_count(meeting.table)
    login(client, user.email)
    client.form("/account/elimina", {"password": PASSWORD, "confirm": "y"})
    db.session.expire_all()
    assert "Ottavio Zerbinati" not in _names_at(meeting.table_id)
    assert tables.member_count(meeting.table) == count - 1
    assert tables.quorum(meeting) == before  # a meeting held stays as recorded
    assert db.session.get(TableMember, seat.id).left_on is not None


def test_the_household_and_its_votes_stay_while_another_member_remains(demo, client, factory,
                                                                        db):
    vote = db.session.scalars(select(Vote).where(Vote.user_id.is_not(None))).first()
    household = db.session.get(Household, vote.household_id)
    voter = db.session.get(User, vote.user_id)
    partner = factory.user()
    partner.household_id = household.id
    db.session.commit()
    voter.password_hash = hash_password(PASSWORD)  # a known password for the form
    db.session.commit()
    login(client, voter.email)
    client.form("/account/elimina", {"password": PASSWORD, "confirm": "y"})
    db.session.expire_all()
    household = db.session.get(Household, household.id)
    assert household.anonymised_at is None and [u.id for u in household.users] == [partner.id]
    vote = db.session.get(Vote, vote.id)
    assert vote.household_id == household.id and vote.user_id is None


# --------------------------------------------------------------------------- audit addresses


def test_audit_addresses_are_dropped_after_the_period(app, db):
    old = AuditLog(action="old.thing", ip="192.0.2.1", details={},
                   at=utcnow() - timedelta(days=app.config["AUDIT_IP_DAYS"] + 1))
    new = AuditLog(action="new.thing", ip="192.0.2.2", details={})
    db.session.add_all([old, new])
    db.session.commit()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["audit", "purge-ips"])
    assert first.exit_code == 0, first.output
    assert "1 voci" in first.output
    second = runner.invoke(args=["audit", "purge-ips"])  # twice: nothing more to do
    assert second.exit_code == 0 and "0 voci" in second.output
    db.session.expire_all()
    old, new = db.session.get(AuditLog, old.id), db.session.get(AuditLog, new.id)
    assert old.ip is None and old.action == "old.thing"
    assert new.ip == "192.0.2.2"


def test_the_audit_log_still_refuses_any_other_change(app, db):
    entry = AuditLog(action="kept", ip="192.0.2.3", details={})
    db.session.add(entry)
    db.session.commit()
    for statement in ("UPDATE audit_log SET ip = '203.0.113.9' WHERE id = :id",
                      "UPDATE audit_log SET action = 'rewritten' WHERE id = :id",
                      "DELETE FROM audit_log WHERE id = :id"):
        with pytest.raises(DBAPIError):
            db.session.execute(text(statement), {"id": entry.id})
        db.session.rollback()


def test_the_privacy_notice_states_the_period(app, client):
    page = page_text(client.get("/privacy"))
    assert f"per {app.config['AUDIT_IP_DAYS']} giorni e poi cancellato" in page
