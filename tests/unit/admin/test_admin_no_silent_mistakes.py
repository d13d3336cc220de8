"""The admin API refuses what would otherwise go quietly wrong: an unknown channel, a
send time in the past, a placeholder naming no field, a number where a time belongs;
and applies what it used to drop (business hours in a rules file)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from linecrm.admin.api import openapi_document
from linecrm.admin.params import summary_and_description
from linecrm.repositories.channel_registry import ChannelRegistry
from tests.unit.admin.conftest import AdminApi, assert_error
from tests.unit.conftest import CHANNEL_ID, AwsWorld

HOURS = {"time_zone": "Asia/Tokyo", "weekly": {"mon": [["10:00", "19:00"]]}}
PRICE_RULE: dict[str, Any] = {
    "rule_id": "price",
    "name": "料金",
    "match": {"kind": "keyword", "mode": "contains", "patterns": ["料金"]},
    "actions": [{"type": "reply", "messages": [{"type": "text", "text": "料金表です"}]}],
}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/tags", {"name": "vip"}),
        ("GET", "/friends", None),
        ("PUT", "/rules", {"rules": []}),
        ("POST", "/broadcasts", {"name": "x", "messages": [{"type": "text", "text": "hi"}]}),
        ("PUT", "/business-hours", HOURS),
    ],
)
def test_an_unknown_channel_answers_404_and_writes_nothing(
    api: AdminApi, aws: AwsWorld, method: str, path: str, body: Any
) -> None:
    before = aws.main_items()
    answer = api.call(method, f"/admin/channels/abc{path}", body)
    assert_error(answer, 404, "channel_id")
    assert "unknown channel 'abc'" in answer.body["message"]
    assert aws.main_items() == before
    assert aws.queued_messages() == []


def test_a_registered_channel_is_served(api: AdminApi, aws: AwsWorld) -> None:
    assert api.call("GET", "/admin/channels/1234567890/tags").status == 404
    table = aws.resources.table_names["Main"]
    ChannelRegistry(aws.client("dynamodb"), table, lambda: datetime.now(UTC)).register("1234567890")
    assert api.call("GET", "/admin/channels/1234567890/tags").status == 200
    assert api.call("GET", "/tags").status == 200  # the provisioned channel


def test_the_registry_caches_known_channels_only(aws: AwsWorld) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    dynamodb = aws.client("dynamodb")
    registry = ChannelRegistry(dynamodb, aws.resources.table_names["Main"], lambda: now[0])
    assert registry.is_known(CHANNEL_ID)
    assert not registry.is_known("nope")
    dynamodb.delete_item(
        TableName=aws.resources.table_names["Main"],
        Key={"pk": {"S": f"CH#{CHANNEL_ID}"}, "sk": {"S": "CHANNEL"}},
    )
    assert registry.is_known(CHANNEL_ID)  # cached
    now[0] += timedelta(minutes=6)
    assert not registry.is_known(CHANNEL_ID)


def test_a_send_time_in_the_past_is_refused_in_the_accounts_time_zone(api: AdminApi) -> None:
    past = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    body = {"name": "sale", "messages": [{"type": "text", "text": "hi"}], "send_at": past}
    for path in ("/broadcasts", "/broadcasts/preview"):
        answer = api.call("POST", path, body)
        assert_error(answer, 422, "send_at")
        assert "in the past" in answer.body["message"]
        assert "+09:00 (Asia/Tokyo)" in answer.body["message"]
    assert api.call("GET", "/broadcasts").body["broadcasts"] == []


def test_a_placeholder_naming_no_field_is_refused(api: AdminApi) -> None:
    api.field("rank", "text")
    typo = [{"type": "text", "text": "{display_name}さんのランクは{field.rnak}です"}]
    answer = api.call("POST", "/broadcasts", {"name": "x", "messages": typo})
    assert_error(answer, 422, "messages")
    assert "field.rnak" in answer.body["message"] and "rank" in answer.body["message"]

    rule = {**PRICE_RULE, "actions": [{"type": "reply", "messages": typo}]}
    answer = api.call("PUT", "/rules", {"rules": [rule]})
    assert_error(answer, 422, "rules.0.actions.0.messages")
    assert "field.rnak" in answer.body["message"]

    fixed = [{"type": "text", "text": "{display_name}さんのランクは{field.rank}です"}]
    rule = {**PRICE_RULE, "actions": [{"type": "reply", "messages": fixed}]}
    assert api.call("PUT", "/rules", {"rules": [rule]}).status == 200


def test_business_hours_in_a_rules_request_are_applied(api: AdminApi) -> None:
    closed_rule = {**PRICE_RULE, "business_hours": "closed"}
    dry = api.call(
        "PUT",
        "/rules",
        {"rules": [closed_rule], "business_hours": HOURS},
        query={"dry_run": "true"},
    )
    assert dry.status == 200, dry.body
    assert dry.body["business_hours_replaced"] is True
    assert api.call("GET", "/business-hours").status == 404  # a dry run stores nothing

    applied = api.call("PUT", "/rules", {"rules": [closed_rule], "business_hours": HOURS})
    assert applied.status == 200, applied.body
    assert api.call("GET", "/business-hours").body["weekly"]["mon"] == [["10:00", "19:00"]]
    assert [rule["rule_id"] for rule in api.call("GET", "/rules").body["rules"]] == ["price"]

    # Without business_hours the stored ones stay.
    assert (
        api.call("PUT", "/rules", {"rules": [PRICE_RULE]}).body["business_hours_replaced"] is False
    )
    assert api.call("GET", "/business-hours").status == 200


def test_a_number_where_a_time_belongs_names_yamls_base_60(api: AdminApi) -> None:
    answer = api.call("PUT", "/business-hours", {"weekly": {"mon": [[600, 1260]]}})
    assert_error(answer, 422)
    assert "base-60 number 600" in answer.body["message"]
    assert "10:00" in answer.body["message"]
    policy = {"quiet_hours": {"start": 1260, "end": "09:00"}}
    answer = api.call("PUT", "/delivery-policy", policy)
    assert_error(answer, 422)
    assert "21:00" in answer.body["message"]


def test_every_operation_has_a_summary_and_a_description() -> None:
    document = openapi_document()
    operations = [
        (method, path, operation)
        for path, by_method in document["paths"].items()
        for method, operation in by_method.items()
    ]
    assert len(operations) >= 40
    for method, path, operation in operations:
        summary = operation.get("summary", "")
        assert len(summary) >= 10, (method, path, summary)
        assert path not in summary and not summary.startswith(method.upper()), (method, path)
        assert len(operation.get("description", "")) >= len(summary), (method, path)
        assert "404" in operation["responses"], (method, path)  # an unknown channel
    intro = document["info"]["description"]
    for topic in ("imports", "broadcasts", "delivery policy", "delivery ledger", "unknown channel"):
        assert topic in intro, topic


def test_summaries_are_the_first_sentence_outside_parentheses() -> None:
    assert summary_and_description("Create a tag (unique: 409).\n\nMore.") == (
        "Create a tag (unique: 409)",
        "Create a tag (unique: 409).\n\nMore.",
    )
    assert summary_and_description("Delete a tag; friends keep it")[0] == "Delete a tag"


def test_broadcast_times_in_answers_are_in_the_accounts_time_zone(api: AdminApi) -> None:
    """The instant is kept; its offset is the policy's zone (+09:00, then -05:00)."""
    later = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    body = {
        "name": "sale",
        "messages": [{"type": "text", "text": "hi"}],
        "send_at": f"{later:%Y-%m-%dT%H:%M:%SZ}",
    }
    created = api.call("POST", "/broadcasts", body)
    assert created.status == 202
    assert created.body["send_at"].endswith("+09:00")
    assert datetime.fromisoformat(created.body["send_at"]) == later
    broadcast_id = created.body["broadcast_id"]
    shown = api.call("GET", f"/broadcasts/{broadcast_id}").body["broadcast"]
    assert shown["send_at"].endswith("+09:00") and shown["created_at"].endswith("+09:00")

    policy = api.call("GET", "/delivery-policy").body
    assert (
        api.call("PUT", "/delivery-policy", {**policy, "time_zone": "America/New_York"}).status
        == 200
    )
    listed = api.call("GET", "/broadcasts").body["broadcasts"][0]
    assert listed["send_at"][-6:] in {"-05:00", "-04:00"}
    assert datetime.fromisoformat(listed["send_at"]) == later
    cancelled = api.call("POST", f"/broadcasts/{broadcast_id}/cancel").body
    assert cancelled["updated_at"][-6:] in {"-05:00", "-04:00"}
