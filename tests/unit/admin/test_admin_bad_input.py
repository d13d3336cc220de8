"""No bad input gets a 500: limits that DynamoDB would enforce, and fuzzed requests."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linecrm.admin.api import openapi_document
from linecrm.admin.errors import InvalidInput
from linecrm.admin.services.friends import FriendsService
from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.fields import FieldCatalog
from linecrm.domain.tags import TagCatalog
from linecrm.repositories.friends import InvalidCursor
from tests.support.lambda_support import FakeLambdaContext, http_event
from tests.unit.admin.conftest import NOW, AdminApi, assert_error, user
from tests.unit.conftest import CHANNEL_ID

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
change_keys = st.sampled_from(["add_tags", "remove_tags", "set_fields", "clear_fields", "x"])
change_bodies = st.dictionaries(change_keys, json_values, max_size=4) | json_values


@pytest.mark.usefixtures("aws")
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=change_bodies)
def test_fuzzed_friend_changes_are_answered_with_a_reason(api: AdminApi, body: Any) -> None:
    api.follow(user(1))
    answer = api.call("PATCH", f"/friends/{user(1)}", raw_body=json.dumps(body))
    assert answer.status in (200, 404, 422), answer.body
    if answer.status != 200:
        assert answer.body["message"]


@pytest.mark.usefixtures("aws")
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    query=st.dictionaries(
        st.sampled_from(["tag", "status", "limit", "cursor"]), st.text(max_size=40), max_size=4
    )
)
def test_fuzzed_list_queries_are_answered_with_a_reason(
    api: AdminApi, query: dict[str, str]
) -> None:
    answer = api.call("GET", "/friends", query=query)
    assert answer.status in (200, 422), answer.body


@pytest.mark.usefixtures("aws")
def test_rules_too_large_to_store_are_422(api: AdminApi) -> None:
    # Message objects are LINE's to check; a huge one would not fit a DynamoDB item.
    contents = {"type": "box", "layout": "vertical", "contents": [{"type": "text", "text": ""}]}
    contents["contents"][0]["text"] = "あ" * 40_000  # 120 KB of UTF-8
    flex = {"type": "flex", "altText": "big", "contents": {"type": "bubble", "body": contents}}
    big = {
        "rule_id": "big",
        "name": "Big",
        "match": {"kind": "keyword", "mode": "exact", "patterns": ["big"]},
        "actions": [{"type": "reply", "messages": [flex]}],
    }
    answer = api.call("PUT", "/rules", {"rules": [big]})
    assert_error(answer, 422)
    assert "KB" in answer.body["message"]


@pytest.mark.usefixtures("aws")
def test_business_hours_too_large_to_store_are_422(api: AdminApi) -> None:
    days = [(date(2000, 1, 1) + timedelta(days=n)).isoformat() for n in range(6000)]
    answer = api.call("PUT", "/business-hours", {"closed_dates": days})
    assert_error(answer, 422, "closed_dates")


@pytest.mark.usefixtures("aws")
def test_overlong_references_are_422(api: AdminApi) -> None:
    api.follow(user(1))
    assert_error(api.call("PATCH", f"/friends/{user(1)}", {"add_tags": ["x" * 101]}), 422)
    choices = {"key": "k", "label": "K", "type": "choice", "choices": ["x" * 101]}
    assert_error(api.call("POST", "/fields", choices), 422, "choices.0")


class _RefusingFriends:
    """A friend store whose DynamoDB refuses the start key (as it does for oversized keys)."""

    def list_page(self, *args: Any, **kwargs: Any) -> Any:
        error = Exception("ValidationException")
        error.response = {"Error": {"Code": "ValidationException"}}  # type: ignore[attr-defined]
        raise error


class _EmptyConfig:
    def load(self, channel_id: str) -> ChannelConfig:
        return ChannelConfig(channel_id, TagCatalog([], []), FieldCatalog([]), [])


def test_a_cursor_that_dynamodb_refuses_is_an_invalid_cursor() -> None:
    service = FriendsService(_RefusingFriends(), _EmptyConfig(), lambda: NOW)  # type: ignore[arg-type]
    with pytest.raises(InvalidCursor):
        service.list_friends("1", cursor="abc")
    with pytest.raises(Exception, match="ValidationException"):
        service.list_friends("1")  # without a cursor it is our fault: not hidden


def test_invalid_input_carries_the_field() -> None:
    error = InvalidInput("bad", field="x")
    assert (error.status, error.field, error.message) == (422, "x", "bad")


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"\xff\xfe\x00{", "application/json", 400),  # not UTF-8
        (b"add_tags=x", "text/plain", 415),
        (b'{"add_tags": ["x"]', "application/json", 422),
    ],
)
def test_bodies_that_are_not_json_are_refused_with_a_reason(
    api: AdminApi, body: bytes, content_type: str, status: int
) -> None:
    api.follow(user(1))
    event = http_event(
        "PATCH",
        f"/admin/channels/{api.channel_id}/friends/{user(1)}",
        route="/admin/{proxy+}",
        body=body,
        headers={"content-type": content_type},
    )
    response = api.handler.lambda_handler(event, FakeLambdaContext())
    assert response["statusCode"] == status
    assert json.loads(response["body"])["message"]


@pytest.mark.usefixtures("aws")
def test_unknown_admin_paths_are_404(api: AdminApi) -> None:
    answer = api.call("GET", "/admin/nothing")
    assert (answer.status, answer.body) == (
        404,
        {"message": "no such route: GET /admin/nothing", "field": None, "errors": []},
    )
    answer = api.call("POST", f"/friends/{user(1)}/export", {})
    assert_error(answer, 404)
    assert answer.body["message"].startswith("no such route: POST /admin/channels/")


def nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


# Path parameters that pass each route's own checks (so the body is what is read).
SAMPLE_PATH_PARAMETERS = {
    "channel_id": CHANNEL_ID,
    "user_id": user(1),
    "tag_id": "t1",
    "key": "f1",
    "scenario_id": "welcome",
    "route_id": "qr_shop_a",
    "template_id": "tpl1",
    "segment_id": "seg_vip",
    "username": "sato@shop.example",
}


def json_routes() -> list[tuple[str, str]]:
    """Every admin route that reads a JSON body, from the OpenAPI document (so a route
    added later is covered too)."""
    routes = []
    for template, operations in openapi_document()["paths"].items():
        for method, operation in operations.items():
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                routes.append((method.upper(), template.format(**SAMPLE_PATH_PARAMETERS)))
    return routes


JSON_ROUTES = json_routes()


def test_the_json_routes_are_found() -> None:
    assert len(JSON_ROUTES) >= 20
    assert ("PUT", f"/admin/channels/{CHANNEL_ID}/richmenus") in JSON_ROUTES


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
def test_deeply_nested_json_is_400_with_a_reason(api: AdminApi, method: str, path: str) -> None:
    answer = api.call(method, path, raw_body=nested(1_000))

    assert_error(answer, 400, "body")
    assert "nests JSON deeper than 64 levels" in answer.body["message"]


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize("depth", [65, 100_000])
def test_json_past_the_depth_limit_is_400_at_any_depth(api: AdminApi, depth: int) -> None:
    assert_error(api.call("PUT", "/rules", raw_body=nested(depth)), 400, "body")
    assert api.call("PUT", "/rules", raw_body=nested(64)).status == 422  # deep, but readable


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize("path", ["/business-hours", "/delivery-policy"])
@pytest.mark.parametrize("zone", ["A" * 256, "Asia/" + "x" * 300, "Asia", "../../etc/passwd"])
def test_time_zones_that_are_not_iana_names_are_422_naming_the_field(
    api: AdminApi, path: str, zone: str
) -> None:
    answer = api.call("PUT", path, {"time_zone": zone})

    assert_error(answer, 422, "time_zone")


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize("bad", ["not-a-user", "U" + "A" * 32, "..%2F..%2FU" + "0" * 32])
@pytest.mark.parametrize(
    ("method", "suffix"), [("GET", ""), ("DELETE", ""), ("GET", "/export"), ("PATCH", "")]
)
def test_routes_taking_a_user_id_refuse_ids_not_in_line_format(
    api: AdminApi, bad: str, method: str, suffix: str
) -> None:
    answer = api.call(method, f"/friends/{bad}{suffix}", {} if method == "PATCH" else None)
    assert answer.status in (404, 422), answer.body
    assert answer.body["message"]
