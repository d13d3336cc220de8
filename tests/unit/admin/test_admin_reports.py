"""The report routes of the admin API: JSON bodies as common.md gives them, CSV with a
BOM on ``?format=csv``, and bad input as 4xx with a reason (never 500)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from linecrm.reports.csv_format import BOM
from tests.unit.admin.conftest import AdminApi, assert_error
from tests.unit.reports.world import ReportWorld, text

SENT_AT = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


@pytest.fixture
def world(api: AdminApi) -> ReportWorld:
    world = ReportWorld(api.aws, channel_id=api.channel_id)
    world.broadcast("spring", "春のセール", started_at=SENT_AT)
    world.sent("broadcast:spring", SENT_AT, 200, variant="A")
    world.sent("broadcast:spring", SENT_AT, 200, variant="B")
    world.add(
        "broadcast:spring", "U1", "A", clicks=30, unique_clicks=20, conversions=4, revenue=9600
    )
    world.add("broadcast:spring", "U2", "B", clicks=10, unique_clicks=10, blocks=2)
    world.add("broadcast:spring", "H1", "holdout", held_out=40, conversions=1, revenue=2400)
    world.scenario(
        "onboarding",
        "新規フォロー",
        [
            {"id": "day0", "timing": {"after": "0m"}, "messages": [text("ようこそ")]},
            {"id": "day3", "timing": {"after": "3d"}, "messages": [text("クーポン")]},
        ],
    )
    world.sent("step:onboarding:day0", SENT_AT, 50)
    world.add("step:onboarding:day0", "U1", unique_clicks=5)
    return world


@pytest.mark.usefixtures("world")
def test_a_campaign_report_in_json(api: AdminApi) -> None:
    answer = api.call("GET", "/reports/campaigns/broadcast:spring")

    assert answer.status == 200, answer.body
    body = answer.body
    figures = {key: body[key] for key in ("sent", "clicks", "unique_clicks", "conversions")}
    assert figures == {"sent": 400, "clicks": 40, "unique_clicks": 30, "conversions": 4}
    assert (body["ctr"], body["cvr"], body["block_rate"]) == (0.075, 0.01, 0.005)
    assert (body["campaign"], body["kind"], body["name"]) == (
        "broadcast:spring",
        "broadcast",
        "春のセール",
    )
    assert (body["revenue"], body["blocks"]) == (9600, 2)
    assert [v["variant"] for v in body["variants"]] == ["A", "B"]
    assert body["variants"][0] == {
        "variant": "A",
        "sent": 200,
        "clicks": 30,
        "unique_clicks": 20,
        "ctr": 0.1,
        "conversions": 4,
        "cvr": 0.02,
        "revenue": 9600,
        "blocks": 0,
        "block_rate": 0.0,
    }
    assert body["holdout"] == {"held_out": 40, "conversions": 1, "revenue": 2400, "cvr": 0.025}
    assert body["first_sent_at"] == "2026-12-01T10:00:00+09:00"


@pytest.mark.usefixtures("world")
def test_a_percent_encoded_key_is_the_same_campaign(api: AdminApi) -> None:
    """A browser's encodeURIComponent sends the colons as %3A."""
    plain = api.call("GET", "/reports/campaigns/broadcast:spring")
    for path in ("broadcast%3Aspring", "broadcast%3aspring"):
        encoded = api.call("GET", f"/reports/campaigns/{path}")
        assert (encoded.status, encoded.body) == (200, plain.body)
    assert_error(api.call("GET", "/reports/campaigns/broadcast%3A"), 422, "campaign")
    assert_error(api.call("GET", "/reports/campaigns/broadcast%2Fspring"), 422, "campaign")


@pytest.mark.usefixtures("world")
def test_csv_is_utf8_with_a_bom(api: AdminApi) -> None:
    response = api.invoke("GET", "/reports/campaigns/broadcast:spring", query={"format": "csv"})

    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "text/csv; charset=utf-8"
    assert "broadcast_spring.csv" in response["headers"]["Content-Disposition"]
    assert not response.get("isBase64Encoded")
    body: str = response["body"]
    assert body.encode("utf-8").startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(body.removeprefix(BOM))))
    assert table[0][:5] == [
        "キャンペーン (campaign)",
        "種類 (kind)",
        "名前 (name)",
        "パターン (variant)",
        "配信数 (sent)",
    ]
    assert [row[3] for row in table[1:]] == ["*", "A", "B", "holdout"]
    assert table[1][2] == "春のセール" and table[1][4] == "400" and table[1][10] == "9600"


