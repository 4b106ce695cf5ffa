"""E-mail campaigns: contact groups (create; add contacts by hand, by filter or from a CSV
of addresses; remove them), writing a campaign's e-mails and sending them to a group.
Managers and admins only (``email_campaign.manage``); everyone sees the campaign page's
e-mail figures."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from crmlite import links
from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import (
    Campaign,
    CampaignEmail,
    Contact,
    MarketingList,
    OutboxMessage,
    OutboxStatus,
    SendStatus,
)
from crmlite.services import campaign_emails as emails
from crmlite.services import campaign_sending as sending
from crmlite.services import delivery, outbox, tracking
from crmlite.services import marketing_lists as lists
from crmlite.services.campaign_emails import EmailRefused
from crmlite.services.mailer import sender_domain
from crmlite.services.marketing_lists import ListRefused
from crmlite.services.pagination import page_number
from crmlite.services.parsing import clean_line, parse_ids
from crmlite.services.team import local_today
from crmlite.web import get_or_404
from crmlite.web.email_campaigns_forms import CsvForm, EmailForm, FilterForm, GroupForm, SendForm
from crmlite.web.filters import plural

bp = Blueprint("email_campaigns", __name__, url_prefix="/marketing")

RECENT_SENDS = 200
OUTBOX_PROBLEMS = 100
# A CSV of 20,000 addresses is well under 1 MB; room for the multipart framing.
CSV_REQUEST_LIMIT = lists.MAX_CSV_BYTES + 64 * 1024


# ------------------------------------------------------------------------------ groups


@bp.get("/groups/")
def groups() -> str:
    return render_template(
        "email_campaigns/groups.html", summaries=lists.summaries(), form=GroupForm()
    )


@bp.post("/groups/")
def create_group() -> str | Response:
    form = GroupForm()
    if form.validate_on_submit():
        try:
            group = lists.create_list(
                form.name.data or "", description=form.description.data or "", by=current_user
            )
            db.session.commit()
            flash(f"Group {group.name} created. Now add its contacts.", "success")
            return redirect(url_for("email_campaigns.group", list_id=group.id))
        except ListRefused as refused:
            db.session.rollback()
            form.name.errors = [str(refused)]
    return render_template("email_campaigns/groups.html", summaries=lists.summaries(), form=form)


def _group_page(group: MarketingList, **forms: Any) -> str:
    return render_template(
        "email_campaigns/group.html",
        group=group,
        summary=lists.summary(group.id),
        members=lists.members(group.id, page_number(request.args.get("page"))),
        filter_form=forms.get("filter_form") or FilterForm(),
        csv_form=forms.get("csv_form") or CsvForm(),
        csv_result=forms.get("csv_result"),
    )


@bp.get("/groups/<int:list_id>")
def group(list_id: int) -> str:
    return _group_page(get_or_404(MarketingList, list_id))


@bp.get("/groups/<int:list_id>/search")
def search(list_id: int) -> str:
    """Contacts to add by hand: those matching the search and not in the group yet."""
    group = get_or_404(MarketingList, list_id)
    q = clean_line(request.args.get("q"))[:100]
    return render_template(
        "email_campaigns/_search_results.html",
        group=group,
        q=q,
        contacts=lists.search_contacts(group.id, q),
    )


@bp.post("/groups/<int:list_id>/contacts")
def add_contacts(list_id: int) -> Response:
    group = get_or_404(MarketingList, list_id)
    added = lists.add_contacts(group, parse_ids(request.form.getlist("contact_id")))
    db.session.commit()
    flash(f"{plural(added, 'contact')} added to {group.name}.", "success")
    return redirect(url_for("email_campaigns.group", list_id=group.id))


@bp.post("/groups/<int:list_id>/filter")
def add_by_filter(list_id: int) -> str | Response:
    group = get_or_404(MarketingList, list_id)
    form = FilterForm()
    if form.validate_on_submit():
        try:
            added = lists.add_by_filter(group, form.contact_filter())
            db.session.commit()
            flash(
                f"{plural(added.matched, 'contact')} matched; "
                f"{added.added} added to {group.name}, {added.already} were in it already.",
                "success",
            )
            return redirect(url_for("email_campaigns.group", list_id=group.id))
        except ListRefused as refused:
            db.session.rollback()
            form.industry.errors = [str(refused)]
    return _group_page(group, filter_form=form)


@bp.post("/groups/<int:list_id>/csv")
def add_from_csv(list_id: int) -> str | Response:
    group = get_or_404(MarketingList, list_id)
    if (request.content_length or 0) > CSV_REQUEST_LIMIT:
        form = CsvForm(formdata=None)
        form.csv_file.errors = ["The file is larger than 1 MB. Split it in parts."]
        return _group_page(group, csv_form=form)
    form = CsvForm()
    if form.validate_on_submit():
        upload = form.csv_file.data
        if not upload or not upload.filename:
            form.csv_file.errors = ["Choose a CSV file."]
        else:
            try:
                result = lists.add_from_csv(group, upload.read(lists.MAX_CSV_BYTES + 1))
                db.session.commit()
                return _group_page(group, csv_result=result)
            except ListRefused as refused:
                db.session.rollback()
                form.csv_file.errors = [str(refused)]
    return _group_page(group, csv_form=form)


@bp.post("/groups/<int:list_id>/contacts/<int:contact_id>/remove")
def remove_contact(list_id: int, contact_id: int) -> Response:
    group = get_or_404(MarketingList, list_id)
    contact = get_or_404(Contact, contact_id)
    if lists.remove_contact(group, contact.id, by=current_user):
        db.session.commit()
        flash(f"{contact.name} removed from {group.name}.", "success")
    return redirect(url_for("email_campaigns.group", list_id=group.id))


@bp.post("/groups/<int:list_id>/delete")
def delete_group(list_id: int) -> Response:
    group = get_or_404(MarketingList, list_id)
    name = group.name
    lists.delete_list(group, by=current_user)
    db.session.commit()
    flash(f"Group {name} deleted; its contacts are kept.", "success")
    return redirect(url_for("email_campaigns.groups"))


# ------------------------------------------------------------------------------ e-mails


def _save_email(form: EmailForm, campaign: Campaign, email: CampaignEmail | None) -> Any:
    if form.validate_on_submit():
        try:
            saved = emails.save_email(
                email,
                campaign_id=campaign.id,
                subject=form.subject.data or "",
                body_text=form.body_text.data or "",
                body_html=form.body_html.data or "",
                by=current_user,
            )
            db.session.commit()
            flash("E-mail saved.", "success")
            return redirect(url_for("email_campaigns.email", email_id=saved.id))
        except EmailRefused as refused:
            db.session.rollback()
            getattr(form, refused.field).errors = [str(refused)]
    return render_template(
        "email_campaigns/email_form.html", form=form, campaign=campaign, email=email
    )


@bp.route("/campaigns/<int:campaign_id>/emails/new", methods=["GET", "POST"])
def new_email(campaign_id: int) -> Any:
    campaign = get_or_404(Campaign, campaign_id)
    return _save_email(EmailForm(), campaign, None)


@bp.route("/emails/<int:email_id>/edit", methods=["GET", "POST"])
def edit_email(email_id: int) -> Any:
    email = get_or_404(CampaignEmail, email_id)
    campaign = get_or_404(Campaign, email.campaign_id)
    if emails.has_sends(email.id):
        flash("This e-mail has been sent, so it can no longer change.", "error")
        return redirect(url_for("email_campaigns.email", email_id=email.id))
    return _save_email(EmailForm(obj=email), campaign, email)


def _email_page(email: CampaignEmail, form: SendForm | None = None) -> str:
    campaign = get_or_404(Campaign, email.campaign_id)
    counts = sending.send_counts(email.id)
    return render_template(
        "email_campaigns/email.html",
        email=email,
        campaign=campaign,
        links=emails.links_of(email.id),
        clicks=emails.clicks_per_link(email.id),
        sends=emails.recent_sends(email.id, RECENT_SENDS),
        counts=counts,
        scheduled=sending.scheduled_for(email.id),
        preview=emails.preview(email),
        form=form or SendForm(waiting=sending.not_in_outbox(email.id)),
        statuses={s.value: s.label for s in SendStatus},
        locked=counts.total > 0,  # sent to anyone: it can no longer change
    )


@bp.get("/emails/<int:email_id>")
def email(email_id: int) -> str:
    return _email_page(get_or_404(CampaignEmail, email_id))


@bp.get("/emails/<int:email_id>/progress")
def send_progress(email_id: int) -> str:
    """The send's figures, for the page to refresh while messages wait (htmx polls it)."""
    email = get_or_404(CampaignEmail, email_id)
    return render_template(
        "email_campaigns/_send_progress.html",
        email=email,
        counts=sending.send_counts(email.id),
        scheduled=sending.scheduled_for(email.id),
    )


