"""The state graph of proposals: every edge by every role, allowed and refused; the history."""

import pytest

from portal.authz import Role
from portal.core.models import AuditLog, Notification
from portal.proposals import services
from portal.proposals.models import ProposalEvent, ProposalState
from tests.conftest import outbox
from tests.proposals.helpers import PATH, force_state, make_proposal

S = ProposalState

#: Every edge of the graph with the kind of actor that moves it; the edges into "merged"
#: need a target proposal and are moved by merge() (MERGE_EDGES, tested below).
EDGES = [(src, dst, kind) for src, targets in services.TRANSITIONS.items()
         for dst, kind in targets.items() if dst != S.MERGED]
MERGE_EDGES = [(src, kind) for src, targets in services.TRANSITIONS.items()
               for dst, kind in targets.items() if dst == S.MERGED]
ACTORS = ["author", "co_proposer", "moderator", "other_moderator", "table_chair",
          "table_secretary", "other_table_secretary", "comune_officer", "coordinator",
          "stranger", "facilitator_on_behalf"]
#: Which actors may move an edge of each kind (without `authorized`).
ALLOWED = {
    "author": {"author", "facilitator_on_behalf"},
    "moderator": {"moderator", "coordinator"},
    "table": {"table_chair", "table_secretary", "coordinator"},
    "system": set(),
}


@pytest.fixture
def world(db, factory):
    """A proposal of a Seveso-like Comune and one user for every kind of actor."""
    comune = factory.comune()
    other = factory.comune()
    author = factory.user()
    household = factory.household(user=author, comune=comune)
    table = factory.table(comune)
    actors = {"author": author}
    co = factory.user()
    co_household = factory.household(user=co, comune=comune)
    actors["co_proposer"] = co
    moderator = factory.user()
    factory.grant(moderator, Role.MODERATOR, factory.association([comune]).id)
    actors["moderator"] = moderator
    other_moderator = factory.user()
    factory.grant(other_moderator, Role.MODERATOR, factory.association([other]).id)
    actors["other_moderator"] = other_moderator
    for name, role, scope in [("table_chair", Role.TABLE_CHAIR, table.id),
                              ("table_secretary", Role.TABLE_SECRETARY, table.id),
                              ("other_table_secretary", Role.TABLE_SECRETARY,
                               factory.table(other).id),
                              ("comune_officer", Role.COMUNE_OFFICER, comune.id),
                              ("coordinator", Role.COORDINATOR, 0),
                              ("facilitator_on_behalf", Role.FACILITATOR, comune.id)]:
        user = factory.user()
        factory.grant(user, role, scope)
        actors[name] = user
    actors["stranger"] = factory.user()
    return dict(comune=comune, household=household, co_household=co_household, table=table,
                actors=actors)


def _proposal(factory, world, state):
    from portal.proposals.models import CoProposer, CoProposerStatus

    proposal = make_proposal(factory, household=world["household"],
                             user=world["actors"]["author"], table=world["table"], state=state)
    proposal.on_behalf_by_id = world["actors"]["facilitator_on_behalf"].id
    proposal.co_proposers.append(CoProposer(household_id=world["co_household"].id,
                                            status=CoProposerStatus.ACCEPTED))
    from portal.extensions import db

    db.session.commit()
    return proposal


@pytest.mark.parametrize(("src", "dst", "kind"), EDGES,
                         ids=[f"{s.value}->{d.value}" for s, d, _k in EDGES])
