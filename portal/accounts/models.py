"""Users, their login sessions, households and their members."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db_setup import UTCDateTime, utcnow
from portal.extensions import db


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: stored lower-cased; unique across the portal
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: one user, one household
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="SET NULL"), index=True
    )
    #: set when the user deleted the account; the row stays, anonymised
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    household: Mapped[Household | None] = relationship(
        back_populates="users", foreign_keys=[household_id]
    )

    #: the login session this request was authenticated with (not a column)
    _session_token: ClassVar[str | None] = None

    def get_id(self) -> str | None:
        return self._session_token

    @property
    def is_active(self) -> bool:
        # Set by the session loader for the request's own user; deleting the account logs out.
        if self.__dict__.get("_loaded_active"):
            return True
        return self.deleted_at is None

    @property
    def email_confirmed(self) -> bool:
        return self.email_confirmed_at is not None

    @property
    def can_take_part(self) -> bool:
        """May comment, report, propose, vote and invite: only once the address is confirmed
        (anyone can otherwise post in public under any name with a throwaway address)."""
        return self.email_confirmed

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class LoginSession(db.Model):
    """A server-side login session; logging out deletes it, so a copied cookie is useless."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: SHA-256 of the random token kept in the signed session cookie
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User] = relationship()


class HouseholdStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


class Household(db.Model):
    """A family (nucleo familiare): the unit that votes and holds a Family Card."""

    __tablename__ = "households"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    comune_id: Mapped[int] = mapped_column(ForeignKey("comuni.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(
        String(12), default=HouseholdStatus.PENDING, server_default="pending"
    )
    #: who verified (or refused) the residence, and when
    verified_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", use_alter=True)
    )
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the officer's reason when the residence could not be verified
    review_note: Mapped[str | None] = mapped_column(String(500))
    #: the address the household declares in its Comune, for the officer's check against the
    #: anagrafe (street and house number; null for households created before it was asked)
    street: Mapped[str | None] = mapped_column(String(120))
    house_number: Mapped[str | None] = mapped_column(String(12))
    #: set when the last member deleted their account; counted votes stay, anonymised
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    comune = relationship("Comune")
    users: Mapped[list[User]] = relationship(
        back_populates="household", foreign_keys=[User.household_id]
    )
    members: Mapped[list[HouseholdMember]] = relationship(
        back_populates="household", cascade="all, delete-orphan", order_by="HouseholdMember.id"
    )
    verified_by: Mapped[User | None] = relationship(foreign_keys=[verified_by_id])

    __table_args__ = (
        # anonymised_at too: counting a Comune's verified households reads the index only
        Index("ix_households_comune_status", "comune_id", "status", "anonymised_at"),
        CheckConstraint("status in ('pending','verified','rejected')", name="status"),
    )

    @property
    def is_verified(self) -> bool:
        return self.status == HouseholdStatus.VERIFIED

    @property
    def address(self) -> str | None:
        """The declared address as written on an envelope ("Via Roma 12")."""
        return " ".join(p for p in (self.street, self.house_number) if p) or None

    def __repr__(self) -> str:
        return f"<Household {self.id} {self.name!r}>"


class MemberKind(StrEnum):
    ADULT = "adult"
    CHILD = "child"


class HouseholdMember(db.Model):
    __tablename__ = "household_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    first_name: Mapped[str | None] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(8))
    birth_year: Mapped[int] = mapped_column(SmallInteger)
    #: optional: a member with a disability (weighs in the Fattore Famiglia)
    disability: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    household: Mapped[Household] = relationship(back_populates="members")

    __table_args__ = (CheckConstraint("kind in ('adult','child')", name="kind"),)


class HouseholdInvitation(db.Model):
    """A link a member sends so that another person joins the household."""

    __tablename__ = "household_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    #: SHA-256 of the token in the link
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)

    household: Mapped[Household] = relationship()
