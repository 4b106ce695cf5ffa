"""The import wizard (managers and admins, ``import.run``): 1 upload a CSV or Excel file;
2 map its columns (guessed from their names, or a saved mapping); 3 preview the first rows
as they will be stored, with their problems; 4 choose what duplicates do; 5 start it — the
worker runs it while the page shows its progress; 6 the report and its errors as CSV;
7 undo it within a week."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from crmlite.extensions import db
from crmlite.models import ImportJob, ImportStatus
from crmlite.services.imports import jobs, mapping
from crmlite.services.imports.reading import MAX_FILE_BYTES, UnreadableFile
from crmlite.services.parsing import parse_id
from crmlite.web import is_htmx
from crmlite.web.imports_forms import UploadForm, columns_form

bp = Blueprint("imports", __name__, url_prefix="/imports")

# The file and the multipart framing around it. The app's 4 MB limit is raised for this one
# endpoint: a 50,000-row export is 5 to 10 MB.
UPLOAD_REQUEST_LIMIT = MAX_FILE_BYTES + 64 * 1024
TOO_LARGE = f"The file is larger than {MAX_FILE_BYTES // 1024 // 1024} MB. Split it in parts."


@bp.url_value_preprocessor
def allow_large_files(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    # Before the CSRF check reads the form.
    if endpoint == "imports.upload":
        request.max_content_length = UPLOAD_REQUEST_LIMIT


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_error: RequestEntityTooLarge) -> tuple[str, int]:
    db.session.rollback()
    form = UploadForm(formdata=None)
    form.data_file.errors = [TOO_LARGE]
    return _index(form), 413


def _index(form: UploadForm) -> str:
    return render_template("imports/index.html", form=form, recent=jobs.recent_jobs())


@bp.get("/")
def index() -> str:
    return _index(UploadForm())


@bp.post("/")
def upload() -> str | Response:
    form = UploadForm()
    if form.validate_on_submit():
        upload_file = form.data_file.data
        if not upload_file or not upload_file.filename:
            form.data_file.errors = ["Choose a CSV or Excel file."]
        else:
            content = upload_file.read(MAX_FILE_BYTES + 1)
            try:
                job = jobs.start(
                    content, upload_file.filename, form.kind.data or "", by=current_user
                )
            except (UnreadableFile, jobs.ImportRefused) as refused:
                db.session.rollback()
                form.data_file.errors = [str(refused)]
            else:
                db.session.commit()
                return redirect(url_for("imports.columns", job_id=job.id))
    return _index(form)


def _job(job_id: int) -> ImportJob:
    job = jobs.load_job(job_id) if parse_id(job_id) is not None else None
    if job is None:
        abort(404)
    return job


def _to_its_page(job: ImportJob) -> Response:
    """Mapping and preview are over once an import has started: its page shows where it is."""
    flash("This import has started already: here is where it stands.", "info")
    return redirect(url_for("imports.detail", job_id=job.id))


@bp.route("/<int:job_id>/columns", methods=["GET", "POST"])
def columns(job_id: int) -> str | Response:
    """Which column feeds which field. ``?mapping=<id>`` starts from a saved mapping."""
    job = _job(job_id)
    if job.status != ImportStatus.UPLOADED:
        return _to_its_page(job)
    headers = jobs.headers_of(job)
    preset = jobs.columns_of(job)
    saved = mapping.saved_mappings(job.kind)
    chosen_id = parse_id(request.args.get("mapping"))
    chosen = next((m for m in saved if m.id == chosen_id), None)
    if chosen is not None:
        preset = mapping.only_known(job.kind, mapping.columns_of(chosen), headers)
    form = columns_form(job.kind, headers, preset, duplicates=job.duplicates)
    if form.validate_on_submit():
        try:
            jobs.set_columns(job, form.columns(), form.duplicates.data or "")
            if form.mapping_name.data:
                mapping.save_mapping(
                    job.kind, form.mapping_name.data, form.columns(), by=current_user
                )
        except (jobs.ImportRefused, mapping.MappingRefused) as refused:
            db.session.rollback()
            target = f"column_{refused.field}" if f"column_{refused.field}" in form else None
            if refused.field == "name":
                target = "mapping_name"
            form[target or "duplicates"].errors = [str(refused)]
        else:
            db.session.commit()
            return redirect(url_for("imports.preview", job_id=job.id))
    return render_template("imports/columns.html", job=job, form=form, saved=saved, chosen=chosen)


@bp.get("/<int:job_id>/preview")
def preview(job_id: int) -> str | Response:
    job = _job(job_id)
    if job.status != ImportStatus.UPLOADED:
        return _to_its_page(job)
    try:
        shown = jobs.preview(job)
    except UnreadableFile as error:
        shown = None
        flash(str(error), "error")
    return render_template("imports/preview.html", job=job, preview=shown)


@bp.post("/<int:job_id>/start")
def start(job_id: int) -> Response:
    job = _job(job_id)
    if job.status != ImportStatus.UPLOADED:
        return _to_its_page(job)
    jobs.queue(job)
    db.session.commit()
    return redirect(url_for("imports.detail", job_id=job.id))


@bp.get("/<int:job_id>")
def detail(job_id: int) -> str | Response:
    job = _job(job_id)
    if job.status == ImportStatus.UPLOADED:
        return redirect(url_for("imports.columns", job_id=job.id))
    return render_template(
        "imports/detail.html",
        job=job,
        problems=jobs.problems(job.id, limit=100),
        can_undo=jobs.can_undo(job),
        undo_until=jobs.undo_until(job),
    )


RUNNING = (ImportStatus.QUEUED, ImportStatus.RUNNING, ImportStatus.UNDO_QUEUED)


@bp.get("/<int:job_id>/progress")
def progress(job_id: int) -> str | tuple[str, int, dict[str, str]]:
    """The import's progress, polled by the page while it runs; once it has ended, the
    page reloads to show the report (its errors, the undo button)."""
    job = _job(job_id)
    html = render_template("imports/_progress.html", job=job)
    if is_htmx() and job.status not in RUNNING:
        return html, 200, {"HX-Refresh": "true"}
    return html


@bp.get("/<int:job_id>/errors.csv")
def problems_csv(job_id: int) -> Response:
    job = _job(job_id)
    return Response(
        jobs.problems_csv(job.id),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{job.id}-errors.csv"'},
    )


@bp.post("/<int:job_id>/undo")
def undo(job_id: int) -> Response:
    job = _job(job_id)
    try:
        jobs.ask_undo(job)
    except jobs.ImportRefused as refused:
        db.session.rollback()
        flash(str(refused), "error")
    else:
        db.session.commit()
        flash("The import will be undone in a moment.", "success")
    return redirect(url_for("imports.detail", job_id=job.id))
