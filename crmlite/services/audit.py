"""The audit log: what it records, how the admin page reads it, and how long it keeps it.

It records, one entry each, as the things happen:

- sign-ins, failed sign-ins (with the client's address), sign-outs everywhere, password
  changes and reset links issued, role changes (a deactivation counts as one);
- changes of what points are worth (an activity type's points, monthly count or active
  flag) and of quotas (the team's and a member's points quota, revenue and margin quotas);
- a closed activity opened again (its points leave the month it closed in);
- a won or lost opportunity moved to another stage;
- an opportunity won while items of its Commitment checklist were open (who confirmed it);
- every deletion;
- a webhook added, or pointed elsewhere, or allowed to reach private targets.

Each handler below listens to one event of ``services/events.py`` (subscribed by
``services/reactions.py``) and adds an entry to the session of the change it records,
without flushing: the entry is written with the change when the view commits, and if the
change is rolled back the entry goes with it, so the log never claims what did not happen.
A refused sign-in changes nothing else, so the sign-in view commits to keep its entry.
A handler reads what the event carries and at most one more row; text too long for a column
is cut, never refused, so recording cannot make the action it records fail.

Entries are kept ``AUDIT_RETENTION_DAYS`` (730 by default); ``prune`` deletes older ones
(``flask crm audit prune``, from cron).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, delete, func, select

from crmlite.extensions import db
from crmlite.models import AuditEntry, AuditKind, Member, Role
from crmlite.models.audit import ADDRESS_LENGTH, NAME_LENGTH, OBJECT_KIND_LENGTH, SUMMARY_LENGTH
from crmlite.services import events, members, parsing, periods
from crmlite.services.pagination import Page, paginate
from crmlite.services.team import get_team

DEFAULT_RETENTION_DAYS = 730
# The longest text search the page takes (the summary is at most 500 characters).
MAX_SEARCH_LENGTH = 200


# ---------------------------------------------------------------- recording


def _cut(text: str, length: int) -> str:
    """The text, cut to fit a column (ending in "…" when cut)."""
    text = parsing.clean_line(text)
    return text if len(text) <= length else text[: length - 1] + "…"


def _record(
    kind: AuditKind,
    summary: str,
    *,
    at: datetime,
    by: Member | None,
    before: str | None = None,
    after: str | None = None,
    object_kind: str | None = None,
    object_id: int | None = None,
    address: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=at,
        member_id=by.id if by is not None else None,
        member_name=_cut(by.name, NAME_LENGTH) if by is not None else "",
        kind=kind.value,
        summary=_cut(summary, SUMMARY_LENGTH),
        before=parsing.clean_multiline(before) if before is not None else None,
        after=parsing.clean_multiline(after) if after is not None else None,
        object_kind=_cut(object_kind, OBJECT_KIND_LENGTH) if object_kind else None,
        object_id=parsing.parse_id(object_id) if object_id is not None else None,
        address=(_cut(address, ADDRESS_LENGTH) or None) if address else None,
    )
    # Added, not flushed: it is written with the change it records, when the view commits.
    db.session.add(entry)
    return entry


def _quoted(text: str) -> str:
    return f"“{text}”"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _role_label(value: str) -> str:
    try:
        return Role(value).label
    except ValueError:
        return value


def on_signed_in(event: events.SignedIn) -> None:
    _record(
        AuditKind.SIGN_IN,
        f"{event.member.name} signed in",
        at=event.at,
        by=event.member,
        object_kind="member",
        object_id=event.member.id,
        address=event.address,
    )


def on_sign_in_failed(event: events.SignInFailed) -> None:
    """Nobody is signed in: the entry names the e-mail typed, and the member it belongs to
    (if any) as its object, so an admin sees attempts on an account."""
    email = parsing.clean_line(event.email)
    member = members.find_by_email(email) if email else None
    reason = f": {event.reason}" if event.reason else ""
    _record(
        AuditKind.SIGN_IN_FAILED,
        f"Failed sign-in as {email or '(no e-mail)'}{reason}",
        at=event.at,
        by=None,
        object_kind="member" if member is not None else None,
        object_id=member.id if member is not None else None,
        address=event.address,
    )


def on_signed_out_everywhere(event: events.SignedOutEverywhere) -> None:
    whom = "" if event.by.id == event.member.id else f" {event.member.name}"
    _record(
        AuditKind.SIGNED_OUT_EVERYWHERE,
        f"{event.by.name} signed{whom} out everywhere",
        at=event.at,
        by=event.by,
        object_kind="member",
        object_id=event.member.id,
    )


def on_password_changed(event: events.PasswordChanged) -> None:
    if event.by is None:
        summary = f"{event.member.name}'s password was set with a reset link"
    elif event.by.id == event.member.id:
        summary = f"{event.member.name} changed their password"
    else:
        summary = f"{event.by.name} changed {event.member.name}'s password"
    _record(
        AuditKind.PASSWORD_CHANGED,
        summary,
        at=event.at,
        by=event.by,
        object_kind="member",
        object_id=event.member.id,
    )


def on_password_reset_issued(event: events.PasswordResetIssued) -> None:
    _record(
        AuditKind.PASSWORD_RESET_ISSUED,
        f"{event.by.name} issued a password reset link for {event.member.name}",
        at=event.at,
        by=event.by,
        object_kind="member",
        object_id=event.member.id,
    )


def on_role_changed(event: events.RoleChanged) -> None:
    before, after = _role_label(event.before), _role_label(event.after)
    _record(
        AuditKind.ROLE_CHANGED,
        f"{event.by.name} changed {event.member.name}'s role: {before} → {after}",
        at=event.at,
        by=event.by,
        before=before,
        after=after,
        object_kind="member",
        object_id=event.member.id,
    )


def on_point_value_changed(event: events.PointValueChanged) -> None:
    """A new type (nothing before) adds points to the table too: "added"."""
    if event.before:
        summary = f"{event.by.name} changed {event.type_label}: {event.before} → {event.after}"
    else:
        summary = f"{event.by.name} added {event.type_label}: {event.after}"
    _record(
        AuditKind.POINT_VALUE_CHANGED,
        summary,
        at=event.at,
        by=event.by,
        before=event.before or None,
        after=event.after,
        object_kind="activity type",
    )


def on_quota_changed(event: events.QuotaChanged) -> None:
    _record(
        AuditKind.QUOTA_CHANGED,
        f"{event.by.name} changed the {_lower_first(event.what)}: {event.before} → {event.after}",
        at=event.at,
        by=event.by,
        before=event.before,
        after=event.after,
        object_kind="quota",
    )


def on_activity_reopened(event: events.ActivityReopened) -> None:
    """ "Cory Ferguson reopened “Call Jason” (closed 2026-11-28, 10 points)": the day it
    closed in the team's zone, and the points it had earned."""
    activity = event.activity
    closed_on = event.closed_at.astimezone(ZoneInfo(get_team().time_zone)).date()
    was = f"closed {closed_on.isoformat()}"
    if event.points is not None:
        was += f", {event.points} point{'s' if event.points != 1 else ''}"
    _record(
        AuditKind.ACTIVITY_REOPENED,
        f"{event.by.name} reopened {_quoted(activity.subject)} ({was})",
        at=event.at,
        by=event.by,
        before=was[:1].upper() + was[1:],
        after="Open",
        object_kind="activity",
        object_id=activity.id,
    )


