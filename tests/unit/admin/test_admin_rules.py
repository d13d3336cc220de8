"""Admin API, auto-response rules: replace as a whole, dry run with a diff, test."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.admin.conftest import AdminApi, assert_error, user

pytestmark = pytest.mark.usefixtures("aws")


def keyword_rule(
    rule_id: str, pattern: str, *, tags: list[str] | None = None, priority: int = 100
) -> dict[str, Any]:
    actions: list[dict[str, Any]] = [
        {"type": "reply", "messages": [{"type": "text", "text": f"answer {rule_id}"}]}
    ]
    if tags:
        actions.append({"type": "add_tags", "tags": tags})
    return {
        "rule_id": rule_id,
        "name": f"Rule {rule_id}",
        "priority": priority,
        "match": {"kind": "keyword", "mode": "contains", "patterns": [pattern]},
        "actions": actions,
    }


DEFAULT_RULE = {
    "rule_id": "fallback",
    "name": "Fallback",
    "match": {"kind": "default"},
    "actions": [{"type": "reply", "messages": [{"type": "text", "text": "?"}]}],
}


@pytest.fixture
def tagged(api: AdminApi) -> AdminApi:
    api.tag("VIP")
    api.tag("price-asked")
    return api


def test_rules_are_empty_at_first(api: AdminApi) -> None:
    assert api.call("GET", "/rules").body == {"rules": []}


def test_put_replaces_the_rule_set_and_reports_the_diff(tagged: AdminApi) -> None:
    api = tagged
    first = api.call(
        "PUT",
        "/rules",
        {"rules": [keyword_rule("price", "price", tags=["price-asked"]), DEFAULT_RULE]},
    )
    assert first.status == 200, first.body
    assert (first.body["added"], first.body["changed"], first.body["removed"]) == (
        ["fallback", "price"],
        [],
        [],
    )
    assert first.body["dry_run"] is False

    second = api.call(
        "PUT",
        "/rules",
        {
            "rules": [
                keyword_rule("price", "料金", tags=["price-asked"]),
                keyword_rule("vip", "vip"),
            ]
        },
    )
    body = second.body
    assert (body["added"], body["changed"], body["removed"], body["unchanged"]) == (
        ["vip"],
        ["price"],
        ["fallback"],
        0,
    )
    stored = api.call("GET", "/rules").body["rules"]
    assert sorted(rule["rule_id"] for rule in stored) == ["price", "vip"]


def test_dry_run_validates_and_diffs_without_writing(tagged: AdminApi) -> None:
    api = tagged
    api.call("PUT", "/rules", {"rules": [keyword_rule("price", "price")]})
    dry = api.call(
        "PUT",
        "/rules",
        {"rules": [keyword_rule("price", "price"), keyword_rule("vip", "vip", tags=["VIP"])]},
        query={"dry_run": "true"},
    )
    assert dry.status == 200, dry.body
    assert dry.body["dry_run"] is True
    assert (dry.body["added"], dry.body["unchanged"]) == (["vip"], 1)
    assert [rule["rule_id"] for rule in api.call("GET", "/rules").body["rules"]] == ["price"]

    invalid = api.call(
        "PUT", "/rules", {"rules": [keyword_rule("x", "x", tags=["ghost"])]}, query={"dry_run": 1}
    )
    assert_error(invalid, 422, "rules.0.actions.1.tags")


def test_rules_naming_unknown_tags_or_fields_are_422_naming_them(tagged: AdminApi) -> None:
    api = tagged
    api.field("rank", "choice", ["silver", "gold"])
    rules = [
        keyword_rule("a", "a", tags=["VIP", "ghost"]),
        {
            **keyword_rule("b", "b"),
            "actions": [
                {"type": "remove_tags", "tags": ["phantom"]},
                {"type": "set_field", "field": "rank", "value": "bronze"},
                {"type": "set_field", "field": "nickname", "value": "x"},
            ],
        },
    ]
    answer = api.call("PUT", "/rules", {"rules": rules})
    assert_error(answer, 422, "rules.0.actions.1.tags")
    for named in ("ghost", "phantom", "bronze", "nickname"):
        assert named in answer.body["message"]
    assert api.call("GET", "/rules").body == {"rules": []}


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ([keyword_rule("a", "a"), keyword_rule("a", "b")], "rules"),
        ([DEFAULT_RULE, {**DEFAULT_RULE, "rule_id": "other"}], "rules"),
        ([{**keyword_rule("a", "a"), "rule_id": "Bad Id"}], "rules.0.rule_id"),
        ([{**keyword_rule("a", "a"), "actions": []}], "rules.0.actions"),
        ([{**keyword_rule("a", "a"), "colour": "red"}], "rules.0.colour"),
        (
            [{**keyword_rule("a", "a"), "actions": [{"type": "reply_rule", "rule_id": "none"}]}],
            "rules",
        ),
    ],
)
def test_invalid_rule_sets_are_422(api: AdminApi, rules: list[Any], field: str) -> None:
    answer = api.call("PUT", "/rules", {"rules": rules})
    assert_error(answer, 422)
    assert answer.body["field"].startswith(field), answer.body


def test_a_tag_used_by_rules_cannot_be_renamed_or_deleted(tagged: AdminApi) -> None:
    api = tagged
    api.call("PUT", "/rules", {"rules": [keyword_rule("vip", "vip", tags=["VIP"])]})
    vip = next(t["tag_id"] for t in api.call("GET", "/tags").body["tags"] if t["name"] == "VIP")
    renamed = api.call("PATCH", f"/tags/{vip}", {"name": "V.I.P."})
    assert_error(renamed, 409)
    assert "vip" in renamed.body["message"]
    assert_error(api.call("DELETE", f"/tags/{vip}"), 409)
    assert api.call("PATCH", f"/tags/{vip}", {"folder_id": None}).status == 200  # moving is fine


def test_which_rule_would_answer(tagged: AdminApi) -> None:
    api = tagged
    api.call(
        "PUT",
        "/rules",
        {
            "rules": [
                keyword_rule("price", "price", tags=["price-asked"], priority=10),
                keyword_rule("vip", "vip", priority=20),
                DEFAULT_RULE,
            ]
        },
    )
    answer = api.call("POST", "/rules/test", {"text": "What is the PRICE?"})
    assert answer.status == 200, answer.body
    assert (answer.body["matched"], answer.body["rule_id"]) == (True, "price")
    assert "price" in answer.body["reason"]
    assert [action["type"] for action in answer.body["actions"]] == ["reply", "add_tags"]
    assert answer.body["trace"]

    fallback = api.call("POST", "/rules/test", {"text": "hello"})
    assert fallback.body["rule_id"] == "fallback"
    postback = api.call("POST", "/rules/test", {"postback_data": "action=buy"})
    assert postback.body["matched"] is False


def test_rule_test_as_a_friend_in_chat_mode(tagged: AdminApi) -> None:
    api = tagged
    api.call("PUT", "/rules", {"rules": [keyword_rule("price", "price")]})
    api.follow(user(1))
    api.call("PUT", f"/friends/{user(1)}/chat-mode", {"staff": "Sato"})
    answer = api.call("POST", "/rules/test", {"text": "price", "user_id": user(1)})
    assert answer.body["matched"] is False
    assert "chat mode" in answer.body["reason"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({}, 422, "body"),
        ({"text": "a", "postback_data": "b"}, 422, "body"),
        ({"text": "a", "user_id": "bob"}, 422, "user_id"),
        ({"text": "a", "at": "2025-01-01T10:00:00"}, 422, "at"),  # no time zone
        ({"text": "a", "user_id": user(404)}, 404, None),
    ],
)
def test_rule_test_errors(
    api: AdminApi, body: dict[str, Any], status: int, field: str | None
) -> None:
    assert_error(api.call("POST", "/rules/test", body), status, field)
