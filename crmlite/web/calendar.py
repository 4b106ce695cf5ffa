"""The calendar: a week like Outlook's (one member, or several side by side for a manager),
a month at a glance, drag to reschedule, and the private calendar feed (iCalendar)."""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, timedelta
from threading import Lock
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import MultiDict

from crmlite import links
from crmlite.database import write_intent
from crmlite.extensions import db
from crmlite.models import Activity, Member
from crmlite.services import calendar as cal
from crmlite.services import calendar_feed
from crmlite.services.activities import ActivityChangedMeanwhile
from crmlite.services.parsing import parse_id
from crmlite.services.periods import FIRST_DAY, FIRST_YEAR, LAST_DAY, LAST_YEAR, Month
from crmlite.services.team import local_today
from crmlite.web import announce, get_or_404, is_htmx, may, public, require
from crmlite.web.calendar_forms import FeedSettingsForm, MoveForm, SubscriptionForm
from crmlite.web.filters import spoken_date, time_label

bp = Blueprint("calendar", __name__, url_prefix="/calendar")

_ID = 2_147_483_647  # stands for an activity's id in its URL patterns


class BlockUrls:
    """The URLs a week needs per activity and per slot, built once per response (url_for
    per block is slow). Scheduling and editing are the activities area's in-place forms."""

    def __init__(self) -> None:
        self._new = url_for("activities.new")
        self._edit = url_for("activities.edit", activity_id=_ID)
        self._move = url_for("calendar.move", activity_id=_ID)

    def edit(self, activity_id: int) -> str:
        return self._edit.replace(str(_ID), str(activity_id))

    def move(self, activity_id: int) -> str:
        return self._move.replace(str(_ID), str(activity_id))

    def new(self, member_id: int, day: date, slot: cal.Slot | None = None) -> str:
        """The form to schedule on that day (at that slot's time) for that member. Every
        value is digits, dashes and colons: nothing to quote."""
        times = f"&start={slot.start:%H:%M}&end={slot.end:%H:%M}" if slot else ""
        return f"{self._new}?due_on={day.isoformat()}{times}&assigned_to_id={member_id}"


@bp.context_processor
def block_urls() -> dict[str, Any]:
    return {"urls": BlockUrls()}


def _today() -> date:
    return local_today(g.tz)


# -- what the address asks for ---------------------------------------------------------------------


@dataclass
class Choice:
    """Which members, which period, weekend or not; and what was wrong with the address."""

    day: date
    member_ids: list[int]
    weekend: bool
    notices: list[str] = field(default_factory=list)


def _day_arg(value: str | None, notices: list[str]) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        notices.append(f"“{value[:20]}” is not a date (YYYY-MM-DD); showing this week.")
        return None
    if not FIRST_DAY <= day <= LAST_DAY:
        notices.append(
            f"The calendar shows the years {FIRST_YEAR} to {LAST_YEAR}; showing this week."
        )
        return None
    return day


def _month_arg(value: str | None, notices: list[str]) -> date | None:
    if not value:
        return None
    try:
        year, month = (int(part) for part in value.strip().split("-"))
        first = date(year, month, 1)
    except ValueError:
        notices.append(f"“{value[:20]}” is not a month (YYYY-MM); showing this month.")
        return None
    if not FIRST_DAY <= first <= LAST_DAY:
        notices.append(
            f"The calendar shows the years {FIRST_YEAR} to {LAST_YEAR}; showing this month."
        )
        return None
    return first


def _member_ids(args: MultiDict[str, str], notices: list[str]) -> list[int]:
    """The members asked for, in the order given, each once; me when none (or none valid)."""
    ids: list[int] = []
    for value in args.getlist("member_id"):
        if not value.strip():
            continue
        ident = parse_id(value)
        if ident is None:
            notices.append(f"“{value.strip()[:20]}” is not a member; it was left out.")
        elif ident not in ids:
            ids.append(ident)
    if len(ids) > cal.MAX_SIDE_BY_SIDE:
        notices.append(f"At most {cal.MAX_SIDE_BY_SIDE} members fit side by side.")
        ids = ids[: cal.MAX_SIDE_BY_SIDE]
    return ids or [current_user.id]


def _choice(day: date | None, notices: list[str]) -> Choice:
    return Choice(
        day=day or _today(),
        member_ids=_member_ids(request.args, notices),
        weekend=request.args.get("weekend") in ("1", "on", "true", "yes"),
        notices=notices,
    )


