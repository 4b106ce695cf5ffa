"""``flask crm …`` commands: defaults, demo data, members (bench data: ``python -m bench.data``)."""

from __future__ import annotations

import signal
import threading
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import click
from flask import Flask, current_app
from sqlalchemy import func, select

from crmlite import links
from crmlite.database import analyze, utcnow
from crmlite.extensions import db
from crmlite.models import (
    CampaignEmail,
    DuplicateMode,
    ImportKind,
    MarketingList,
    Member,
    Opportunity,
    Role,
)
from crmlite.services import (
    archive,
    audit,
    backup,
    board,
    campaign_sending,
    members,
    places,
    rollups,
    worker,
)
from crmlite.services.defaults import load_defaults

crm = click.Group("crm", help="crmlite commands.")


@crm.command("init")
@click.option("--team-name", default="crmlite", show_default=True)
def init_command(team_name: str) -> None:
    """Load the method's defaults (stages, activity types, campaign types, track kinds).

    Safe to run again: it only adds what is missing."""
    load_defaults(team_name)
    db.session.commit()
    click.echo("Defaults loaded.")


@crm.command("demo")
@click.option("--if-empty", is_flag=True, help="Only when the database has no opportunity yet.")
def demo_command(if_empty: bool) -> None:
    """Load the demo team: PRODUCT.md's example records and three months of work."""
    from crmlite.demo import DEMO_PASSWORD, DemoAlreadyLoaded, load_demo

    if if_empty and db.session.scalar(select(func.count(Opportunity.id))):
        click.echo("The database already has data; demo data not loaded.")
        # The sign-ins below are only worth showing when the demo team is there.
        if members.find_by_email("nick@example.com") is None:
            return
    else:
        load_defaults()
        try:
            summary = load_demo()
        except DemoAlreadyLoaded as error:
            db.session.rollback()
            raise click.ClickException("The demo data is loaded already.") from error
        analyze(db.session)
        click.echo(summary)
    click.echo(
        f"Sign in as nick@example.com (admin), cory@example.com (manager) or "
        f"manny@example.com (rep), password {DEMO_PASSWORD}"
    )


@crm.command("rebuild-board-totals")
def rebuild_board_totals_command() -> None:
    """Recompute the board's kept column totals from the opportunities (the database keeps
    them with every change; this is for a database restored from elsewhere)."""
    board.rebuild_totals()
    db.session.commit()
    click.echo("Board totals rebuilt.")


@crm.command("rebuild-rollups")
def rebuild_rollups_command() -> None:
    """Recompute the monthly roll-ups of the closed deals from the opportunities (the
    database keeps them with every change; this is for a database restored from elsewhere,
    or to check them)."""
    rollups.rebuild()
    db.session.commit()
    click.echo("Roll-ups rebuilt.")


@crm.command("add-member")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option(
    "--role", type=click.Choice([r.value for r in Role]), default=Role.REP.value, show_default=True
)
@click.password_option()
def add_member_command(email: str, name: str, role: str, password: str) -> None:
    """Add a member who can sign in."""
    try:
        member = members.create_member(email=email, name=name, password=password, role=Role(role))
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"{member.name} <{member.email}> added as {member.role}.")


@crm.command("add-place")
@click.argument("kind", type=click.Choice(sorted(places.KINDS)))
@click.argument("name")
def add_place_command(kind: str, name: str) -> None:
    """Add a location or a business unit (as Setup does), e.g. on a fresh install."""
    try:
        place = places.create_place(places.KINDS[kind], name)
    except places.PlaceRefused as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"{places.KINDS[kind].word.capitalize()} {place.name} added.")


@crm.command("capture")
@click.argument("message_file", type=click.File("rb"), default="-")
@click.option(
    "--member",
    "member_email",
    help="Capture as this member (default: the member it was sent to, else the first admin).",
)
def capture_command(message_file: BinaryIO, member_email: str | None) -> None:
    """Capture an e-mail (a raw message, from standard input unless a file is given) as an
    activity; for a mail-server hook: ``flask crm capture < message.eml``."""
    from zoneinfo import ZoneInfo

    from crmlite.services import capture, email_reading
    from crmlite.services.team import get_team

    raw, size = email_reading.read_message(message_file)
    try:
        parsed = email_reading.parse_email(raw, size=size)
        if member_email:
            member = members.find_by_email(member_email)
            if member is None or not member.active:
                raise click.ClickException(f"No active member has the e-mail {member_email}.")
        else:
            member = capture.member_to_capture_as(parsed)
            if member is None:
                raise click.ClickException("No member to capture as: add an admin or --member.")
        tz = ZoneInfo(get_team().time_zone)
        result = capture.capture_parsed(parsed, captured_by=member, tz=tz)
    except email_reading.CaptureError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    if isinstance(result, capture.BounceReport):
        db.session.commit()
        for report_line in result.lines:
            click.echo(report_line)
        return
    line = f"as activity {result.activity.id}: {result.summary}"
    db.session.commit()
    click.echo(f"Already captured {line}" if result.already_captured else f"Captured {line}")


