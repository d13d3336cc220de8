"""Admin API, channel catalog: tags, tag folders, custom fields, business hours."""

from __future__ import annotations

import pytest

from tests.unit.admin.conftest import AdminApi, assert_error, user

pytestmark = pytest.mark.usefixtures("aws")


# ---------------------------------------------------------------- tags
def test_tag_lifecycle(api: AdminApi) -> None:
    folder = api.call("POST", "/tag-folders", {"name": "Purchases"})
    assert folder.status == 201, folder.body
    folder_id = folder.body["folder_id"]

    vip = api.tag("VIP", folder_id)
    api.tag("trial")
    listed = api.call("GET", "/tags")
    assert [t["name"] for t in listed.body["tags"]] == ["VIP", "trial"]
    assert listed.body["folders"] == [{"folder_id": folder_id, "name": "Purchases"}]

    renamed = api.call("PATCH", f"/tags/{vip}", {"name": "VIP member"})
    assert renamed.status == 200, renamed.body
    assert renamed.body == {"tag_id": vip, "name": "VIP member", "folder_id": folder_id}
    moved = api.call("PATCH", f"/tags/{vip}", {"folder_id": None})
    assert moved.body["folder_id"] is None
    assert moved.body["name"] == "VIP member"

    assert api.call("DELETE", f"/tags/{vip}").status == 204
    assert [t["name"] for t in api.call("GET", "/tags").body["tags"]] == ["trial"]
    # The name is free again.
    assert api.call("POST", "/tags", {"name": "VIP member"}).status == 201


def test_a_deleted_tag_no_longer_shows_on_friends(api: AdminApi) -> None:
    vip = api.tag("VIP")
    api.follow(user(1))
    api.call("PATCH", f"/friends/{user(1)}", {"add_tags": ["VIP"]})
    api.call("DELETE", f"/tags/{vip}")
    assert api.call("GET", f"/friends/{user(1)}").body["tags"] == []


def test_tag_names_are_unique(api: AdminApi) -> None:
    api.tag("VIP")
    trial = api.tag("trial")
    assert_error(api.call("POST", "/tags", {"name": "VIP"}), 409, "name")
    assert_error(api.call("POST", "/tags", {"name": "  VIP "}), 409, "name")
    assert_error(api.call("PATCH", f"/tags/{trial}", {"name": "VIP"}), 409, "name")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({}, "name"),
        ({"name": "ok", "folder_id": "no-such-folder"}, "folder_id"),
        ({"name": "ok", "folder_id": "bad id!"}, "folder_id"),
        ({"name": "ok", "colour": "red"}, "colour"),
    ],
)
def test_bad_tags_are_422(api: AdminApi, body: dict[str, object], field: str) -> None:
    assert_error(api.call("POST", "/tags", body), 422, field)


def test_unknown_tags_are_404(api: AdminApi) -> None:
    assert_error(api.call("PATCH", "/tags/tag_nothere", {"name": "x"}), 404)
    assert_error(api.call("DELETE", "/tags/tag_nothere"), 404)
    vip = api.tag("VIP")
    assert_error(api.call("PATCH", f"/tags/{vip}", {}), 422, "body")


def test_a_folder_with_tags_cannot_be_deleted(api: AdminApi) -> None:
    folder_id = api.call("POST", "/tag-folders", {"name": "Campaigns"}).body["folder_id"]
    tag_id = api.tag("spring", folder_id)
    refused = api.call("DELETE", f"/tag-folders/{folder_id}")
    assert_error(refused, 409)
    assert "spring" in refused.body["message"]

    api.call("PATCH", f"/tags/{tag_id}", {"folder_id": None})
    assert api.call("DELETE", f"/tag-folders/{folder_id}").status == 204
    assert api.call("GET", "/tag-folders").body == {"folders": []}
    assert_error(api.call("DELETE", f"/tag-folders/{folder_id}"), 404)


