"""The funnel board: one column per stage, cards dragged (or moved with the keyboard)
between them, filters kept in the URL."""

from __future__ import annotations

import functools
import threading
from collections.abc import Collection
from dataclasses import astuple
from datetime import UTC, date, datetime
from typing import Any, cast

from flask import Blueprint, abort, current_app, g, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import literal, select, text, true, union_all
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from crmlite.database import commit_keeping
from crmlite.extensions import db
from crmlite.models import (
    BusinessUnit,
    Campaign,
    Location,
    Member,
    Opportunity,
    OpportunityType,
    SalesStage,
)
from crmlite.services import activities, board_live, checklists, exports, funnel, reference
from crmlite.services import board as board_service
from crmlite.services.board import BoardFilters, Card, ColumnTotals
from crmlite.services.money import ZERO
from crmlite.services.opportunities import create_opportunity
from crmlite.services.parsing import parse_id
from crmlite.services.team import local_today
from crmlite.web import announce, exporting, get_or_404, is_htmx, may, offset_arg, require
from crmlite.web.board_forms import RATINGS, MoveForm, NewOpportunityForm
from crmlite.web.filters import datetime_label

bp = Blueprint("board", __name__, url_prefix="/board")

_ID = 2_147_483_647  # stands for a card's id in its URL patterns


class CardUrls:
    """The URLs of a card's links, built once per response: url_for per card is slow."""

    def __init__(self) -> None:
        self._move = url_for("board.move", opportunity_id=_ID)
        self._detail = url_for("opportunities.detail", opportunity_id=_ID)
        self._log = url_for("activities.new", opportunity_id=_ID)

    def move(self, opportunity_id: int) -> str:
        return self._move.replace(str(_ID), str(opportunity_id))

    def detail(self, opportunity_id: int) -> str:
        return self._detail.replace(str(_ID), str(opportunity_id))

    def log(self, opportunity_id: int) -> str:
        return self._log.replace(str(_ID), str(opportunity_id))


def _movable() -> board_live.Movable:
    """The cards the member may move (drag, "Move to…") for this request: what it read is
    kept, so a board asks once for all its cards (``index``)."""
    if "movable" not in g:
        g.movable = board_live.Movable(current_user)
    return cast(board_live.Movable, g.movable)


@bp.context_processor
def card_urls() -> dict[str, Any]:
    urls, movable = CardUrls(), _movable()

    def card_list(cards: list[Card]) -> Markup:
        """A column's cards, each as ``_cards.html`` renders it (see ``_rendered_card``)."""
        place = (urls.detail(0), str(g.tz))
        movable.consider(card.id for card in cards)
        # Each card is already safe HTML: joined as text, not escaped once more one by one.
        return Markup("".join(_rendered_card(card, card.id in movable, place) for card in cards))

    return {"urls": urls, "movable": movable, "card_list": card_list}


@functools.lru_cache(maxsize=4096)
def _rendered_card(card: Card, movable: bool, place: tuple[str, str]) -> Markup:
    """One card's HTML, remembered: a card is a frozen value of everything it shows, so the
    same card (asked again by every board load and every colleague's poll until it changes)
    is rendered once. ``place`` holds what else the HTML depends on: the links' prefix
    (behind a proxy it may differ) and the team's zone (times of day)."""
    template = current_app.jinja_env.get_template("board/_cards.html")
    movable_ids = {card.id} if movable else set()
    return Markup(template.render(cards=[card], urls=CardUrls(), movable=movable_ids))


def filters_from(args: MultiDict[str, str]) -> BoardFilters:
    """Filters from the query string; anything malformed is ignored rather than an error."""
    rating = args.get("rating")
    return BoardFilters(
        account_manager_id=parse_id(args.get("account_manager_id")),
        type_id=parse_id(args.get("type_id")),
        campaign_id=parse_id(args.get("campaign_id")),
        location_id=parse_id(args.get("location_id")),
        business_unit_id=parse_id(args.get("business_unit_id")),
        rating=rating if rating in RATINGS else None,
        stalled_only=args.get("stalled_only") in ("1", "on", "true", "y"),
        q=(args.get("q") or "").strip()[:100],
    )


_FILTER_LISTS: dict[str, tuple[Any, Any]] = {
    "members": (Member, Member.active),
    "types": (OpportunityType, OpportunityType.active),
    "campaigns": (Campaign, true()),
    "locations": (Location, Location.active),
    "units": (BusinessUnit, BusinessUnit.active),
}


