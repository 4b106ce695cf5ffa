"""Setup → Webhooks (admins): subscribe URLs to events, see a webhook's secret and delivery
log, send it a test event. The rules are in services/webhooks.py."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import WebhookSubscription
from crmlite.services import webhooks
from crmlite.web import get_or_404
from crmlite.web.sessions import ask_for_fresh_password
from crmlite.web.webhooks_forms import WebhookForm

bp = Blueprint("webhooks", __name__, url_prefix="/setup/webhooks")


@bp.before_request
def confirm_password_before_changes() -> Response | None:
    """As in Setup: a webhook sends the team's data out; its secret signs for crmlite."""
    if request.method in ("GET", "HEAD") and request.endpoint == "webhooks.index":
        return None
    return ask_for_fresh_password()


def _values(form: WebhookForm) -> webhooks.SubscriptionValues:
    return webhooks.SubscriptionValues(
        url=form.url.data or "",
        events=tuple(form.events.data or ()),
        description=form.description.data or "",
        active=bool(form.active.data),
        allow_private=bool(form.allow_private.data),
    )


def _refused(form: WebhookForm, refused: webhooks.WebhookRefused) -> None:
    db.session.rollback()
    field = getattr(form, refused.field)
    field.errors = [*field.errors, str(refused)]


def _index(form: WebhookForm, status: int = 200) -> tuple[str, int]:
    found = webhooks.subscriptions()
    return render_template(
        "webhooks/index.html",
        form=form,
        subscriptions=found,
        counts=webhooks.status_counts(s.id for s in found),
        event_types=webhooks.EVENT_TYPES,
    ), status


@bp.get("/")
def index() -> tuple[str, int]:
    return _index(WebhookForm(formdata=None))


@bp.post("/")
def create() -> tuple[str, int] | Response:
    form = WebhookForm()
    if not form.validate():
        return _index(form)
    try:
        subscription = webhooks.save_subscription(None, _values(form), by=current_user)
    except webhooks.WebhookRefused as refused:
        _refused(form, refused)
        return _index(form)
    db.session.commit()
    flash("Webhook added. Give its signing secret to the receiver.", "success")
    return redirect(url_for("webhooks.detail", webhook_id=subscription.id), 303)


def _detail(subscription: WebhookSubscription, form: WebhookForm) -> str:
    return render_template(
        "webhooks/detail.html",
        subscription=subscription,
        form=form,
        log=webhooks.attempts_of(subscription.id),
        waiting=webhooks.waiting_of(subscription.id),
        event_types=webhooks.EVENT_TYPES,
    )


@bp.get("/<int:webhook_id>")
def detail(webhook_id: int) -> str:
    subscription = get_or_404(WebhookSubscription, webhook_id)
    form = WebhookForm(formdata=None, obj=subscription, events=subscription.event_names)
    return _detail(subscription, form)


@bp.post("/<int:webhook_id>")
def update(webhook_id: int) -> str | Response:
    subscription = get_or_404(WebhookSubscription, webhook_id)
    form = WebhookForm()
    if not form.validate():
        return _detail(subscription, form)
    try:
        webhooks.save_subscription(subscription, _values(form), by=current_user)
    except webhooks.WebhookRefused as refused:
        _refused(form, refused)
        return _detail(subscription, form)
    db.session.commit()
    flash("Webhook saved.", "success")
    return redirect(url_for("webhooks.detail", webhook_id=subscription.id), 303)


@bp.post("/<int:webhook_id>/test")
def send_test(webhook_id: int) -> Response:
    """Queue a ``webhook.test`` event; the worker delivers it like any other."""
    subscription = get_or_404(WebhookSubscription, webhook_id)
    webhooks.send_test(subscription, by=current_user, now=utcnow())
    db.session.commit()
    flash("Test event queued: the worker sends it within seconds; see the log below.", "success")
    return redirect(url_for("webhooks.detail", webhook_id=subscription.id), 303)


@bp.post("/<int:webhook_id>/delete")
def delete(webhook_id: int) -> Response:
    subscription = get_or_404(WebhookSubscription, webhook_id)
    webhooks.delete_subscription(subscription, by=current_user)
    db.session.commit()
    flash("Webhook deleted.", "success")
    return redirect(url_for("webhooks.index"), 303)
