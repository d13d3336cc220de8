"""LinkTracker (what producers call) and ClickRecorder (what a tap does) on moto, and the
``linecrm simulate click`` command's one-line errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.fields import FieldCatalog
from linecrm.domain.stats import CLICKS, UNIQUE_CLICKS
from linecrm.domain.tags import TagCatalog
from linecrm.domain.tracked_links import TrackedLink, token_of
from linecrm.models.send import SendRequest
from linecrm.repositories.campaign_stats import CampaignStatsRepository
from linecrm.repositories.tracked_links import TrackedLinkRepository
from linecrm.repositories.tracking_markers import TrackingMarkers
from linecrm.tracking.clicks import ClickRecorder
from linecrm.tracking.links import LinkTracker
from linecrm_local import cli
from tests.unit.conftest import CHANNEL_ID, AwsWorld

AT = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)  # 00:30 on the 3rd in Tokyo
TOKYO = ZoneInfo("Asia/Tokyo")
LIFF = '{"liff_id": "2000000002-AbCdEfGh"}'
URL = "https://shop.example/sale"


def _config(settings: dict[str, Any]) -> ChannelConfig:
    return ChannelConfig(CHANNEL_ID, TagCatalog([], []), FieldCatalog([]), [], settings)


class CountingLinks(TrackedLinkRepository):
    puts = 0

    def put(self, link: TrackedLink, at: datetime) -> None:
        self.puts += 1
        super().put(link, at)


def _request(campaign: str | None = "broadcast:b1", **extra: Any) -> SendRequest:
    messages = [{"type": "text", "text": f"セール {URL}"}]
    return SendRequest(
        delivery_id="d1",
        channel_id=CHANNEL_ID,
        to=["U1"],
        messages=messages,
        cause="broadcast",
        campaign=campaign,
        **extra,
    )


def _links(aws: AwsWorld) -> CountingLinks:
    return CountingLinks(aws.client("dynamodb"), aws.resources.table_names["Main"])


def test_a_tracked_request_stores_each_link_once_per_environment(aws: AwsWorld) -> None:
    links = _links(aws)
    tracker = LinkTracker(links, lambda _: _config({"liff": LIFF}), lambda: AT)

    first = tracker.track(_request())
    again = tracker.track(_request())
    variant_b = tracker.track(_request(variant="B"))

    assert first == again and first.messages != _request().messages
    assert links.puts == 2  # b1 and b1/B; the repeat wrote nothing
    token = token_of(first.messages[0]["text"].split()[-1])
    assert token is not None
    assert links.get(token) == TrackedLink(token, CHANNEL_ID, "broadcast:b1", None, URL)
    assert variant_b.messages != first.messages


def test_nothing_is_tracked_without_a_campaign_or_a_liff_app(aws: AwsWorld) -> None:
    links = _links(aws)
    with_liff = LinkTracker(links, lambda _: _config({"liff": LIFF}), lambda: AT)
    without = LinkTracker(links, lambda _: _config({}), lambda: AT)
    broken = LinkTracker(links, lambda _: _config({"liff": '{"liff_id": "x"}'}), lambda: AT)
    assert with_liff.track(_request(campaign=None)) == _request(campaign=None)
    assert without.track(_request()) == _request()
    assert broken.track(_request()) == _request()
    assert links.puts == 0


def test_clicks_count_per_campaign_variant_and_day_unique_once_per_friend(
    aws: AwsWorld,
) -> None:
    client, table = aws.client("dynamodb"), aws.resources.table_names["Main"]
    stats = CampaignStatsRepository(client, table)
    markers = TrackingMarkers(client, table)
    recorder = ClickRecorder(
        TrackedLinkRepository(client, table), markers, stats, lambda: AT, lambda _: TOKYO
    )
    link = TrackedLink("t" * 22, CHANNEL_ID, "broadcast:b1", "A", URL)

    assert recorder.record(link, "U1").first
    assert not recorder.record(link, "U1").first
    assert recorder.record(link, "U2").first
    assert not recorder.record(link).first  # anonymous

    assert stats.campaign(CHANNEL_ID, "broadcast:b1") == {"A": {CLICKS: 4, UNIQUE_CLICKS: 2}}
    tokyo_day = datetime(2026, 12, 3).date()
    assert stats.days(CHANNEL_ID, tokyo_day, tokyo_day) == {
        tokyo_day: {CLICKS: 4, UNIQUE_CLICKS: 2}
    }
    last = markers.last_click(CHANNEL_ID, "U1")
    assert last is not None and (last.campaign, last.variant) == ("broadcast:b1", "A")
    assert markers.first_click(CHANNEL_ID, "U2", "broadcast:b1") is not None


def test_a_click_day_is_in_the_channel_time_zone(aws: AwsWorld) -> None:
    client, table = aws.client("dynamodb"), aws.resources.table_names["Main"]
    stats = CampaignStatsRepository(client, table)
    zones = {CHANNEL_ID: ZoneInfo("America/Los_Angeles")}
    recorder = ClickRecorder(
        TrackedLinkRepository(client, table),
        TrackingMarkers(client, table),
        stats,
        lambda: AT,
        zones.__getitem__,
    )
    recorder.record(TrackedLink("t" * 22, CHANNEL_ID, "broadcast:b1", None, URL), "U1")
    los_angeles_day = datetime(2026, 12, 2).date()  # 07:30 on the 2nd there
    assert stats.days(CHANNEL_ID, los_angeles_day, datetime(2026, 12, 3).date()) == {
        los_angeles_day: {CLICKS: 1, UNIQUE_CLICKS: 1}
    }


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["simulate", "click", "https://liff.line.me/1-a/click?t=" + "x" * 22], "--user"),
        (
            ["simulate", "click", "--user", "U1", "--anonymous", "https://x.example/t/" + "x" * 22],
            "--user",
        ),
        (["simulate", "click", "--user", "U1", "https://shop.example/"], "no tracking URL"),
    ],
)
def test_simulate_click_mistakes_are_one_line_errors(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err
