"""Comuni, associations, scoped roles and applications to join the Rete."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db_setup import UTCDateTime, utcnow
from portal.extensions import db


class Comune(db.Model):
    __tablename__ = "comuni"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(140), unique=True)
    #: six-digit ISTAT code, e.g. 108040 for Seveso
    istat_code: Mapped[str] = mapped_column(String(6), unique=True)
    province: Mapped[str] = mapped_column(String(80))
    population: Mapped[int | None]
    #: the day the Comune signed the Accordo and joined the Rete
    joined_on: Mapped[date] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Text)
    website: Mapped[str | None] = mapped_column(String(300))

    associations: Mapped[list[Association]] = relationship(
        secondary="association_comuni", back_populates="comuni", order_by="Association.name"
    )

    __table_args__ = (
        Index("ix_comuni_name", "name"),
        # /comuni filtered by province, in keyset order
        Index("ix_comuni_province_slug", "province", "slug"),
    )

    def __repr__(self) -> str:
        return f"<Comune {self.istat_code} {self.name}>"


class AssociationKind(StrEnum):
    FAMILY = "family"
    THIRD_SECTOR = "third_sector"
    ENTERPRISE = "enterprise"
    PUBLIC_BODY = "public_body"


association_comuni = Table(
    "association_comuni",
    db.metadata,
    Column("association_id", Integer, ForeignKey("associations.id", ondelete="CASCADE"),
           primary_key=True),
    Column("comune_id", Integer, ForeignKey("comuni.id", ondelete="CASCADE"), primary_key=True,
           index=True),
)


class Association(db.Model):
    __tablename__ = "associations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160), unique=True)
    slug: Mapped[str] = mapped_column(String(180), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(Text)
    website: Mapped[str | None] = mapped_column(String(300))

    comuni: Mapped[list[Comune]] = relationship(
        secondary="association_comuni", back_populates="associations", order_by="Comune.name"
    )

    __table_args__ = (
        CheckConstraint(
            "kind in ('family','third_sector','enterprise','public_body')", name="kind"
        ),
    )

    def __repr__(self) -> str:
        return f"<Association {self.name}>"


class RoleAssignment(db.Model):
    """A role held by a user on a scope: the Network (scope id 0), a Comune, an association..."""

    __tablename__ = "role_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(24))
    scope_type: Mapped[str] = mapped_column(String(12))
    #: id of the Comune, association, table or merchant; 0 for the Network
    scope_id: Mapped[int] = mapped_column(Integer)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user = relationship("User", foreign_keys=[user_id])

    __table_args__ = (
        UniqueConstraint("user_id", "role", "scope_type", "scope_id"),
        Index("ix_role_assignments_scope", "scope_type", "scope_id"),
    )

    def __repr__(self) -> str:
        return f"<RoleAssignment {self.user_id} {self.role} {self.scope_type}:{self.scope_id}>"


class JoinStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class JoinApplication(db.Model):
    """A Comune's application to join the Rete ("Aderisci alla Rete")."""

    __tablename__ = "join_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    comune_name: Mapped[str] = mapped_column(String(120))
    istat_code: Mapped[str] = mapped_column(String(6), index=True)
    province: Mapped[str] = mapped_column(String(80))
    population: Mapped[int | None]
    contact_name: Mapped[str] = mapped_column(String(120))
    contact_role: Mapped[str] = mapped_column(String(120))
    contact_email: Mapped[str] = mapped_column(String(254))
    #: reference of the council act approving the Accordo (e.g. "Delibera G.C. n. 45 del ...")
    council_act: Mapped[str] = mapped_column(String(200))
    message: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=JoinStatus.PENDING,
                                        server_default="pending")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decision_note: Mapped[str | None] = mapped_column(String(500))
    comune_id: Mapped[int | None] = mapped_column(ForeignKey("comuni.id", ondelete="SET NULL"))

    __table_args__ = (
        CheckConstraint("status in ('pending','approved','rejected')", name="status"),
    )
