"""An A/B scenario step: a multicast per variant, the holdout sent nothing but moved on."""

from __future__ import annotations

from collections import Counter

import pytest

from linecrm.domain.campaigns import step_campaign
from linecrm.domain.experiments import Experiment
from linecrm.domain.stats import HELD_OUT, HOLDOUT_VARIANT
from linecrm.repositories.campaign_stats import CampaignStatsRepository
from linecrm.repositories.tracking_markers import TrackingMarkers
from linecrm.scenarios.engine import HOLDOUT_REASON
from linecrm.scenarios.service import ScenarioRejected
from tests.unit.conftest import CHANNEL_ID, AwsWorld
from tests.unit.scenarios.test_engine import MINUTE_1, World, scenario

SPLIT = {
    "variants": [
        {"name": "A", "percent": 40},
        {"name": "B", "percent": 40, "messages": [{"type": "text", "text": "B案"}]},
    ],
    "holdout_percent": 20,
}
USERS = [f"U{index:032x}" for index in range(1, 61)]


def ab_world(aws: AwsWorld) -> World:
    world = World(aws)
    definition = scenario()
    definition["steps"][0]["experiment"] = SPLIT
    world.service.apply(CHANNEL_ID, "s", definition, dry_run=False)
    return world


def test_each_variant_gets_its_messages_and_the_holdout_nothing(aws: AwsWorld) -> None:
    world = ab_world(aws)
    for user_id in USERS:
        world.follow(user_id)
    campaign = step_campaign("s", "hello")
    experiment = Experiment.model_validate(SPLIT)
    expected = {u: experiment.assign(campaign, u) for u in USERS}
    held_out = sorted(u for u, v in expected.items() if v == HOLDOUT_VARIANT)
    assert held_out

    job = world.job("hello", MINUTE_1)
    world.fire_at(job, MINUTE_1)
    world.fire_at(job, MINUTE_1)  # a second copy of the fire changes nothing

    sends = [m for m in aws.queued_sends() if m["cause"] == "step"]
    assert sorted(m["variant"] for m in sends) == ["A", "B"]  # one multicast per variant
    for message in sends:
        assert message["campaign"] == campaign
        assert all(expected[u] == message["variant"] for u in message["to"])
        text = message["messages"][0]["text"]
        assert text == ("ようこそ" if message["variant"] == "A" else "B案")
    reached = {u for m in sends for u in m["to"]}
    assert reached == {u for u, v in expected.items() if v != HOLDOUT_VARIANT}

    table = aws.resources.table_names["Main"]
    markers = TrackingMarkers(aws.client("dynamodb"), table)
    for user_id in held_out:
        marker = markers.holdout(CHANNEL_ID, user_id)
        assert marker is not None and marker.campaign == campaign
    stats = CampaignStatsRepository(aws.client("dynamodb"), table).campaign(CHANNEL_ID, campaign)
    assert stats[HOLDOUT_VARIANT][HELD_OUT] == len(held_out)
    counters = world.counters()["hello"]
    assert counters[f"skipped:{HOLDOUT_REASON}"] == len(held_out)
    assert counters["sent"] == len(reached)
    # Held out of this step only: everyone waits for the next one (the reminder).
    assert world.counters()["nudge"]["due"] == len(USERS)
    assert Counter(expected.values())[HOLDOUT_VARIANT] == len(held_out)


def test_a_bad_split_or_an_experiment_without_messages_is_refused(aws: AwsWorld) -> None:
    world = World(aws)
    definition = scenario()
    definition["steps"][0]["experiment"] = {
        "variants": [{"name": "A", "percent": 50}, {"name": "B", "percent": 40}]
    }
    with pytest.raises(ScenarioRejected, match="add up to 100"):
        world.service.apply(CHANNEL_ID, "s", definition, dry_run=True)
    del definition["steps"][0]["messages"]
    definition["steps"][0]["actions"] = [{"type": "add_tags", "tags": ["購入者"]}]
    definition["steps"][0]["experiment"] = SPLIT
    with pytest.raises(ScenarioRejected, match="give the step messages"):
        world.service.apply(CHANNEL_ID, "s", definition, dry_run=True)
