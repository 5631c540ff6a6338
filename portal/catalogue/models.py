"""Good practices (buone pratiche), their themes, promoters, results, files and adoptions.

The search index is the database's own (see `portal.catalogue.search`): on PostgreSQL the
`search_vector` column below, on SQLite the FTS5 table `practice_search`, which migration 0015
creates (a virtual table, not described here).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from flask_babel import gettext
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db_setup import UTCDateTime, utcnow
from portal.extensions import db

#: SQLite's FTS5 index of the published practices (migration 0015, portal.catalogue.search)
FTS_TABLE = "practice_search"
# It and the tables FTS5 keeps for it are the database's, not the models': migrations/env.py
# leaves them out when comparing the models with the database.
db.metadata.info.setdefault("external_tables", set()).update(
    {FTS_TABLE, *(f"{FTS_TABLE}_{suffix}"
                  for suffix in ("data", "idx", "content", "docsize", "config"))})


class PracticeStatus(StrEnum):
    IDEA = "idea"
    TRIAL = "sperimentazione"
    ACTIVE = "attiva"
    ENDED = "conclusa"


class PromoterKind(StrEnum):
    """The three sides of "sussidiarietà circolare": public, non-profit (two kinds), profit."""

    COMUNE = "comune"
    ASSOCIATION = "association"
    THIRD_SECTOR = "third_sector"
    ENTERPRISE = "enterprise"


class AdoptionStatus(StrEnum):
    EVALUATING = "valutazione"
    STARTING = "avvio"
    ACTIVE = "attiva"
    ABANDONED = "abbandonata"


class FileKind(StrEnum):
    COVER = "cover"
    ATTACHMENT = "attachment"


def _in(values) -> str:
    return ",".join(f"'{v}'" for v in values)


class Theme(db.Model):
    """A theme from the list the coordinators maintain."""

    __tablename__ = "themes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    slug: Mapped[str] = mapped_column(String(90), unique=True)
    #: display order in forms and facets
    position: Mapped[int] = mapped_column(default=0, server_default="0")
    #: retired themes stay on old practices but are no longer offered
    active: Mapped[bool] = mapped_column(default=True, server_default="1")

    @property
    def label(self) -> str:
        return theme_name(self.name)

    def __repr__(self) -> str:
        return f"<Theme {self.slug}>"


def theme_name(name: str) -> str:
    """A theme's name in the reader's language. The name is stored in Italian; the Rete's
    starting themes are msgids (portal.proposals.themes marks them), so they are shown
    translated, and a theme a coordinator added later reads as they wrote it."""
    return gettext(name)


practice_themes = Table(
    "practice_themes",
    db.metadata,
    Column("practice_id", Integer, ForeignKey("good_practices.id", ondelete="CASCADE"),
           primary_key=True),
    Column("theme_id", Integer, ForeignKey("themes.id", ondelete="CASCADE"),
           primary_key=True),
    #: a theme's practices, newest first (the theme filter, the related practices)
    Index("ix_practice_themes_theme", "theme_id", "practice_id"),
)

practice_comuni = Table(
    "practice_comuni",
    db.metadata,
    Column("practice_id", Integer, ForeignKey("good_practices.id", ondelete="CASCADE"),
           primary_key=True),
    Column("comune_id", Integer, ForeignKey("comuni.id", ondelete="CASCADE"),
           primary_key=True),
    #: a Comune's practices, newest first (the Comune filter, the Comune's page)
    Index("ix_practice_comuni_comune", "comune_id", "practice_id"),
)


class GoodPractice(db.Model):
    """A good practice: what was done, where, by whom, with what results. Draft until published."""

    __tablename__ = "good_practices"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(140), unique=True)
    title: Mapped[str] = mapped_column(String(160))
    #: the title folded to [a-z0-9] only: sorts identically on SQLite and PostgreSQL
    title_key: Mapped[str] = mapped_column(String(160), default="", server_default="")
    summary: Mapped[str] = mapped_column(String(600))
    #: Markdown written by the editors
    body: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: `body` rendered and sanitised (nh3) when saved
    body_html: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[str] = mapped_column(String(16), default=PracticeStatus.IDEA,
                                        server_default="idea")
    started_on: Mapped[date | None] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    #: who benefits, in words ("famiglie con figli 0-14 anni")
    beneficiaries: Mapped[str | None] = mapped_column(String(300))
    #: how many people or households benefited, when known
    beneficiaries_count: Mapped[int | None]
    #: total cost in euro cents
    cost_cents: Mapped[int | None]
    #: who paid: Comune budget, Fondazione Cariplo, Regione Lombardia, fondo solidale...
    funding_sources: Mapped[str | None] = mapped_column(String(500))
    contacts: Mapped[str | None] = mapped_column(String(500))
    #: the Comune or association that drafts and keeps the entry up to date
    owner_comune_id: Mapped[int | None] = mapped_column(
        ForeignKey("comuni.id", ondelete="SET NULL"), index=True)
    owner_association_id: Mapped[int | None] = mapped_column(
        ForeignKey("associations.id", ondelete="SET NULL"), index=True)
    #: where the practice comes from (e.g. an approved proposal), as a label and a portal path
    origin_label: Mapped[str | None] = mapped_column(String(200))
    origin_url: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: null while the practice is a draft
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    #: when the practice was first published; kept when it goes back to draft. A practice
    #: that was ever published cannot be deleted: its revisions are public history
    first_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: adoptions that are not abandoned; kept by the adoption service for the "most adopted" sort
    adoption_count: Mapped[int] = mapped_column(default=0, server_default="0")
    revision_count: Mapped[int] = mapped_column(default=0, server_default="0")
    #: PostgreSQL only (NULL on SQLite, and for drafts): title, theme and promoter names,
    #: summary and description as a tsvector weighted A to D, kept by search.index. Deferred:
    #: no page reads it.
    search_vector: Mapped[str | None] = mapped_column(
        Text().with_variant(TSVECTOR(), "postgresql"), deferred=True)

    themes: Mapped[list[Theme]] = relationship(secondary=practice_themes,
                                               order_by="Theme.position, Theme.name")
    comuni = relationship("Comune", secondary=practice_comuni, order_by="Comune.name")
    promoters: Mapped[list[Promoter]] = relationship(
        back_populates="practice", cascade="all, delete-orphan", order_by="Promoter.id")
    indicators: Mapped[list[Indicator]] = relationship(
        primaryjoin="and_(Indicator.practice_id == GoodPractice.id, "
                    "Indicator.adoption_id.is_(None))",
        viewonly=True, order_by="Indicator.measured_on, Indicator.id")
    files: Mapped[list[PracticeFile]] = relationship(
        back_populates="practice", cascade="all, delete-orphan", order_by="PracticeFile.id")
    adoptions: Mapped[list[Adoption]] = relationship(
        back_populates="practice", cascade="all, delete-orphan", order_by="Adoption.id")
    owner_comune = relationship("Comune", foreign_keys=[owner_comune_id])
    owner_association = relationship("Association", foreign_keys=[owner_association_id])

    __table_args__ = (
        CheckConstraint(f"status in ({_in(PracticeStatus)})", name="status"),
        CheckConstraint("cost_cents is null or cost_cents >= 0", name="cost"),
        Index("ix_good_practices_published", "published_at", "id"),
        Index("ix_good_practices_title_key", "title_key", "id"),
        Index("ix_good_practices_adoptions", "adoption_count", "id"),
        # GIN on PostgreSQL; on SQLite the column stays NULL and the partial index empty
        Index("ix_good_practices_search_vector", "search_vector", postgresql_using="gin",
              postgresql_where=text("search_vector IS NOT NULL"),
              sqlite_where=text("search_vector IS NOT NULL")),
    )

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    @property
    def was_ever_published(self) -> bool:
        return self.published_at is not None or self.first_published_at is not None

    @property
    def cover(self) -> PracticeFile | None:
        return next((f for f in self.files if f.kind == FileKind.COVER), None)

    @property
    def attachments(self) -> list[PracticeFile]:
        return [f for f in self.files if f.kind == FileKind.ATTACHMENT]

    def __repr__(self) -> str:
        return f"<GoodPractice {self.id} {self.slug}>"


class Promoter(db.Model):
    """Who promotes the practice; its kind places it on the sussidiarietà circolare triangle."""

    __tablename__ = "practice_promoters"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("good_practices.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(16))
    #: what the promoter does in the practice ("capofila", "partner", "finanziatore")
    role: Mapped[str | None] = mapped_column(String(120))
    comune_id: Mapped[int | None] = mapped_column(ForeignKey("comuni.id", ondelete="SET NULL"))
    association_id: Mapped[int | None] = mapped_column(
        ForeignKey("associations.id", ondelete="SET NULL"), index=True)

    practice: Mapped[GoodPractice] = relationship(back_populates="promoters")

    __table_args__ = (
        CheckConstraint(f"kind in ({_in(PromoterKind)})", name="kind"),
        #: the practices with a kind of promoter (the promoter filter)
        Index("ix_practice_promoters_kind", "kind", "practice_id"),
    )

    def __repr__(self) -> str:
        return f"<Promoter {self.name} ({self.kind})>"


class Indicator(db.Model):
    """A measured result: of the practice, or (adoption_id set) of one Comune's adoption."""

    __tablename__ = "practice_indicators"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("good_practices.id", ondelete="CASCADE"), index=True)
    adoption_id: Mapped[int | None] = mapped_column(
        ForeignKey("practice_adoptions.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(160))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(40))
    measured_on: Mapped[date | None] = mapped_column(Date)

    def __repr__(self) -> str:
        return f"<Indicator {self.name}={self.value} {self.unit or ''}>"


class PracticeRevision(db.Model):
    """A snapshot of the practice after one edit; the history page lists them."""

    __tablename__ = "practice_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("good_practices.id", ondelete="CASCADE"))
    #: 1, 2, 3... per practice
    number: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: what the edit was, in words ("Modificato il testo", "Aggiunto un promotore")
    note: Mapped[str] = mapped_column(String(300))
    #: the practice's fields, themes, Comuni, promoters and indicators after the edit
    snapshot: Mapped[dict] = mapped_column(JSON, default=dict)

    author = relationship("User")

    __table_args__ = (UniqueConstraint("practice_id", "number"),)

    def __repr__(self) -> str:
        return f"<PracticeRevision {self.practice_id}#{self.number}>"


class PracticeFile(db.Model):
    """An uploaded cover image or attachment; the bytes live in the storage, not in static/."""

    __tablename__ = "practice_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("good_practices.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    #: key in the storage backend (never a user-supplied path)
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    #: the sanitised original name, used in Content-Disposition
    filename: Mapped[str] = mapped_column(String(160))
    #: the type found by reading the content, not the one the browser claimed
    content_type: Mapped[str] = mapped_column(String(60))
    size: Mapped[int]
    #: what the file is; for a cover, the alternative text of the image
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))

    practice: Mapped[GoodPractice] = relationship(back_populates="files")

    __table_args__ = (CheckConstraint(f"kind in ({_in(FileKind)})", name="kind"),)

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    def __repr__(self) -> str:
        return f"<PracticeFile {self.id} {self.filename}>"