# Every list of the filter bar in one statement, built once (building it each time took
# longer than running it).
_FILTER_CHOICES = union_all(
    *(
        select(literal(key).label("kind"), model.id, model.name.label("name")).where(active)
        for key, (model, active) in _FILTER_LISTS.items()
    )
).order_by(text("kind"), text("name"))


def _filter_rows() -> tuple[Any, ...]:
    """The filter bar's options as (kind, id, name) rows, every list in one statement."""
    return tuple(db.session.execute(_FILTER_CHOICES))


def _filter_choices(rows: tuple[Any, ...]) -> dict[str, Any]:
    """The filter bar's options (id and name) per list, from ``_filter_rows``."""
    choices: dict[str, Any] = {key: [] for key in _FILTER_LISTS}
    for row in rows:
        choices[row.kind].append(row)
    return {**choices, "ratings": RATINGS}


@functools.lru_cache(maxsize=32)
def _bar(rows: tuple[Any, ...], filters: BoardFilters, board_url: str) -> Markup:
    """The filter bar with its chips and exports, remembered: the same for every board with
    these filters while the lists' options are these (its hundred-odd options took longer
    to render than the column totals to read). ``board_url``: the links' prefix (behind a
    proxy it may differ)."""
    choices = _filter_choices(rows)
    html = render_template(
        "board/_bar.html", choices=choices, chips=_chips(filters, choices), filters=filters
    )
    return Markup(html)


_FILTER_LABELS = {
    "account_manager_id": ("Account manager", "members"),
    "type_id": ("Type", "types"),
    "campaign_id": ("Campaign", "campaigns"),
    "location_id": ("Location", "locations"),
    "business_unit_id": ("Business unit", "units"),
}


def _chips(filters: BoardFilters, choices: dict[str, Any]) -> list[dict[str, str]]:
    """The active filters as chips: a label and the board's URL without that one filter."""
    args = filters.query_args()
    chips = []
    for name, value in args.items():
        if name == "q":
            label = f"Search: \u201c{value}\u201d"
        elif name == "stalled_only":
            label = "Stalled only"
        elif name == "rating":
            label = f"Rating: {value}"
        else:
            title, key = _FILTER_LABELS[name]
            names = {option.id: option.name for option in choices[key]}
            label = f"{title}: {names.get(value, f'#{value}')}"
        rest = {k: v for k, v in args.items() if k != name}
        chips.append({"label": label, "url": url_for("board.index", **rest)})
    return chips


def _today() -> date:
    return local_today(g.tz)


@bp.get("/")
def index() -> str | tuple[str, dict[str, str]]:
    filters = filters_from(request.args)
    # Read first: a change while the board is read shows on the next poll, never missed.
    live = {"board_version": board_live.version(), "poll_seconds": _poll_seconds()}
    columns = board_service.board(filters, _today(), g.tz)
    _movable().consider(card.id for column in columns for card in column.cards)  # one query
    panel = _panel(columns, filters, **live)
    if is_htmx() and request.headers.get("HX-Target") == "board":
        if request.args.get("live"):  # the live board catching up: the address stays
            return panel
        # The address bar keeps the filters (only those set), so the view can be shared;
        # the chips of the active filters come along out of band.
        url = url_for("board.index", **filters.query_args())
        chips = _chips(filters, _filter_choices(_filter_rows()))
        bar = render_template("board/_bar_oob.html", chips=chips, filters=filters)
        return panel + Markup(bar), {"HX-Push-Url": url}
    bar = _bar(_filter_rows(), filters, url_for("board.index"))
    return render_template("board/page.html", panel=panel, bar=bar)


# The board's columns as HTML (``_board.html``), kept for the latest boards shown: the same
# board shown again while nothing on it changed (a reload, a colleague's board, the same
# filters) is not rendered again. The key holds everything the HTML shows.
_PANELS: dict[Any, str] = {}
_PANELS_LOCK = threading.Lock()
PANELS_KEPT = 32


def _panel(
    columns: list[board_service.Column],
    filters: BoardFilters,
    board_version: str,
    poll_seconds: str,
) -> Markup:
    movable = _movable()
    shown = [card.id for column in columns for card in column.cards]
    key = (
        tuple(
            (
                c.stage.id,
                c.stage.name,
                c.stage.is_won,
                c.stage.is_lost,
                astuple(c.totals),
                tuple(c.cards),
                c.has_more,
                c.next_offset,
            )
            for c in columns
        ),
        filters,
        None if movable.everything else frozenset(i for i in shown if i in movable),
        board_version,
        poll_seconds,
        url_for("board.index"),  # behind a proxy the links' prefix may differ
        str(g.tz),
        g.team.currency,  # the column totals' money
    )
    html = _PANELS.get(key)
    if html is None:
        html = render_template(
            "board/_board.html",
            columns=columns,
            filters=filters,
            board_version=board_version,
            poll_seconds=poll_seconds,
        )
        with _PANELS_LOCK:  # a threaded server's requests may store at the same time
            if len(_PANELS) >= PANELS_KEPT:
                _PANELS.pop(next(iter(_PANELS)))  # the oldest
            _PANELS[key] = html
    return Markup(html)


