"""The experiment report through the admin function: JSON and CSV, from the counters."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from linecrm.repositories.campaign_stats import CampaignStatsRepository
from tests.unit.admin.conftest import AdminApi, assert_error

pytestmark = pytest.mark.usefixtures("aws")

SALE = [{"type": "text", "text": "sale"}]


def counters(api: AdminApi) -> CampaignStatsRepository:
    return CampaignStatsRepository(
        api.aws.client("dynamodb"), api.aws.resources.table_names["Main"]
    )


def seed(api: AdminApi, campaign: str) -> None:
    stats = counters(api)
    # Spread over friends (shards), as the write paths do.
    for index in range(8):
        for variant, sent, exposed in (("B", 250, 20), ("A", 250, 5)):
            stats.add_to_campaign(
                api.channel_id,
                campaign,
                {"sent": sent, "exposed_conversions": exposed, "unique_clicks": 10},
                shard_by=f"U{index}",
                variant=variant,
            )
        stats.add_to_campaign(
            api.channel_id,
            campaign,
            {"held_out": 50, "exposed_conversions": 1},
            shard_by=f"U{index}",
            variant="holdout",
        )


def test_the_report_of_an_ab_broadcast(api: AdminApi) -> None:
    api.follow("U" + "1" * 32)
    created = api.call(
        "POST",
        "/broadcasts",
        {
            "name": "sale",
            "messages": SALE,
            "experiment": {
                "variants": [
                    {"name": "B", "percent": 45, "messages": [{"type": "text", "text": "b"}]},
                    {"name": "A", "percent": 45},
                ],
                "holdout_percent": 10,
            },
        },
    )
    assert created.status == 202, created.body
    campaign = f"broadcast:{created.body['broadcast_id']}"
    seed(api, campaign)

    for path_campaign in (campaign, campaign.replace(":", "%3A")):
        answer = api.call("GET", f"/reports/campaigns/{path_campaign}/experiment")
        assert answer.status == 200, answer.body
        body = answer.body
        assert body["campaign"] == campaign
        assert body["control"] == "B"  # the first variant as defined
        assert [v["variant"] for v in body["variants"]] == ["B", "A"]
        a = body["variants"][1]
        assert (a["sent"], a["conversions"]) == (2_000, 40)
        assert a["verdict"].startswith("A converts worse than B (p < 0.001)")
        assert body["holdout"]["held_out"] == 400
        assert body["holdout"]["incremental_conversions"] == pytest.approx(
            ((160 + 40) / 4_000 - 8 / 400) * 4_000
        )
        assert body["verdict"] == a["verdict"]


def test_the_report_as_csv_opens_in_excel(api: AdminApi) -> None:
    seed(api, "broadcast:x1")
    raw = api.invoke("GET", "/reports/campaigns/broadcast:x1/experiment", query={"format": "csv"})
    assert raw["statusCode"] == 200
    assert raw["headers"]["Content-Type"] == "text/csv; charset=utf-8"
    body = raw["body"]
    if raw.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8")
    assert body.startswith("\ufeffcampaign,group,")
    assert body.count("\r\n") == 5  # header, A, B, holdout, verdict


def test_a_broadcast_not_sent_yet_is_no_data_yet(api: AdminApi) -> None:
    later = datetime.now(UTC) + timedelta(days=30)
    created = api.call(
        "POST",
        "/broadcasts",
        {"name": "later", "messages": SALE, "send_at": later.isoformat()},
    )
    assert created.status == 202, created.body
    campaign = f"broadcast:{created.body['broadcast_id']}"
    answer = api.call("GET", f"/reports/campaigns/{campaign}/experiment")
    assert answer.status == 200, answer.body
    assert answer.body["verdict"] == "no data yet: nothing was sent"


@pytest.mark.parametrize("campaign", ["broadcast:nope", "step:welcome_flow:s1"])
def test_a_campaign_that_does_not_exist_is_404(api: AdminApi, campaign: str) -> None:
    answer = api.call("GET", f"/reports/campaigns/{campaign}/experiment")
    assert answer.status == 404, answer.body
    assert answer.body["message"].startswith(f"no campaign {campaign!r}"), answer.body


def test_a_deleted_broadcasts_counters_still_report(api: AdminApi) -> None:
    seed(api, "broadcast:gone")
    answer = api.call("GET", "/reports/campaigns/broadcast:gone/experiment")
    assert answer.status == 200, answer.body
    assert [v["variant"] for v in answer.body["variants"]] == ["A", "B"]


@pytest.mark.parametrize("campaign", ["nonsense", "broadcast:", "step:only"])
def test_a_bad_campaign_key_is_422(api: AdminApi, campaign: str) -> None:
    answer = api.call("GET", f"/reports/campaigns/{campaign}/experiment")
    assert_error(answer, 422, "campaign")


def test_a_bad_format_is_422(api: AdminApi) -> None:
    answer = api.call("GET", "/reports/campaigns/welcome/experiment", query={"format": "xml"})
    assert_error(answer, 422, "format")
