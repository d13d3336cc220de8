"""Admin API, friends: list/filter/paginate, show, change, bulk, export, delete, chat mode."""

from __future__ import annotations

import json

import pytest

from linecrm.domain.id_links import IdLink, IssuedLinkToken
from linecrm.models.send import SendRequest
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.channel_registry import ChannelRegistry
from linecrm.repositories.deliveries import DeliveryLedger
from linecrm.repositories.dynamo import to_item
from linecrm.repositories.friends import friend_pk
from linecrm.repositories.id_links import IdLinkRepository
from tests.support.lambda_support import FakeLambdaContext, load_handler
from tests.support.signing import line_event, webhook_body
from tests.unit.admin.conftest import NOW, AdminApi, assert_error, user
from tests.unit.conftest import WELCOME, AwsWorld, webhook_request

pytestmark = pytest.mark.usefixtures("aws")

ALICE = user(1)
NOBODY = user(999)


@pytest.fixture
def vip(api: AdminApi) -> str:
    return api.tag("VIP")


# ---------------------------------------------------------------- list and paginate
def test_pages_through_120_friends_filtered_by_tag_name(api: AdminApi, vip: str) -> None:
    everyone = [user(n) for n in range(1, 121)]
    api.follow(*everyone)
    tagged = everyone[::2]  # 60 of them
    answer = api.call("POST", "/friends/bulk", {"user_ids": tagged, "add_tags": ["VIP"]})
    assert answer.body["updated"] == 60

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = api.call("GET", "/friends", query={"tag": "VIP", "limit": 25, "cursor": cursor})
        assert page.status == 200, page.body
        pages += 1
        seen += [friend["user_id"] for friend in page.body["friends"]]
        assert all(f["tags"][0]["name"] == "VIP" for f in page.body["friends"])
        cursor = page.body["next_cursor"]
        if cursor is None:
            break
    assert seen == tagged  # every tagged friend once, in user id order
    assert pages == 3  # 25 + 25 + 10

    by_id = api.call("GET", "/friends", query={"tag": vip, "limit": 200})
    assert [f["user_id"] for f in by_id.body["friends"]] == tagged
    unfiltered = api.call("GET", "/friends", query={"limit": 200})
    assert len(unfiltered.body["friends"]) == 120
    assert unfiltered.body["next_cursor"] is None


def test_status_filter(api: AdminApi) -> None:
    api.follow(user(1), user(2))
    api.friends.record_unfollow(api.channel_id, user(2), NOW)
    blocked = api.call("GET", "/friends", query={"status": "blocked"})
    assert [f["user_id"] for f in blocked.body["friends"]] == [user(2)]


@pytest.mark.parametrize("cursor", ["not-a-cursor", "e30", "x" * 40])
def test_an_invalid_cursor_is_422(api: AdminApi, cursor: str) -> None:
    api.follow(ALICE)
    assert_error(api.call("GET", "/friends", query={"cursor": cursor}), 422, "cursor")


def test_a_cursor_of_another_channel_is_422(api: AdminApi) -> None:
    api.follow(user(1), user(2))
    cursor = api.call("GET", "/friends", query={"limit": 1}).body["next_cursor"]
    assert cursor
    registry = ChannelRegistry(
        api.aws.client("dynamodb"), api.aws.resources.table_names["Main"], lambda: NOW
    )
    registry.register("1650000099")
    other = api.call("GET", "/admin/channels/1650000099/friends", query={"cursor": cursor})
    assert_error(other, 422, "cursor")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"tag": "no-such-tag"}, "tag"),
        ({"status": "sleeping"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "many"}, "limit"),
    ],
)
def test_bad_list_filters_are_422_naming_the_parameter(
    api: AdminApi, query: dict[str, object], field: str
) -> None:
    assert_error(api.call("GET", "/friends", query=query), 422, field)


def test_a_malformed_channel_id_is_422(api: AdminApi) -> None:
    assert_error(api.call("GET", "/admin/channels/bad%20id/friends"), 422, "channel_id")


# ---------------------------------------------------------------- one friend
def test_get_friend(api: AdminApi, vip: str) -> None:
    api.follow(ALICE)
    api.call("PATCH", f"/friends/{ALICE}", {"add_tags": [vip]})
    answer = api.call("GET", f"/friends/{ALICE}")
    assert answer.status == 200
    assert answer.body["user_id"] == ALICE
    assert answer.body["status"] == "active"
    assert [(t["tag_id"], t["name"]) for t in answer.body["tags"]] == [(vip, "VIP")]


