"""Opens from LINE through the local stack: a broadcast (its multicasts carry the
campaign's aggregation unit) → simulated opens and taps in the emulator → the hourly
insight schedule (scheduler → job queue → jobs) → the figures stored per campaign
equal what was simulated; under 20 recipients they are withheld, not 0."""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests

from linecrm import resources
from linecrm.domain.campaigns import broadcast_campaign
from linecrm.domain.insight import CampaignInsight, aggregation_unit_for
from linecrm.repositories.message_insight import MessageInsightRepository
from linecrm_local import cli
from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID
from linecrm_local.seed import seed_friends
from linecrm_local.stack import LocalStack
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ADMIN = {"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}
BASE = f"/admin/channels/{DEMO_CHANNEL_ID}"
URL = "https://shop.example/winter-sale"
SALE = [{"type": "text", "text": f"冬のセール開催中！ {URL}"}]
TIMEOUT = 300


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # A long tick: the test fires the hourly schedule itself (clock.advance, run_due).
    with LocalStack(visibility_timeout_seconds=120, scheduler_tick_seconds=3600) as local:
        local.runner.run_due()  # the runner sees the rate() schedules: due in an hour
        yield local


def admin(stack: LocalStack, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(
        method, f"{stack.gateway_url}{BASE}{path}", json=body, headers=ADMIN, timeout=TIMEOUT
    )
    assert response.status_code < 300, (response.status_code, response.text)
    return response.json() if response.content else None


def broadcast_to_tag(stack: LocalStack, tag: str, friends: int) -> tuple[str, list[str]]:
    """A broadcast to ``friends`` new friends with ``tag`` (a segment: multicasts);
    returns its campaign key and the friends, once it is sent."""
    table = stack.resources.table_names[resources.MAIN_TABLE.logical_id]
    tag_id = admin(stack, "POST", "/tags", {"name": tag})["tag_id"]
    members = seed_friends(stack.emulator, DEMO_CHANNEL_ID, table, friends, tag_ids=(tag_id,))
    body = {"name": tag, "messages": SALE, "segment": {"match": {"tag": tag}}}
    broadcast_id = admin(stack, "POST", "/broadcasts", body)["broadcast_id"]

    def sent() -> bool:
        report = admin(stack, "GET", f"/broadcasts/{broadcast_id}")
        return bool(
            report["broadcast"]["status"] == "sent" and not report["deliveries"].get("queued")
        )

    wait_for(sent, timeout=TIMEOUT, interval=0.2)
    stack.poller.drain(timeout=TIMEOUT)
    return broadcast_campaign(broadcast_id), members


def simulate_open(stack: LocalStack, friend: str, *options: str) -> None:
    argv = ["--emulator", stack.emulator_url, "--channel", DEMO_CHANNEL_ID, "simulate", "open"]
    assert cli.main([*argv, friend, *options]) == 0


def first_url(stack: LocalStack, friend: str) -> str:
    """The first URL in the friend's latest message, as they received it."""
    (received, *_) = reversed(stack.emulator.inbox(friend))
    (url,) = re.findall(r"https?://\S+", received.message["text"])[:1]
    return str(url)


def fetch_insight(stack: LocalStack, campaign: str, after: Any = None) -> CampaignInsight:
    """Move the clock an hour: the insight schedule fires; wait for the figures."""
    stack.clock.advance(timedelta(hours=1))
    fired = {firing.name for firing in stack.runner.run_due()}
    assert resources.INSIGHT_FETCH.name in fired
    table = stack.resources.table_names[resources.MAIN_TABLE.logical_id]
    import boto3

    repository = MessageInsightRepository(boto3.client("dynamodb"), table)

    def stored() -> CampaignInsight | None:
        found = repository.get(DEMO_CHANNEL_ID, campaign)
        return found if found is not None and found.fetched_at != after else None

    insight: CampaignInsight = wait_for(stored, timeout=TIMEOUT, interval=0.2)
    return insight


def test_opens_and_clicks_fetched_from_line_equal_what_was_simulated(stack: LocalStack) -> None:
    campaign, friends = broadcast_to_tag(stack, "insight-25", 25)
    unit = aggregation_unit_for(campaign)
    multicasts = [call for call in stack.emulator.calls("multicast") if call.status == 200]
    assert multicasts[-1].body["customAggregationUnits"] == [unit]
    for friend in friends[:23]:
        simulate_open(stack, friend, "--campaign", campaign)
    # --click alone taps the message's first URL: the sale's link, or its tracking URL
    # when linecrm rewrote it (docs/tracking.md); LINE counts either.
    simulate_open(
        stack, friends[0], "--campaign", campaign, "--click", first_url(stack, friends[0])
    )
    for friend in friends[1:21]:
        simulate_open(stack, friend, "--campaign", campaign, "--click")

    insight = fetch_insight(stack, campaign)

    assert insight.source == f"unit:{unit}"
    assert insight.statistics.unique_impressions == 23
    assert insight.statistics.unique_clicks == 21
    assert insight.statistics.clicks == 21
    assert insight.statistics.impressions == 23
    assert not insight.statistics.withheld
    assert insight.error is None
    report = insight.as_report()
    assert report["opens"] == 23
    assert report["line_unique_clicks"] == 21
    # LINE's request ids of the sends are in the ledger.
    assert all(call.request_id for call in multicasts)
    # The admin API (and `linecrm insight`) shows the stored figures.
    (shown,) = admin(stack, "GET", f"/insight?campaign={campaign}")["campaigns"]
    assert shown["line"]["opens"] == 23
    assert shown["line"]["line_unique_clicks"] == 21
    assert shown["line"]["withheld"] is False
    out = io.StringIO()
    argv = ["--channel", DEMO_CHANNEL_ID, "insight", "--api-url", stack.gateway_url]
    with contextlib.redirect_stdout(out):
        assert cli.main([*argv, "--campaign", campaign]) == 0
    assert json.loads(out.getvalue())["campaigns"][0]["line"]["opens"] == 23


def test_the_insight_route_refuses_what_never_sent_or_is_no_campaign(stack: LocalStack) -> None:
    def get(query: str) -> requests.Response:
        url = f"{stack.gateway_url}{BASE}/insight?{query}"
        return requests.get(url, headers=ADMIN, timeout=TIMEOUT)

    assert get("campaign=broadcast:never-sent").status_code == 404
    assert get("campaign=not-a-campaign").status_code == 422
    assert get("limit=0").status_code == 422


def test_under_20_recipients_the_figures_are_withheld_not_zero(stack: LocalStack) -> None:
    campaign, friends = broadcast_to_tag(stack, "insight-12", 12)
    for friend in friends:
        simulate_open(stack, friend, "--campaign", campaign, "--click")

    insight = fetch_insight(stack, campaign)
    (shown,) = admin(stack, "GET", f"/insight?campaign={campaign}")["campaigns"]
    assert shown["line"]["withheld"] is True
    assert shown["line"]["opens"] is None

    assert insight.statistics.withheld
    assert insight.statistics.unique_impressions is None
    assert insight.statistics.unique_clicks is None
    report = insight.as_report()
    assert report["withheld"] is True
    assert report["opens"] is None  # not 0: LINE says nothing under 20 users


def test_a_broadcast_through_lines_broadcast_endpoint_is_read_by_its_request_id(
    stack: LocalStack,
) -> None:
    broadcast_id = admin(stack, "POST", "/broadcasts", {"name": "everyone", "messages": SALE})[
        "broadcast_id"
    ]

    def request_id() -> str | None:
        calls = [c for c in stack.emulator.calls("broadcast") if c.status == 200]
        return calls[-1].request_id if calls else None

    line_request_id = wait_for(request_id, timeout=TIMEOUT, interval=0.2)
    stack.poller.drain(timeout=TIMEOUT)
    everyone = [
        friend.user_id for friend in stack.emulator.state.following_friends(DEMO_CHANNEL_ID)
    ]
    assert len(everyone) >= 20
    for friend in everyone[:20]:
        simulate_open(stack, friend, "--message", line_request_id)
    campaign = broadcast_campaign(broadcast_id)

    insight = fetch_insight(stack, campaign)

    assert insight.source == f"request:{line_request_id}"
    assert insight.statistics.unique_impressions == 20
    assert insight.statistics.delivered == len(everyone)