tracks_group = click.Group("tracks", help="Tracks: run the steps that have come due.")
crm.add_command(tracks_group)


@tracks_group.command("run")
@click.option(
    "--date",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Run (or preview) as of this day, YYYY-MM-DD, in the team's zone (default: today).",
)
@click.option(
    "--dry-run", is_flag=True, help="List the due steps and what each would do; change nothing."
)
def tracks_run_command(as_of: datetime | None, dry_run: bool) -> None:
    """Execute every track step that has come due, exactly once (for cron or a timer)."""
    from zoneinfo import ZoneInfo

    from crmlite.services import track_runner
    from crmlite.services.team import get_team, local_today

    tz = ZoneInfo(get_team().time_zone)
    today = as_of.date() if as_of else local_today(tz)
    db.session.commit()
    if dry_run:
        planned = track_runner.preview_due_steps(today, tz)
        for step in planned:
            when = f"{step.due_on:%Y-%m-%d}"
            click.echo(f"{when}  {step.contact}  {step.track}  {step.step}  →  {step.would}")
        steps = sum(1 for step in planned if step.step != track_runner.LAST_STEP)
        click.echo(f"Dry run as of {today:%Y-%m-%d}: {steps} steps due; nothing was changed.")
        return
    try:
        base = links.base_url()  # track e-mails carry unsubscribe links: settled first
    except links.PublicUrlMissing as missing:
        raise click.ClickException(f"Nothing was run. {missing}") from missing

    def show(done: int, total: int) -> None:
        click.echo(f"  {done:,} of {total:,} due steps", err=True)

    summary = track_runner.run_due_steps(today, tz, base=base, progress=show)
    click.echo(summary.line())
    for message in summary.messages:
        click.echo(f"  {message}", err=True)


audit_group = click.Group("audit", help="The audit log: delete entries past their keeping time.")
crm.add_command(audit_group)


@audit_group.command("prune")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    help="Keep this many days (default: AUDIT_RETENTION_DAYS, 730 unless set).",
)
def audit_prune_command(days: int | None) -> None:
    """Delete audit entries older than the keeping time (for cron or a timer)."""
    keep = days if days is not None else current_app.config["AUDIT_RETENTION_DAYS"]
    if keep < 1:
        raise click.ClickException("AUDIT_RETENTION_DAYS must be at least 1.")
    cutoff = audit.retention_cutoff(utcnow(), keep)
    deleted = audit.prune(cutoff)
    db.session.commit()
    click.echo(
        f"Deleted {deleted:,} audit entr{'y' if deleted == 1 else 'ies'} older than {keep:,} "
        f"days (before {cutoff:%Y-%m-%d %H:%M} UTC)."
    )


@crm.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice([k.value for k in ImportKind]), required=True)
@click.option("--mapping", "mapping_name", help="A mapping saved in the wizard (default: guessed).")
@click.option(
    "--duplicates",
    type=click.Choice([m.value for m in DuplicateMode]),
    default=DuplicateMode.SKIP.value,
    show_default=True,
    help="Companies matching by name or domain, contacts by e-mail.",
)
@click.option("--member", "member_email", help="Import as this member (default: the first admin).")
@click.option("--dry-run", is_flag=True, help="Check every row and report; store nothing.")
def import_command(
    path: Path,
    kind: str,
    mapping_name: str | None,
    duplicates: str,
    member_email: str | None,
    dry_run: bool,
) -> None:
    """Import companies, contacts, opportunities or activities from a CSV or XLSX file, as
    the import wizard does (one transaction; undoable for a week from its page); prints the
    report."""
    from zoneinfo import ZoneInfo

    from crmlite.services.imports import jobs, mapping
    from crmlite.services.imports.reading import UnreadableFile
    from crmlite.services.team import get_team

    member = _member_or_first_admin(member_email)
    try:
        job = jobs.start(path.read_bytes(), path.name, kind, by=member)
        columns = jobs.columns_of(job)
        if mapping_name:
            saved = mapping.find_mapping(kind, mapping_name)
            if saved is None:
                raise click.ClickException(f"No {kind} mapping is called {mapping_name}.")
            columns = mapping.columns_of(saved)
        jobs.set_columns(job, columns, duplicates)
    except (UnreadableFile, jobs.ImportRefused) as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    click.echo("Columns: " + ", ".join(f"{h} → {f}" for f, h in jobs.columns_of(job).items()))
    jobs.run(job, by=member, tz=ZoneInfo(get_team().time_zone))
    for problem in jobs.problems(job.id, limit=20):
        click.echo(f"row {problem.row_number}, {problem.field}: {problem.message}")
    if job.error_count > 20:
        click.echo(f"… {job.error_count - 20:,} more rows with problems.")
    if dry_run:
        db.session.rollback()
        click.echo(f"Dry run, nothing stored: {jobs.report_line(job)}.")
        return
    jobs.finish(job)
    db.session.commit()
    if jobs.is_large(job):
        analyze(db.session)
    click.echo(f"Import {job.id}: {jobs.report_line(job)}.")


