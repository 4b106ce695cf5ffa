"""The permission model itself (``crmlite/services/permissions.py``): its decisions per role
and relation, its SQL form agreeing with its Python form, every action in use, and the
README's table generated from it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask_login import AnonymousUserMixin
from sqlalchemy import select

from crmlite.extensions import db
from crmlite.models import (
    Activity,
    Member,
    OpportunityTeamMember,
    Role,
    Track,
    TrackEnrollment,
)
from crmlite.services import permissions
from crmlite.services.permissions import allows, role_may

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- permissions:start -->", "<!-- permissions:end -->"


@pytest.fixture()
def people(make_member) -> dict[str, Member]:
    return {
        "admin": make_member(name="Nick Admin", role=Role.ADMIN),
        "manager": make_member(name="Cory Manager", role=Role.MANAGER),
        "rep": make_member(name="Manny Rep"),
        "colleague": make_member(name="Dana Colleague"),
    }


# ---------------------------------------------------------------- decisions


def test_roles_without_relations(people) -> None:
    admin, manager, rep = people["admin"], people["manager"], people["rep"]
    for action in ("team.change", "member.change"):
        assert [allows(m, action) for m in (admin, manager, rep)] == [True, False, False]
    for action in (
        "member.list",
        "quota.manage",
        "setup.points_table",
        "campaign.change",
        "email_campaign.manage",
        "track.change",
        "points.print_all",
        "dashboard.team",
        "agenda.team",
        "capture.team",
        "opportunity.reassign",
        "company.reassign",
    ):
        assert [allows(m, action) for m in (admin, manager, rep)] == [True, True, False], action
    for action in ("opportunity.read", "company.read", "contact.read", "points.team", "home.use"):
        assert all(allows(m, action) for m in (admin, manager, rep)), action


def test_nobody_signed_in_or_inactive_may_do_anything(people) -> None:
    anonymous = AnonymousUserMixin()
    gone = people["rep"]
    gone.active = False
    for action in permissions.PERMISSIONS:
        assert not allows(anonymous, action)
        assert not allows(gone, action)


def test_an_unknown_action_is_an_error_not_a_refusal(people) -> None:
    with pytest.raises(KeyError):
        allows(people["admin"], "activty.read")
    with pytest.raises(KeyError):
        permissions.route("activty.read")


def test_who_may_change_an_opportunity(people, make_opportunity) -> None:
    rep, colleague, manager = people["rep"], people["colleague"], people["manager"]
    deal = make_opportunity(account_manager_id=colleague.id)
    assert allows(colleague, "opportunity.change", deal)
    assert allows(manager, "opportunity.change", deal)
    assert not allows(rep, "opportunity.change", deal)
    assert allows(rep, "opportunity.read", deal)
    db.session.add(OpportunityTeamMember(opportunity_id=deal.id, member_id=rep.id))
    db.session.commit()
    assert allows(rep, "opportunity.change", deal)
    assert not allows(rep, "opportunity.reassign", deal)
    associate = make_opportunity(name="Associate's", sales_associate_id=rep.id)
    assert allows(rep, "opportunity.change", associate)


def test_activity_rules(people, make_activity, make_company, make_opportunity) -> None:
    rep, colleague, manager = people["rep"], people["colleague"], people["manager"]
    mine = make_activity(rep)
    theirs = make_activity(colleague)
    given = make_activity(colleague, assigned_by_id=rep.id)
    done_given = make_activity(colleague, closed=True, assigned_by_id=rep.id)
    for action in ("activity.read", "activity.change", "activity.complete", "activity.reassign"):
        assert allows(rep, action, mine), action
        assert not allows(rep, action, theirs), action
        assert allows(manager, action, theirs), action
    assert allows(rep, "activity.read", given) and allows(rep, "activity.change", given)
    assert not allows(rep, "activity.complete", given)
    assert not allows(rep, "activity.reassign", given)
    assert allows(rep, "activity.read", done_given)
    assert not allows(rep, "activity.change", done_given)
    assert not allows(rep, "activity.reopen", done_given)
    # On a deal they are on, or a company they manage: they see it, no more.
    deal = make_opportunity(account_manager_id=rep.id)
    on_deal = make_activity(colleague, opportunity_id=deal.id)
    account = make_company(name="Manny's account", account_manager_id=rep.id)
    on_account = make_activity(colleague, company_id=account.id)
    for activity in (on_deal, on_account):
        assert allows(rep, "activity.read", activity)
        assert not allows(rep, "activity.change", activity)
        assert not allows(rep, "activity.complete", activity)


def test_reopening_within_the_month_or_by_a_manager(people, make_activity) -> None:
    rep, manager = people["rep"], people["manager"]
    now = make_activity(rep, closed=True)
    now.closed_at = datetime.now(UTC)
    old = make_activity(rep, closed=True)
    old.closed_at = datetime.now(UTC) - timedelta(days=40)
    db.session.commit()
    assert allows(rep, "activity.reopen", now)
    assert not allows(rep, "activity.reopen", old)
    assert allows(manager, "activity.reopen", old)


def test_companies_contacts_and_agendas(people, make_company, make_contact) -> None:
    rep, colleague, manager = people["rep"], people["colleague"], people["manager"]
    mine = make_company(name="Mine", account_manager_id=rep.id)
    theirs = make_company(name="Theirs", account_manager_id=colleague.id)
    nobodys = make_company(name="Nobody's")
    assert [allows(rep, "company.change", c) for c in (mine, theirs, nobodys)] == [
        True,
        False,
        True,
    ]
    assert allows(manager, "company.change", theirs)
    contacts = [
        make_contact("A", company_id=mine.id),
        make_contact("B", company_id=theirs.id),
        make_contact("C", company_id=nobodys.id),
        make_contact("D"),
    ]
    assert [allows(rep, "contact.change", c) for c in contacts] == [True, False, True, True]
    assert [allows(rep, "enrollment.create", c) for c in contacts] == [True, False, True, True]
    assert allows(rep, "agenda.read", rep) and not allows(rep, "agenda.read", colleague)
    assert allows(rep, "points.read", rep) and not allows(rep, "points.read", colleague)
    assert allows(manager, "points.read", colleague)


def test_whose_enrolment(people, make_company, make_contact, make_opportunity) -> None:
    rep, colleague = people["rep"], people["colleague"]
    track = db.session.scalars(select(Track).order_by(Track.id)).first()
    assert track is not None

    def enrolment(contact_id: int, **fields: object) -> TrackEnrollment:
        row = TrackEnrollment(
            track_id=track.id, contact_id=contact_id, starts_on=datetime.now(UTC).date(), **fields
        )
        db.session.add(row)
        db.session.commit()
        return row

    theirs = make_company(name="Theirs", account_manager_id=colleague.id)
    mine = make_company(name="Mine", account_manager_id=rep.id)
    deal = make_opportunity(account_manager_id=rep.id)
    assert allows(rep, "enrollment.change", enrolment(make_contact("A").id, enrolled_by_id=rep.id))
    assert allows(rep, "enrollment.change", enrolment(make_contact("B", company_id=mine.id).id))
    assert allows(rep, "enrollment.change", enrolment(make_contact("C").id, opportunity_id=deal.id))
    other = enrolment(make_contact("D", company_id=theirs.id).id, enrolled_by_id=colleague.id)
    assert not allows(rep, "enrollment.change", other)
    assert allows(people["manager"], "enrollment.change", other)


def test_the_sql_form_lists_what_the_python_form_allows(
    people, make_activity, make_company, make_opportunity
) -> None:
    rep, colleague = people["rep"], people["colleague"]
    deal = make_opportunity(account_manager_id=colleague.id)
    db.session.add(OpportunityTeamMember(opportunity_id=deal.id, member_id=rep.id))
    account = make_company(name="Mine", account_manager_id=rep.id)
    other_deal = make_opportunity(name="Not mine", account_manager_id=colleague.id)
    activities = [
        make_activity(rep),
        make_activity(colleague),
        make_activity(colleague, assigned_by_id=rep.id),
        make_activity(colleague, opportunity_id=deal.id),
        make_activity(colleague, opportunity_id=other_deal.id),
        make_activity(colleague, company_id=account.id),
        make_activity(colleague, closed=True),
    ]
    for member in people.values():
        listed = set(
            db.session.scalars(select(Activity.id).where(permissions.visible_activities(member)))
        )
        assert listed == {a.id for a in activities if allows(member, "activity.read", a)}
    assert len(listed) < len(activities)  # the colleague does not see everything either


# ---------------------------------------------------------------- the table in use


def test_every_action_is_asked_somewhere() -> None:
    """An action no route and no view or template asks is a rule nobody enforces."""
    sources = "\n".join(
        path.read_text()
        for folder, pattern in ((ROOT / "crmlite", "**/*.py"), (ROOT / "templates", "**/*.html"))
        for path in folder.glob(pattern)
        if path.name != "permissions.py"
    )
    routed = {rule.action for rule in permissions.ROUTES.values()}
    for action in permissions.PERMISSIONS:
        asked = re.search(rf"""["']{re.escape(action)}["']""", sources) is not None
        assert action in routed or asked, f"{action} is never asked"


def test_role_may_is_whether_any_grant_names_the_role() -> None:
    assert role_may("rep", "activity.read")  # through relations
    assert not role_may("rep", "quota.manage")
    assert not role_may(None, "home.use")


def test_the_readme_table_is_the_models() -> None:
    readme = (ROOT / "README.md").read_text()
    assert START in readme and END in readme, "the README lost its permission table markers"
    table = readme.split(START, 1)[1].split(END, 1)[0].strip()
    assert table == permissions.markdown_table(), (
        "The README's permission table differs from services/permissions.py; paste this "
        "between the markers:\n\n" + permissions.markdown_table()
    )