def test_unknown_friend_is_404_and_malformed_id_422(api: AdminApi) -> None:
    assert_error(api.call("GET", f"/friends/{NOBODY}"), 404)
    assert_error(api.call("GET", "/friends/not-a-user"), 422, "user_id")


def test_patch_adds_and_removes_tags_and_sets_typed_fields(api: AdminApi, vip: str) -> None:
    trial = api.tag("trial")
    api.field("rank", "choice", ["silver", "gold"])
    api.field("points", "number")
    api.field("birthday", "date")
    api.follow(ALICE)
    api.call("PATCH", f"/friends/{ALICE}", {"add_tags": ["trial"], "set_fields": {"points": 3}})

    answer = api.call(
        "PATCH",
        f"/friends/{ALICE}",
        {
            "add_tags": ["VIP"],
            "remove_tags": [trial],
            "set_fields": {"rank": "gold", "points": "1,200", "birthday": "1990-05-01"},
        },
    )
    assert answer.status == 200, answer.body
    assert [t["name"] for t in answer.body["tags"]] == ["VIP"]
    assert answer.body["fields"] == {"rank": "gold", "points": 1200, "birthday": "1990-05-01"}

    cleared = api.call("PATCH", f"/friends/{ALICE}", {"clear_fields": ["points"]})
    assert cleared.body["fields"] == {"rank": "gold", "birthday": "1990-05-01"}
    stored = api.friends.get(api.channel_id, ALICE)
    assert stored is not None
    assert stored.tag_ids == {vip}


@pytest.mark.parametrize(
    ("body", "field", "in_message"),
    [
        ({"add_tags": ["VIP", "ghost", "phantom"]}, "add_tags", "ghost, phantom"),
        ({"remove_tags": ["ghost"]}, "remove_tags", "ghost"),
        ({"add_tags": ["VIP"], "remove_tags": ["VIP"]}, "add_tags", "VIP"),
        ({"set_fields": {"rank": "platinum"}}, "set_fields.rank", "platinum"),
        ({"set_fields": {"points": "lots"}}, "set_fields.points", "number"),
        ({"set_fields": {"points": True}}, "set_fields.points", "True"),
        ({"set_fields": {"points": 10**40}}, "set_fields.points", "range"),
        ({"set_fields": {"points": 1e200}}, "set_fields.points", "range"),
        ({"set_fields": {"points": "1e-200"}}, "set_fields.points", "1e-200"),
        ({"set_fields": {"nickname": "x"}}, "set_fields.nickname", "nickname"),
        ({"clear_fields": ["nickname"]}, "clear_fields", "nickname"),
        ({"set_fields": {"points": 1}, "clear_fields": ["points"]}, "set_fields", "points"),
        ({}, "body", "nothing to change"),
        ({"add_tag": ["VIP"]}, "add_tag", "xtra"),
        ({"add_tags": "VIP"}, "add_tags", ""),
    ],
)
def test_bad_changes_are_422_naming_the_field_and_change_nothing(
    api: AdminApi, vip: str, body: dict[str, object], field: str, in_message: str
) -> None:
    api.field("rank", "choice", ["silver", "gold"])
    api.field("points", "number")
    api.follow(ALICE)
    answer = api.call("PATCH", f"/friends/{ALICE}", body)
    assert_error(answer, 422, field)
    assert in_message in answer.body["message"]
    stored = api.friends.get(api.channel_id, ALICE)
    assert stored is not None
    assert (stored.tags, stored.fields) == ({}, {})


@pytest.mark.parametrize("raw_body", ["{not json", "[1, 2]", '"text"'])
def test_a_body_that_is_not_a_json_object_is_422(api: AdminApi, raw_body: str) -> None:
    api.follow(ALICE)
    assert_error(api.call("PATCH", f"/friends/{ALICE}", raw_body=raw_body), 422)


def test_patch_of_an_unknown_friend_is_404(api: AdminApi, vip: str) -> None:
    assert_error(api.call("PATCH", f"/friends/{NOBODY}", {"add_tags": [vip]}), 404)
    assert api.friends.get(api.channel_id, NOBODY) is None


