"""A seeded simulation of a 1,000-friend campaign: an A/B split with a holdout, clicks
(some friends more than once), purchases, blocks, drawn by ``random.Random(13)``, written
through the counting write paths (report counters and per-friend tracking markers).
The report then says exactly what the simulation did: per variant, the holdout, the
campaign list and the timeline.

``CountingWrites`` is the seam to the write paths (the expectations stay whatever
writes: they are what the simulation did)."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from linecrm.counting.listener import ReportCounting
from linecrm.counting.sent import SentCounting
from linecrm.domain import stats
from linecrm.domain.attribution import AttributionSettings
from linecrm.domain.signals import BehaviourEvent, Blocked, Followed
from linecrm.models.send import SendRequest
from linecrm.repositories.campaign_stats import CampaignStatsRepository
from linecrm.repositories.stats_writes import StatsWriter
from linecrm.repositories.tracking_markers import Marker, TrackingMarkers
from tests.unit.conftest import AwsWorld
from tests.unit.reports.world import ReportWorld

TOKYO = ZoneInfo("Asia/Tokyo")
SEND_AT = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)  # 20:00 in Tokyo: clicks run past midnight
CAMPAIGN = "broadcast:winter-sale"
FRIENDS = 1000
HOLDOUT_SHARE = 0.1
CLICK_RATE = {"A": 0.30, "B": 0.20}
BUY_AFTER_CLICK = 0.25
HOLDOUT_BUY = 0.04
BLOCK_RATE = 0.03
CHUNK = 500


def day_of(at: datetime) -> date:
    return at.astimezone(TOKYO).date()


@dataclass
class CountingWrites:
    """The counters' write paths: sends through ``SentCounting`` (what the sender runs
    with each sent chunk, its counters in the ledger move's transaction), unfollows and
    purchases through ``ReportCounting`` (the signal listener the webhook and the events
    API reach). Clicks and the holdout draw are written as the click redirector and the
    A/B planner write them (tracking markers and counters); re-point those two at their
    paths once they are merged."""

    client: Any
    table: str
    channel_id: str
    stats: CampaignStatsRepository = field(init=False)
    markers: TrackingMarkers = field(init=False)
    sent_counting: SentCounting = field(init=False)
    listener: ReportCounting = field(init=False)

    def __post_init__(self) -> None:
        self.stats = CampaignStatsRepository(self.client, self.table)
        self.markers = TrackingMarkers(self.client, self.table)
        self.sent_counting = SentCounting(
            self.client, self.stats, self.markers, lambda channel_id: TOKYO
        )
        self.listener = ReportCounting(
            StatsWriter(self.client, self.table, self.stats),
            self.markers,
            lambda channel_id: AttributionSettings(),
            lambda channel_id: TOKYO,
        )

    def sent(self, variant: str, user_ids: list[str], at: datetime) -> None:
        for start in range(0, len(user_ids), CHUNK):
            request = SendRequest(
                delivery_id=f"{CAMPAIGN}#{variant}#{start}",
                channel_id=self.channel_id,
                to=user_ids[start : start + CHUNK],
                messages=[{"type": "text", "text": "冬のセール"}],
                cause="broadcast",
                campaign=CAMPAIGN,
                variant=variant,
            )
            self.sent_counting.before_sent(request, at)
            updates = self.sent_counting.updates(request, at)
            self.client.transact_write_items(TransactItems=[{"Update": u} for u in updates])

    def held_out(self, user_ids: list[str], at: datetime) -> None:
        self.markers.put_holdout_many(
            self.channel_id, user_ids, Marker(CAMPAIGN, stats.HOLDOUT_VARIANT, at)
        )
        self.stats.add_to_campaign(
            self.channel_id,
            CAMPAIGN,
            {stats.HELD_OUT: len(user_ids)},
            shard_by="holdout",
            variant=stats.HOLDOUT_VARIANT,
        )

    def clicked(self, user_id: str, at: datetime) -> None:
        sent = self.markers.last_sent(self.channel_id, user_id)
        assert sent is not None
        marker = Marker(CAMPAIGN, sent.variant, at)
        first = self.markers.put_first_click(self.channel_id, user_id, marker)
        self.markers.put_last_click(self.channel_id, user_id, marker)
        counts = {stats.CLICKS: 1, stats.UNIQUE_CLICKS: 1 if first else 0}
        self.stats.add_to_campaign(
            self.channel_id, CAMPAIGN, counts, shard_by=user_id, variant=sent.variant
        )
        self.stats.add_to_day(self.channel_id, day_of(at), counts, shard_by=user_id)

    def purchased(self, user_id: str, amount: int, at: datetime) -> None:
        self.listener.on_signal(
            BehaviourEvent(
                self.channel_id,
                user_id,
                at,
                name="purchase",
                properties={"value": amount, "order_id": f"order-{user_id}"},
                idempotency_key=f"purchase-{user_id}",
                source="shop",
            )
        )

    def followed(self, user_id: str, at: datetime) -> None:
        self.listener.on_signal(Followed(self.channel_id, user_id, at))

    def unfollowed(self, user_id: str, at: datetime) -> None:
        self.listener.on_signal(Blocked(self.channel_id, user_id, at))


@dataclass
class Tally:
    """What the simulation did, counted in plain Python."""

    per_variant: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    per_day: dict[date, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))


def simulate(writes: CountingWrites, rng: random.Random) -> Tally:
    tally = Tally()
    friends = [f"U{index:032x}" for index in range(FRIENDS)]
    for user_id in friends:  # they became friends over the week before the campaign
        at = SEND_AT - timedelta(minutes=rng.randint(60, 7 * 24 * 60))
        writes.followed(user_id, at)
        tally.per_day[day_of(at)][stats.FRIENDS_ADDED] += 1
    groups: dict[str, list[str]] = {"A": [], "B": [], stats.HOLDOUT_VARIANT: []}
    for user_id in friends:
        if rng.random() < HOLDOUT_SHARE:
            groups[stats.HOLDOUT_VARIANT].append(user_id)
        else:
            groups[rng.choice("AB")].append(user_id)
    for variant in ("A", "B"):
        writes.sent(variant, groups[variant], SEND_AT)
        tally.per_variant[variant][stats.SENT] += len(groups[variant])
        tally.per_day[day_of(SEND_AT)][stats.SENT] += len(groups[variant])
    writes.held_out(groups[stats.HOLDOUT_VARIANT], SEND_AT)
    tally.per_variant[stats.HOLDOUT_VARIANT][stats.HELD_OUT] = len(groups[stats.HOLDOUT_VARIANT])

    for variant in ("A", "B"):
        counted = tally.per_variant[variant]
        for user_id in groups[variant]:
            clicked_at = None
            if rng.random() < CLICK_RATE[variant]:
                counted[stats.UNIQUE_CLICKS] += 1
                clicked_at = SEND_AT + timedelta(minutes=rng.randint(1, 12 * 60))
                for repeat in range(rng.choice((1, 1, 1, 2, 3))):
                    at = clicked_at + timedelta(minutes=repeat)
                    writes.clicked(user_id, at)
                    counted[stats.CLICKS] += 1
                    tally.per_day[day_of(at)][stats.CLICKS] += 1
                    tally.per_day[day_of(at)][stats.UNIQUE_CLICKS] += 1 if repeat == 0 else 0
            if clicked_at is not None and rng.random() < BUY_AFTER_CLICK:
                amount = rng.randrange(1000, 30000, 100)
                at = clicked_at + timedelta(hours=rng.randint(1, 6 * 24))
                writes.purchased(user_id, amount, at)
                counted[stats.CONVERSIONS] += 1
                counted[stats.REVENUE] += amount
                tally.per_day[day_of(at)][stats.CONVERSIONS] += 1
                tally.per_day[day_of(at)][stats.REVENUE] += amount
            if rng.random() < BLOCK_RATE:
                # Half within the 24 h block window, half later (not the campaign's block).
                at = SEND_AT + timedelta(hours=rng.choice((2, 20, 30, 70)))
                writes.unfollowed(user_id, at)
                tally.per_day[day_of(at)][stats.UNFOLLOWS] += 1
                if at - SEND_AT <= timedelta(hours=24):
                    counted[stats.BLOCKS] += 1
                    tally.per_day[day_of(at)][stats.BLOCKS] += 1
    held = tally.per_variant[stats.HOLDOUT_VARIANT]
    for user_id in groups[stats.HOLDOUT_VARIANT]:
        if rng.random() < HOLDOUT_BUY:
            amount = rng.randrange(1000, 30000, 100)
            writes.purchased(user_id, amount, SEND_AT + timedelta(days=rng.randint(1, 6)))
            held[stats.CONVERSIONS] += 1
            held[stats.REVENUE] += amount
    return tally


@pytest.mark.timeout(600)
def test_the_report_says_what_the_simulation_did(aws: AwsWorld) -> None:
    world = ReportWorld(aws, now=SEND_AT + timedelta(days=8))
    world.broadcast("winter-sale", "冬のセール", started_at=SEND_AT)
    writes = CountingWrites(world.client, world.table, world.channel_id)
    tally = simulate(writes, random.Random(13))
    a, b, held = (tally.per_variant[v] for v in ("A", "B", stats.HOLDOUT_VARIANT))
    # The draw made something of everything, so the comparison means something.
    assert all(a[name] and b[name] for name in (stats.CLICKS, stats.CONVERSIONS, stats.BLOCKS))
    assert held[stats.HELD_OUT] and held[stats.CONVERSIONS]
    assert a[stats.CLICKS] > a[stats.UNIQUE_CLICKS]  # some friends clicked twice

    report = world.service().campaign(world.channel_id, CAMPAIGN)

    figures = ("sent", "clicks", "unique_clicks", "conversions", "revenue", "blocks")
    for variant in report.variants:
        expected = tally.per_variant[variant.variant]
        assert {name: getattr(variant, name) for name in figures} == {
            name: expected[name] for name in figures
        }, variant.variant
        assert variant.ctr == expected[stats.UNIQUE_CLICKS] / expected[stats.SENT]
        assert variant.block_rate == expected[stats.BLOCKS] / expected[stats.SENT]
    assert [v.variant for v in report.variants] == ["A", "B"]
    assert {name: getattr(report, name) for name in figures} == {
        name: a[name] + b[name] for name in figures
    }
    assert report.sent + held[stats.HELD_OUT] == FRIENDS
    assert report.cvr == (a[stats.CONVERSIONS] + b[stats.CONVERSIONS]) / report.sent
    assert report.holdout is not None
    assert report.holdout.model_dump() == {
        "held_out": held[stats.HELD_OUT],
        "conversions": held[stats.CONVERSIONS],
        "revenue": held[stats.REVENUE],
        "cvr": held[stats.CONVERSIONS] / held[stats.HELD_OUT],
    }

    listed = world.service().campaigns(world.channel_id, "broadcast")
    assert [(c.campaign, c.name, c.sent, c.revenue) for c in listed.campaigns] == [
        (CAMPAIGN, "冬のセール", report.sent, report.revenue)
    ]

    first, last = day_of(SEND_AT) - timedelta(days=8), day_of(SEND_AT) + timedelta(days=9)
    timeline = world.service().timeline(world.channel_id, first.isoformat(), last.isoformat())
    assert len(timeline.days) == 18
    for day in timeline.days:
        expected = tally.per_day.get(day.date, Counter())
        assert {name: getattr(day, name) for name in stats.DAY_COUNTERS} == {
            name: expected[name] for name in stats.DAY_COUNTERS
        }, day.date
    assert sum(day.revenue for day in timeline.days) == a[stats.REVENUE] + b[stats.REVENUE]
    assert sum(day.friends_added for day in timeline.days) == FRIENDS
