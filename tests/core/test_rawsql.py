"""portal/rawsql.py: Core statements run on the driver's connection give what SQLAlchemy gives,
and their transaction commits or rolls back as a whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, func, insert, literal, null, select

from portal import rawsql
from portal.accounts.models import LoginSession, User


def _session_rows(db, factory):
    user = factory.user(name="Anna Verdi")
    now = datetime(2026, 3, 29, 1, 30, 0, tzinfo=UTC)  # the night Italy moves to summer time
    for i, created in enumerate([now, now + timedelta(microseconds=1), now - timedelta(days=40)]):
        db.session.add(LoginSession(token_hash=f"{i:064d}", user_id=user.id, created_at=created))
    db.session.commit()
    return user, now


def test_a_prepared_statement_reads_what_sqlalchemy_reads(db, factory):
    """Same rows, same types: aware UTC datetimes (whole seconds and microseconds), NULLs,
    literals SQLAlchemy made parameters of, a bound datetime compared in the database."""
    user, now = _session_rows(db, factory)
    statement = (select(LoginSession.token_hash, LoginSession.created_at, User.name,
                        User.deleted_at, literal(7).label("seven"), null().label("blank"),
                        func.count().over().label("n"))
                 .join(User, User.id == LoginSession.user_id)
                 .where(LoginSession.created_at >= bindparam("oldest"),
                        User.id == bindparam("uid"))
                 .order_by(LoginSession.created_at))
    params = {"oldest": now - timedelta(days=1), "uid": user.id}
    expected = [tuple(row) for row in db.session.execute(statement, params)]
    assert len(expected) == 2 and expected[0][1] == now and expected[0][1].tzinfo is not None
    prepared = rawsql.Prepared(statement, db.engine.dialect)
    db.session.commit()
    with rawsql.transaction(db.engine) as tx:
        first = tx.first(prepared, params)
        assert tuple(first) == expected[0]
        assert (first.token_hash, first.created_at, first.seven, first.blank, first.n) == (
            expected[0][0], now, 7, None, 2)
        with pytest.raises(AttributeError):
            _ = first.missing
        assert tx.first(prepared, {**params, "uid": user.id + 1}) is None


def test_the_transaction_commits_or_rolls_back_as_a_whole(db, factory):
    user = factory.user()
    db.session.commit()
    add = rawsql.Prepared(insert(LoginSession).values(
        token_hash=bindparam("h"), user_id=bindparam("uid"), created_at=bindparam("at")),
        db.engine.dialect)
    at = datetime.now(UTC)
    with pytest.raises(RuntimeError), rawsql.transaction(db.engine) as tx:
        assert tx.run(add, {"h": "a" * 64, "uid": user.id, "at": at}) == 1
        raise RuntimeError("something went wrong after the first write")
    with rawsql.transaction(db.engine) as tx:
        tx.run(add, {"h": "b" * 64, "uid": user.id, "at": at})
    stored = db.session.execute(select(LoginSession.token_hash, LoginSession.created_at)
                                .where(LoginSession.user_id == user.id)).all()
    assert stored == [("b" * 64, at)]
