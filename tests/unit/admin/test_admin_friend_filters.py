"""Admin API, the friends list's filters beyond tag and status: a field's value, the
inflow route, the ID link and a saved segment, combined, with the cursor paging."""

from __future__ import annotations

from typing import Any

import pytest

from linecrm.repositories.dynamo import to_item
from linecrm.repositories.friends import friend_key
from tests.unit.admin.conftest import AdminApi, assert_error, user

pytestmark = pytest.mark.usefixtures("aws")


def set_profile(api: AdminApi, user_id: str, **values: Any) -> None:
    """Attributes straight onto the friend's profile item (route, member id)."""
    names = {f"#a{i}": name for i, name in enumerate(values)}
    api.aws.client("dynamodb").update_item(
        TableName=api.aws.resources.table_names["Main"],
        Key=to_item(friend_key(api.channel_id, user_id)),
        UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(values))),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=to_item({f":v{i}": v for i, v in enumerate(values.values())}),
    )


def listed(api: AdminApi, **query: Any) -> list[str]:
    """Every page's user ids, following next_cursor."""
    seen: list[str] = []
    cursor = None
    while True:
        page = api.call("GET", "/friends", query={**query, "cursor": cursor})
        assert page.status == 200, page.body
        seen += [friend["user_id"] for friend in page.body["friends"]]
        cursor = page.body["next_cursor"]
        if cursor is None:
            return seen


@pytest.fixture
def friends(api: AdminApi) -> list[str]:
    everyone = [user(n) for n in range(1, 41)]
    api.follow(*everyone)
    api.field("rank", "text")
    api.tag("VIP")
    gold = everyone[::4]  # 10
    assert (
        api.call("POST", "/friends/bulk", {"user_ids": gold, "set_fields": {"rank": "gold"}}).body[
            "updated"
        ]
        == 10
    )
    api.call("POST", "/friends/bulk", {"user_ids": everyone[:20], "add_tags": ["VIP"]})
    for user_id in everyone[::2]:
        set_profile(api, user_id, inflow_route="qr_shop_a")
    for user_id in everyone[:5]:
        set_profile(api, user_id, member_id=f"m-{user_id[-4:]}")
    return everyone


def test_field_route_and_linked_filter_and_page(api: AdminApi, friends: list[str]) -> None:
    gold = friends[::4]
    assert listed(api, field="rank=gold", limit=3) == gold
    assert listed(api, field="rank=GOLD") == gold  # text compares case-folded, as segments
    assert listed(api, route="qr_shop_a", limit=7) == friends[::2]
    assert listed(api, linked="true") == friends[:5]
    assert len(listed(api, linked="false", limit=50)) == 35
    both = [u for u in friends[:5] if u in gold]
    assert listed(api, linked="true", field="rank=gold") == both
    # with the tag's list (gsi2) as the read
    assert listed(api, tag="VIP", route="qr_shop_a", limit=4) == friends[:20:2]


def test_a_saved_segment_filters_as_its_preview_counts(api: AdminApi, friends: list[str]) -> None:
    definition = {
        "match": {"all": [{"tag": "VIP"}, {"field": {"key": "rank", "op": "eq", "value": "gold"}}]}
    }
    saved = api.call("POST", "/segments", {"name": "gold VIPs", "definition": definition})
    segment_id = saved.body["segmentId"]
    members = listed(api, segment=segment_id, limit=2)
    assert members == [u for u in friends[:20] if u in friends[::4]]
    preview = api.call("POST", "/segments/preview", {"segmentId": segment_id}).body
    assert preview["count"] == len(members)


def test_bad_filters_are_422_on_the_parameter(api: AdminApi, friends: list[str]) -> None:
    assert_error(api.call("GET", "/friends", query={"field": "nope=1"}), 422, "field")
    assert_error(api.call("GET", "/friends", query={"field": "rank"}), 422)
    assert_error(api.call("GET", "/friends", query={"segment": "seg_gone"}), 422, "segment")
    assert_error(api.call("GET", "/friends", query={"linked": "maybe"}), 422)