# ---------------------------------------------------------------- bulk
def test_bulk_reports_unknown_friends_without_failing(api: AdminApi, vip: str) -> None:
    api.follow(user(1), user(2))
    answer = api.call(
        "POST", "/friends/bulk", {"user_ids": [user(1), NOBODY, user(2)], "add_tags": ["VIP"]}
    )
    assert answer.status == 200, answer.body
    assert (answer.body["updated"], answer.body["not_found"]) == (2, 1)
    assert answer.body["results"] == [
        {"user_id": user(1), "result": "updated"},
        {"user_id": NOBODY, "result": "not_found"},
        {"user_id": user(2), "result": "updated"},
    ]
    assert api.friends.get(api.channel_id, NOBODY) is None
    for number in (1, 2):
        friend = api.friends.get(api.channel_id, user(number))
        assert friend is not None and friend.tag_ids == {vip}


@pytest.mark.parametrize(
    ("user_ids", "field"),
    [
        ([], "user_ids"),
        ([user(n) for n in range(501)], "user_ids"),
        ([user(1), user(1)], "user_ids"),
        (["bob"], "user_ids"),
    ],
)
def test_bulk_limits(api: AdminApi, vip: str, user_ids: list[str], field: str) -> None:
    answer = api.call("POST", "/friends/bulk", {"user_ids": user_ids, "add_tags": [vip]})
    assert_error(answer, 422, field)


def test_bulk_with_an_unknown_tag_changes_nobody(api: AdminApi, vip: str) -> None:
    api.follow(user(1))
    answer = api.call(
        "POST", "/friends/bulk", {"user_ids": [user(1)], "add_tags": ["VIP", "ghost"]}
    )
    assert_error(answer, 422, "add_tags")
    friend = api.friends.get(api.channel_id, user(1))
    assert friend is not None and friend.tags == {}


# ---------------------------------------------------------------- export and delete
def _add_partition_item(api: AdminApi, user_id: str, sk: str) -> None:
    item = {"pk": friend_pk(api.channel_id, user_id), "sk": sk, "note": "x", "count": 2}
    api.aws.client("dynamodb").put_item(
        TableName=api.aws.resources.table_names["Main"], Item=to_item(item)
    )