def test_folder_names_are_unique(api: AdminApi) -> None:
    assert api.call("POST", "/tag-folders", {"name": "A"}).status == 201
    assert_error(api.call("POST", "/tag-folders", {"name": "A"}), 409, "name")
    assert_error(api.call("POST", "/tag-folders", {"name": " "}), 422, "name")


# ---------------------------------------------------------------- fields
def test_field_lifecycle(api: AdminApi) -> None:
    api.field("rank", "choice", ["silver", "gold"])
    api.field("birthday", "date")
    listed = api.call("GET", "/fields").body["fields"]
    assert [f["key"] for f in listed] == ["birthday", "rank"]
    assert listed[1]["choices"] == ["silver", "gold"]

    changed = api.call(
        "PUT",
        "/fields/rank",
        {"label": "Member rank", "type": "choice", "choices": ["silver", "gold", "platinum"]},
    )
    assert changed.status == 200, changed.body
    assert changed.body["choices"] == ["silver", "gold", "platinum"]
    created = api.call("PUT", "/fields/points", {"label": "Points", "type": "number"})
    assert created.status == 200

    assert api.call("DELETE", "/fields/birthday").status == 204
    keys = [f["key"] for f in api.call("GET", "/fields").body["fields"]]
    assert keys == ["points", "rank"]
    assert_error(api.call("DELETE", "/fields/birthday"), 404)


def test_an_existing_field_key_is_409_on_post(api: AdminApi) -> None:
    api.field("rank", "text")
    body = {"key": "rank", "label": "Rank", "type": "text"}
    assert_error(api.call("POST", "/fields", body), 409, "key")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"key": "Rank", "label": "Rank", "type": "text"}, "key"),
        ({"key": "rank", "label": "Rank", "type": "colour"}, "type"),
        ({"key": "rank", "label": "", "type": "text"}, "label"),
        ({"key": "rank", "label": "Rank", "type": "choice"}, "choices"),
        ({"key": "rank", "label": "Rank", "type": "text", "choices": ["a"]}, "choices"),
        ({"key": "rank", "label": "Rank", "type": "choice", "choices": ["a", "a"]}, "choices"),
    ],
)
def test_bad_field_definitions_are_422(api: AdminApi, body: dict[str, object], field: str) -> None:
    assert_error(api.call("POST", "/fields", body), 422, field)


def test_bad_field_key_in_the_path_is_422(api: AdminApi) -> None:
    answer = api.call("PUT", "/fields/Bad-Key", {"label": "x", "type": "text"})
    assert_error(answer, 422, "key")


# ---------------------------------------------------------------- business hours
HOURS = {
    "time_zone": "Asia/Tokyo",
    "weekly": {"mon": [["10:00", "19:00"]], "sat": [["10:00", "14:00"]]},
    "closed_dates": ["2025-01-01"],
}


def test_business_hours(api: AdminApi) -> None:
    assert_error(api.call("GET", "/business-hours"), 404)
    stored = api.call("PUT", "/business-hours", HOURS)
    assert stored.status == 200, stored.body
    shown = api.call("GET", "/business-hours")
    assert shown.body["weekly"]["mon"] == [["10:00", "19:00"]]
    assert shown.body["closed_dates"] == ["2025-01-01"]
    assert api.call("DELETE", "/business-hours").status == 204
    assert_error(api.call("GET", "/business-hours"), 404)


@pytest.mark.parametrize(
    ("hours", "field"),
    [
        ({**HOURS, "time_zone": "Mars/Olympus"}, "time_zone"),
        ({**HOURS, "weekly": {"mon": [["19:00", "10:00"]]}}, "weekly.mon"),
        ({**HOURS, "weekly": {"mon": [["25:00", "26:00"]]}}, "weekly.mon.0.0"),
        ({**HOURS, "weekly": {"funday": []}}, "weekly.funday"),
    ],
)
def test_bad_business_hours_are_422(api: AdminApi, hours: dict[str, object], field: str) -> None:
    assert_error(api.call("PUT", "/business-hours", hours), 422, field)