def _member_or_first_admin(email: str | None) -> Member:
    if email:
        member = members.find_by_email(email)
        if member is None or not member.active:
            raise click.ClickException(f"No active member has the e-mail {email}.")
        return member
    admin = members.first_admin()
    if admin is None:
        raise click.ClickException("No admin to import as: add one or give --member.")
    return admin


@crm.command("export-archive")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def export_archive_command(path: Path) -> None:
    """Write the whole database to PATH as a portable archive (a ZIP: a CSV per table and
    manifest.json), consistent while the app runs."""
    manifest = archive.write_archive(str(path))
    rows = sum(table["rows"] for table in manifest["tables"])
    click.echo(
        f"{path}: {len(manifest['tables'])} tables, {rows:,} rows, "
        f"revision {manifest['alembic_revision']}."
    )


@crm.command("import-archive")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_archive_command(path: Path) -> None:
    """Load an archive written by export-archive into this empty database, migrated to the
    archive's revision (ids kept)."""
    try:
        counts = archive.restore_archive(str(path))
    except archive.ArchiveRefused as refused:
        db.session.rollback()
        raise click.ClickException(str(refused)) from refused
    db.session.commit()
    analyze(db.session)
    click.echo(f"Loaded {sum(counts.values()):,} rows into {len(counts)} tables from {path}.")


@crm.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(path: Path) -> None:
    """A consistent copy of the database at PATH while the app runs: SQLite's online
    backup API, or pg_dump -Fc on PostgreSQL."""
    try:
        done = backup.backup(path)
    except backup.BackupFailed as failed:
        raise click.ClickException(str(failed)) from failed
    click.echo(f"Backed up the {done.engine} database to {done.path} with {done.how}.")


@crm.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that is not empty.")
def restore_command(path: Path, force: bool) -> None:
    """Restore a backup made by `crm backup` into this database (empty unless --force):
    SQLite's backup API, or pg_restore on PostgreSQL."""
    try:
        done = backup.restore(path, force=force)
    except backup.BackupFailed as failed:
        raise click.ClickException(str(failed)) from failed
    click.echo(f"Restored the {done.engine} database from {done.path} with {done.how}.")


def register(app: Flask) -> None:
    app.cli.add_command(crm)


@crm.command("send-campaign-email")
@click.argument("email_id", type=int)
@click.option(
    "--group",
    "list_id",
    type=int,
    help="Queue this contact group's contacts. Without it, queue what is waiting (a send "
    "that was taken back, or recorded before the outbox).",
)
def send_campaign_email_command(email_id: int, list_id: int | None) -> None:
    """Queue a campaign e-mail for a contact group; the worker (``flask crm worker``) sends
    it at MAIL_RATE_PER_SECOND. Its links need PUBLIC_URL (where people reach crmlite)."""
    email = db.session.get(CampaignEmail, email_id)
    if email is None:
        raise click.ClickException(f"No campaign e-mail has the id {email_id}.")
    if list_id is not None and db.session.get(MarketingList, list_id) is None:
        raise click.ClickException(f"No contact group has the id {list_id}.")
    try:
        base = links.base_url()
    except links.PublicUrlMissing as missing:
        raise click.ClickException(str(missing)) from missing
    queued = campaign_sending.queue_for_delivery(
        email, list_id, base=base, sender=current_app.config["MAIL_FROM"]
    )
    db.session.commit()
    counts = campaign_sending.send_counts(email.id)
    click.echo(
        f"Queued {queued.queued:,} message(s) for the worker ({queued.recorded:,} contact(s) "
        f"newly recorded). Totals: {counts.waiting:,} waiting, {counts.sent:,} sent, "
        f"{counts.failed:,} failed, {counts.skipped:,} skipped."
    )


@crm.command("worker")
@click.option(
    "--once", is_flag=True, help="One round (due track steps, then the outbox), then stop."
)
@click.option(
    "--poll",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds to wait when there is nothing to send.",
)
def worker_command(once: bool, poll: float) -> None:
    """Send what the outbox holds and run due track steps, until stopped (SIGTERM, Ctrl-C).
    Several may run at once: each message and each step is taken by one of them."""
    try:
        base = links.base_url()  # track e-mails carry unsubscribe links: settled first
    except links.PublicUrlMissing as missing:
        raise click.ClickException(f"The worker did not start. {missing}") from missing
    stop = threading.Event()

    def ask_to_stop(_signum: int, _frame: object) -> None:
        click.echo("worker: stopping after this message", err=True)
        stop.set()

    previous = {s: signal.signal(s, ask_to_stop) for s in (signal.SIGTERM, signal.SIGINT)}
    settings = worker.WorkerSettings(poll_seconds=poll, base=base, once=once)
    click.echo("worker: started" + (" (one round)" if once else ""), err=True)
    try:
        worker.run(settings, stop=stop, log=lambda line: click.echo(f"worker: {line}", err=True))
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    click.echo("worker: stopped", err=True)