def _partition(api: AdminApi, user_id: str) -> list[dict[str, object]]:
    response = api.aws.client("dynamodb").query(
        TableName=api.aws.resources.table_names["Main"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues=to_item({":pk": friend_pk(api.channel_id, user_id)}),
    )
    items: list[dict[str, object]] = response["Items"]
    return items


def test_export_contains_the_profile_and_every_item(api: AdminApi, vip: str) -> None:
    api.follow(ALICE)
    api.call("PATCH", f"/friends/{ALICE}", {"add_tags": ["VIP"]})
    _add_partition_item(api, ALICE, "ENROLLMENT#welcome")
    answer = api.call("GET", f"/friends/{ALICE}/export")
    assert answer.status == 200, answer.body
    assert answer.body["user_id"] == ALICE
    assert answer.body["friend"]["tags"][0]["name"] == "VIP"
    items = {item["sk"]: item for item in answer.body["items"]}
    # The PATCH above is in the audit log, about Alice: her export has it (docs/staff.md).
    (audit,) = [key for key in items if "#AUDIT" in items[key]["pk"]]
    assert items.pop(audit)["method"] == "PATCH"
    activity = [sk for sk in items if sk.startswith("ACT#")]  # the tag change (timeline)
    assert len(activity) == 1 and items[activity[0]]["added_tags"] == [vip]
    assert set(items) - set(activity) == {"PROFILE", "ENROLLMENT#welcome"}
    assert items["PROFILE"]["status"] == "active"
    assert vip in items["PROFILE"]["tags"]
    assert items["ENROLLMENT#welcome"]["count"] == 2


def test_export_of_an_unknown_friend_is_404(api: AdminApi) -> None:
    assert_error(api.call("GET", f"/friends/{NOBODY}/export"), 404)


def test_delete_removes_every_item_of_the_friend(api: AdminApi) -> None:
    api.follow(ALICE, user(2))
    for number in range(30):  # more than one BatchWriteItem
        _add_partition_item(api, ALICE, f"EVENT#{number:03d}")
    assert len(_partition(api, ALICE)) == 31

    answer = api.call("DELETE", f"/friends/{ALICE}")
    assert (answer.status, answer.body) == (204, None)
    assert _partition(api, ALICE) == []
    assert_error(api.call("GET", f"/friends/{ALICE}"), 404)
    assert api.friends.get(api.channel_id, user(2)) is not None  # others untouched
    assert_error(api.call("DELETE", f"/friends/{ALICE}"), 404)


# ---------------------------------------------------------------- chat mode
def test_chat_mode_take_and_release(api: AdminApi) -> None:
    api.follow(ALICE)
    taken = api.call("PUT", f"/friends/{ALICE}/chat-mode", {"staff": "Sato"})
    assert taken.status == 200, taken.body
    assert taken.body["chat_mode"]["staff"] == "Sato"
    stored = api.friends.get(api.channel_id, ALICE)
    assert stored is not None and stored.automation_paused

    released = api.call("DELETE", f"/friends/{ALICE}/chat-mode")
    assert released.status == 200
    assert released.body["chat_mode"] is None


def test_chat_mode_errors(api: AdminApi) -> None:
    assert_error(api.call("PUT", f"/friends/{NOBODY}/chat-mode", {"staff": "Sato"}), 404)
    assert_error(api.call("DELETE", f"/friends/{NOBODY}/chat-mode"), 404)
    api.follow(ALICE)
    assert_error(api.call("PUT", f"/friends/{ALICE}/chat-mode", {"staff": "  "}), 422, "staff")
    # No name: the caller is shown (a machine caller by its IAM identity; docs/staff.md).
    taken = api.call("PUT", f"/friends/{ALICE}/chat-mode", {})
    assert taken.status == 200, taken.body
    assert taken.body["chat_mode"]["staff"] == "arn:aws:iam::123456789012:user/linecrm-cli"


# ---------------------------------------------------------------- erasure
def _every_item(api: AdminApi) -> list[dict[str, object]]:
    """Every item of every table (main and idempotency), as DynamoDB returns it."""
    dynamodb = api.aws.client("dynamodb")
    items: list[dict[str, object]] = []
    for table in api.aws.resources.table_names.values():
        items.extend(dynamodb.scan(TableName=table)["Items"])
    return items


def _queue(api: AdminApi, delivery_id: str, *recipients: str) -> None:
    request = SendRequest(
        delivery_id=delivery_id,
        channel_id=api.channel_id,
        to=list(recipients),
        messages=[{"type": "text", "text": "hi"}],
        cause="broadcast" if len(recipients) > 1 else "welcome",
    )
    ledger = DeliveryLedger(api.aws.client("dynamodb"), api.aws.resources.table_names["Main"])
    assert ledger.record_queued(request, NOW)


def test_delete_leaves_the_id_nowhere_but_a_hashed_erasure_record(
    api: AdminApi, aws: AwsWorld
) -> None:
    ChannelConfigRepository(
        aws.client("dynamodb"), aws.resources.table_names["Main"]
    ).set_welcome_messages(api.channel_id, WELCOME)
    webhook = load_handler("webhook")
    follow = line_event("follow", ALICE)
    text = line_event("message", ALICE, message={"type": "text", "id": "1", "text": "hi"})
    response = webhook.lambda_handler(
        webhook_request(webhook_body(follow, text)), FakeLambdaContext()
    )
    assert response["statusCode"] == 200, response
    api.follow(user(2))
    _queue(api, f"push:{api.channel_id}:{ALICE}", ALICE)
    _queue(api, "broadcast:b1:chunk:0", ALICE, user(2))
    # An ID link (its member index item) and a link token issued to her: items outside
    # her partition that name her.
    links = IdLinkRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])
    links.record_link_token(api.channel_id, IssuedLinkToken("T-alice", ALICE, NOW))
    links.link(api.channel_id, IdLink("M-1001", ALICE, linked_at=NOW, consented_at=NOW))
    assert sum("LINKTOKEN" in json.dumps(item) for item in _every_item(api)) == 2
    assert any(ALICE in json.dumps(item) for item in _every_item(api) if "DELIVERY" in str(item))

    exported = api.call("GET", f"/friends/{ALICE}/export")
    assert exported.status == 200, exported.body
    ledger_rows = [item for item in exported.body["items"] if item["sk"] == "DELIVERY"]
    assert {row["delivery_id"] for row in ledger_rows} >= {
        f"push:{api.channel_id}:{ALICE}",
        "broadcast:b1:chunk:0",
    }
    assert all(row["recipients"] == [ALICE] for row in ledger_rows)  # not the others

    assert api.call("DELETE", f"/friends/{ALICE}").status == 204

    left = [item for item in _every_item(api) if ALICE in json.dumps(item)]
    assert left == []
    assert not any("T-alice" in json.dumps(item) for item in _every_item(api))
    erasures = [item for item in _every_item(api) if "#ERASED#" in json.dumps(item)]
    assert len(erasures) == 1
    chunk = [item for item in _every_item(api) if "broadcast:b1:chunk:0" in json.dumps(item)]
    assert [value["S"] for value in chunk[0]["recipients"]["L"]] == [user(2)]  # type: ignore[index]
