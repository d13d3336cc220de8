"""The emulator's insight endpoints: figures from what it delivered and the simulated
opens, withheld under 20 users as LINE does, and bad requests refused as LINE does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from werkzeug.test import Client

from linecrm_local.emulator import LineEmulator
from linecrm_local.emulator.state import JST, MONTHLY_UNIT_LIMIT

from .conftest import CHANNEL_ID, OTHER_TOKEN, FakeClock, auth, post, text

URL = "https://shop.example/sale"
UNIT_PATH = "/v2/bot/insight/message/event/aggregation"


def friends(emulator: LineEmulator, count: int) -> list[str]:
    return [emulator.state.add_friend(CHANNEL_ID).user_id for _ in range(count)]


def multicast(client: Client, to: list[str], unit: str | None = "spring_sale") -> Any:
    body: dict[str, Any] = {
        "to": to,
        "messages": [text(f"Sale! {URL}"), text("second bubble")],
    }
    if unit is not None:
        body["customAggregationUnits"] = [unit]
    return post(client, "/v2/bot/message/multicast", body)


def today(clock: FakeClock) -> str:
    return datetime.fromtimestamp(clock.now, JST).strftime("%Y%m%d")


def unit_stats(client: Client, clock: FakeClock, unit: str = "spring_sale", **query: str) -> Any:
    params = {"customAggregationUnit": unit, "from": today(clock), "to": today(clock), **query}
    return client.get(UNIT_PATH, query_string=params, headers=auth())


def open_message(client: Client, user_id: str, **body: str) -> Any:
    return client.post(f"/_emulator/channels/{CHANNEL_ID}/opens", json={"userId": user_id, **body})


def test_opens_and_clicks_per_unit_from_simulated_opens(
    client: Client, emulator: LineEmulator, clock: FakeClock
) -> None:
    users = friends(emulator, 30)
    assert multicast(client, users).status_code == 200
    for user in users[:25]:
        assert open_message(client, user, unit="spring_sale").status_code == 200
    for user in users[:21]:
        assert open_message(client, user, unit="spring_sale", url=URL).status_code == 200
    open_message(client, users[0], unit="spring_sale")  # a second open: one more impression

    response = unit_stats(client, clock)

    assert response.status_code == 200
    body = response.get_json()
    assert body["overview"]["uniqueImpression"] == 25
    assert body["overview"]["uniqueClick"] == 21
    assert [m["impression"] for m in body["messages"]] == [26, 26]
    assert [m["uniqueImpression"] for m in body["messages"]] == [25, 25]
    assert body["clicks"] == [
        {"seq": 1, "url": URL, "click": 21, "uniqueClick": 21, "uniqueClickOfRequest": 21}
    ]


def test_figures_under_20_users_are_withheld(
    client: Client, emulator: LineEmulator, clock: FakeClock
) -> None:
    users = friends(emulator, 19)
    multicast(client, users)
    for user in users:
        open_message(client, user, unit="spring_sale", url=URL)
        open_message(client, user, unit="spring_sale")  # 38 impressions, but 19 users

    body = unit_stats(client, clock).get_json()

    assert body["overview"]["uniqueImpression"] is None
    assert body["overview"]["uniqueClick"] is None
    assert body["messages"][0]["impression"] is None
    assert body["clicks"][0]["click"] is None


def test_other_units_periods_and_channels_are_not_counted(
    client: Client, emulator: LineEmulator, clock: FakeClock
) -> None:
    users = friends(emulator, 20)
    multicast(client, users, unit="other_unit")
    for user in users:
        open_message(client, user)
    assert unit_stats(client, clock).get_json()["overview"]["uniqueImpression"] is None
    assert unit_stats(client, clock, "other_unit").get_json()["overview"]["uniqueImpression"] == 20
    yesterday = datetime.fromtimestamp(clock.now - 86400, JST).strftime("%Y%m%d")
    earlier = unit_stats(client, clock, "other_unit", to=yesterday, **{"from": yesterday})
    assert earlier.get_json()["overview"]["uniqueImpression"] is None
    foreign = client.get(
        UNIT_PATH,
        query_string={
            "customAggregationUnit": "other_unit",
            "from": today(clock),
            "to": today(clock),
        },
        headers=auth(OTHER_TOKEN),
    )
    assert foreign.get_json()["overview"]["uniqueImpression"] is None


def test_opens_after_14_days_do_not_count(
    client: Client, emulator: LineEmulator, clock: FakeClock
) -> None:
    users = friends(emulator, 20)
    multicast(client, users)
    sent_day = today(clock)
    clock.advance(15 * 86400)
    for user in users:
        open_message(client, user, unit="spring_sale")
    response = unit_stats(client, clock, **{"from": sent_day})
    assert response.get_json()["overview"]["uniqueImpression"] is None


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({"customAggregationUnit": "spring-sale"}, "customAggregationUnit"),
        ({"customAggregationUnit": "x" * 31}, "customAggregationUnit"),
        ({"customAggregationUnit": ""}, "customAggregationUnit"),
        ({"from": "2026-12-01"}, "from"),
        ({"from": "20261301"}, "from"),
        ({"from": "20260101", "to": "20260201"}, "30 days"),
        ({"from": "20260110", "to": "20260101"}, "earlier"),
    ],
)
def test_bad_queries_are_refused_with_400(
    client: Client, clock: FakeClock, query: dict[str, str], reason: str
) -> None:
    params = {"customAggregationUnit": "spring_sale", "from": today(clock), "to": today(clock)}
    response = client.get(UNIT_PATH, query_string={**params, **query}, headers=auth())
    assert response.status_code == 400
    assert reason in response.get_json()["message"]


def test_missing_parameter_and_missing_token_are_refused(client: Client) -> None:
    missing = client.get(UNIT_PATH, query_string={"customAggregationUnit": "a"}, headers=auth())
    assert missing.status_code == 400
    assert "'from'" in missing.get_json()["message"]
    assert client.get(UNIT_PATH).status_code == 401


def test_insight_is_limited_to_60_requests_per_hour(client: Client, clock: FakeClock) -> None:
    statuses = [unit_stats(client, clock).status_code for _ in range(61)]
    assert statuses[:60] == [200] * 60
    assert statuses[60] == 429
    clock.advance(120)  # a token every minute
    assert unit_stats(client, clock).status_code == 200


def test_bad_unit_names_on_a_send_are_refused(client: Client, emulator: LineEmulator) -> None:
    users = friends(emulator, 2)
    assert multicast(client, users, unit="no-dashes").status_code == 400
    two = {"to": users[0], "messages": [text()], "customAggregationUnits": ["a", "b"]}
    assert post(client, "/v2/bot/message/push", two).status_code == 400
    bad_push = {"to": users[0], "messages": [text()], "customAggregationUnits": ["a b"]}
    assert post(client, "/v2/bot/message/push", bad_push).status_code == 400


def test_units_past_1000_a_month_are_sent_but_not_counted(
    client: Client, emulator: LineEmulator, clock: FakeClock
) -> None:
    users = friends(emulator, 20)
    state = emulator.state
    month = state.units_by_month[
        (CHANNEL_ID, datetime.fromtimestamp(clock.now, JST).strftime("%Y-%m"))
    ]
    month.extend(f"unit_{n}" for n in range(MONTHLY_UNIT_LIMIT))
    assert multicast(client, users, unit="one_too_many").status_code == 200
    assert all(state.inbox(user) for user in users)  # delivered all the same
    for user in users:
        open_message(client, user)
    body = unit_stats(client, clock, "one_too_many").get_json()
    assert body["overview"]["uniqueImpression"] is None
    usage = client.get("/v2/bot/message/aggregation/info", headers=auth()).get_json()
    assert usage == {"numOfCustomAggregationUnits": MONTHLY_UNIT_LIMIT}


def test_unit_names_of_the_month_are_listed(client: Client, emulator: LineEmulator) -> None:
    users = friends(emulator, 1)
    multicast(client, users, unit="first")
    multicast(client, users, unit="second")
    multicast(client, users, unit="first")
    listed = client.get("/v2/bot/message/aggregation/list", headers=auth()).get_json()
    assert listed == {"customAggregationUnits": ["first", "second"]}
    page = client.get(
        "/v2/bot/message/aggregation/list", query_string={"limit": "1"}, headers=auth()
    ).get_json()
    assert page == {"customAggregationUnits": ["first"], "next": "1"}


def test_broadcast_statistics_by_request_id(
    client: Client, emulator: LineEmulator, clock: FakeClock
) -> None:
    users = friends(emulator, 22)
    sent = post(client, "/v2/bot/message/broadcast", {"messages": [text(URL)]})
    request_id = sent.headers["x-line-request-id"]
    for user in users:
        assert open_message(client, user, requestId=request_id).status_code == 200

    response = client.get(
        "/v2/bot/insight/message/event", query_string={"requestId": request_id}, headers=auth()
    )

    overview = response.get_json()["overview"]
    assert overview["requestId"] == request_id
    assert overview["delivered"] == 22
    assert overview["uniqueImpression"] == 22
    assert overview["uniqueClick"] is None
    unknown = client.get(
        "/v2/bot/insight/message/event", query_string={"requestId": "nope"}, headers=auth()
    )
    assert unknown.status_code == 404


def test_an_open_needs_a_message_the_friend_received(
    client: Client, emulator: LineEmulator
) -> None:
    (user,) = friends(emulator, 1)
    assert open_message(client, user).status_code == 404
    multicast(client, [user])
    assert open_message(client, user, unit="another").status_code == 404
    assert open_message(client, user, url="https://elsewhere.example/").status_code == 404
    assert open_message(client, user, url=URL).status_code == 200
    assert open_message(client, user, colour="blue").status_code == 400


def test_click_true_taps_the_first_url_of_the_message(
    client: Client, emulator: LineEmulator
) -> None:
    (user,) = friends(emulator, 1)
    multicast(client, [user])
    tapped = client.post(
        f"/_emulator/channels/{CHANNEL_ID}/opens", json={"userId": user, "click": True}
    )
    assert tapped.status_code == 200
    assert tapped.get_json()["url"] == URL
    bad = client.post(f"/_emulator/channels/{CHANNEL_ID}/opens", json={"userId": user, "click": 1})
    assert bad.status_code == 400


def _response_schema(path: str) -> Any:
    from openapi_schema_validator import OAS30ReadValidator

    from linecrm_local.emulator.validation import _load_yaml

    document = _load_yaml("insight.yml")
    schema = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    root = {**schema["schema"], "components": document["components"]}
    return OAS30ReadValidator(root)


def test_insight_responses_follow_lines_openapi_document(
    client: Client, emulator: LineEmulator, clock: FakeClock
) -> None:
    users = friends(emulator, 21)
    multicast(client, users)
    broadcast = post(client, "/v2/bot/message/broadcast", {"messages": [text(URL)]})
    for user in users:
        open_message(client, user, unit="spring_sale", url=URL)
        open_message(client, user, requestId=broadcast.headers["x-line-request-id"])
    per_unit = unit_stats(client, clock).get_json()
    per_request = client.get(
        "/v2/bot/insight/message/event",
        query_string={"requestId": broadcast.headers["x-line-request-id"]},
        headers=auth(),
    ).get_json()
    empty = unit_stats(client, clock, "never_used").get_json()

    _response_schema(UNIT_PATH).validate(per_unit)
    _response_schema(UNIT_PATH).validate(empty)
    _response_schema("/v2/bot/insight/message/event").validate(per_request)
    assert per_unit["clicks"] and per_unit["messages"]  # not vacuously valid
    assert empty == {
        "overview": {
            "uniqueImpression": None,
            "uniqueClick": None,
            "uniqueMediaPlayed": None,
            "uniqueMediaPlayed100Percent": None,
        },
        "messages": [],
        "clicks": [],
    }