@bp.get("/export.<fmt>")
def export(fmt: str) -> Response:
    """Every opportunity the board shows with its filters (all cards), as CSV or XLSX."""
    return exporting.send(exports.opportunities(filters_from(request.args), _today(), g.tz), fmt)


def _poll_seconds() -> str:
    """How often an open board asks what changed (``BOARD_POLL_SECONDS``, 10 by default)."""
    return f"{float(current_app.config['BOARD_POLL_SECONDS']):g}"


@bp.get("/changes")
def changes() -> tuple[str, int, dict[str, str]]:
    """Whether any opportunity changed since the board's version ``since``: 204 when
    nothing did; else 200 with the "board-changed" event, and the page fetches the board
    again (unless a drag, a question or a form is open). One query."""
    if request.args.get("since") == board_live.version():
        return "", 204, {"Cache-Control": "no-store"}
    return "", 200, {"HX-Trigger": "board-changed", "Cache-Control": "no-store"}


@bp.get("/stages/<int:stage_id>/cards")
def more(stage_id: int) -> str:
    stage = get_or_404(SalesStage, stage_id)
    offset = offset_arg()
    filters = filters_from(request.args)
    column = board_service.more_cards(stage, filters, _today(), g.tz, offset)
    return render_template("board/_more.html", column=column, filters=filters)


@bp.get("/opportunities/<int:opportunity_id>/card")
def card(opportunity_id: int) -> str | tuple[str, dict[str, str]]:
    """One card as it is; ``cancelled``: a move's question or form was cancelled, so the
    page says so and puts the focus back on the card."""
    get_or_404(Opportunity, opportunity_id)
    if request.args.get("cancelled"):
        the_card = _the_card(opportunity_id)
        html = render_template("board/_card.html", card=the_card, notice="")
        say = f"Not moved: {the_card.name} stays in {the_card.stage_name}"
        return html, announce(say=say, focus=_title(opportunity_id))
    return _render_card(opportunity_id)


def _the_card(opportunity_id: int) -> Card:
    """The card of an opportunity that exists (else 404: deleted meanwhile)."""
    the_card = board_service.card(opportunity_id, _today())
    if the_card is None:
        abort(404)
    return the_card


def _title(opportunity_id: int) -> str:
    """Where the focus goes on a card: its name (a link, so a screen reader says the deal)."""
    return f"#card-{opportunity_id} .card-title"


def _render_card(opportunity_id: int, notice: str = "") -> str:
    the_card = board_service.card(opportunity_id, _today())
    return render_template("board/_card.html", card=the_card, notice=notice)


def _prompt(kind: str, opportunity: Opportunity, to_stage: SalesStage, form: MoveForm) -> str:
    form.offer_step_types()
    form.prompt.data = kind
    form.stage_id.data = to_stage.id
    form.version.data = opportunity.version
    if kind == "won" and form.won_amount.data is None and not form.won_amount.errors:
        form.won_amount.data = opportunity.revenue
    if kind == "won" and form.won_on.data is None and not form.won_on.errors:
        form.won_on.data = _today()
    if kind == "next_step":
        _offer_next_step(form, opportunity, to_stage)
    open_count = activities.open_count(opportunity.id) if kind in ("won", "lost") else 0
    checklist_open = checklists.open_items_if_won(opportunity) if kind == "won" else []
    return render_template(
        "board/_prompt.html",
        kind=kind,
        form=form,
        opportunity=opportunity,
        to_stage=to_stage,
        from_stage=db.session.get(SalesStage, opportunity.stage_id),
        open_count=open_count,
        checklist_open=checklist_open,
    )


def _offer_next_step(form: MoveForm, opportunity: Opportunity, to_stage: SalesStage) -> None:
    """The next-step question's first answers, all editable: the target stage's type, the
    next business day, 10:00-10:30. Once asked, what the person entered (or cleared) stays."""
    if request.form.get("prompt") == "next_step":
        return
    defaults = funnel.next_step_defaults(to_stage, _today())
    if not form.step_subject.data:
        form.step_subject.data = f"Next step: {opportunity.name}"[:200]
    if not form.step_type_id.data and defaults.type_id is not None:
        form.step_type_id.data = defaults.type_id
    if form.step_date.data is None:
        form.step_date.data = defaults.due_on
    if form.step_start.data is None:
        form.step_start.data = defaults.start
    if form.step_end.data is None:
        form.step_end.data = defaults.end