def _members(choice: Choice) -> tuple[list[Member], list[Member]]:
    """The members to show, in the order asked, and those a manager may choose from.
    An unknown member is 404; a calendar the viewer may not see (``agenda.read``: a rep
    sees only their own) is 403."""
    team = may("agenda.team")
    found = list(
        db.session.scalars(
            select(Member)
            .where(
                or_(Member.active.is_(True), Member.id.in_(choice.member_ids))
                if team
                else Member.id.in_(choice.member_ids)
            )
            .order_by(Member.name)
        )
    )
    by_id = {m.id: m for m in found}
    if any(i not in by_id for i in choice.member_ids):
        abort(404)
    shown = [by_id[i] for i in choice.member_ids]
    for member in shown:
        require("agenda.read", member)
    return shown, [m for m in found if m.active] if team else []


def _args(choice: Choice, **changes: Any) -> dict[str, Any]:
    """Query arguments of a calendar address: only what differs from the defaults."""
    args: dict[str, Any] = {}
    if choice.member_ids != [current_user.id]:
        args["member_id"] = choice.member_ids
    if choice.weekend:
        args["weekend"] = 1
    args.update(changes)
    return {k: v for k, v in args.items() if v is not None}


# -- the week --------------------------------------------------------------------------------------


def _week_context(choice: Choice) -> dict[str, Any]:
    members, choosable = _members(choice)
    monday = cal.week_start(choice.day)
    today = _today()
    this_week = cal.week_start(today)
    return {
        "choice": choice,
        "monday": monday,
        "days": cal.week_days(monday, weekend=choice.weekend),
        "slots": cal.slots(),
        "weeks": cal.week(
            members, monday, weekend=choice.weekend, today=today, tz=g.tz, viewer=current_user
        ),
        "choosable": choosable,
        "side_by_side": len(members) > 1,
        "today": today,
        "is_this_week": monday == this_week,
        "range_label": range_label(monday, cal.week_days(monday, weekend=choice.weekend)[-1]),
        "links": {
            "previous": url_for(
                "calendar.index", **_args(choice, week=(monday - timedelta(days=7)).isoformat())
            ),
            "next": url_for(
                "calendar.index", **_args(choice, week=(monday + timedelta(days=7)).isoformat())
            ),
            "today": url_for("calendar.index", **_args(choice)),
            "self": url_for("calendar.index", **_args(choice, week=monday.isoformat())),
            "weekend": url_for(
                "calendar.index",
                **_args(choice, week=monday.isoformat(), weekend=None if choice.weekend else 1),
            ),
            "month": url_for(
                "calendar.month",
                **_args(choice, month=f"{monday + timedelta(days=3):%Y-%m}"),
            ),
        },
    }


def range_label(first: date, last: date) -> str:
    """The week's span as a heading, e.g. "November 23 to 27, 2026" with an en dash."""
    if first.year != last.year:
        return f"{first:%b} {first.day}, {first.year} – {last:%b} {last.day}, {last.year}"
    if first.month != last.month:
        return f"{first:%b} {first.day} – {last:%b} {last.day}, {last.year}"
    return f"{first:%B} {first.day} – {last.day}, {last.year}"


@bp.get("/")
def index() -> str:
    notices: list[str] = []
    choice = _choice(_day_arg(request.args.get("week"), notices), notices)
    context = _week_context(choice)
    if is_htmx() and request.headers.get("HX-Target") == "calendar-week":
        # Refreshed in place after the activity form saved or closed something.
        return render_template("calendar/_week.html", **context)
    return render_template("calendar/week.html", **context)


# -- the month -------------------------------------------------------------------------------------


@bp.get("/month")
def month() -> str:
    notices: list[str] = []
    first = _month_arg(request.args.get("month"), notices) or Month.of(_today()).first_day
    choice = _choice(first, notices)
    members, choosable = _members(choice)
    previous, following = Month.of(first).previous(), Month.of(first).next()
    return render_template(
        "calendar/month.html",
        choice=choice,
        first=first,
        members=members,
        choosable=choosable,
        weeks=cal.month([m.id for m in members], first, weekend=choice.weekend, today=_today()),
        # Several members' months in one: each subject says whose it is.
        whose={m.id: m for m in members} if len(members) > 1 else {},
        weekday_names=["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][
            : 7 if choice.weekend else 5
        ],
        links={
            "previous": url_for("calendar.month", **_args(choice, month=previous.key))
            if previous
            else None,
            "next": url_for("calendar.month", **_args(choice, month=following.key))
            if following
            else None,
            "today": url_for("calendar.month", **_args(choice)),
            "week": url_for("calendar.index", **_args(choice, week=first.isoformat())),
        },
        week_url=lambda day: url_for("calendar.index", **_args(choice, week=day.isoformat())),
    )