@bp.get("/emails/<int:email_id>/preview")
def preview(email_id: int) -> Response:
    """The HTML body as the sample contact reads it, for the e-mail page's sandboxed frame:
    no script runs in it, and only our own pages may frame it."""
    email = get_or_404(CampaignEmail, email_id)
    response = current_app.make_response(emails.preview(email).html)
    response.headers["Content-Security-Policy"] = (
        "sandbox; default-src 'none'; img-src https: data:; style-src 'unsafe-inline'; "
        "frame-ancestors 'self'"
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.post("/emails/<int:email_id>/send")
def send(email_id: int) -> str | Response | tuple[str, int]:
    """Queue the e-mail for a group, now or from a later moment, and return at once: the
    worker sends it, and the page shows its progress. Pressed twice, it queues once."""
    email = get_or_404(CampaignEmail, email_id)
    form = SendForm(waiting=sending.not_in_outbox(email.id))
    starts_at = form.starts_at(g.tz, utcnow()) if form.validate_on_submit() else None
    if form.errors or form.send_on.errors or form.send_at.errors:
        return _email_page(email, form), 422
    group = db.session.get(MarketingList, form.list_id.data) if form.list_id.data else None
    if form.list_id.data and group is None:
        form.list_id.errors = [form.list_id.refusal]
        return _email_page(email, form), 422
    queued = sending.queue_for_delivery(
        email,
        group.id if group else None,
        base=links.base_url(),
        sender=current_app.config["MAIL_FROM"],
        not_before=starts_at,
    )
    db.session.commit()
    if not queued.queued:
        flash("Nothing new to send: everyone in that group has it already or is waiting.", "info")
    elif starts_at is not None:
        flash(
            f"{plural(queued.queued, 'e-mail')} scheduled for {starts_at:%a %Y-%m-%d %H:%M}.",
            "success",
        )
    else:
        flash(
            f"{plural(queued.queued, 'e-mail')} queued: they go out now.",
            "success",
        )
    return redirect(url_for("email_campaigns.email", email_id=email.id))


@bp.post("/emails/<int:email_id>/test")
def send_test(email_id: int) -> Response:
    """ "Send a test to me": the e-mail, as the member would read it, to their own address."""
    email = get_or_404(CampaignEmail, email_id)
    now = utcnow()
    outbox.enqueue(
        sending.test_message(email, current_user, now=now),
        domain=sender_domain(current_app.config["MAIL_FROM"]),
        now=now,
    )
    db.session.commit()
    flash(f"A test is on its way to {current_user.email}.", "success")
    return redirect(url_for("email_campaigns.email", email_id=email.id))


@bp.post("/emails/<int:email_id>/cancel")
def cancel_send(email_id: int) -> Response:
    """Take back what has not gone yet (a scheduled send, or the rest of a running one)."""
    email = get_or_404(CampaignEmail, email_id)
    taken = sending.cancel_waiting(email.id)
    db.session.commit()
    flash(
        f"{plural(taken, 'e-mail')} taken back; nobody who got it already is affected."
        if taken
        else "Nothing was waiting: it has all gone out.",
        "success" if taken else "info",
    )
    return redirect(url_for("email_campaigns.email", email_id=email.id))


@bp.post("/emails/<int:email_id>/delete")
def delete_email(email_id: int) -> Response:
    email = get_or_404(CampaignEmail, email_id)
    campaign_id = email.campaign_id
    try:
        emails.delete_email(email, by=current_user)
        db.session.commit()
        flash("E-mail deleted.", "success")
    except EmailRefused as refused:
        db.session.rollback()
        flash(str(refused), "error")
        return redirect(url_for("email_campaigns.email", email_id=email_id))
    return redirect(url_for("campaigns.detail", campaign_id=campaign_id))


def campaign_panel(campaign: Campaign) -> dict[str, Any]:
    """What the campaign page shows of its e-mails and form (for campaigns.detail)."""
    return {
        "email_figures": tracking.email_figures(campaign.id),
        "campaign_emails": sending.campaign_email_rows(campaign.id),
        "form_url": links.absolute_url("public.form", token=tracking.form_token(campaign)),
        "form_closed": tracking.form_closed_reason(campaign, local_today(g.tz)),
    }


# ------------------------------------------------------------------------------ the outbox


@bp.get("/outbox")
def outbox_page() -> str:
    """What the worker has to send, by kind and status, and the messages that failed or
    wait for a retry, with the mail server's reason."""
    return render_template(
        "email_campaigns/outbox.html",
        counts=outbox.kind_counts(),
        problems=outbox.recent_problems(OUTBOX_PROBLEMS),
        statuses=list(OutboxStatus),
    )


@bp.post("/outbox/<int:message_id>/retry")
def retry_message(message_id: int) -> Response:
    row = get_or_404(OutboxMessage, message_id)
    try:
        delivery.try_again(row, now=utcnow())
        db.session.commit()
        flash(f"The message to {row.to_address} is queued again.", "success")
    except outbox.NotFailed as refused:
        db.session.rollback()
        flash(str(refused), "error")
    return redirect(url_for("email_campaigns.outbox_page"))