def _headers(
    stage_list: list[SalesStage], stage_ids: Collection[int] | None = None
) -> list[tuple[SalesStage, ColumnTotals]]:
    """Column headers with their totals under the board's filters (sent along with the
    form): those of ``stage_ids``, or every one (only those shown are added up)."""
    shown = [s for s in stage_list if stage_ids is None or s.id in stage_ids]
    totals = board_service.column_totals(shown, filters_from(request.form), _today(), g.tz)
    return [(s, totals[s.id]) for s in shown]


def _moved(
    opportunity_id: int,
    stage_ids: Collection[int] | None,
    notice: str = "",
    stage_list: list[SalesStage] | None = None,
) -> tuple[str, dict[str, str]]:
    """The changed fragments only: the card and the headers of the columns in ``stage_ids``
    (every one when None). A mouse drop (``via=drag``) keeps the card where it was dropped
    (refused, the page puts it back); a keyboard move puts it at the top of its column, its
    "Move to…" control open. When the board was current but for this move, its version
    moves on, so the next poll does not fetch the board again for the person's own move.
    The page says what happened and keeps the focus on the card (its "Move to" list after
    a keyboard move). ``stage_list``: the stages, when the move has them at hand."""
    if stage_list is None:
        stage_list = reference.stages()
    since = request.form.get("board_version")
    the_card = _the_card(opportunity_id)
    in_place = request.form.get("via") == "drag"
    html = render_template(
        "board/_moved.html",
        card=the_card,
        headers=_headers(stage_list, stage_ids),
        stages=stage_list,
        notice=notice,
        in_place=in_place,
        board_version=None if notice else board_live.caught_up(since, opportunity_id),
        poll_seconds=_poll_seconds(),
        # After a move, the member may move the card (``move`` checked): no need to read
        # every card they may move. After a conflict, it is asked again.
        **({} if notice else {"movable": {opportunity_id}}),
    )
    focus = [_title(opportunity_id)]
    if not in_place:
        focus.insert(0, f"#move-{opportunity_id}")
    say = notice or f"Moved {the_card.name} to {the_card.stage_name}"
    return html, announce(say=say, focus=focus)


def _changed_meanwhile(opportunity_id: int) -> tuple[str, dict[str, str]]:
    """Someone else moved or edited it: show it where it really is now, saying who changed
    it and when, with every header."""
    db.session.rollback()
    opportunity = get_or_404(Opportunity, opportunity_id)
    change = board_live.last_change(opportunity.id)
    if change is None:
        what = "Someone changed this opportunity meanwhile."
    elif change.moved_to:
        what = f"{change.by} moved it to {change.moved_to} on {datetime_label(change.at)}."
    else:
        what = f"{change.by} changed it on {datetime_label(change.at)}."
    return _moved(
        opportunity.id,
        None,
        notice=f"{what} This is where it is now; nothing was overwritten.",
    )


@bp.get("/opportunities/<int:opportunity_id>/move")
def move_form(opportunity_id: int) -> str:
    """The "Move to…" control of a card, fetched when a keyboard user asks for it."""
    opportunity = get_or_404(Opportunity, opportunity_id)
    require("opportunity.change", opportunity)
    return render_template(
        "board/_move_form.html",
        o=opportunity,
        move_url=url_for("board.move", opportunity_id=opportunity.id),
        stages=reference.stages(),
    )