# -- drag to reschedule ----------------------------------------------------------------------------


def _member_week(
    member: Member,
    form: MoveForm,
    activity: Activity,
    *,
    notice: str = "",
    moved: bool = False,
) -> str:
    """The week on screen (else the one the activity is now in) as it now is."""
    shown = next(
        day
        for day in (form.week.data, activity.due_on, _today())
        if isinstance(day, date) and FIRST_DAY <= day <= LAST_DAY
    )
    monday = cal.week_start(shown)
    weekend = form.weekend.data in ("1", "on", "true", "yes")
    (member_week,) = cal.week(
        [member], monday, weekend=weekend, today=_today(), tz=g.tz, viewer=current_user
    )
    return render_template(
        "calendar/_member_week.html",
        member_week=member_week,
        monday=monday,
        days=cal.week_days(monday, weekend=weekend),
        slots=cal.slots(),
        weekend=weekend,
        side_by_side=form.side_by_side.data == "1",
        notice=notice,
        moved_id=activity.id if moved else None,
    )


CHANGED_MEANWHILE = (
    "Someone changed this activity meanwhile. It is shown where it really is now; "
    "nothing was overwritten."
)


def _answer(html: str, activity: Activity, say: str, *, moved: bool) -> tuple[str, dict[str, str]]:
    """The week, with what happened for the page to say and the focus back on the block
    (where it now is); a move also refreshes the "Due soon" strip."""
    headers = announce(say=say, focus=f"#cal-activity-{activity.id}")
    if moved:
        headers["HX-Trigger"] = json.dumps({"activity-moved": {"id": activity.id}})
    return html, headers


def _when(activity: Activity) -> str:
    """ "Wed 2 Dec 2026, 2:30 pm" (or "…, no set time")."""
    at = time_label(activity.starts_at) if activity.starts_at else "no set time"
    return f"{spoken_date(activity.due_on)}, {at}"


@bp.post("/activities/<int:activity_id>/move")
def move(activity_id: int) -> tuple[str, dict[str, str]]:
    """A block dropped on another day or time (or moved with Alt+arrow keys): rescheduled
    keeping its length, unless someone changed it meanwhile. Answers with the member's
    week as it now is."""
    activity = get_or_404(Activity, activity_id)
    require("activity.change", activity)
    member = get_or_404(Member, activity.assigned_to_id)
    form = MoveForm()
    version = form.version.data
    if not form.validate() or version is None:
        if form.version.errors:
            message = "The page is out of date; reload it and try again. Nothing moved."
        elif form.due_on.errors:
            message = "That is not a day (YYYY-MM-DD). Nothing moved."
        elif form.start.errors:
            message = "That is not a time (HH:MM). Nothing moved."
        else:
            message = "That move is not possible. Nothing moved."
        html = _member_week(member, form, activity, notice=message)
        return _answer(html, activity, message, moved=False)
    try:
        cal.move_activity(
            activity,
            due_on=form.due_on.data,
            start=form.start.data,
            tz=g.tz,
            expected_version=version,
        )
        db.session.commit()
    except (ActivityChangedMeanwhile, StaleDataError):
        db.session.rollback()
        html = _member_week(member, form, activity, notice=CHANGED_MEANWHILE, moved=True)
        return _answer(html, activity, CHANGED_MEANWHILE, moved=False)
    except cal.MoveRefused as refused:
        db.session.rollback()
        message = f"{refused} Nothing moved."
        html = _member_week(member, form, activity, notice=message)
        return _answer(html, activity, message, moved=False)
    html = _member_week(member, form, activity, moved=True)
    return _answer(html, activity, f"Moved {activity.subject} to {_when(activity)}", moved=True)


# -- the calendar feed -----------------------------------------------------------------------------


def feed_url(token: str | None) -> str | None:
    return links.absolute_url("calendar.feed", token=token) if token else None