def on_closed_deal_moved(event: events.ClosedDealMoved) -> None:
    _record(
        AuditKind.CLOSED_DEAL_MOVED,
        f"{event.by.name} moved {_quoted(event.opportunity.name)} from {event.from_stage} "
        f"to {event.to_stage}",
        at=event.at,
        by=event.by,
        before=event.from_stage,
        after=event.to_stage,
        object_kind="opportunity",
        object_id=event.opportunity.id,
    )


def on_checklist_overridden(event: events.ChecklistOverridden) -> None:
    """ "Cory marked “Tows R Us…” won with 2 set-up items open": who overrode the checklist."""
    count = len(event.open_items)
    _record(
        AuditKind.CHECKLIST_OVERRIDDEN,
        f"{event.by.name} marked {_quoted(event.opportunity.name)} won with {count} set-up "
        f"item{'' if count == 1 else 's'} open",
        at=event.at,
        by=event.by,
        before="\n".join(event.open_items),
        object_kind="opportunity",
        object_id=event.opportunity.id,
    )


def on_deleted(event: events.Deleted) -> None:
    _record(
        AuditKind.DELETED,
        f"{event.by.name} deleted the {event.kind} {_quoted(event.name)}",
        at=event.at,
        by=event.by,
        before=event.name,
        object_kind=event.kind,
    )


def on_webhook_changed(event: events.WebhookChanged) -> None:
    """ "Ada added the webhook “https://…” (private targets allowed)": where events go, and
    whether it may point inside the network, are what an admin must be able to trace."""
    private = " (private targets allowed)" if event.allow_private else ""
    _record(
        AuditKind.WEBHOOK_CHANGED,
        f"{event.by.name} {event.action} the webhook {_quoted(event.url)}{private}",
        at=event.at,
        by=event.by,
        before=event.before or None,
        after=event.after,
        object_kind="webhook",
    )


def on_next_step_type_changed(event: events.NextStepTypeChanged) -> None:
    """ "Cory changed 1st Appointment's next-step type: SE - … → SA - …": what every rep's
    next-step question offers first, so it is traced like the points table."""
    _record(
        AuditKind.NEXT_STEP_TYPE_CHANGED,
        f"{event.by.name} changed {event.stage_name}'s next-step type: "
        f"{event.before or 'none'} → {event.after or 'none'}",
        at=event.at,
        by=event.by,
        before=event.before or None,
        after=event.after or None,
        object_kind="stage",
    )