@bp.post("/opportunities/<int:opportunity_id>/move")
def move(opportunity_id: int) -> str | tuple[str, dict[str, str]]:
    """Move a card. Lost asks for the reason, Won for the amount and date (both: what to do
    with its open activities; Won also a confirmation when set-up items are still open),
    reopening a won or lost deal asks for a confirmation, and a
    move forward without a next step asks to schedule one (or skip) before anything
    changes."""
    opportunity = get_or_404(Opportunity, opportunity_id)
    require("opportunity.change", opportunity)
    form = MoveForm()
    valid = form.validate()
    # The stages, read once: the move, the checks and the changed headers all use them.
    stage_list = reference.stages()
    stage_by_id = {stage.id: stage for stage in stage_list}
    to_stage = stage_by_id.get(form.stage_id.data) if form.stage_id.data else None
    version = form.version.data  # None when missing or malformed
    if to_stage is None or version is None:
        notice = "That stage does not exist; nothing moved."
        html = _render_card(opportunity.id, notice=notice)
        return html, announce(say=notice, focus=_title(opportunity.id))
    if version != opportunity.version:
        return _changed_meanwhile(opportunity.id)
    if not valid:
        return _prompt(form.prompt.data or "lost", opportunity, to_stage, form)
    from_stage = stage_by_id[opportunity.stage_id]

    if from_stage.is_closed and not to_stage.is_closed and form.prompt.data != "reopen":
        return _prompt("reopen", opportunity, to_stage, form)
    if to_stage.is_lost and form.prompt.data != "lost":
        return _prompt("lost", opportunity, to_stage, form)
    if to_stage.is_won and form.prompt.data != "won":
        return _prompt("won", opportunity, to_stage, form)
    if funnel.needs_next_step(opportunity, to_stage, from_stage, _today()):
        if form.prompt.data != "next_step":
            return _prompt("next_step", opportunity, to_stage, form)
        if not form.skip_next_step.data and not _schedule_next_step(form, opportunity):
            return _prompt("next_step", opportunity, to_stage, form)

    try:
        funnel.move_to_stage(
            opportunity,
            to_stage,
            by=current_user,
            expected_version=version,
            tz=g.tz,
            lost_reason=form.lost_reason.data or "",
            won_amount=form.won_amount.data,
            won_on=form.won_on.data,
            cancel_open_activities=form.open_activities.data != "keep",
            checklist_confirmed=bool(form.checklist_confirmed.data),
            now=datetime.now(UTC),
            stages=stage_list,
        )
        # What the answer shows besides the card (the member's rights, the team's currency,
        # the stages' headers) is as this request read it: not read again after the commit.
        commit_keeping(db.session, current_user._get_current_object(), g.team, *stage_list)
    except funnel.MoveRefused as refused:
        db.session.rollback()
        field = getattr(form, refused.field or "lost_reason")
        field.errors = [*field.errors, str(refused)]
        return _prompt(form.prompt.data or "lost", opportunity, to_stage, form)
    except (funnel.ChangedMeanwhile, StaleDataError):
        return _changed_meanwhile(opportunity_id)
    return _moved(opportunity_id, {from_stage.id, to_stage.id}, stage_list=stage_list)


def _schedule_next_step(form: MoveForm, opportunity: Opportunity) -> bool:
    """Schedule the next step the move's question asked for; False, with the messages next
    to the fields, when services.activities refuses it."""
    try:
        activities.schedule_next_step(
            opportunity,
            type_id=form.step_type_id.data,
            subject=form.step_subject.data or "",
            due_on=form.step_date.data,
            start=form.step_start.data,
            end=form.step_end.data,
            by=current_user,
            tz=g.tz,
            today=_today(),
        )
    except activities.InvalidActivity as refused:
        for name, message in refused.errors.items():
            form[MoveForm.STEP_FIELDS[name]].errors = [message]
        return False
    return True


@bp.route("/opportunities/new", methods=["GET", "POST"])
def new() -> str | tuple[str, dict[str, str]]:
    # Prefixed: its fields must not read as the board's filters sent along with it.
    form = NewOpportunityForm(prefix="new")
    if not may("opportunity.reassign"):
        # A rep's new opportunity is their own; a manager gives one to whomever they choose.
        form.account_manager_id.set_choices([current_user], none=False)
    if request.method == "GET":
        form.account_manager_id.data = current_user.id
        return render_template("board/_new.html", form=form)
    if not form.validate():
        return render_template("board/_new.html", form=form)
    opportunity = create_opportunity(
        name=form.name.data,
        by=current_user,
        company_name=form.company_name.data or "",
        contact_name=form.contact_name.data or "",
        type_id=form.type_id.data or None,
        revenue=form.revenue.data or ZERO,
        expected_close_on=form.expected_close_on.data,
        rating=form.rating.data,
        account_manager_id=form.account_manager_id.data,
        campaign_id=form.campaign_id.data or None,
        tz=g.tz,
    )
    db.session.commit()
    return _created(opportunity)


def _created(opportunity: Opportunity) -> tuple[str, dict[str, str]]:
    """The new card at the top of its column (Prospect), and that column's header; the
    focus goes to the new card."""
    the_card = _the_card(opportunity.id)
    html = render_template(
        "board/_created.html",
        card=the_card,
        headers=_headers(reference.stages(), {opportunity.stage_id}),
    )
    say = f"Added {the_card.name} to {the_card.stage_name}"
    return html, announce(say=say, focus=_title(opportunity.id))


@bp.get("/opportunities/new/cancel")
def new_cancelled() -> str:
    """Cancel the in-place form: its slot empties."""
    return ""
