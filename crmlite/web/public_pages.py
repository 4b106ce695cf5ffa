"""Public pages, reachable without signing in: the tracking links of campaign e-mails (open
pixel, tracked links, unsubscribe) and a campaign's web form, embeddable on the team's site.

Every address here carries a signed token (crmlite.services.tracking): a forged, tampered
or unknown one is a plain 404 that tells nothing. Security choices:

- The click redirect goes only to a URL stored with that e-mail, picked by its position;
  nothing from the request is ever a target: no open redirect.
- Unsubscribe and the web form accept POSTs without our CSRF token. Unsubscribe because
  mail programs post there themselves (RFC 8058 one-click) and the signed token in the URL
  is the secret only the recipient has. The form because it is posted from the team's
  website, which cannot have our token; it is defended by its signed campaign token, a
  honeypot field, a rate limit per client address, a 10 KB body limit and field limits,
  and it saves everything in one transaction or nothing. Once the campaign is finished,
  past its end date or the form switched off, GET and POST answer 410 "This form is
  closed" (a search engine drops a 410 page) and nothing is saved.
- The form (and only the form, its answers and its thank-you page) may be framed by any site:
  ``frame-ancestors *`` instead of ``'none'``, and no X-Frame-Options. Its pages are
  standalone (no site navigation, no session cookie, no script).

(The module is not called public.py: ``crmlite.web.public`` is the decorator.)
"""

from __future__ import annotations

import base64
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from crmlite.database import write_intent
from crmlite.extensions import csrf, db, limiter
from crmlite.models import Campaign, Contact, EmailSend
from crmlite.services import tracking
from crmlite.services.team import local_today
from crmlite.services.tracking import BadToken, ExpiredToken, FormClosed, FormUnavailable, WebLead
from crmlite.web import CONTENT_SECURITY_POLICY, public
from crmlite.web.public_pages_forms import WebForm

bp = Blueprint("public", __name__, url_prefix="/t")

# A transparent 1×1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_CACHE = {
    "Cache-Control": "no-store, no-cache, must-revalidate, max-age=0",
    "Pragma": "no-cache",
    "Expires": "0",
}
FORM_MAX_BYTES = 10 * 1024
FRAMABLE = {"public.form", "public.submit", "public.thanks"}
FRAMABLE_CSP = CONTENT_SECURITY_POLICY.replace("frame-ancestors 'none'", "frame-ancestors *")
TOO_LARGE = "Your message is too long. Shorten it to a few paragraphs and send it again."
TOO_MANY = "Too many messages were sent from your network. Wait a minute, then try again."


def _this_get_writes() -> None:
    """A GET that records something: on SQLite the request began a read-only transaction;
    end it, so the write begins IMMEDIATE and queues behind other writers like a POST."""
    write_intent.set(True)
    db.session.rollback()


