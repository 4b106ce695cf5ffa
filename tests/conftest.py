"""Fixtures: the app on SQLite (default) or PostgreSQL (TEST_DATABASE_URL), clients signed in
as a given role, factories that return callables, and a query counter."""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import select, text

from crmlite import create_app
from crmlite.config import TestConfig, normalise_database_url
from crmlite.database import QueryCounter, count_queries, write_intent
from crmlite.extensions import db, limiter
from crmlite.models import (
    Activity,
    ActivityStatus,
    ActivityType,
    Company,
    Contact,
    Member,
    Opportunity,
    OpportunityStatus,
    Role,
    SalesStage,
)
from crmlite.services import events, members
from crmlite.services.defaults import load_defaults

PASSWORD = "correct-horse-battery"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')


def database_url(tmp_dir: Path) -> str:
    """TEST_DATABASE_URL (or DATABASE_URL) when set, else a SQLite file for this run."""
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url:
        return normalise_database_url(url)
    return f"sqlite:///{tmp_dir / 'test.sqlite'}"


@pytest.fixture(scope="session", autouse=True)
def hash_each_password_once() -> Iterator[None]:
    """scrypt is slow by design (~70 ms); the suite makes hundreds of members with the same
    password, so each distinct password is hashed once per run (still scrypt, salted)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(members, "hash_password", functools.cache(members.hash_password))
        yield


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return database_url(tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="session")
def base_app(db_url: str) -> Iterator[Flask]:
    app = create_app(TestConfig(db_url))
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.drop_all()
        db.engine.dispose()


def wipe(engine_dialect: str) -> None:
    tables = [t.name for t in db.metadata.sorted_tables]
    if engine_dialect == "postgresql":
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for name in reversed(tables):
            db.session.execute(text(f"DELETE FROM {name}"))
    db.session.commit()


@pytest.fixture()
def app(base_app: Flask) -> Iterator[Flask]:
    """The app with an app context pushed and the method's defaults loaded; wiped after."""
    # The test's own session reads without taking SQLite's write lock, like a GET request,
    # so a live server thread can write meanwhile; tests of IMMEDIATE set it themselves.
    token = write_intent.set(False)
    with base_app.app_context():
        load_defaults()
        db.session.commit()
        yield base_app
        db.session.rollback()
        db.session.remove()
        wipe(db.engine.dialect.name)
    write_intent.reset(token)
    limiter.reset()


class RequestClient(FlaskClient):
    """Serves each request as production does: in its own app context, with its own database
    session, while the test keeps its own. The test's session ends its transaction around each
    request, so it neither holds a lock the request needs nor misses what the request saved."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        if not has_app_context():  # a redirect followed inside the request's own context
            return super().open(*args, **kwargs)
        db.session.rollback()
        response = contextvars.Context().run(super().open, *args, **kwargs)
        db.session.rollback()
        return response


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    app.test_client_class = RequestClient
    return app.test_client()


@pytest.fixture()
def make_app(app: Flask, db_url: str) -> Iterator[Callable[..., Flask]]:
    """``other = make_app(TRUSTED_PROXIES=1)``: another app built by ``create_app`` with these
    settings, on the suite's database (the ``app`` fixture's defaults are loaded). Each
    create_app binds the one limiter to a fresh store; it goes back to the suite's app after."""
    made: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        other = create_app(TestConfig(db_url), **overrides)
        other.test_client_class = RequestClient
        made.append(other)
        return other

    yield make
    for other in made:
        with other.app_context():
            db.engine.dispose()
    limiter.init_app(app)
    limiter.reset()


@pytest.fixture()
def queries(app: Flask) -> Callable[[], Any]:
    """``with queries() as counted: ...; counted.count``"""
    return lambda: count_queries(db.engine)


def csrf_token_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    page = client.get("/sign-in")
    token = csrf_token_from(page.get_data(as_text=True))
    return client.post("/sign-in", data={"email": email, "password": password, "csrf_token": token})


def page_token(client: FlaskClient, url: str) -> str:
    """The CSRF token of a page, as a browser would have it."""
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return csrf_token_from(response.get_data(as_text=True))