# One handler per event of the audit log; services/reactions.py subscribes them.
HANDLERS: dict[type[events.Event], Any] = {
    events.SignedIn: on_signed_in,
    events.SignInFailed: on_sign_in_failed,
    events.SignedOutEverywhere: on_signed_out_everywhere,
    events.PasswordChanged: on_password_changed,
    events.PasswordResetIssued: on_password_reset_issued,
    events.RoleChanged: on_role_changed,
    events.PointValueChanged: on_point_value_changed,
    events.QuotaChanged: on_quota_changed,
    events.ActivityReopened: on_activity_reopened,
    events.ClosedDealMoved: on_closed_deal_moved,
    events.Deleted: on_deleted,
    events.ChecklistOverridden: on_checklist_overridden,
    events.WebhookChanged: on_webhook_changed,
    events.NextStepTypeChanged: on_next_step_type_changed,
}


# ---------------------------------------------------------------- reading


class BadFilter(ValueError):
    """A filter in the address that cannot be read; the message says what to fix."""


@dataclass(frozen=True)
class AuditFilters:
    """What the admin page shows; kept in the URL. Days are the team's."""

    kind: AuditKind | None = None
    member_id: int | None = None
    first_day: date | None = None
    last_day: date | None = None
    text: str = ""

    def query_args(self) -> dict[str, str]:
        """The filters as the page's address writes them (empty ones left out)."""
        args = {
            "kind": self.kind.value if self.kind else "",
            "member_id": str(self.member_id) if self.member_id else "",
            "from": self.first_day.isoformat() if self.first_day else "",
            "to": self.last_day.isoformat() if self.last_day else "",
            "q": self.text,
        }
        return {name: value for name, value in args.items() if value}

    @property
    def any(self) -> bool:
        return bool(self.query_args())


def read_filters(
    *,
    kind: str | None,
    member_id: str | None,
    first_day: str | None,
    last_day: str | None,
    text: str | None,
) -> AuditFilters:
    """The filters as typed in the page's address; BadFilter naming the first one that
    cannot be read. Empty values mean no filter."""
    kind_text = (kind or "").strip()
    the_kind = None
    if kind_text:
        try:
            the_kind = AuditKind(kind_text)
        except ValueError:
            raise BadFilter(
                f"“{parsing.clean_line(kind_text)[:20]}” is not a kind of entry: "
                "choose one from the list."
            ) from None
    member_text = (member_id or "").strip()
    member = parsing.parse_id(member_text) if member_text else None
    if member_text and member is None:
        raise BadFilter(
            f"“{parsing.clean_line(member_text)[:20]}” is not a member: choose one from the list."
        )
    first, last = _day(first_day, "The first day"), _day(last_day, "The last day")
    if first and last and last < first:
        raise BadFilter("The last day is before the first day: swap them.")
    words = parsing.clean_line(text)[:MAX_SEARCH_LENGTH]
    return AuditFilters(the_kind, member, first, last, words)


def _day(typed: str | None, label: str) -> date | None:
    text = (typed or "").strip()
    try:
        return periods.parse_day(text, label=label) if text else None
    except periods.BadDay as bad:
        raise BadFilter(str(bad)) from None


def _conditions(filters: AuditFilters, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.kind:
        conditions.append(AuditEntry.kind == filters.kind.value)
    if filters.member_id:
        conditions.append(AuditEntry.member_id == filters.member_id)
    if filters.first_day:
        conditions.append(AuditEntry.at >= periods.local_midnight(filters.first_day, tz))
    if filters.last_day:
        # Through the end of the last day: before the next day's local midnight.
        after_last = periods.local_midnight(filters.last_day + timedelta(days=1), tz)
        conditions.append(AuditEntry.at < after_last)
    if filters.text:
        conditions.append(
            func.lower(AuditEntry.summary).contains(filters.text.lower(), autoescape=True)
        )
    return conditions


def entries(filters: AuditFilters, tz: ZoneInfo, page: int = 1) -> Page[AuditEntry]:
    """The entries the filters ask for, newest first, a page at a time: two queries (count
    and page) whatever the page holds; each entry carries the names it shows."""
    query = (
        select(AuditEntry)
        .where(*_conditions(filters, tz))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    )
    return paginate(query, page)


def member_choices() -> list[tuple[int, str]]:
    """Every member (those who left too: their entries stay), by name: one query."""
    rows = db.session.execute(
        select(Member.id, Member.name, Member.active).order_by(Member.name, Member.id)
    )
    return [(ident, name if active else f"{name} (inactive)") for ident, name, active in rows]


# ---------------------------------------------------------------- keeping


def retention_cutoff(now: datetime, days: int) -> datetime:
    """Entries from before this moment are past their keeping time."""
    return now - timedelta(days=days)


def prune(before: datetime) -> int:
    """Delete the entries recorded before this moment; how many went. One statement."""
    result = db.session.execute(delete(AuditEntry).where(AuditEntry.at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