class Adoption(db.Model):
    """A Comune declares that it adopts a practice, with its local notes and results."""

    __tablename__ = "practice_adoptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("good_practices.id", ondelete="CASCADE"))
    comune_id: Mapped[int] = mapped_column(ForeignKey("comuni.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(12), default=AdoptionStatus.EVALUATING,
                                        server_default="valutazione")
    notes: Mapped[str | None] = mapped_column(Text)
    started_on: Mapped[date | None] = mapped_column(Date)
    declared_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    practice: Mapped[GoodPractice] = relationship(back_populates="adoptions")
    comune = relationship("Comune")
    indicators: Mapped[list[Indicator]] = relationship(
        order_by="Indicator.measured_on, Indicator.id", cascade="all, delete-orphan")

    __table_args__ = (
        UniqueConstraint("practice_id", "comune_id"),
        CheckConstraint(f"status in ({_in(AdoptionStatus)})", name="status"),
        #: a Comune's adoptions, latest first (its page lists the latest ten)
        Index("ix_practice_adoptions_comune_latest", "comune_id", "updated_at", "id"),
    )

    @property
    def counts(self) -> bool:
        """Does this adoption count for "most adopted"? Abandoned ones do not."""
        return self.status != AdoptionStatus.ABANDONED

    def __repr__(self) -> str:
        return f"<Adoption {self.practice_id} by {self.comune_id} ({self.status})>"
