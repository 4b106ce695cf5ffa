"""Campaigns and how they are classified (type and sub-type)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from crmlite.database import UTCDateTime
from crmlite.models.base import (
    ZERO,
    Model,
    Money,
    amounts_in_range,
    created_at_column,
    fk,
    rel,
    updated_at_column,
)
from crmlite.models.people import Contact, Location, Member


class CampaignStatus(StrEnum):
    PLANNED = "Planned"
    ACTIVE = "Active"
    COMPLETED = "Completed"
    CANCELLED = "Cancelled"


class CampaignType(Model):
    __tablename__ = "campaign_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    sub_types: Mapped[list[CampaignSubType]] = rel(
        "CampaignSubType", back_populates="type", order_by="CampaignSubType.position"
    )


class CampaignSubType(Model):
    """A sub-type belongs to exactly one type."""

    __tablename__ = "campaign_subtypes"

    id: Mapped[int] = mapped_column(primary_key=True)
    type_id: Mapped[int] = fk("campaign_types.id", nullable=False)
    name: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    # (id, type_id) is the target of campaigns' composite foreign key below.
    __table_args__ = (UniqueConstraint("type_id", "name"), UniqueConstraint("id", "type_id"))

    type: Mapped[CampaignType] = rel(CampaignType, back_populates="sub_types")


class Campaign(Model):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    type_id: Mapped[int] = fk("campaign_types.id", nullable=False, index=True)
    sub_type_id: Mapped[int | None] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.PLANNED.value)
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    owner_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")
    location_id: Mapped[int | None] = fk("locations.id", ondelete="SET NULL")
    budgeted_cost: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    actual_cost: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    expected_revenue: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    notes: Mapped[str] = mapped_column(Text, default="")
    # The public web form may be switched off by hand; it also closes by itself once the
    # campaign is finished or past its end (services/tracking.form_closed_reason).
    form_open: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Tracks that contacts and opportunities produced by this campaign join.
    contact_track_id: Mapped[int | None] = fk("tracks.id", ondelete="SET NULL")
    opportunity_track_id: Mapped[int | None] = fk("tracks.id", ondelete="SET NULL")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    __table_args__ = (
        # The database itself refuses a sub-type of another type.
        ForeignKeyConstraint(
            ["sub_type_id", "type_id"], ["campaign_subtypes.id", "campaign_subtypes.type_id"]
        ),
        amounts_in_range("budgeted_cost", "actual_cost", "expected_revenue"),
        CheckConstraint(
            "ends_on IS NULL OR starts_on IS NULL OR ends_on >= starts_on", name="ends_after_start"
        ),
    )

    type: Mapped[CampaignType] = rel(CampaignType)
    sub_type: Mapped[CampaignSubType | None] = rel(
        CampaignSubType,
        primaryjoin="Campaign.sub_type_id == CampaignSubType.id",
        foreign_keys=[sub_type_id],
        viewonly=True,
    )
    owner: Mapped[Member | None] = rel(Member)
    location: Mapped[Location | None] = rel(Location)


# ------------------------------------------------------------ e-mail campaigns and tracking


class MarketingList(Model):
    """A contact group that campaign e-mails are sent to."""

    __tablename__ = "marketing_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")
    created_at: Mapped[datetime] = created_at_column()

    created_by: Mapped[Member | None] = rel(Member)


class MarketingListMember(Model):
    """A contact in a group, once."""

    __tablename__ = "marketing_list_members"

    list_id: Mapped[int] = fk(
        "marketing_lists.id", ondelete="CASCADE", nullable=False, primary_key=True
    )
    contact_id: Mapped[int] = fk(
        "contacts.id", ondelete="CASCADE", nullable=False, primary_key=True, index=True
    )
    added_at: Mapped[datetime] = created_at_column()

    contact: Mapped[Contact] = rel(Contact)


class CampaignEmail(Model):
    """An e-mail written for a campaign: subject, text and HTML bodies (templates in which
    the contact's name is filled in). Its links are stored when it is saved: a tracked link
    redirects only to one of them."""

    __tablename__ = "campaign_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = fk("campaigns.id", ondelete="CASCADE", nullable=False, index=True)
    subject: Mapped[str] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    campaign: Mapped[Campaign] = rel(Campaign)
    links: Mapped[list[CampaignEmailLink]] = rel(
        "CampaignEmailLink",
        cascade="all, delete-orphan",
        order_by="CampaignEmailLink.position",
        passive_deletes=True,
    )


class CampaignEmailLink(Model):
    """The n-th URL written in a campaign e-mail: the only places its tracked links lead."""

    __tablename__ = "campaign_email_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_id: Mapped[int] = fk("campaign_emails.id", ondelete="CASCADE", nullable=False)
    position: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("email_id", "position"),)


class SendStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED_UNSUBSCRIBED = "skipped_unsubscribed"
    SKIPPED_NO_ADDRESS = "skipped_no_address"
    SKIPPED_BOUNCED = "skipped_bounced"

    @property
    def label(self) -> str:
        return {
            "queued": "Queued",
            "sent": "Sent",
            "failed": "Failed",
            "skipped_unsubscribed": "Skipped: unsubscribed",
            "skipped_no_address": "Skipped: no e-mail address",
            "skipped_bounced": "Skipped: address bounces",
        }[self.value]


class EmailSend(Model):
    """One campaign e-mail to one contact: never two (so a re-run continues where it
    stopped). ``token`` is a random secret carried, signed, by the tracking links."""

    __tablename__ = "email_sends"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_id: Mapped[int] = fk("campaign_emails.id", ondelete="CASCADE", nullable=False)
    # Kept (without its contact) when a contact is deleted, so the campaign's counts stay.
    contact_id: Mapped[int | None] = fk("contacts.id", ondelete="SET NULL", index=True)
    list_id: Mapped[int | None] = fk("marketing_lists.id", ondelete="SET NULL")
    to_address: Mapped[str] = mapped_column(String(254), default="")
    token: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(24), default=SendStatus.QUEUED.value)
    error: Mapped[str] = mapped_column(String(500), default="")
    queued_at: Mapped[datetime] = created_at_column()
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # First open and first click; every one is an EmailEvent.
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("email_id", "contact_id"),
        CheckConstraint(
            "status IN ('queued', 'sent', 'failed', 'skipped_unsubscribed', "
            "'skipped_no_address', 'skipped_bounced')",
            name="status_values",
        ),
        Index("ix_email_sends_email_status", "email_id", "status"),
    )

    email: Mapped[CampaignEmail] = rel(CampaignEmail)
    contact: Mapped[Contact | None] = rel(Contact)


class EmailEventKind(StrEnum):
    OPEN = "open"
    CLICK = "click"
    UNSUBSCRIBE = "unsubscribe"


class EmailEvent(Model):
    """An open, a click (of which link) or an unsubscribe, from one send."""

    __tablename__ = "email_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    send_id: Mapped[int] = fk("email_sends.id", ondelete="CASCADE", nullable=False)
    kind: Mapped[str] = mapped_column(String(16))
    link_id: Mapped[int | None] = fk("campaign_email_links.id", ondelete="SET NULL")
    occurred_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint("kind IN ('open', 'click', 'unsubscribe')", name="kind_values"),
        Index("ix_email_events_send_kind", "send_id", "kind"),
    )


class FormSubmission(Model):
    """What a visitor sent through a campaign's public web form, and what it produced."""

    __tablename__ = "form_submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = fk("campaigns.id", ondelete="CASCADE", nullable=False, index=True)
    contact_id: Mapped[int | None] = fk("contacts.id", ondelete="SET NULL")
    company_id: Mapped[int | None] = fk("companies.id", ondelete="SET NULL")
    opportunity_id: Mapped[int | None] = fk("opportunities.id", ondelete="SET NULL")
    activity_id: Mapped[int | None] = fk("activities.id", ondelete="SET NULL")
    name: Mapped[str] = mapped_column(String(120))
    company_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(40), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[datetime] = created_at_column()

    campaign: Mapped[Campaign] = rel(Campaign)
    contact: Mapped[Contact | None] = rel(Contact)
