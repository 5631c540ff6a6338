"""Tables (tavoli): one per Comune and the inter-municipal table of the Rete."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db


class Table(db.Model):
    __tablename__ = "tables"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    slug: Mapped[str] = mapped_column(String(180), unique=True)
    #: null for the inter-municipal table, which belongs to the whole Rete
    comune_id: Mapped[int | None] = mapped_column(
        ForeignKey("comuni.id", ondelete="CASCADE"), unique=True
    )
    constituted_on: Mapped[date | None] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Text)

    comune = relationship("Comune")

    @property
    def is_intercomunale(self) -> bool:
        return self.comune_id is None

    def __repr__(self) -> str:
        return f"<Table {self.slug}>"