def _message(title: str, message: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template("public/message.html", title=title, message=message, **context), status


@bp.errorhandler(404)
def not_found(_error: Exception) -> tuple[str, int]:
    db.session.rollback()
    return _message("Link not valid", "This link is not valid. Nothing was recorded.", 404)


@bp.after_app_request
def allow_framing_of_the_form(response: Response) -> Response:
    # Registered with the blueprint, before the app's own header guard, so it runs after it
    # (Flask runs after-request functions in reverse): it can take X-Frame-Options away.
    if request.endpoint in FRAMABLE:
        response.headers["Content-Security-Policy"] = FRAMABLE_CSP
        response.headers.pop("X-Frame-Options", None)
    return response


# ------------------------------------------------------------------------------ tracking


@bp.get("/o/<token>")
@public
def pixel(token: str) -> Response:
    """The open pixel: records an open (not when the token is expired) and is a 1×1 GIF."""
    _this_get_writes()
    try:
        send = tracking.load_send(token, tracking.OPEN)
    except ExpiredToken:
        send = None
    except BadToken:
        abort(404)
    if send is not None:
        tracking.record_open(send)
        db.session.commit()
    response = make_response(PIXEL)
    response.headers.update({"Content-Type": "image/gif", **NO_CACHE})
    return response


@bp.get("/c/<token>/<int:position>")
@public
def click(token: str, position: int) -> Any:
    """A tracked link: records the click and redirects to link n as written in the e-mail."""
    _this_get_writes()
    try:
        send = tracking.load_send(token, tracking.CLICK)
    except ExpiredToken as expired:
        link = tracking.click_target(expired.send, position)
        if link is None:
            abort(404)
        return _message(
            "This link has expired",
            "This tracked link is too old to use. If you still want to visit the page, "
            "here is where it went:",
            410,
            destination=link.url,
        )
    except BadToken:
        abort(404)
    link = tracking.click_target(send, position)
    if link is None:
        abort(404)
    tracking.record_click(send, link)
    db.session.commit()
    response = redirect(link.url, 302)
    response.headers.update(NO_CACHE)
    return response


def _unsubscribing(token: str) -> tuple[Contact, EmailSend | None]:
    """The contact (and send) a token was made for: a campaign e-mail's send token or a
    contact's token (track e-mails)."""
    try:
        send = tracking.load_send(token, tracking.UNSUBSCRIBE)
    except BadToken:
        try:
            return tracking.load_contact_token(token), None
        except BadToken:
            abort(404)
    contact = db.session.get(Contact, send.contact_id) if send.contact_id else None
    if contact is None:
        abort(404)
    return contact, send


@bp.route("/u/<token>", methods=["GET", "POST"])
@public
@csrf.exempt
def unsubscribe(token: str) -> Any:
    """GET asks to confirm; POST (the button, or a mail program's one-click POST)
    unsubscribes the contact from every e-mail, for good."""
    contact, send = _unsubscribing(token)
    context = {
        "address": tracking.masked_address(contact.email),
        "team": g.get("team_name", "us"),
    }
    if request.method == "POST":
        tracking.unsubscribe(contact, send=send)
        db.session.commit()
        return render_template("public/unsubscribed.html", **context)
    if contact.unsubscribed_at is not None:
        return render_template("public/unsubscribed.html", already=True, **context)
    return render_template("public/unsubscribe.html", token=token, **context)


# ------------------------------------------------------------------------------ web form


def _campaign(token: str) -> Campaign:
    try:
        return tracking.load_form_token(token)
    except BadToken:
        abort(404)


def _form_limit() -> str:
    return current_app.config["PUBLIC_FORM_RATE_LIMIT"]


def _form_page(token: str, form: WebForm, error: str = "", status: int = 200) -> tuple[str, int]:
    return render_template("public/form.html", token=token, form=form, error=error), status


def _closed_page() -> tuple[str, int]:
    return render_template("public/closed.html"), 410


def _is_closed(campaign: Campaign) -> bool:
    return tracking.form_closed_reason(campaign, local_today(g.tz)) is not None


@bp.get("/f/<token>")
@public
def form(token: str) -> tuple[str, int]:
    if _is_closed(_campaign(token)):
        return _closed_page()
    return _form_page(token, WebForm())


@bp.post("/f/<token>")
@public
@csrf.exempt
@limiter.limit(_form_limit, methods=["POST"])
def submit(token: str) -> Any:
    campaign = _campaign(token)
    if _is_closed(campaign):
        return _closed_page()
    if (request.content_length or 0) > FORM_MAX_BYTES:
        return _form_page(token, WebForm(), TOO_LARGE, 413)
    # A body sent without a length (chunked) is read up to the limit and no further; one
    # that reaches it is too large (Werkzeug would otherwise parse the truncated part).
    request.max_content_length = FORM_MAX_BYTES
    try:
        form = WebForm(request.form)
    except RequestEntityTooLarge:
        return _form_page(token, WebForm(), TOO_LARGE, 413)
    if request.content_length is None and getattr(request.stream, "is_exhausted", False):
        return _form_page(token, WebForm(), TOO_LARGE, 413)
    if form.website.data:
        # A bot filled the hidden field: it is told all went well, and nothing is saved.
        return redirect(url_for("public.thanks", token=token), 303)
    if not form.validate():
        return _form_page(token, form, "Please correct the fields marked below.", 400)
    lead = WebLead(
        name=form.name.data or "",
        email=form.email.data or "",
        company=form.company.data or "",
        phone=form.phone.data or "",
        message=form.message.data or "",
    )
    try:
        tracking.submit_web_form(campaign, lead, tz=g.tz)
        db.session.commit()
    except FormClosed:  # closed since the check above
        db.session.rollback()
        return _closed_page()
    except FormUnavailable:
        db.session.rollback()
        current_app.logger.error("Web form of campaign %s cannot take submissions", campaign.id)
        return _form_page(
            token,
            form,
            "Sorry, we cannot take your message right now. Please call or e-mail us instead.",
            503,
        )
    return redirect(url_for("public.thanks", token=token), 303)


@bp.get("/f/<token>/thanks")
@public
def thanks(token: str) -> str:
    _campaign(token)
    return render_template("public/thanks.html", token=token)


@bp.errorhandler(429)
def too_many(_error: Exception) -> tuple[str, int]:
    db.session.rollback()
    token = (request.view_args or {}).get("token", "")
    if request.endpoint == "public.submit":
        return _form_page(token, WebForm(), TOO_MANY, 429)
    return _message("Too many attempts", TOO_MANY, 429)
