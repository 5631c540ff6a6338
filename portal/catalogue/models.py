"""Good practices (buone pratiche), their themes, promoters, results, files and adoptions.

The search index lives here too: `practice_terms` (stemmed, accent-folded terms with a weight)
and `practice_facets` (one row per facet value of a published practice) are derived tables kept
by `portal.catalogue.search` on every save; `catalogue_facet_counts` holds the facet counts of the
whole published catalogue so that the unfiltered list never counts 100,000 rows.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db_setup import UTCDateTime, utcnow
from portal.extensions import db


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

    def __repr__(self) -> str:
        return f"<Theme {self.slug}>"


practice_themes = Table(
    "practice_themes",
    db.metadata,
    Column("practice_id", Integer, ForeignKey("good_practices.id", ondelete="CASCADE"),
           primary_key=True),
    Column("theme_id", Integer, ForeignKey("themes.id", ondelete="CASCADE"),
           primary_key=True, index=True),
)

practice_comuni = Table(
    "practice_comuni",
    db.metadata,
    Column("practice_id", Integer, ForeignKey("good_practices.id", ondelete="CASCADE"),
           primary_key=True),
    Column("comune_id", Integer, ForeignKey("comuni.id", ondelete="CASCADE"), primary_key=True,
           index=True),
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
    #: the facet values of a published practice as "facet:value" tokens separated by spaces
    #: ("c:12 k:comune s:attiva t:3"): the rows of practice_facets but the total, kept by
    #: search.reindex; a search counts its candidates' facets from it. Empty for drafts.
    facet_key: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: PostgreSQL only (NULL on SQLite, and for drafts): the practice's index terms and its
    #: facet tokens in one array under a GIN index, kept by search.reindex. A search whose
    #: words and filters rarely meet intersects their lists there at once (see search.py).
    #: Deferred: no page reads it.
    search_keys: Mapped[list[str] | None] = mapped_column(
        Text().with_variant(ARRAY(Text), "postgresql"), deferred=True)

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
        Index("ix_good_practices_search_keys", "search_keys", postgresql_using="gin",
              postgresql_where=text("search_keys IS NOT NULL"),
              sqlite_where=text("search_keys IS NOT NULL")),
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

    __table_args__ = (CheckConstraint(f"kind in ({_in(PromoterKind)})", name="kind"),)

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


# --------------------------------------------------------------------------- search index


class PracticeTerm(db.Model):
    """One stemmed, accent-folded term of a published practice, weighted by where it appears."""

    __tablename__ = "practice_terms"

    term: Mapped[str] = mapped_column(String(40), primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("good_practices.id", ondelete="CASCADE"), primary_key=True, index=True)
    #: occurrences in the title count 10, in the summary 4, in the body 1 (capped)
    weight: Mapped[int] = mapped_column(SmallInteger)

    # On SQLite the rows live in the primary key's b-tree: a term's postings (with their
    # weight) are read contiguously instead of one table row per posting. The rank index
    # walks a term's postings best first and stops after a page of candidates.
    __table_args__ = (Index("ix_practice_terms_rank", "term", "weight", "practice_id"),
                      {"sqlite_with_rowid": False})

    def __repr__(self) -> str:
        return f"<PracticeTerm {self.term} {self.practice_id}>"


class PracticeFacet(db.Model):
    """One facet value of a published practice: t=theme id, c=Comune id, s=status, k=kind."""

    __tablename__ = "practice_facets"

    facet: Mapped[str] = mapped_column(String(1), primary_key=True)
    value: Mapped[str] = mapped_column(String(20), primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("good_practices.id", ondelete="CASCADE"), primary_key=True)

    __table_args__ = (Index("ix_practice_facets_practice", "practice_id", "facet", "value"),
                      {"sqlite_with_rowid": False})

    def __repr__(self) -> str:
        return f"<PracticeFacet {self.facet}={self.value} {self.practice_id}>"


class FacetCount(db.Model):
    """How many published practices carry a facet value; facet '*' value '' is the total."""

    __tablename__ = "catalogue_facet_counts"

    facet: Mapped[str] = mapped_column(String(1), primary_key=True)
    value: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(default=0, server_default="0")

    #: the most frequent values of a facet (the Comuni listed on the catalogue page)
    __table_args__ = (Index("ix_catalogue_facet_counts_top", "facet", "count", "value"),)

    def __repr__(self) -> str:
        return f"<FacetCount {self.facet}={self.value}: {self.count}>"


class TermStat(db.Model):
    """How many published practices contain a term: picks the rarest term of a query to drive
    the search, and lists the terms a prefix can complete to."""

    __tablename__ = "catalogue_term_stats"

    term: Mapped[str] = mapped_column(String(40), primary_key=True)
    df: Mapped[int] = mapped_column(default=0, server_default="0")

    def __repr__(self) -> str:
        return f"<TermStat {self.term}: {self.df}>"


class FacetPair(db.Model):
    """How many published practices carry both facet values: the counts shown when exactly one
    filter is chosen, without counting thousands of rows."""

    __tablename__ = "catalogue_facet_pairs"

    facet: Mapped[str] = mapped_column(String(1), primary_key=True)
    value: Mapped[str] = mapped_column(String(20), primary_key=True)
    other_facet: Mapped[str] = mapped_column(String(1), primary_key=True)
    other_value: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(default=0, server_default="0")

    #: the most frequent other values within one value's practices
    __table_args__ = (Index("ix_catalogue_facet_pairs_top", "facet", "value", "other_facet",
                            "count", "other_value"),)

    def __repr__(self) -> str:
        return f"<FacetPair {self.facet}={self.value} & {self.other_facet}={self.other_value}>"
