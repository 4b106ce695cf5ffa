"""IdSelectField (web.fields): 0 is none, whether none is stored, sent or left out; an id is
read through services.parsing; anything else is refused beside the field."""

from __future__ import annotations

from types import SimpleNamespace

from werkzeug.datastructures import MultiDict
from wtforms import Form

from crmlite.web.fields import IdSelectField


class Chooser(Form):
    owner_id = IdSelectField("Owner")


def test_none_stored_sent_or_missing_is_zero() -> None:
    assert Chooser().owner_id.data == 0
    assert Chooser(obj=SimpleNamespace(owner_id=None)).owner_id.data == 0
    assert Chooser(obj=SimpleNamespace(owner_id=7)).owner_id.data == 7
    assert Chooser(MultiDict({"owner_id": ""})).owner_id.data == 0
    assert Chooser(MultiDict({"other": "1"})).owner_id.data == 0


def test_ids_are_read_and_anything_else_is_refused() -> None:
    form = Chooser(MultiDict({"owner_id": " 42 "}))
    assert form.owner_id.data == 42
    for raw in ("abc", "-3", "4.0", "²", "99999999999"):
        form = Chooser(MultiDict({"owner_id": raw}))
        assert form.owner_id.data is None, raw
        assert not form.validate()
        assert form.owner_id.errors == ["Owner: choose one from the list."], raw