def test_each_edge_by_each_role(app, db, factory, world, src, dst, kind):
    """Only the role an edge needs moves it; everyone else is refused and nothing changes."""
    proposal = _proposal(factory, world, src)
    for name in ACTORS:
        actor = world["actors"][name]
        from portal import authz

        authz.forget_roles(actor)
        events_before = db.session.scalar(db.select(db.func.count(ProposalEvent.id)))
        if name in ALLOWED[kind]:
            event = services.transition(proposal, dst, actor, "una nota di prova")
            assert proposal.state == dst, name
            assert event.actor_id == actor.id
            db.session.rollback()
            proposal = db.session.get(type(proposal), proposal.id)
        else:
            with pytest.raises(services.NotAllowed):
                services.transition(proposal, dst, actor, "una nota di prova")
            db.session.rollback()
            proposal = db.session.get(type(proposal), proposal.id)
            assert proposal.state == src, name
            assert db.session.scalar(db.select(db.func.count(ProposalEvent.id))) == events_before


@pytest.mark.parametrize(("src", "kind"), MERGE_EDGES,
                         ids=[f"{s.value}->merged" for s, _k in MERGE_EDGES])
def test_each_merge_edge_by_each_role(app, db, factory, world, src, kind):
    """Into "merged" only through merge(), by the moderators of the Comune (and the
    coordinator); everyone else is refused and nothing changes; transition() alone refuses."""
    from portal import authz

    assert kind == "moderator"
    proposal = _proposal(factory, world, src)
    into = _proposal(factory, world, S.PUBLISHED)
    with pytest.raises(services.TransitionError):
        services.transition(proposal, S.MERGED, world["actors"]["moderator"], "doppione")
    for name in ACTORS:
        actor = world["actors"][name]
        authz.forget_roles(actor)
        events_before = db.session.scalar(db.select(db.func.count(ProposalEvent.id)))
        if name in ALLOWED[kind]:
            event = services.merge(proposal, into, actor, "una nota di prova")
            assert proposal.state == S.MERGED and proposal.merged_into_id == into.id, name
            assert event.actor_id == actor.id and event.from_state == src
            db.session.rollback()
        else:
            with pytest.raises(services.NotAllowed):
                services.merge(proposal, into, actor, "una nota di prova")
            db.session.rollback()
            assert db.session.scalar(
                db.select(db.func.count(ProposalEvent.id))) == events_before
        proposal = db.session.get(type(proposal), proposal.id)
        into = db.session.get(type(into), into.id)
        assert proposal.state == src and proposal.merged_into_id is None, name


def _in_state(factory, world, src):
    """A proposal in `src`; a merged one is reached the only way there is, through merge()."""
    if src != S.MERGED:
        return _proposal(factory, world, src)
    proposal = _proposal(factory, world, S.PUBLISHED)
    into = _proposal(factory, world, S.PUBLISHED)
    services.merge(proposal, into, None, authorized=True)
    from portal.extensions import db

    db.session.commit()
    return proposal


@pytest.mark.parametrize("src", list(S), ids=[s.value for s in S])
def test_edges_outside_the_graph_are_refused(app, db, factory, world, src):
    """Even a trusted caller cannot jump along an edge the graph does not have."""
    proposal = _in_state(factory, world, src)
    allowed = set(services.TRANSITIONS.get(src, {}))
    for dst in S:
        if dst in allowed:
            continue
        with pytest.raises(services.TransitionError):
            services.transition(proposal, dst, None, "nota", authorized=True)
        assert proposal.state == src


def test_trusted_caller_moves_table_edges_and_is_recorded(app, db, factory, world):
    """The tables module vouches for its actor: the edge moves, the table is on the event."""
    proposal = _proposal(factory, world, S.SELECTED)
    member = factory.user()  # no role at all: the caller checked its own
    event = services.transition(proposal, S.ON_AGENDA, member, authorized=True,
                                details={"meeting": 7})
    db.session.commit()
    assert proposal.state == S.ON_AGENDA
    assert event.table_id == proposal.table_id and event.details == {"meeting": 7}
    assert db.session.scalar(db.select(AuditLog).where(AuditLog.action == "proposal.on_agenda"))


