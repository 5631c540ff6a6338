"""The demo: a profile and three tariffs in every Comune, Seveso's applications in every
state with their pacts, the paid ones in the ledger, two fund managers who can log in."""

from sqlalchemy import func, select

from portal.fund import ledger
from portal.fund.models import FundTransaction
from portal.fund.support_models import (
    APPLICATION_STATUSES,
    FattoreProfile,
    Pact,
    SupportApplication,
    Tariff,
)
from portal.network.models import Comune
from portal.seed import DEMO_PASSWORD, seed_all
from tests.conftest import login, page_text


def test_the_demo_has_applications_in_every_state(app, db, client):
    seed_all()
    db.session.commit()
    comuni = db.session.scalar(select(func.count(Comune.id)))
    assert db.session.scalar(select(func.count(func.distinct(FattoreProfile.comune_id)))) \
        == comuni
    assert db.session.scalar(select(func.count(Tariff.id))) == 3 * comuni
    states = set(db.session.scalars(select(SupportApplication.status)))
    assert states == set(APPLICATION_STATUSES)
    assert db.session.scalar(select(func.count(Pact.id))) >= 4
    paid = db.session.scalars(select(SupportApplication).where(
        SupportApplication.status.in_(["paid", "closed"]))).all()
    for item in paid:
        tx = db.session.get(FundTransaction, item.payment_transaction_id)
        assert tx.key == item.payment_key and tx.amount_cents == item.amount_granted_cents
    assert ledger.check() == []

    login(client, "fondo@example.org", DEMO_PASSWORD)
    text = page_text(client.get("/fondo/gestione/domande"))
    assert "Da seguire" in text and "In esame" in text
    assert "Asilo nido" in page_text(client.get("/fondo/fattore-famiglia?comune=seveso"))
