"""Aggregation units: named from the campaign key within LINE's limits, set by the
client on every push and multicast of a campaign, and LINE's figures read as given."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linecrm.config import LineEndpoints
from linecrm.delivery.sender import Sender
from linecrm.domain.campaigns import CAMPAIGN_PATTERN, is_campaign
from linecrm.domain.insight import (
    UNIT_MAX_LENGTH,
    aggregation_unit_for,
    is_unit_name,
    statistics_from_line,
    statistics_period,
)
from linecrm.line.client import LineMessagingClient, SendReceipt
from linecrm.models.send import SendRequest
from linecrm.repositories.deliveries import DeliveryLedger
from tests.unit.conftest import AwsWorld

TEXT = [{"type": "text", "text": "hi"}]
KEY = "0c7b2f7e-4a43-5d6e-9a3b-1c2d3e4f5a6b"
NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)

campaign_keys = st.from_regex(CAMPAIGN_PATTERN.replace("^", r"\A").replace("$", r"\Z"))


@given(campaign_keys)
def test_every_campaign_key_gets_a_valid_unit_name(campaign: str) -> None:
    assert is_campaign(campaign)
    unit = aggregation_unit_for(campaign)
    assert is_unit_name(unit)
    assert len(unit) <= UNIT_MAX_LENGTH
    assert aggregation_unit_for(campaign) == unit  # deterministic


@pytest.mark.parametrize(
    ("campaign", "readable"),
    [
        ("broadcast:20261203T080000-ab12cd34", "b_20261203T080000_a_"),
        ("step:welcome-flow:s1", "s_welcome_flow_s1_"),
        ("rule:coupon", "r_coupon_"),
        ("welcome", "welcome_"),
        ("chat", "chat_"),
    ],
)
def test_unit_names_read_like_their_campaign(campaign: str, readable: str) -> None:
    assert aggregation_unit_for(campaign).startswith(readable)


def test_keys_that_read_alike_get_different_units() -> None:
    alike = ["rule:a-b", "rule:a.b", "rule:a_b", "step:x:y" + "z" * 60, "step:x:y" + "z" * 61]
    assert len({aggregation_unit_for(key) for key in alike}) == len(alike)


def test_a_month_of_campaigns_has_no_collision() -> None:
    keys = [f"step:scenario-{n // 10}:step-{n % 10}" for n in range(5000)]
    assert len({aggregation_unit_for(key) for key in keys}) == len(keys)


# ---------------------------------------------------------------- the client
class RecordingApi:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def _record(self, request: Any) -> Any:
        self.bodies.append(json.loads(request.to_json()))
        return type("Response", (), {"headers": {"x-line-request-id": "req-1"}})()

    def push_message_with_http_info(self, request: Any, **_: Any) -> Any:
        return self._record(request)

    def multicast_with_http_info(self, request: Any, **_: Any) -> Any:
        return self._record(request)


def make_client(api: Any, insight: Any = None) -> LineMessagingClient:
    return LineMessagingClient(
        "token",
        LineEndpoints(api_base_url="http://127.0.0.1:9"),
        api_factory=lambda _token: api,
        insight_api_factory=lambda _token: insight,
        sleep=lambda _s: None,
    )


def test_client_sets_the_unit_on_push_and_multicast() -> None:
    api = RecordingApi()
    client = make_client(api)
    client.push("U1", TEXT, KEY, aggregation_unit="b_sale_abc")
    client.multicast(["U1", "U2"], TEXT, KEY, aggregation_unit="b_sale_abc")
    client.push("U1", TEXT, KEY)
    assert [body.get("customAggregationUnits") for body in api.bodies] == [
        ["b_sale_abc"],
        ["b_sale_abc"],
        None,
    ]


class FakeInsight:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.calls: list[tuple[Any, ...]] = []

    def get_statistics_per_unit_with_http_info(
        self, unit: str, first: str, last: str, **_: Any
    ) -> Any:
        from linebot.v3.insight import GetStatisticsPerUnitResponse

        self.calls.append((unit, first, last))
        return type("Response", (), {"data": GetStatisticsPerUnitResponse.from_dict(self.body)})()


def test_client_reads_statistics_per_unit_with_withheld_figures_as_none() -> None:
    insight = FakeInsight(
        {
            "overview": {"uniqueImpression": 40, "uniqueClick": None},
            "messages": [{"seq": 1, "impression": 42}, {"seq": 2, "impression": 30}],
            "clicks": [
                {"seq": 1, "url": "https://a.example", "click": 35, "uniqueClick": 25},
                {"seq": 1, "url": "https://b.example", "click": None, "uniqueClick": None},
            ],
        }
    )
    stats = make_client(RecordingApi(), insight).statistics_per_unit(
        "b_sale_abc", date(2026, 12, 1), date(2026, 12, 3)
    )
    assert insight.calls == [("b_sale_abc", "20261201", "20261203")]
    assert stats.unique_impressions == 40
    assert stats.unique_clicks is None
    assert stats.impressions == 72
    assert stats.clicks is None  # one URL withheld: no total pretends to be complete
    assert not stats.withheld


def test_statistics_without_opens_are_withheld_not_zero() -> None:
    stats = statistics_from_line({"overview": {}, "messages": [], "clicks": []})
    assert stats.withheld
    assert stats.unique_impressions is None
    assert stats.impressions is None


def test_the_period_starts_at_the_first_send_and_spans_at_most_30_days() -> None:
    first = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)  # 21 Nov in Japan
    assert statistics_period(first, NOW) == (date(2026, 11, 21), date(2026, 12, 3))
    long_ago = datetime(2026, 6, 1, tzinfo=UTC)  # a step that sends on: its last 30 days
    assert statistics_period(long_ago, NOW) == (date(2026, 11, 3), date(2026, 12, 3))
    late = datetime(2026, 12, 3, 15, 30, tzinfo=UTC)  # already 4 Dec in Japan
    assert statistics_period(late, late) == (date(2026, 12, 4), date(2026, 12, 4))


# ---------------------------------------------------------------- the sender
class UnitRecordingClient:
    def __init__(self) -> None:
        self.units: list[tuple[str, str | None]] = []

    def push(
        self, to: str, messages: Any, retry_key: str, aggregation_unit: str | None = None
    ) -> SendReceipt:
        self.units.append(("push", aggregation_unit))
        return SendReceipt("req-push")

    def multicast(
        self, to: list[str], messages: Any, retry_key: str, aggregation_unit: str | None = None
    ) -> SendReceipt:
        self.units.append(("multicast", aggregation_unit))
        return SendReceipt("req-multicast")


def test_sender_tags_every_push_and_multicast_of_a_campaign(aws: AwsWorld) -> None:
    ledger = DeliveryLedger(aws.client("dynamodb"), aws.resources.table_names["Main"])
    client = UnitRecordingClient()
    sender = Sender(ledger, lambda _channel: client, lambda: NOW)  # type: ignore[arg-type,return-value]
    requests = [
        SendRequest(
            delivery_id="d-1",
            channel_id="1650000000",
            to=["U1"],
            messages=TEXT,
            cause="step",
            campaign="step:sc1:s1",
        ),
        SendRequest(
            delivery_id="d-2",
            channel_id="1650000000",
            to=["U1", "U2"],
            messages=TEXT,
            cause="broadcast",
            campaign="broadcast:b1",
            variant="A",
        ),
        SendRequest(
            delivery_id="d-3", channel_id="1650000000", to=["U3"], messages=TEXT, cause="manual"
        ),
    ]
    for request in requests:
        sender.send(request, final_attempt=False)
    assert client.units == [
        ("push", aggregation_unit_for("step:sc1:s1")),
        ("multicast", aggregation_unit_for("broadcast:b1")),
        ("push", None),
    ]
    delivery = ledger.get("d-2")
    assert delivery is not None
    assert delivery.line_request_id == "req-multicast"  # LINE's request id, in the ledger


class PagedUnitNames:
    def __init__(self) -> None:
        self.starts: list[str | None] = []

    def get_aggregation_unit_name_list(self, limit: str, start: str | None, **_: Any) -> Any:
        self.starts.append(start)
        pages = {None: (["a", "b"], "2"), "2": (["c"], None)}
        names, following = pages[start]
        return type("Page", (), {"custom_aggregation_units": names, "next": following})()


def test_client_reads_every_page_of_the_months_unit_names() -> None:
    api = PagedUnitNames()
    assert make_client(api).aggregation_unit_names() == ["a", "b", "c"]
    assert api.starts == [None, "2"]