@bp.route("/subscription", methods=["GET", "POST"])
def subscription() -> Any:
    """My private subscription address: create it, reset it (the old one stops working)
    or revoke it."""
    form = SubscriptionForm()
    notice = ""
    if request.method == "POST":
        if not form.validate():
            notice = "Choose create, reset or revoke."
        else:
            if form.action.data == "create":
                calendar_feed.start_subscription(current_user)
                notice = "Your calendar feed is ready: subscribe to this address."
            elif form.action.data == "reset":
                calendar_feed.reset_subscription(current_user)
                notice = "New address made; the old one no longer works."
            else:
                calendar_feed.revoke_subscription(current_user)
                notice = "Your calendar feed is switched off; subscribed calendars stop updating."
            db.session.commit()
        if not is_htmx():
            if notice:
                flash(notice, "error" if form.action.errors else "success")
            return redirect(url_for("calendar.subscription"))
    return _subscription_page(notice)


def _subscription_page(notice: str = "", settings_form: FeedSettingsForm | None = None) -> str:
    template = "calendar/_subscription.html" if is_htmx() else "calendar/subscription.html"
    url = feed_url(current_user.calendar_token)
    if settings_form is None:
        settings_form = FeedSettingsForm(
            formdata=None,
            include_done=current_user.feed_include_done,
            include_captured=current_user.feed_include_captured,
        )
    return render_template(
        template,
        feed_url=url,
        # Calendar apps open webcal: addresses as subscriptions.
        webcal_url="webcal://" + url.split("://", 1)[1] if url else None,
        notice=notice,
        settings_form=settings_form,
    )


@bp.post("/subscription/settings")
def feed_settings() -> Any:
    """What my own feed shows: done activities, captured e-mails."""
    form = FeedSettingsForm()
    if not form.validate():
        return _subscription_page("Nothing was changed; try again.", form)
    calendar_feed.update_feed_settings(
        current_user,
        include_captured=bool(form.include_captured.data),
        include_done=bool(form.include_done.data),
    )
    db.session.commit()
    notice = "Saved: calendar apps show the change when they next look (about every hour)."
    if not is_htmx():
        flash(notice, "success")
        return redirect(url_for("calendar.subscription"))
    return _subscription_page(notice)


class FeedCache:
    """The last feeds built in this process, by version: calendar apps ask every hour or
    so, and a busy member's feed takes the iCalendar library a good part of a second."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._bodies: OrderedDict[str, bytes] = OrderedDict()
        self._lock = Lock()

    def get(self, version: str) -> bytes | None:
        with self._lock:
            body = self._bodies.get(version)
            if body is not None:
                self._bodies.move_to_end(version)
            return body

    def clear(self) -> None:
        with self._lock:
            self._bodies.clear()

    def put(self, version: str, body: bytes) -> None:
        with self._lock:
            self._bodies[version] = body
            while len(self._bodies) > self.size:
                self._bodies.popitem(last=False)


feeds = FeedCache()


@bp.get("/feed/<token>.ics")
@public
def feed(token: str) -> Response:
    """The iCalendar feed calendars subscribe to: public, opened by its secret token alone.
    Unchanged since the app last asked: 304 (read: the team, the member with their feed's
    count of changes), or the body built then."""
    subscription = calendar_feed.subscriber(token)
    if subscription is None:
        abort(404)
    member = subscription.member
    today, name = _today(), f"{member.name} · {g.team_name}"
    version = calendar_feed.feed_version(
        member, changes=subscription.changes, today=today, calendar_name=name, tz=g.tz
    )
    headers = {
        "Content-Disposition": 'inline; filename="crmlite.ics"',
        # The address is the secret: keep it out of shared caches and search engines.
        "Cache-Control": "private, max-age=300",
        "X-Robots-Tag": "noindex",
        "ETag": f'"{version}"',
    }
    if request.if_none_match.contains(version):
        return Response(status=304, headers=headers)
    body = feeds.get(version)
    if body is None:
        assembled = calendar_feed.assemble(member, today=today, calendar_name=name, tz=g.tz)
        _keep(assembled.built)
        body = assembled.body
        feeds.put(version, body)
    return Response(body, content_type="text/calendar; charset=utf-8", headers=headers)


def _keep(built: list[dict[str, Any]]) -> None:
    """Store the events the feed built now, so the next poll only reads them. This GET
    writes: on SQLite its read-only transaction ends first and the write begins IMMEDIATE,
    queued behind other writers like a POST's. An activity deleted meanwhile: nothing is
    kept (its row would refer to nothing); the next poll builds what it still needs."""
    if not built:
        return
    write_intent.set(True)
    db.session.rollback()
    try:
        calendar_feed.keep_events(built)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
