"""Reports on the local stack, through the gateway and the admin function (its AWS
calls checked against the CDK grants): a broadcast, a scenario and an inflow route
made through the admin API, counters as the write paths keep them, then the reports
as JSON, as CSV (UTF-8 with BOM, over HTTP) and through ``linecrm report``."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from linecrm.repositories.campaign_stats import CampaignStatsRepository
from linecrm_local import cli
from linecrm_local.demo import DEMO_CHANNEL_ID
from linecrm_local.seed import seed_friends
from linecrm_local.stack import LocalStack
from tests.support.admin_http import ADMIN, BASE, READ, admin, eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

SENT_AT = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def text(value: str) -> dict[str, str]:
    return {"type": "text", "text": value}


@pytest.fixture(scope="module")
def stack(local_stack: LocalStack) -> LocalStack:
    return local_stack


@pytest.fixture(scope="module")
def campaign(local_stack: LocalStack) -> str:
    """A scheduled broadcast (nothing sent: its counters are only those written here),
    a scenario and a route; the broadcast's campaign key."""
    later = admin(
        local_stack,
        "POST",
        "/broadcasts",
        {
            "name": "年末セール",
            "messages": [text("年末セール")],
            "send_at": "2027-12-01T10:00:00+09:00",
        },
    )
    assert later.status_code == 202, later.text
    broadcast_id = later.json()["broadcast_id"]
    scenario = admin(
        local_stack,
        "PUT",
        "/scenarios/report-onboarding",
        {
            "name": "レポート用シナリオ",
            "message_class": "transactional",
            "steps": [
                {"id": "hello", "timing": {"after": "0m"}, "messages": [text("ようこそ")]},
                {"id": "coupon", "timing": {"after": "1d"}, "messages": [text("クーポン")]},
            ],
        },
    )
    assert scenario.status_code == 200, scenario.text
    route = admin(local_stack, "POST", "/routes", {"route_id": "report_ad", "name": "レポート広告"})
    assert route.status_code == 201, route.text

    # What the counting write paths keep as sends, clicks, purchases and blocks happen.
    client = local_stack.aws.session().client("dynamodb")
    stats = CampaignStatsRepository(client, local_stack.resources.table_names["Main"])
    campaign = f"broadcast:{broadcast_id}"
    for variant, sent in (("A", 120), ("B", 80)):
        stats.add_to_campaign(
            DEMO_CHANNEL_ID, campaign, {"sent": sent}, shard_by=variant, variant=variant
        )
    client.update_item(**stats.index_update(DEMO_CHANNEL_ID, campaign, SENT_AT))
    for index in range(24):
        variant = "A" if index % 2 else "B"
        stats.add_to_campaign(
            DEMO_CHANNEL_ID,
            campaign,
            {"clicks": 2, "unique_clicks": 1}
            | ({"conversions": 1, "revenue": 1500} if index % 3 == 0 else {}),
            shard_by=f"U{index}",
            variant=variant,
        )
    stats.add_to_campaign(DEMO_CHANNEL_ID, campaign, {"blocks": 3}, shard_by="U99", variant="B")
    stats.add_to_campaign(
        DEMO_CHANNEL_ID,
        campaign,
        {"held_out": 20, "conversions": 1, "revenue": 900},
        shard_by="H",
        variant="holdout",
    )
    stats.add_to_campaign(
        DEMO_CHANNEL_ID,
        "step:report-onboarding:hello",
        {"sent": 40, "unique_clicks": 10},
        shard_by="x",
    )
    client.update_item(
        **stats.index_update(DEMO_CHANNEL_ID, "step:report-onboarding:hello", SENT_AT)
    )
    stats.add_to_day(
        DEMO_CHANNEL_ID,
        date(2026, 11, 20),
        {"sent": 240, "clicks": 48, "revenue": 12900},
        shard_by="x",
    )
    return campaign


