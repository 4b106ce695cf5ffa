"""Documents on an opportunity (its Documents section): upload, list, download, delete.

A download is always an attachment of the content type its content was found to be, with
``nosniff`` and a sandboxing policy: a document is never shown inline from the app's
origin, so an uploaded file cannot run as a page of crmlite. It is streamed through the app
from the folder or the bucket (``services/document_storage.py``), never a link to the bucket."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from crmlite.extensions import db
from crmlite.models import Opportunity
from crmlite.services import document_storage, documents
from crmlite.services.team import get_team
from crmlite.web import get_or_404, is_htmx, may, require
from crmlite.web.documents_forms import DocumentForm
from crmlite.web.opportunities import _load, _render_page

bp = Blueprint("documents", __name__, url_prefix="/opportunities")

# The multipart framing around the file.
FRAMING_BYTES = 64 * 1024


STORAGE_SETTINGS = (
    "DOCUMENT_DIR",
    "DOCUMENT_S3_BUCKET",
    "DOCUMENT_S3_ENDPOINT_URL",
    "DOCUMENT_S3_REGION",
    "DOCUMENT_S3_PREFIX",
)


def _storage() -> document_storage.Storage:
    """The app's documents store, made once per setting (a boto3 client is slow to make)."""
    settings = tuple(current_app.config.get(name) for name in STORAGE_SETTINGS)
    made: dict[tuple[Any, ...], document_storage.Storage] = current_app.extensions.setdefault(
        "document_storage", {}
    )
    if settings not in made:
        made[settings] = document_storage.storage_from(current_app.config)
    return made[settings]


def _max_bytes() -> int:
    return int(current_app.config["DOCUMENT_MAX_BYTES"])


@bp.url_value_preprocessor
def allow_large_files(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    # Before the CSRF check reads the form: the app's 4 MB limit is raised for this one
    # endpoint, to the documents' limit.
    if endpoint == "documents.upload":
        request.max_content_length = _max_bytes() + FRAMING_BYTES


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_error: RequestEntityTooLarge) -> tuple[str, int]:
    db.session.rollback()
    # Raised while the CSRF check read the form: before the sign-in guard and the team's
    # settings. Nothing of the deal is shown to someone not signed in.
    if not current_user.is_authenticated:
        return "The file is too large.", 413
    if "tz" not in g:
        g.tz = ZoneInfo(get_team().time_zone)
    opportunity = get_or_404(Opportunity, (request.view_args or {}).get("opportunity_id", 0))
    require("opportunity.read", opportunity)
    form = DocumentForm(formdata=None)
    form.document.errors = [f"The file is larger than {documents._megabytes(_max_bytes())}."]
    return _respond(opportunity, form), 200 if is_htmx() else 413


def render_section(opportunity: Opportunity, form: DocumentForm | None = None) -> str:
    can_change = may("opportunity.change", opportunity)
    return render_template(
        "opportunities/_documents.html",
        opportunity=opportunity,
        documents=documents.documents_of(opportunity.id),
        can_change=can_change,
        document_form=form or (DocumentForm(formdata=None) if can_change else None),
    )


def _respond(opportunity: Opportunity, form: DocumentForm | None = None) -> str:
    """The section for htmx; the whole page otherwise (with the form's error)."""
    if is_htmx():
        return render_section(opportunity, form)
    page_opportunity = _load(opportunity.id)  # with everything the page shows
    if form is None:
        return _render_page(page_opportunity)
    return _render_page(page_opportunity, document_form=form)


def _back(opportunity: Opportunity) -> Response:
    return redirect(
        url_for(
            "opportunities.detail", opportunity_id=opportunity.id, _anchor="opportunity-documents"
        )
    )


@bp.get("/<int:opportunity_id>/documents")
def section(opportunity_id: int) -> str:
    return render_section(get_or_404(Opportunity, opportunity_id))


@bp.post("/<int:opportunity_id>/documents")
def upload(opportunity_id: int) -> str | Response:
    opportunity = get_or_404(Opportunity, opportunity_id)
    require("opportunity.change", opportunity)
    form = DocumentForm()
    sent = form.document.data
    if not form.validate() or not sent or not sent.filename:
        form.document.errors = [*form.document.errors, "Choose a file to upload."]
        return _respond(opportunity, form)
    content = sent.read(_max_bytes() + 1)
    storage = _storage()
    try:
        document = documents.upload(
            opportunity,
            sent.filename,
            content,
            by=current_user,
            storage=storage,
            max_bytes=_max_bytes(),
        )
        key = document.storage_key
        try:
            db.session.commit()
        except Exception:
            documents.discard_file(storage, key)  # no row: no file either
            raise
    except documents.DocumentRefused as refused:
        db.session.rollback()
        form.document.errors = [str(refused)]
        return _respond(opportunity, form)
    if is_htmx():
        return render_section(opportunity)
    return _back(opportunity)


@bp.get("/<int:opportunity_id>/documents/<int:document_id>")
def download(opportunity_id: int, document_id: int) -> Response | tuple[str, int]:
    """The file as an attachment, never inline (see the module's docstring)."""
    opportunity = get_or_404(Opportunity, opportunity_id)
    document = documents.find(opportunity.id, document_id)
    if document is None:
        abort(404)
    try:
        stream = _storage().open(document.storage_key)
    except document_storage.StorageUnavailable as failed:
        message = str(failed)
        return render_template(
            "errors/error.html", code=503, title="Not available just now", message=message
        ), 503
    if stream is None:
        abort(404)
    response = send_file(
        stream,
        mimetype=document.content_type,
        as_attachment=True,
        download_name=document.filename,
        conditional=False,
        etag=False,
        max_age=0,
    )
    response.content_length = document.size
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/<int:opportunity_id>/documents/<int:document_id>/delete")
def delete(opportunity_id: int, document_id: int) -> str | Response:
    """The uploader or a manager deletes it; its file goes once the deletion is committed."""
    opportunity = get_or_404(Opportunity, opportunity_id)
    document = documents.find(opportunity.id, document_id)
    if document is None:
        abort(404)
    require("document.delete", document)
    key = documents.delete(document, by=current_user)
    db.session.commit()
    documents.discard_file(_storage(), key)
    if is_htmx():
        return render_section(opportunity)
    return _back(opportunity)
