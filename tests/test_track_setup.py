"""Setting tracks up (services.track_setup): the rules of a track and of its steps, every
problem found at once, steps placed after the others, and the tracks list's counts."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from crmlite.extensions import db
from crmlite.models import Track, TrackKind
from crmlite.services import track_setup, tracks
from crmlite.services.track_setup import SetupRefused, StepValues, TrackValues
from tests.conftest import activity_type


def kind(code: str) -> TrackKind:
    return db.session.scalars(select(TrackKind).where(TrackKind.code == code)).one()


def track(name: str) -> Track:
    return db.session.scalars(select(Track).where(Track.name == name)).one()


def test_track_rules(app) -> None:
    values = TrackValues(name="  Chamber mixer ", kind_id=kind("general_interest").id)
    created = track_setup.save_track(None, values)
    assert (created.name, created.active, created.on_complete_track_id) == (
        "Chamber mixer",
        True,
        None,
    )
    with pytest.raises(SetupRefused) as refused:
        track_setup.save_track(
            None, TrackValues(name="CHAMBER MIXER", kind_id=424242, on_complete_track_id=424242)
        )
    assert refused.value.errors == {
        "name": "Another track has this name.",
        "kind_id": "Choose the kind of track from the list.",
        "on_complete_track_id": "Choose the track to join from the list.",
    }
    loop = TrackValues(
        name="Chamber mixer", kind_id=created.kind_id, on_complete_track_id=created.id
    )
    assert track_setup.track_problems(created, loop) == {
        "on_complete_track_id": "A track cannot lead to itself on completion: it would loop."
    }
    renamed = TrackValues(
        name="Chamber mixer", kind_id=created.kind_id, on_complete_track_id=track("Lost Sale").id
    )
    assert track_setup.save_track(created, renamed).on_complete_track_id == track("Lost Sale").id


def test_step_rules_find_every_problem_at_once(app) -> None:
    show = track("After the Trade Show")
    problems = track_setup.step_problems(
        show.id, StepValues(day_offset=-1, action="activity", assignee_rule="member")
    )
    assert problems == {
        "day_offset": "The number of days must be from 0 to 3,650.",
        "activity_type_id": "Choose the kind of activity.",
        "subject": "Enter a subject.",
        "assignee_id": "Choose the member.",
    }
    assert track_setup.step_problems(show.id, StepValues(day_offset=0, action="email")) == {
        "subject": "Enter the e-mail's subject.",
        "body": "Write the e-mail.",
    }
    assert track_setup.step_problems(
        show.id, StepValues(day_offset=0, action="add_to_track", target_track_id=show.id)
    ) == {"target_track_id": "A step cannot add the contact to its own track: it would loop."}
    assert track_setup.step_problems(show.id, StepValues(day_offset=0, action="dance")) == {
        "action": "Choose what the step does."
    }


def test_steps_go_after_the_others_and_keep_only_what_their_action_needs(app, make_member) -> None:
    nick = make_member()
    show = track("After the Trade Show")
    last = max(s.position for s in track_setup.steps_of(show.id))
    step = track_setup.add_step(
        show,
        StepValues(
            day_offset=5,
            action="email",
            subject=" Thanks ",
            body="Thanks for coming.",
            activity_type_id=activity_type("SE").id,  # not an activity step: dropped
            target_track_id=track("Lost Sale").id,  # not a joining step: dropped
        ),
    )
    assert step.position == last + 1
    assert (step.subject, step.activity_type_id, step.target_track_id) == ("Thanks", None, None)
    with pytest.raises(SetupRefused):
        track_setup.save_step(step, StepValues(day_offset=5, action="email", subject="x"))
    track_setup.remove_step(step, by=nick)
    assert step.id not in {s.id for s in track_setup.steps_of(show.id)}


def test_the_tracks_list_counts_steps_and_contacts_on_them(app, make_contact) -> None:
    value_add = track("Value-Add Review")
    shane, amy = make_contact(first_name="Shane"), make_contact(first_name="Amy")
    tracks.enroll_many([shane.id, amy.id], value_add.id, starts_on=date(2026, 1, 5))
    tracks.remove(
        tracks.enroll_many([shane.id], track("Lost Sale").id, starts_on=date(2026, 1, 5))[0][0]
    )
    rows = {row.track.name: row for row in track_setup.track_rows()}
    assert rows["Value-Add Review"].running == 2
    assert rows["Lost Sale"].running == 0
    assert rows["Value-Add Review"].steps == len(track_setup.steps_of(value_add.id))
    assert {e.contact_id for e in track_setup.enrollments_on(value_add.id)} == {shane.id, amy.id}
    assert {e.track_id for e in track_setup.enrollments_of(shane.id)} == {
        value_add.id,
        track("Lost Sale").id,
    }