def test_reasons_are_required_for_changes_and_rejection(app, db, factory, world):
    """A moderator cannot send back or reject a proposal without telling the family why."""
    proposal = _proposal(factory, world, S.SUBMITTED)
    for target in (S.CHANGES_REQUESTED, S.REJECTED):
        with pytest.raises(services.ProposalError):
            services.transition(proposal, target, world["actors"]["moderator"], "   ")
        assert proposal.state == S.SUBMITTED


def test_history_records_every_step_with_association(app, db, factory, world):
    """The public history lists each change with its actor's association and note."""
    proposal = _proposal(factory, world, S.DRAFT)
    author, moderator = world["actors"]["author"], world["actors"]["moderator"]
    services.transition(proposal, S.SUBMITTED, author)
    services.transition(proposal, S.CHANGES_REQUESTED, moderator, "Aggiungete i costi.")
    services.transition(proposal, S.SUBMITTED, author)
    services.transition(proposal, S.PUBLISHED, moderator)
    db.session.commit()
    events = services.history(proposal)
    assert [(e.from_state, e.to_state) for e in events] == [
        (S.DRAFT, S.SUBMITTED), (S.SUBMITTED, S.CHANGES_REQUESTED),
        (S.CHANGES_REQUESTED, S.SUBMITTED), (S.SUBMITTED, S.PUBLISHED)]
    assert events[1].note == "Aggiungete i costi." and events[1].association is not None
    assert proposal.published_at is not None and proposal.listed


def test_authors_hear_of_every_change_supporters_of_decisions(app, db, factory, world):
    """Authors (and accepted co-proposers) are told of each change; supporters of decisions."""
    from portal.db_setup import utcnow
    from portal.voting.models import Round, RoundEntry, Vote

    proposal = _proposal(factory, world, S.ON_AGENDA)
    supporter = factory.user()
    supporter_household = factory.household(user=supporter, comune=world["comune"])
    round_ = Round(table_id=world["table"].id, title="Votazione", opens_at=utcnow(),
                   closes_at=utcnow().replace(year=utcnow().year + 1), rule="supports",
                   max_supports=3, threshold=1, salt="s")
    db.session.add(round_)
    db.session.flush()
    db.session.add(RoundEntry(round_id=round_.id, proposal_id=proposal.id, vote_count=1))
    db.session.add(Vote(round_id=round_.id, household_id=supporter_household.id,
                        proposal_id=proposal.id))
    db.session.commit()
    before = {u: len(outbox(u.email)) for u in (world["actors"]["author"],
                                                world["actors"]["co_proposer"], supporter)}
    services.transition(proposal, S.APPROVED, world["actors"]["table_chair"], "Delibera n. 4")
    db.session.commit()
    for user, count in before.items():
        messages = outbox(user.email)
        assert len(messages) == count + 1, user.email
        assert "Approvata" in messages[-1].subject
        assert db.session.scalar(db.select(Notification).where(
            Notification.user_id == user.id, Notification.kind == "proposal.approved"))
    assert services.supporters(proposal) == [supporter]


def test_interface_queries(app, db, factory, world):
    """selected_for_table lists selected proposals only; authors include co-proposers."""
    selected = _proposal(factory, world, S.SELECTED)
    _proposal(factory, world, S.PUBLISHED)
    _proposal(factory, world, S.ON_AGENDA)
    assert services.selected_for_table(world["table"].id) == [selected]
    names = {u.id for u in services.authors(selected)}
    assert {world["actors"]["author"].id, world["actors"]["co_proposer"].id} <= names


def test_paths_cover_every_state():
    """The helper walks to every state (so the tests above reach every source)."""
    assert set(PATH) | {S.MERGED} == set(S)


def test_force_state_uses_the_graph(app, db, factory):
    """Helpers go through transition(), so the history is complete."""
    proposal = make_proposal(factory, state=S.DRAFT)
    force_state(proposal, S.IMPLEMENTED)
    assert len(services.history(proposal)) == len(PATH[S.IMPLEMENTED])