def test_reports_over_http_json_and_csv(stack: LocalStack, campaign: str) -> None:
    report = admin(stack, "GET", f"/reports/campaigns/{campaign}")
    assert report.status_code == 200, report.text
    body = report.json()
    assert (body["name"], body["sent"], body["unique_clicks"], body["conversions"]) == (
        "年末セール",
        200,
        24,
        8,
    )
    assert (body["revenue"], body["blocks"], body["ctr"]) == (12000, 3, 0.12)
    assert [v["variant"] for v in body["variants"]] == ["A", "B"]
    assert body["holdout"]["held_out"] == 20
    assert body["first_sent_at"] == "2026-11-20T12:00:00+09:00"

    exported = requests.get(
        f"{stack.gateway_url}{BASE}/reports/campaigns/{campaign}",
        params={"format": "csv"},
        headers=ADMIN,
        timeout=READ,
    )
    assert exported.status_code == 200
    assert exported.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert exported.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][4] == "配信数 (sent)"
    assert [row[3] for row in rows[1:]] == ["*", "A", "B", "holdout"]
    assert rows[1][2] == "年末セール" and rows[1][10] == "12000"

    funnel = admin(stack, "GET", "/reports/scenarios/report-onboarding/funnel").json()
    assert [(s["step_id"], s["sent"], s["unique_clicks"]) for s in funnel["steps"]] == [
        ("hello", 40, 10),
        ("coupon", 0, 0),
    ]
    listed = admin(stack, "GET", "/reports/campaigns?kind=step").json()
    assert [c["name"] for c in listed["campaigns"]] == ["レポート用シナリオ / hello"]
    routes = admin(stack, "GET", "/reports/routes").json()["routes"]
    assert {"route_id": "report_ad", "name": "レポート広告", "friends": 0}.items() <= next(
        r for r in routes if r["route_id"] == "report_ad"
    ).items()
    days = admin(stack, "GET", "/reports/timeline?from=2026-11-19&to=2026-11-21").json()
    assert [(d["date"], d["sent"], d["revenue"]) for d in days["days"]] == [
        ("2026-11-19", 0, 0),
        ("2026-11-20", 240, 12900),
        ("2026-11-21", 0, 0),
    ]

    assert admin(stack, "GET", "/reports/campaigns/broadcast:nope").status_code == 404
    bad = admin(stack, "GET", "/reports/timeline?from=2026-11-31")
    assert bad.status_code == 400 and "not a date" in bad.json()["message"]
    assert stack.gateway.internal_errors == 0


def test_the_cli_against_the_stack(
    stack: LocalStack, campaign: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    capsys.readouterr()
    assert cli.main(["--api-url", stack.gateway_url, "report", "campaign", campaign]) == 0
    out = capsys.readouterr().out
    assert "年末セール" in out and "¥12,000" in out and "holdout: 20 friends" in out

    target = tmp_path / "timeline.csv"
    argv = [
        "report",
        "timeline",
        "--from",
        "2026-11-20",
        "--to",
        "2026-11-20",
        "--csv",
        str(target),
    ]
    assert cli.main(["--api-url", stack.gateway_url, *argv]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 1
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")
    assert target.read_text(encoding="utf-8-sig").splitlines()[1].startswith("2026-11-20,240,48,")

    assert cli.main(["--api-url", stack.gateway_url, "report", "funnel", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "404" in err and "nope" in err


def test_a_sent_broadcast_and_a_block_show_in_its_report(stack: LocalStack) -> None:
    """Through the write paths: the sender counts sent, the webhook's unfollow a block."""
    tag = admin(stack, "POST", "/tags", {"name": "レポート実配信"})
    assert tag.status_code == 201, tag.text
    members = seed_friends(
        stack.emulator,
        DEMO_CHANNEL_ID,
        stack.resources.table_names["Main"],
        4,
        tag_ids=(tag.json()["tag_id"],),
        session=stack.aws.session(),
    )
    body = {
        "name": "実配信レポート",
        "messages": [text("実配信")],
        "segment": {"match": {"tag": "レポート実配信"}},
    }
    created = admin(stack, "POST", "/broadcasts", body)
    assert created.status_code == 202, created.text
    campaign = f"broadcast:{created.json()['broadcast_id']}"

    def report() -> dict[str, Any]:
        answer = admin(stack, "GET", f"/reports/campaigns/{campaign}")
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    eventually(lambda: report()["sent"] == 4, "the broadcast's sends counted", seconds=180)
    stack.emulator.simulate_unfollow(DEMO_CHANNEL_ID, members[0])
    eventually(lambda: report()["blocks"] == 1, "the block counted", seconds=60)
    shown = report()
    assert (shown["name"], shown["sent"], shown["block_rate"]) == ("実配信レポート", 4, 0.25)
    assert shown["first_sent_at"] is not None and shown["variants"] == []
    listed = admin(stack, "GET", "/reports/campaigns?kind=broadcast").json()["campaigns"]
    assert listed[0]["campaign"] == campaign  # the most recent first
    assert stack.gateway.internal_errors == 0
