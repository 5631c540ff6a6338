"""Merchants (esercizi convenzionati) of the Family Card; the card module grows from here."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db


class Merchant(db.Model):
    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    comune_id: Mapped[int] = mapped_column(ForeignKey("comuni.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(80))

    comune = relationship("Comune")

    def __repr__(self) -> str:
        return f"<Merchant {self.name}>"
