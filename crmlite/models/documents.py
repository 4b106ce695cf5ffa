"""An opportunity's documents (proposal, agreement, network assessment…) and its Commitment
checklist: the set-up items each opportunity type needs before a deal is won (issue #18)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crmlite.database import UTCDateTime, utcnow
from crmlite.models.base import Model, fk, rel
from crmlite.models.people import Member

FILENAME_LENGTH = 200
CHECKLIST_LABEL_LENGTH = 200


class Document(Model):
    """A file uploaded on an opportunity. The bytes live in the documents folder under the
    name ``storage_key`` (random); ``filename`` is the name the person gave it, shown and
    offered on download; ``content_type`` is what its content was found to be."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = fk("opportunities.id", ondelete="CASCADE", nullable=False)
    filename: Mapped[str] = mapped_column(String(FILENAME_LENGTH))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    uploaded_by_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    uploaded_by: Mapped[Member | None] = rel(Member)

    __table_args__ = (Index("ix_documents_opportunity", "opportunity_id", "uploaded_at"),)


class ChecklistTemplateItem(Model):
    """One set-up item of an opportunity type's Commitment checklist (Setup), e.g.
    "Agreement signed and filed", "Onboarding call scheduled"."""

    __tablename__ = "checklist_template_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    type_id: Mapped[int] = fk("opportunity_types.id", ondelete="CASCADE", nullable=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(String(CHECKLIST_LABEL_LENGTH))

    __table_args__ = (Index("ix_checklist_template_items_type", "type_id", "position"),)


class ChecklistItem(Model):
    """An opportunity's own copy of a set-up item, made when it entered Commitment: ticked
    (who, when) or open. A copy, so changing the type's checklist later leaves it alone."""

    __tablename__ = "checklist_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = fk("opportunities.id", ondelete="CASCADE", nullable=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(String(CHECKLIST_LABEL_LENGTH))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")

    done_by: Mapped[Member | None] = rel(Member)

    __table_args__ = (
        UniqueConstraint("opportunity_id", "position"),
        # The board counts each card's items (done and all) on this index alone.
        Index("ix_checklist_items_opportunity", "opportunity_id", "done_at"),
    )