@pytest.mark.usefixtures("world")
def test_the_campaign_list_and_its_kind_filter(api: AdminApi) -> None:
    everything = api.call("GET", "/reports/campaigns")
    assert everything.status == 200, everything.body
    assert {c["campaign"] for c in everything.body["campaigns"]} == {
        "broadcast:spring",
        "step:onboarding:day0",
    }
    steps = api.call("GET", "/reports/campaigns", query={"kind": "step"})
    assert [
        (c["campaign"], c["name"], c["sent"], c["unique_clicks"]) for c in steps.body["campaigns"]
    ] == [("step:onboarding:day0", "新規フォロー / day0", 50, 5)]
    assert_error(api.call("GET", "/reports/campaigns", query={"kind": "sms"}), 422)
    assert_error(api.call("GET", "/reports/campaigns", query={"limit": 0}), 422)
    listed = api.invoke("GET", "/reports/campaigns", query={"kind": "step", "format": "csv"})
    assert listed["headers"]["Content-Type"] == "text/csv; charset=utf-8"
    assert listed["body"].count("\r\n") == 2


@pytest.mark.usefixtures("world")
def test_the_funnel(api: AdminApi) -> None:
    answer = api.call("GET", "/reports/scenarios/onboarding/funnel")
    assert answer.status == 200, answer.body
    assert answer.body["scenario_id"] == "onboarding"
    assert [
        {k: s[k] for k in ("step_id", "campaign", "sent", "unique_clicks", "conversions")}
        for s in answer.body["steps"]
    ] == [
        {
            "step_id": "day0",
            "campaign": "step:onboarding:day0",
            "sent": 50,
            "unique_clicks": 5,
            "conversions": 0,
        },
        {
            "step_id": "day3",
            "campaign": "step:onboarding:day3",
            "sent": 0,
            "unique_clicks": 0,
            "conversions": 0,
        },
    ]
    assert_error(api.call("GET", "/reports/scenarios/nope/funnel"), 404)
    csv_answer = api.invoke("GET", "/reports/scenarios/onboarding/funnel", query={"format": "csv"})
    assert csv_answer["body"].startswith(BOM + "シナリオ (scenario_id),")


def test_routes_and_timeline(api: AdminApi, world: ReportWorld) -> None:
    world.route("ad_a", "広告A", "aaaaaaaa")
    world.routes.mark(api.channel_id, "U1", "ad_a", linked=True, converted=False)
    world.stats.add_to_day(
        api.channel_id, datetime(2026, 12, 1).date(), {"sent": 400, "unfollows": 2}, shard_by="x"
    )

    routes = api.call("GET", "/reports/routes")
    assert routes.status == 200, routes.body
    assert routes.body["routes"][0] | {} == {
        "route_id": "ad_a",
        "name": "広告A",
        "friends": 1,
        "blocked": 0,
        "linked": 1,
        "converted": 0,
        "block_rate": 0.0,
        "conversion_rate": 0.0,
    }
    timeline = api.call(
        "GET", "/reports/timeline", query={"from": "2026-11-30", "to": "2026-12-01"}
    )
    assert timeline.status == 200, timeline.body
    assert timeline.body["time_zone"] == "Asia/Tokyo"
    assert timeline.body["days"] == [
        {
            "date": "2026-11-30",
            "sent": 0,
            "clicks": 0,
            "unique_clicks": 0,
            "conversions": 0,
            "revenue": 0,
            "blocks": 0,
            "friends_added": 0,
            "unfollows": 0,
        },
        {
            "date": "2026-12-01",
            "sent": 400,
            "clicks": 0,
            "unique_clicks": 0,
            "conversions": 0,
            "revenue": 0,
            "blocks": 0,
            "friends_added": 0,
            "unfollows": 2,
        },
    ]
    csv_answer = api.invoke(
        "GET",
        "/reports/timeline",
        query={"from": "2026-12-01", "to": "2026-12-01", "format": "csv"},
    )
    assert "timeline-2026-12-01-2026-12-01.csv" in csv_answer["headers"]["Content-Disposition"]
    assert csv_answer["body"].splitlines()[1].startswith("2026-12-01,400,")


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize(
    ("query", "field", "reason"),
    [
        ({"from": "2026-12-32"}, "from", "not a date"),
        ({"from": "12/01/2026"}, "from", "not a date"),
        ({"to": "tomorrow"}, "to", "not a date"),
        ({"from": "2026-12-02", "to": "2026-12-01"}, "from", "after"),
        ({"from": "2024-01-01", "to": "2026-01-01"}, "to", "at most 366"),
    ],
)
def test_bad_timeline_dates_are_400_with_a_reason(
    api: AdminApi, query: dict[str, str], field: str, reason: str
) -> None:
    answer = api.call("GET", "/reports/timeline", query=query)
    assert_error(answer, 400, field)
    assert reason in answer.body["message"]


@pytest.mark.usefixtures("world")
def test_unknown_and_malformed_campaigns(api: AdminApi) -> None:
    unknown = api.call("GET", "/reports/campaigns/broadcast:nope")
    assert_error(unknown, 404)
    assert "broadcast:nope" in unknown.body["message"]
    assert_error(api.call("GET", "/reports/campaigns/step:onboarding:nope"), 404)
    assert_error(api.call("GET", "/reports/campaigns/sms:hello"), 422, "campaign")
    assert_error(
        api.call("GET", "/reports/campaigns/broadcast:spring", query={"format": "xls"}), 422
    )
    assert_error(api.call("GET", "/reports/campaigns/broadcast:spring/nope"), 404)