@pytest.fixture()
def make_member(app: Flask) -> Callable[..., Member]:
    counter = iter(range(1, 10_000))

    def make(
        name: str | None = None,
        role: Role = Role.REP,
        email: str | None = None,
        password: str = PASSWORD,
        **fields: Any,
    ) -> Member:
        n = next(counter)
        member = members.create_member(
            email=email or f"member{n}@example.com",
            name=name or f"Member {n}",
            password=password,
            role=role,
        )
        for key, value in fields.items():
            setattr(member, key, value)
        db.session.commit()
        return member

    return make


@pytest.fixture()
def signed_in(client: FlaskClient, make_member: Callable[..., Member]) -> Callable[..., Member]:
    """``member = signed_in(Role.ADMIN)``: a new member of that role, signed in on ``client``."""

    def sign_in_as(role: Role = Role.REP, **fields: Any) -> Member:
        member = make_member(role=role, **fields)
        response = sign_in(client, member.email)
        assert response.status_code == 302, "sign-in failed"
        return member

    return sign_in_as


def stage(name: str) -> SalesStage:
    return db.session.scalars(select(SalesStage).where(SalesStage.name == name)).one()


def status(name: str) -> OpportunityStatus:
    return db.session.scalars(select(OpportunityStatus).where(OpportunityStatus.name == name)).one()


def activity_type(code: str) -> ActivityType:
    return db.session.scalars(select(ActivityType).where(ActivityType.code == code)).one()


@pytest.fixture()
def make_company(app: Flask) -> Callable[..., Company]:
    def make(name: str = "Tows R Us", **fields: Any) -> Company:
        company = Company(name=name, **fields)
        db.session.add(company)
        db.session.commit()
        return company

    return make


@pytest.fixture()
def make_contact(app: Flask) -> Callable[..., Contact]:
    def make(first_name: str = "Shane", last_name: str = "Swanson", **fields: Any) -> Contact:
        contact = Contact(first_name=first_name, last_name=last_name, **fields)
        db.session.add(contact)
        db.session.commit()
        return contact

    return make


@pytest.fixture()
def make_opportunity(app: Flask) -> Callable[..., Opportunity]:
    def make(
        name: str = "Tows R Us - Managed Services - Complete",
        stage_name: str = "Prospect",
        revenue: str | Decimal = "1000.00",
        **fields: Any,
    ) -> Opportunity:
        the_stage = stage(stage_name)
        status_name = "Won" if the_stage.is_won else "Lost" if the_stage.is_lost else "Open"
        fields.setdefault("probability", the_stage.default_probability)
        opportunity = Opportunity(
            name=name,
            stage_id=the_stage.id,
            status_id=status(status_name).id,
            revenue=Decimal(revenue),
            **fields,
        )
        db.session.add(opportunity)
        db.session.commit()
        return opportunity

    return make


@pytest.fixture()
def make_activity(app: Flask) -> Callable[..., Activity]:
    def make(
        assigned_to: Member,
        subject: str = "Call",
        code: str = "SE",
        due_on: date | None = None,
        closed: bool = False,
        **fields: Any,
    ) -> Activity:
        the_type = activity_type(code)
        activity = Activity(
            subject=subject,
            type_id=the_type.id,
            assigned_to_id=assigned_to.id,
            due_on=due_on or date.today(),
            status=ActivityStatus.CLOSED.value if closed else ActivityStatus.OPEN.value,
            closed_at=datetime.now(UTC) - timedelta(hours=1) if closed else None,
            points_earned=the_type.points if closed else None,
            **fields,
        )
        db.session.add(activity)
        db.session.commit()
        return activity

    return make


__all__ = ["PASSWORD", "QueryCounter", "activity_type", "page_token", "sign_in", "stage", "status"]


@pytest.fixture()
def published() -> Iterator[Callable[[type[Any]], list[dict[str, Any]]]]:
    """``received = published(events.SignedIn)``: the events of that type published from now
    on, each as a dict of its fields, models by their id (read when published, while the
    publishing request's session still has them)."""
    subscribed: list[tuple[type[Any], Callable[[Any], None]]] = []

    def listen(event_type: type[Any]) -> list[dict[str, Any]]:
        received: list[dict[str, Any]] = []

        def record(event: Any) -> None:
            values = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
            received.append({k: getattr(v, "id", v) for k, v in values.items()})

        subscribed.append((event_type, record))
        events.subscribe(event_type, record)
        return received

    yield listen
    for event_type, handler in subscribed:
        events.unsubscribe(event_type, handler)
