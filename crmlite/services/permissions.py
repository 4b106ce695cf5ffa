"""Who may see and do what: crmlite's permission model, as one table every view asks.

Points pay bonuses and the pipeline is the company's most sensitive list, so the rules are
written once, here, in words a person can check (the README's "Who may do what" table is
generated from ``PERMISSIONS`` and a test keeps the two equal):

- **Roles.** An *admin* may do everything, including team settings and members. A *manager*
  may do everything with the team's work and figures (any deal, activity, account,
  enrolment, quota, campaign, track, the points table), not team settings or members. A
  *rep* does their own work and reads what the team shares.
- **Relations.** What a rep may change depends on how they stand to the record: a small
  named predicate over (member, record) — *its assignee*, *on the deal* (account manager,
  sales associate or team member), *its account manager*, *who enrolled the contact*…

The choices, and where they differ from the suggestion in issue #14:

- The shared address book: every member reads every company and contact and adds new ones
  (a new company is the rep's own: they are its account manager). A rep changes a company
  they manage, and one nobody manages (keeping the address book right is everyone's job);
  a contact of such a company, or of none. Only a manager chooses or changes an account
  manager — of a company or an opportunity (contacts have theirs through their company).
- Opportunities: every member reads the board, every card and every opportunity's page
  (the cards were suggested; the page holds nothing a team selling together should hide
  from itself, and a rep needs it to avoid calling a colleague's client twice). A rep
  changes and moves only the deals they are on; a new one is theirs.
- Activities are private to their people: a rep sees the activities assigned to them or
  by them, those of a deal they are on and those of a company they manage — also on the
  opportunity, company, contact and campaign pages, which list only those
  (``visible_activities`` is the same rule in SQL). Managers see all.
- Points: only the assignee completes an activity and earns its points; a manager may
  complete it on their behalf, which is recorded (``Activity.closed_by_id`` names who
  closed it, and the activity shows "done by …"). Logging an activity that is already done
  counts as completing it, so a rep cannot log a done activity for a colleague. Whoever
  assigned an activity may still edit it while it is open (fix the time of a call they
  scheduled for a colleague), but not close or reopen it. Reopening moves points out of the
  month the activity closed in: the assignee may reopen it within that month; once the
  month has ended only a manager may, and every reopening publishes
  ``events.ActivityReopened`` for the audit log.
- Calendars and activity lists are a member's agenda: their own, or anyone's for managers.
- Enrolments: a rep puts contacts they may change on a track, and pauses, resumes or
  removes the enrolments that are theirs — they enrolled the contact, or it is on their
  deal or of a company they manage. Whether an enrolment can be paused (active), resumed
  (paused) or removed (not ended) is its state's rule, in ``services/tracks.py``.
- The points leaderboard stays open to everyone (the team competes in the open); a
  member's summary, with the activities behind it, is theirs and their managers'.

How it is enforced: every endpoint of the URL map has a rule in ``ROUTES`` (an action, and
the URL argument naming the record when the view checks one). A guard before each request
refuses (403) a role the action never allows, before anything is looked up; the view then
loads the record (an unknown id is 404) and asks ``require(member, action, record)``, 403
when the relation does not hold. ``PUBLIC`` endpoints (also marked ``@public`` in the view)
are the only ones reachable without signing in. A route missing from ``ROUTES`` is refused
to everyone, and the authorization matrix test fails on it.

To add a rule: one line in ``PERMISSIONS`` for a new action, one line in ``ROUTES`` for a new
endpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, false, func, or_, select, true
from werkzeug.exceptions import Forbidden

from crmlite.extensions import db
from crmlite.models import (
    Activity,
    Company,
    Contact,
    Document,
    Member,
    Opportunity,
    OpportunityTeamMember,
    Role,
    Team,
    TrackEnrollment,
)
from crmlite.services.periods import month_of

ADMIN, MANAGER, REP = Role.ADMIN.value, Role.MANAGER.value, Role.REP.value
ROLES = (ADMIN, MANAGER, REP)


class Refused(Forbidden):
    """The member may not do this (answered 403; the view's transaction is rolled back)."""

    def __init__(self, action: str) -> None:
        super().__init__("You do not have permission to see or change this.")
        self.action = action


# ---------------------------------------------------------------- relations


@dataclass(frozen=True)
class Relation:
    """How a member stands to a record ("its assignee"): ``holds`` in Python, and ``where``
    in SQL for the relations lists filter by (the same rule, so a list shows exactly what
    the record's page would allow)."""

    label: str
    holds: Callable[[Member, Any], bool]
    where: Callable[[Member], ColumnElement[bool]] | None = None


def _on_deal(member: Member, opportunity_id: int | None) -> bool:
    """Account manager, sales associate or team member of the opportunity."""
    if opportunity_id is None:
        return False
    opportunity = db.session.get(Opportunity, opportunity_id)
    if opportunity is None:
        return False
    if member.id in (opportunity.account_manager_id, opportunity.sales_associate_id):
        return True
    return bool(
        db.session.scalar(
            select(func.count())
            .select_from(OpportunityTeamMember)
            .where(
                OpportunityTeamMember.opportunity_id == opportunity_id,
                OpportunityTeamMember.member_id == member.id,
            )
        )
    )


def _on_the_deal(member: Member) -> ColumnElement[bool]:
    """SQL: an opportunity the member is on, checked on the row itself (so a few rows are
    checked, not all of the member's deals read first)."""
    return or_(
        Opportunity.account_manager_id == member.id,
        Opportunity.sales_associate_id == member.id,
        Opportunity.id.in_(
            select(OpportunityTeamMember.opportunity_id).where(
                OpportunityTeamMember.member_id == member.id
            )
        ),
    )


def _deals_of(member: Member) -> Any:
    """SQL: the ids of the opportunities the member is on."""
    return select(Opportunity.id).where(_on_the_deal(member))


def _accounts_of(member: Member) -> Any:
    """SQL: the ids of the companies the member is account manager of."""
    return select(Company.id).where(Company.account_manager_id == member.id)


def _company_manager(company_id: int | None) -> int | None:
    company = db.session.get(Company, company_id) if company_id is not None else None
    return company.account_manager_id if company is not None else None


def _manages_company(member: Member, company_id: int | None) -> bool:
    return company_id is not None and _company_manager(company_id) == member.id


def _nobodys_company(company_id: int | None) -> bool:
    """No company, or a company without an account manager."""
    return company_id is None or _company_manager(company_id) is None


def _deal_manager(opportunity_id: int | None) -> int | None:
    opportunity = db.session.get(Opportunity, opportunity_id) if opportunity_id else None
    return opportunity.account_manager_id if opportunity is not None else None


def _contact_company(contact_id: int | None) -> int | None:
    contact = db.session.get(Contact, contact_id) if contact_id else None
    return contact.company_id if contact is not None else None


def _team_zone() -> ZoneInfo:
    # The settings row read directly (not services.team, which sits above points).
    team = db.session.get(Team, 1)
    return ZoneInfo(team.time_zone) if team is not None else ZoneInfo("UTC")


def _closed_this_month(activity: Activity) -> bool:
    """Closed in the team's current month (or not closed at all)."""
    if activity.closed_at is None:
        return True
    tz = _team_zone()
    return month_of(activity.closed_at, tz) == month_of(datetime.now(UTC), tz)


THEMSELVES = Relation("their own", lambda m, other: isinstance(other, Member) and other.id == m.id)

# Opportunities
ON_THE_DEAL = Relation(
    "they are on the deal (account manager, sales associate or team member)",
    lambda m, o: isinstance(o, Opportunity) and _on_deal(m, o.id),
    _on_the_deal,
)

# Documents
UPLOADER = Relation(
    "they uploaded it",
    lambda m, d: isinstance(d, Document) and d.uploaded_by_id == m.id,
)

# Activities
ASSIGNEE = Relation(
    "assigned to them",
    lambda m, a: isinstance(a, Activity) and a.assigned_to_id == m.id,
    lambda m: Activity.assigned_to_id == m.id,
)
ASSIGNER = Relation(
    "assigned by them",
    lambda m, a: isinstance(a, Activity) and a.assigned_by_id == m.id,
    lambda m: Activity.assigned_by_id == m.id,
)
ASSIGNER_WHILE_OPEN = Relation(
    "assigned by them, while open",
    lambda m, a: isinstance(a, Activity) and a.assigned_by_id == m.id and a.is_open,
)
ASSIGNEE_WHILE_OPEN = Relation(
    "assigned to them, while open",
    lambda m, a: isinstance(a, Activity) and a.assigned_to_id == m.id and a.is_open,
)
ASSIGNEE_WITHIN_ITS_MONTH = Relation(
    "assigned to them, within the month it closed in",
    lambda m, a: isinstance(a, Activity) and a.assigned_to_id == m.id and _closed_this_month(a),
)
ON_THEIR_DEAL = Relation(
    "on a deal they are on",
    lambda m, a: isinstance(a, Activity) and _on_deal(m, a.opportunity_id),
    lambda m: Activity.opportunity_id.in_(_deals_of(m)),
)
ON_THEIR_ACCOUNT = Relation(
    "of a company they manage",
    lambda m, a: isinstance(a, Activity) and _manages_company(m, a.company_id),
    lambda m: Activity.company_id.in_(_accounts_of(m)),
)

# Companies and contacts
ACCOUNT_MANAGER = Relation(
    "they are its account manager",
    lambda m, c: isinstance(c, Company) and c.account_manager_id == m.id,
)
NOBODYS_COMPANY = Relation(
    "nobody manages it",
    lambda m, c: isinstance(c, Company) and c.account_manager_id is None,
)
CONTACT_OF_THEIR_ACCOUNT = Relation(
    "of a company they manage",
    lambda m, c: isinstance(c, Contact) and _manages_company(m, c.company_id),
)
CONTACT_OF_NOBODYS_COMPANY = Relation(
    "of no company, or of one nobody manages",
    lambda m, c: isinstance(c, Contact) and _nobodys_company(c.company_id),
)

# Enrolments
ENROLLED_BY = Relation(
    "they enrolled the contact",
    lambda m, e: isinstance(e, TrackEnrollment) and e.enrolled_by_id == m.id,
)
ENROLMENT_OF_THEIR_DEAL_OR_ACCOUNT = Relation(
    "on their deal, or of a company they manage",
    lambda m, e: (
        isinstance(e, TrackEnrollment)
        and (
            _deal_manager(e.opportunity_id) == m.id
            or _manages_company(m, _contact_company(e.contact_id))
        )
    ),
)


# ---------------------------------------------------------------- grants and the table


@dataclass(frozen=True)
class Grant:
    """These roles may, always (no relations) or when one of the relations holds."""

    roles: frozenset[str]
    relations: tuple[Relation, ...] = ()


def everyone(*relations: Relation) -> Grant:
    return Grant(frozenset(ROLES), relations)


def managers(*relations: Relation) -> Grant:
    """Managers and admins."""
    return Grant(frozenset((ADMIN, MANAGER)), relations)


def admins(*relations: Relation) -> Grant:
    return Grant(frozenset((ADMIN,)), relations)


@dataclass(frozen=True)
class Permission:
    action: str
    what: str  # in business words, for the README
    grants: tuple[Grant, ...]


def _table(*permissions: Permission) -> dict[str, Permission]:
    return {p.action: p for p in permissions}


def may(action: str, what: str, *grants: Grant) -> Permission:
    return Permission(action, what, grants)


PERMISSIONS = _table(
    # -- your own day
    may(
        "home.use",
        "Use crmlite for your own day: Home, the due-soon strip, your calendar feed, sign out",
        everyone(),
    ),
    # -- opportunities
    may(
        "opportunity.read",
        "See the board, every card and every opportunity's page",
        everyone(),
    ),
    may("opportunity.create", "Add an opportunity (its account manager: you)", everyone()),
    may(
        "opportunity.change",
        "Change an opportunity: fields, forecast lines, team, extra contacts, notes, "
        "documents (upload), its Commitment checklist (tick); move it between stages",
        managers(),
        everyone(ON_THE_DEAL),
    ),
    may(
        "opportunity.costs",
        "Log time (your own; managers anyone's) and expenses on an opportunity, and delete them",
        managers(),
        everyone(ON_THE_DEAL),
    ),
    may(
        "document.delete",
        "Delete a document of an opportunity (its file goes too)",
        managers(),
        everyone(UPLOADER),
    ),
    may(
        "opportunity.reassign",
        "Choose or change an opportunity's account manager (also when adding one)",
        managers(),
    ),
    may(
        "dashboard.read",
        "See the dashboard, funnel health and the deals behind a figure (a rep: their own)",
        everyone(),
    ),
    may(
        "dashboard.team",
        "See the whole team's figures there, and every member's stalled deals",
        managers(),
    ),
    # -- activities
    may(
        "activity.read",
        "See an activity (details, notes), in lists and on record pages",
        managers(),
        everyone(ASSIGNEE, ASSIGNER, ON_THEIR_DEAL, ON_THEIR_ACCOUNT),
    ),
    may(
        "activity.create",
        "Log or schedule an activity, for yourself or a colleague (logged as done: see completing)",
        everyone(),
    ),
    may(
        "activity.change",
        "Edit an activity, add notes, reschedule it",
        managers(),
        everyone(ASSIGNEE, ASSIGNER_WHILE_OPEN),
    ),
    may(
        "activity.complete",
        "Mark an activity done, earning its points for the assignee (a manager: on their "
        "behalf, recorded as closed by the manager)",
        managers(),
        everyone(ASSIGNEE),
    ),
    may(
        "activity.reopen",
        "Open a done activity again (its points leave the month it closed in; recorded)",
        managers(),
        everyone(ASSIGNEE_WITHIN_ITS_MONTH),
    ),
    may(
        "activity.reassign",
        "Give an activity to another member (a done one moves its points: managers only)",
        managers(),
        everyone(ASSIGNEE_WHILE_OPEN),
    ),
    may(
        "agenda.read",
        "See a member's activity list and calendar, reschedule on it",
        managers(),
        everyone(THEMSELVES),
    ),
    may(
        "agenda.team",
        "See the whole team's activity list, several calendars side by side",
        managers(),
    ),
    # -- points and quotas
    may(
        "points.team",
        "See the month's leaderboard (everyone's points, quota, % and pace) and its CSV",
        everyone(),
    ),
    may(
        "points.read",
        "See a member's points summary and the activities behind it; print, CSV, PDF",
        managers(),
        everyone(THEMSELVES),
    ),
    may("points.print_all", "Print every member's summary", managers()),
    may(
        "quota.manage",
        "See and set members' revenue and margin quotas, and their points quota month by month",
        managers(),
    ),
    # -- companies and contacts
    may("company.read", "See companies (the shared address book)", everyone()),
    may("company.create", "Add a company (its account manager: you)", everyone()),
    may(
        "company.change",
        "Edit a company",
        managers(),
        everyone(ACCOUNT_MANAGER, NOBODYS_COMPANY),
    ),
    may(
        "company.reassign",
        "Choose or change a company's account manager (also when adding one)",
        managers(),
    ),
    may("contact.read", "See contacts (the shared address book)", everyone()),
    may("contact.create", "Add a contact", everyone()),
    may(
        "contact.change",
        "Edit a contact, or move them to another company (one you may edit)",
        managers(),
        everyone(CONTACT_OF_THEIR_ACCOUNT, CONTACT_OF_NOBODYS_COMPANY),
    ),
    may(
        "contact.mail_again",
        "“Mail again”: clear the bounce of a contact’s address",
        managers(),
        everyone(CONTACT_OF_THEIR_ACCOUNT),
    ),
    # -- tracks
    may("track.read", "See tracks, their steps and enrolments", everyone()),
    may("track.change", "Set up tracks and their steps; run the due steps now", managers()),
    may(
        "enrollment.create",
        "Put a contact on a track by hand",
        managers(),
        everyone(CONTACT_OF_THEIR_ACCOUNT, CONTACT_OF_NOBODYS_COMPANY),
    ),
    may(
        "enrollment.change",
        "Pause, resume or remove an enrolment",
        managers(),
        everyone(ENROLLED_BY, ENROLMENT_OF_THEIR_DEAL_OR_ACCOUNT),
    ),
    # -- campaigns
    may("campaign.read", "See campaigns, their analysis and figures", everyone()),
    may("campaign.change", "Add and edit campaigns, their types and sub-types", managers()),
    may(
        "email_campaign.manage",
        "Contact groups, campaign e-mails, sending them",
        managers(),
    ),
    # -- e-mail capture
    may("capture.use", "Capture an e-mail; see your unmatched captured e-mails", everyone()),
    may("capture.team", "See everyone's unmatched captured e-mails", managers()),
    may(
        "capture.assign",
        "Give a captured e-mail its contact",
        managers(),
        everyone(ASSIGNEE),
    ),
    # -- setup
    may(
        "setup.read",
        "See the method's reference lists: stages, points table, campaign types, track kinds",
        everyone(),
    ),
    may(
        "setup.points_table",
        "Edit the points table (activity types) and each stage's next-step type",
        managers(),
    ),
    may(
        "product.manage",
        "The product catalogue: add, edit, deactivate and delete unused products (category, "
        "default revenue and cost)",
        managers(),
    ),
    may(
        "place.manage",
        "Locations and business units: add, rename, deactivate, reactivate, delete unused ones",
        managers(),
    ),
    may(
        "setup.checklists",
        "Edit each opportunity type's Commitment checklist (its set-up items)",
        managers(),
    ),
    may("member.list", "See the members list", managers()),
    may("member.change", "Add and edit members: roles, active, points quotas", admins()),
    may("team.change", "Team settings: name, time zone, points quota", admins()),
    may("audit.read", "Read the audit log", admins()),
    may(
        "data.archive",
        "Download the whole database as a portable archive (a CSV per table, passwords' "
        "hashes included)",
        admins(),
    ),
    may("outbox.read", "See the outbox: messages waiting, retried and failed", managers()),
    may("outbox.retry", "Try a failed message again", managers()),
    may(
        "import.run",
        "Import companies, contacts, opportunities and activities from CSV or Excel files; "
        "undo an import for a week",
        managers(),
    ),
    may(
        "webhook.manage",
        "Webhooks: subscribe URLs to events (private targets too), see their secret and "
        "delivery log, send a test event",
        admins(),
    ),
)


# ---------------------------------------------------------------- asking


def _role(member: Any) -> str | None:
    return getattr(member, "role", None) if getattr(member, "is_authenticated", False) else None


def role_may(role: str | None, action: str) -> bool:
    """Whether the action is ever allowed to this role (for some record, or always)."""
    return any(role in grant.roles for grant in PERMISSIONS[action].grants)


def allows(member: Any, action: str, record: Any = None) -> bool:
    """Whether the member may do this (with this record, for actions about one). An unknown
    action is a KeyError: a misspelt rule must fail, never allow."""
    permission = PERMISSIONS[action]
    role = _role(member)
    for grant in permission.grants:
        if role not in grant.roles:
            continue
        if not grant.relations:
            return True
        if record is not None and any(r.holds(member, record) for r in grant.relations):
            return True
    return False


def require(member: Any, action: str, record: Any = None) -> None:
    """Refused (403) unless ``allows``."""
    if not allows(member, action, record):
        raise Refused(action)


def where(member: Any, action: str) -> ColumnElement[bool]:
    """The same rule in SQL, for the lists of records it covers: true for a role that may
    always, else the OR of its relations (each must have a SQL form)."""
    role = _role(member)
    conditions: list[ColumnElement[bool]] = []
    for grant in PERMISSIONS[action].grants:
        if role not in grant.roles:
            continue
        if not grant.relations:
            return true()
        for relation in grant.relations:
            if relation.where is None:
                raise ValueError(f"{relation.label!r} has no SQL form")
            conditions.append(relation.where(member))
    return or_(*conditions) if conditions else false()


def visible_activities(member: Any) -> ColumnElement[bool]:
    """SQL: the activities the member may see (``activity.read``)."""
    return where(member, "activity.read")


# ---------------------------------------------------------------- routes


@dataclass(frozen=True)
class Route:
    """An endpoint's rule: the action, and the URL argument naming the record the view
    checks it against (None: the action is about no record, or the view checks one it finds
    in the form)."""

    action: str
    record: str | None = None


PUBLIC = Route("public")


def route(action: str, record: str | None = None) -> Route:
    if action not in PERMISSIONS:
        raise KeyError(action)
    return Route(action, record)


# Every endpoint of the URL map, and who may use it. A new endpoint needs a line here.
ROUTES: dict[str, Route] = {
    # sign-in and the public pages (marked @public in their views too)
    "auth.login": PUBLIC,
    "auth.logout": route("home.use"),
    "auth.account": route("home.use"),  # one's own account: password, sign-out everywhere
    "auth.change_password": route("home.use"),
    "auth.sign_out_everywhere": route("home.use"),
    "auth.confirm_password": route("home.use"),
    "auth.create_token": route("home.use"),  # one's own API tokens
    "auth.revoke_token": route("home.use"),
    "auth.reset_password": PUBLIC,  # the signed one-time token is the authorisation
    "calendar.feed": PUBLIC,
    "public.click": PUBLIC,
    "public.form": PUBLIC,
    "public.pixel": PUBLIC,
    "public.submit": PUBLIC,
    "public.thanks": PUBLIC,
    "public.unsubscribe": PUBLIC,
    # home
    "main.home": route("home.use"),
    "activities.due_soon": route("home.use"),
    "activities.dismiss": route("home.use"),
    "calendar.subscription": route("home.use"),
    "calendar.feed_settings": route("home.use"),  # one's own feed's settings
    # the board and opportunities
    "board.index": route("opportunity.read"),
    "board.more": route("opportunity.read"),
    "board.card": route("opportunity.read", "opportunity_id"),
    "board.changes": route("opportunity.read"),
    "board.export": route("opportunity.read"),  # what the board shows, CSV or XLSX
    "board.move_form": route("opportunity.change", "opportunity_id"),
    "board.move": route("opportunity.change", "opportunity_id"),
    "board.new": route("opportunity.create"),
    "board.new_cancelled": route("opportunity.create"),
    "opportunities.detail": route("opportunity.read", "opportunity_id"),
    "opportunities.activities_section": route("opportunity.read", "opportunity_id"),
    "opportunities.fields": route("opportunity.read", "opportunity_id"),
    "opportunities.lines": route("opportunity.read", "opportunity_id"),
    "opportunities.stalled": route("opportunity.read"),
    "documents.section": route("opportunity.read", "opportunity_id"),
    "documents.download": route("opportunity.read", "opportunity_id"),
    "documents.upload": route("opportunity.change", "opportunity_id"),
    "documents.delete": route("document.delete", "document_id"),
    "checklists.section": route("opportunity.read", "opportunity_id"),
    "checklists.tick": route("opportunity.change", "opportunity_id"),
    "checklists.setup": route("setup.checklists"),
    "checklists.add_item": route("setup.checklists"),
    "checklists.remove_item": route("setup.checklists"),
    "opportunities.contact_options": route("contact.read"),
    "opportunities.edit_fields": route("opportunity.change", "opportunity_id"),
    "opportunities.save_fields": route("opportunity.change", "opportunity_id"),
    "opportunities.edit_line": route("opportunity.change", "opportunity_id"),
    "opportunities.add_line": route("opportunity.change", "opportunity_id"),
    "opportunities.save_line": route("opportunity.change", "opportunity_id"),
    "opportunities.remove_line": route("opportunity.change", "opportunity_id"),
    "opportunities.add_team_member": route("opportunity.change", "opportunity_id"),
    "opportunities.remove_team_member": route("opportunity.change", "opportunity_id"),
    "opportunities.add_extra_contact": route("opportunity.change", "opportunity_id"),
    "opportunities.remove_extra_contact": route("opportunity.change", "opportunity_id"),
    "opportunities.add_note": route("opportunity.change", "opportunity_id"),
    "opportunities.line_defaults": route("opportunity.read"),  # a form's amounts, no record
    "time_expenses.section": route("opportunity.read", "opportunity_id"),
    "time_expenses.add_time": route("opportunity.costs", "opportunity_id"),
    "time_expenses.add_expense": route("opportunity.costs", "opportunity_id"),
    "time_expenses.remove_time": route("opportunity.costs", "opportunity_id"),
    "time_expenses.remove_expense": route("opportunity.costs", "opportunity_id"),
    "products.index": route("product.manage"),
    "products.create": route("product.manage"),
    "products.update": route("product.manage"),
    "products.delete": route("product.manage"),
    # activities and calendars
    "activities.index": route("agenda.read"),
    "activities.new": route("activity.create"),
    "activities.create": route("activity.create"),
    "activities.show": route("activity.read", "activity_id"),
    "activities.edit": route("activity.change", "activity_id"),
    "activities.update": route("activity.change", "activity_id"),
    "activities.done": route("activity.complete", "activity_id"),
    "activities.reassign": route("activity.reassign"),
    "activities.export": route("agenda.read"),  # the list as its filters allow
    "calendar.index": route("agenda.read"),
    "calendar.month": route("agenda.read"),
    "calendar.move": route("activity.change", "activity_id"),
    # e-mail capture
    "capture.new": route("capture.use"),
    "capture.inbox": route("capture.use"),
    "capture.assign_form": route("capture.assign", "activity_id"),
    "capture.assign": route("capture.assign", "activity_id"),
    # points, dashboard, quotas
    "points.index": route("points.team"),
    "points.team_csv": route("points.team"),
    "points.print_all": route("points.print_all"),
    "points.member": route("points.read", "member_id"),
    "points.member_summary": route("points.read", "member_id"),
    "points.member_print": route("points.read", "member_id"),
    "points.member_csv": route("points.read", "member_id"),
    "points.member_pdf": route("points.read", "member_id"),
    "points.member_activities": route("points.read", "member_id"),
    "dashboard.index": route("dashboard.read"),
    "dashboard.funnel": route("dashboard.read"),
    "dashboard.print_css": route("dashboard.read"),
    "dashboard.places": route("dashboard.team"),
    "dashboard.won": route("dashboard.read"),
    "dashboard.open_deals": route("dashboard.read"),
    "dashboard.export": route("dashboard.read"),  # a rep: their own rows
    "quotas.index": route("quota.manage"),
    "quotas.edit": route("quota.manage"),
    "quotas.same_every_month": route("quota.manage"),
    "quotas.points_quotas": route("quota.manage"),
    "quotas.points_month": route("quota.manage"),
    # companies and contacts
    "companies.index": route("company.read"),
    "companies.detail": route("company.read", "company_id"),
    "companies.company_new": route("company.create"),
    "companies.company_edit": route("company.change", "company_id"),
    "companies.contact_index": route("contact.read"),
    "companies.export": route("company.read"),
    "companies.contact_export": route("contact.read"),
    "companies.contact_detail": route("contact.read", "contact_id"),
    "companies.contact_new": route("contact.create"),
    "companies.contact_edit": route("contact.change", "contact_id"),
    "companies.contact_mail_again": route("contact.mail_again", "contact_id"),
    # campaigns and e-mail campaigns
    "campaigns.index": route("campaign.read"),
    "campaigns.detail": route("campaign.read", "campaign_id"),
    "campaigns.export": route("campaign.read"),
    "campaigns.sub_types": route("campaign.change"),
    "campaigns.new": route("campaign.change"),
    "campaigns.edit": route("campaign.change"),
    "campaigns.switch_form": route("campaign.change", "campaign_id"),
    "campaigns.types": route("campaign.change"),
    "campaigns.add_type": route("campaign.change"),
    "campaigns.add_sub_type": route("campaign.change"),
    "campaigns.toggle_type": route("campaign.change"),
    "campaigns.toggle_sub_type": route("campaign.change"),
    "campaigns.delete_type": route("campaign.change"),
    "campaigns.delete_sub_type": route("campaign.change"),
    "email_campaigns.groups": route("email_campaign.manage"),
    "email_campaigns.create_group": route("email_campaign.manage"),
    "email_campaigns.group": route("email_campaign.manage"),
    "email_campaigns.search": route("email_campaign.manage"),
    "email_campaigns.add_contacts": route("email_campaign.manage"),
    "email_campaigns.add_by_filter": route("email_campaign.manage"),
    "email_campaigns.add_from_csv": route("email_campaign.manage"),
    "email_campaigns.remove_contact": route("email_campaign.manage"),
    "email_campaigns.delete_group": route("email_campaign.manage"),
    "email_campaigns.new_email": route("email_campaign.manage"),
    "email_campaigns.edit_email": route("email_campaign.manage"),
    "email_campaigns.email": route("email_campaign.manage"),
    "email_campaigns.preview": route("email_campaign.manage"),
    "email_campaigns.send": route("email_campaign.manage"),
    "email_campaigns.send_progress": route("email_campaign.manage"),
    "email_campaigns.send_test": route("email_campaign.manage"),
    "email_campaigns.cancel_send": route("email_campaign.manage"),
    "email_campaigns.outbox_page": route("outbox.read"),
    "email_campaigns.retry_message": route("outbox.retry"),
    "email_campaigns.delete_email": route("email_campaign.manage"),
    # tracks and enrolments
    "tracks.index": route("track.read"),
    "tracks.detail": route("track.read", "track_id"),
    "tracks.new": route("track.change"),
    "tracks.edit": route("track.change"),
    "tracks.add_step": route("track.change"),
    "tracks.edit_step": route("track.change"),
    "tracks.remove_step": route("track.change"),
    "tracks.run_now": route("track.change"),
    "tracks.enroll": route("enrollment.create"),
    "tracks.pause": route("enrollment.change", "enrollment_id"),
    "tracks.resume": route("enrollment.change", "enrollment_id"),
    "tracks.remove": route("enrollment.change", "enrollment_id"),
    # setup
    "setup.index": route("setup.read"),
    "setup.activity_types": route("setup.points_table"),
    "setup.activity_type_create": route("setup.points_table"),
    "setup.activity_type_update": route("setup.points_table"),
    "setup.activity_type_active": route("setup.points_table"),
    "setup.activity_type_delete": route("setup.points_table"),
    "setup.stage_next_step_type": route("setup.points_table"),
    "setup.places": route("place.manage"),
    "setup.place_create": route("place.manage"),
    "setup.place_rename": route("place.manage"),
    "setup.place_active": route("place.manage"),
    "setup.place_delete": route("place.manage"),
    "setup.member_list": route("member.list"),
    "setup.member_new": route("member.change"),
    "setup.member_edit": route("member.change"),
    "setup.member_sign_out_everywhere": route("member.change"),
    "setup.member_reset_link": route("member.change"),
    "setup.team": route("team.change"),
    "setup.archive_download": route("data.archive"),
    "audit.index": route("audit.read"),
    # imports
    "imports.index": route("import.run"),
    "imports.upload": route("import.run"),
    "imports.columns": route("import.run"),
    "imports.preview": route("import.run"),
    "imports.start": route("import.run"),
    "imports.detail": route("import.run"),
    "imports.progress": route("import.run"),
    "imports.problems_csv": route("import.run"),
    "imports.undo": route("import.run"),
    "webhooks.index": route("webhook.manage"),
    "webhooks.create": route("webhook.manage"),
    "webhooks.detail": route("webhook.manage"),
    "webhooks.update": route("webhook.manage"),
    "webhooks.send_test": route("webhook.manage"),
    "webhooks.delete": route("webhook.manage"),
    # the JSON API (a personal access token signs in; the same rules as the pages)
    "api.openapi": PUBLIC,  # the API's description: no data
    "api.opportunities": route("opportunity.read"),
    "api.opportunity": route("opportunity.read", "opportunity_id"),
    "api.new_opportunity": route("opportunity.create"),
    "api.update_opportunity": route("opportunity.change", "opportunity_id"),
    "api.move_opportunity": route("opportunity.change", "opportunity_id"),
    "api.stages": route("opportunity.read"),
    "api.companies": route("company.read"),
    "api.company": route("company.read", "company_id"),
    "api.create_company": route("company.create"),
    "api.update_company": route("company.change", "company_id"),
    "api.contacts": route("contact.read"),
    "api.contact": route("contact.read", "contact_id"),
    "api.create_contact": route("contact.create"),
    "api.update_contact": route("contact.change", "contact_id"),
    "api.activities": route("activity.read"),
    "api.activity": route("activity.read", "activity_id"),
    "api.create_activity": route("activity.create"),
    "api.update_activity": route("activity.change", "activity_id"),
    "api.close_activity": route("activity.complete", "activity_id"),
    "api.reopen_activity": route("activity.reopen", "activity_id"),
    "api.member_points": route("points.read", "member_id"),
    "api.dashboard": route("dashboard.read"),
}


# ---------------------------------------------------------------- the README's table


def _cell(permission: Permission, role: str) -> str:
    labels: list[str] = []
    for grant in permission.grants:
        if role not in grant.roles:
            continue
        if not grant.relations:
            return "yes"
        labels += [r.label for r in grant.relations]
    return "if " + "; or ".join(labels) if labels else "—"


def markdown_table() -> str:
    """The permission table as the README shows it (a test keeps the README equal)."""
    lines = [
        "| action | what | admin | manager | rep |",
        "| --- | --- | --- | --- | --- |",
    ]
    for permission in PERMISSIONS.values():
        cells = " | ".join(_cell(permission, role) for role in ROLES)
        lines.append(f"| `{permission.action}` | {permission.what} | {cells} |")
    return "\n".join(lines)
