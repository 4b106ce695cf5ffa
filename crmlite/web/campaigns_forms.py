"""The form of a campaign: its classification (sub-types follow the type), dates, owner,
location, money and the tracks its contacts join; and the switch of its public web form."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from crmlite.services import campaigns as service
from crmlite.services import track_setup
from crmlite.services.money import ZERO
from crmlite.services.pick_lists import active_members, locations
from crmlite.web.fields import IdSelectField, LineField, MoneyField


class CampaignForm(FlaskForm):
    type_id = IdSelectField("Type")
    sub_type_id = IdSelectField("Sub-type")
    name = LineField(
        "Name",
        validators=[Length(max=200)],
        description="Leave empty to use the proposed name.",
    )
    status = SelectField("Status", choices=[SelectChoice(s, s) for s in service.statuses()])
    starts_on = DateField("Starts", validators=[Optional()])
    ends_on = DateField("Ends", validators=[Optional()])
    owner_id = IdSelectField("Owner")
    location_id = IdSelectField("Location")
    budgeted_cost = MoneyField("Budgeted cost", default=ZERO)
    actual_cost = MoneyField("Actual cost", default=ZERO)
    expected_revenue = MoneyField("Expected revenue", default=ZERO)
    contact_track_id = IdSelectField(
        "Track for its contacts",
        description="Contacts the campaign brings in join it (none: General Interest).",
    )
    opportunity_track_id = IdSelectField(
        "Track for its opportunities",
        description="A new opportunity's contact joins it (e.g. a web-form lead); "
        "none: the track for its contacts, else General Interest.",
    )
    notes = TextAreaField("Notes", validators=[Length(max=10_000)])

    def __init__(
        self,
        *args: Any,
        keep_owner_id: int | None = None,
        keep_track_ids: tuple[int | None, ...] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # Active tracks, and the one a campaign has even if it was made inactive since.
        tracks = [
            t for t in track_setup.tracks_by_name() if t.active or t.id in set(keep_track_ids)
        ]
        self.contact_track_id.set_choices(tracks)
        self.opportunity_track_id.set_choices(tracks)
        self.type_id.set_choices(service.active_types())
        self.sub_type_id.set_choices(service.sub_types_of(self.type_id.data))
        self.owner_id.set_choices(active_members(keep_ids=(keep_owner_id,)))
        obj = kwargs.get("obj")
        self.location_id.set_choices(locations(keep_id=getattr(obj, "location_id", None)))

    def forget_other_sub_type(self) -> None:
        """When the type changes in place, a sub-type of the former type is let go."""
        if self.sub_type_id.data not in {choice.value for choice in self.sub_type_id.choices}:
            self.sub_type_id.data = 0

    def proposal(self) -> str:
        return service.proposed_name(self.type_id.data, self.sub_type_id.data, self.starts_on.data)

    def values(self) -> dict[str, Any]:
        return {
            "type_id": self.type_id.data,
            "sub_type_id": self.sub_type_id.data or None,
            "name": self.name.data or "",
            "status": self.status.data,
            "starts_on": self.starts_on.data,
            "ends_on": self.ends_on.data,
            "owner_id": self.owner_id.data or None,
            "location_id": self.location_id.data or None,
            "budgeted_cost": self.budgeted_cost.data or ZERO,
            "actual_cost": self.actual_cost.data or ZERO,
            "expected_revenue": self.expected_revenue.data or ZERO,
            "contact_track_id": self.contact_track_id.data or None,
            "opportunity_track_id": self.opportunity_track_id.data or None,
            "notes": self.notes.data or "",
        }


class WebFormSwitch(FlaskForm):
    """Switch the campaign's public web form on or off by hand (the button says which)."""

    state = SelectField(
        "Web form",
        choices=[SelectChoice("open", "open"), SelectChoice("closed", "closed")],
        validators=[InputRequired("Choose open or closed.")],
    )
