"""Admin API, saved segments: save / show / change / delete, preview, and use by
reference in broadcasts (the same evaluator: preview's reachable == the recipients)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.admin.conftest import NOW, AdminApi, assert_error, user

pytestmark = pytest.mark.usefixtures("aws")

VIP_ONLY = {"match": {"tag": "VIP"}}
MESSAGES = [{"type": "text", "text": "hi"}]


@pytest.fixture
def vip(api: AdminApi) -> str:
    return api.tag("VIP")


def save(api: AdminApi, name: str = "VIPs", definition: Any = None) -> dict[str, Any]:
    answer = api.call("POST", "/segments", {"name": name, "definition": definition or VIP_ONLY})
    assert answer.status == 201, answer.body
    body: dict[str, Any] = answer.body
    return body


def tag_friends(api: AdminApi, user_ids: list[str], tag: str = "VIP") -> None:
    answer = api.call("POST", "/friends/bulk", {"user_ids": user_ids, "add_tags": [tag]})
    assert answer.body["updated"] == len(user_ids), answer.body


def test_save_list_show_change_and_delete(api: AdminApi, vip: str) -> None:
    saved = save(api)
    segment_id = saved["segmentId"]
    assert segment_id.startswith("seg_") and saved["definition"] == VIP_ONLY
    save(api, "Another", {"match": {"status": "active"}})
    listed = api.call("GET", "/segments").body["items"]
    assert [item["name"] for item in listed] == ["Another", "VIPs"]
    assert api.call("GET", f"/segments/{segment_id}").body["name"] == "VIPs"

    changed = api.call(
        "PUT",
        f"/segments/{segment_id}",
        {
            "name": "VIP active",
            "definition": {"match": {"all": [{"tag": "VIP"}, {"status": "active"}]}},
        },
    )
    assert changed.status == 200, changed.body
    assert changed.body["createdAt"] == saved["createdAt"]
    assert api.call("GET", f"/segments/{segment_id}").body["name"] == "VIP active"

    assert api.call("DELETE", f"/segments/{segment_id}").status == 204
    assert_error(api.call("GET", f"/segments/{segment_id}"), 404)
    assert_error(api.call("DELETE", f"/segments/{segment_id}"), 404)
    assert_error(
        api.call("PUT", f"/segments/{segment_id}", {"name": "x", "definition": VIP_ONLY}), 404
    )


def test_a_definition_is_checked_against_the_channel(api: AdminApi, vip: str) -> None:
    answer = api.call("POST", "/segments", {"name": "x", "definition": {"match": {"tag": "nope"}}})
    assert_error(answer, 422, "definition.match.tag")
    assert "unknown tag 'nope'" in answer.body["message"]
    answer = api.call("POST", "/segments", {"name": "x", "definition": {"match": {"oops": 1}}})
    assert_error(answer, 422)
    reference = api.call("POST", "/segments", {"name": "x", "definition": {"segment": "seg_a"}})
    assert_error(reference, 422, "definition.segment")
    assert api.call("GET", "/segments").body["items"] == []


def test_names_are_unique(api: AdminApi, vip: str) -> None:
    save(api, "VIPs")
    assert_error(
        api.call("POST", "/segments", {"name": "vips", "definition": VIP_ONLY}), 409, "name"
    )


def test_preview_counts_samples_and_warns_under_20(api: AdminApi, vip: str) -> None:
    everyone = [user(n) for n in range(1, 31)]
    api.follow(*everyone)
    tag_friends(api, everyone[:12])
    api.friends.record_unfollow(api.channel_id, everyone[0], NOW)
    saved = save(api)

    by_id = api.call("POST", "/segments/preview", {"segmentId": saved["segmentId"]})
    assert by_id.status == 200, by_id.body
    assert by_id.body["count"] == 12 and by_id.body["reachable"] == 11
    assert [friend["userId"] for friend in by_id.body["sample"]] == everyone[:10]
    assert "too small to measure" in by_id.body["warning"]
    assert "LINE withholds stats under 20" in by_id.body["warning"]
    assert any("blocked" in warning for warning in by_id.body["warnings"])

    inline = api.call("POST", "/segments/preview", {"definition": {"match": {"status": "active"}}})
    assert inline.body["count"] == 29 and inline.body["warning"] is None

    assert_error(api.call("POST", "/segments/preview", {}), 422)
    assert_error(api.call("POST", "/segments/preview", {"segmentId": "seg_gone"}), 404)


def test_broadcasts_take_a_saved_segment_by_reference(api: AdminApi, vip: str) -> None:
    everyone = [user(n) for n in range(1, 26)]
    api.follow(*everyone)
    tag_friends(api, everyone[:7])
    api.friends.record_unfollow(api.channel_id, everyone[1], NOW)
    segment_id = save(api)["segmentId"]
    body = {"name": "sale", "messages": MESSAGES, "segment": {"segment": segment_id}}

    preview = api.call("POST", "/broadcasts/preview", body)
    assert preview.status == 200, preview.body
    segment = api.call("POST", "/segments/preview", {"segmentId": segment_id}).body
    assert preview.body["recipients"] == segment["reachable"] == 6
    assert preview.body["segment"] == segment["describe"]
    bare_id = api.call("POST", "/broadcasts/preview", {**body, "segment": segment_id})
    assert bare_id.status == 200 and bare_id.body["recipients"] == 6, bare_id.body

    api.call("DELETE", f"/segments/{segment_id}")
    refused = api.call("POST", "/broadcasts/preview", body)
    assert_error(refused, 422, "segment")
    assert f"saved segment {segment_id!r} does not exist" in refused.body["message"]
    assert_error(api.call("POST", "/broadcasts", body), 422, "segment")


def test_an_enrolment_takes_a_saved_segment_and_refuses_a_deleted_one(
    api: AdminApi, vip: str
) -> None:
    scenario = {
        "name": "manual",
        "steps": [{"id": "hi", "timing": {"after": "1d"}, "messages": MESSAGES}],
    }
    assert api.call("PUT", "/scenarios/manual", scenario).status == 200
    api.follow(user(1), user(2))
    tag_friends(api, [user(1)])
    segment_id = save(api)["segmentId"]
    started = api.call("POST", "/scenarios/manual/enroll", {"segment": segment_id})
    assert started.status == 202, started.body
    assert started.body["segment"] == {"segment": segment_id}

    api.call("DELETE", f"/segments/{segment_id}")
    refused = api.call("POST", "/scenarios/manual/enroll", {"segment": {"segment": segment_id}})
    assert_error(refused, 422, "segment.segment")
    assert "does not exist" in refused.body["message"]


def test_an_unreadable_stored_segment_is_skipped_not_fatal(api: AdminApi, vip: str) -> None:
    from linecrm.repositories.dynamo import to_item

    api.aws.client("dynamodb").put_item(
        TableName=api.aws.resources.table_names["Main"],
        Item=to_item({"pk": f"CH#{api.channel_id}", "sk": "SEGMENT#seg_bad", "definition": "{"}),
    )
    save(api)
    assert [item["name"] for item in api.call("GET", "/segments").body["items"]] == ["VIPs"]
    assert api.call("GET", "/tags").status == 200
