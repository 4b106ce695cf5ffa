"""The worker: ``flask crm worker`` runs this loop next to the web server. It sends what
the outbox holds (services/delivery.py), delivers the webhooks due (services/webhooks.py),
runs the track steps that have come due (services/track_runner.py) and the imports (and
undos) waiting (services/imports/jobs.py), again and again, until it is told to stop
(SIGTERM, Ctrl-C).

Several workers may run at once (on several machines, against PostgreSQL): each message
and each step is taken by one of them only. When the mail server is down, the messages
wait in the outbox and are retried with a growing pause; nothing is lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from flask import current_app

from crmlite.extensions import db
from crmlite.services import delivery, track_runner, webhooks
from crmlite.services.imports import jobs as imports
from crmlite.services.mailer import open_mailer
from crmlite.services.team import get_team, local_today

Log = Callable[[str], None]
MAX_PAUSE = 300.0  # seconds between rounds at most, while the mail server is down


@dataclass
class WorkerSettings:
    poll_seconds: float = 5.0  # a pause when there was nothing to do
    tracks_every_seconds: float = 60.0
    base: str | None = None  # where unsubscribe links in track e-mails point
    once: bool = False  # one round, then stop (cron, tests)


@dataclass
class Round:
    delivered: delivery.Delivered = field(default_factory=delivery.Delivered)
    tracks: track_runner.RunSummary | None = None
    imports: int = 0
    webhooks: webhooks.Run = field(default_factory=webhooks.Run)


def run_round(settings: WorkerSettings, *, run_tracks: bool, log: Log | None = None) -> Round:
    """Imports waiting, track steps (when their time has come), the webhooks due, then the
    outbox."""
    done = Round()
    db.session.commit()
    tz = ZoneInfo(get_team().time_zone)
    done.imports = imports.run_queued(tz, log)
    if run_tracks:
        db.session.commit()
        done.tracks = track_runner.run_due_steps(local_today(tz), tz, base=settings.base)
    # A batch a round, so a slow receiver holds the mail up by one batch at most.
    done.webhooks = webhooks.deliver(
        limit=webhooks.BATCH, timeout=current_app.config["WEBHOOK_TIMEOUT"]
    )
    with open_mailer() as mailer:
        done.delivered = delivery.deliver(mailer, sender=current_app.config["MAIL_FROM"])
    db.session.commit()
    return done


def pause_after(stops: int, poll: float) -> float:
    """The wait before the next round: ``poll`` when there was nothing to do; growing
    (2, 4, 8 … times ``poll``, at most MAX_PAUSE) while the mail server stays down."""
    return min(poll * 2**stops, MAX_PAUSE) if stops else poll


def run(settings: WorkerSettings, *, stop: threading.Event, log: Log) -> None:
    """Rounds until ``stop`` is set; a round that fails is logged and the loop goes on."""
    last_tracks = float("-inf")
    stops = 0  # rounds in a row that the mail server stopped
    while not stop.is_set():
        now = time.monotonic()
        run_tracks = now - last_tracks >= settings.tracks_every_seconds
        try:
            done = run_round(settings, run_tracks=run_tracks, log=log)
        except Exception as error:  # the loop must outlive a bad round; it is logged
            db.session.rollback()
            log(f"round failed: {type(error).__name__}: {error}")
            done = Round()
        else:
            if run_tracks:
                last_tracks = now
            if done.tracks is not None and done.tracks.steps:
                log(f"tracks: {done.tracks.line()}")
            if done.delivered.handled:
                log(f"outbox: {done.delivered.line()}")
            if done.webhooks.handled:
                log(f"webhooks: {done.webhooks.line()}")
        if settings.once:
            return
        stops = stops + 1 if done.delivered.stopped else 0
        busy = bool(done.delivered.handled or done.imports) and not stops
        busy = busy or bool(done.webhooks.handled)
        stop.wait(0 if busy else pause_after(stops, settings.poll_seconds))
