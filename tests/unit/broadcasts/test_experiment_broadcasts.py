"""A/B broadcasts on moto: one multicast group per variant, the holdout sent nothing."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from pydantic import ValidationError

from linecrm.broadcasts.planner import BroadcastPlanner
from linecrm.broadcasts.service import BroadcastPreview, BroadcastRejected, BroadcastRequest
from linecrm.delivery.holdouts import Holdouts
from linecrm.domain.campaigns import broadcast_campaign
from linecrm.domain.experiments import Experiment
from linecrm.domain.stats import HELD_OUT, HOLDOUT_VARIANT
from linecrm.jobs import StepOutcome
from linecrm.line.client import MessageQuota
from linecrm.repositories.campaign_stats import CampaignStatsRepository
from linecrm.repositories.tracking_markers import TrackingMarkers
from tests.unit.broadcasts.test_planner_and_service import (
    NOW,
    SALE,
    QueueCrashed,
    World,
    budget,
    create,
    world,
)
from tests.unit.conftest import CHANNEL_ID

__all__ = ["world"]  # the fixture

OTHER = [{"type": "text", "text": "今だけ 20% オフ"}]
SPLIT = {
    "variants": [{"name": "A", "percent": 45}, {"name": "B", "percent": 45, "messages": OTHER}],
    "holdout_percent": 10,
}


def planner(world: World) -> BroadcastPlanner:
    table = world.aws.resources.table_names["Main"]
    dynamodb = world.aws.client("dynamodb")
    return BroadcastPlanner(
        world.broadcasts,
        world.friends,
        world.ledger,
        world.config.load,
        world.chunks,
        world.steps,
        lambda broadcast, at: None,
        world,
        lambda _channel: MessageQuota(limit=None, used=0),
        lambda: NOW,
        holdouts=Holdouts(
            TrackingMarkers(dynamodb, table), CampaignStatsRepository(dynamodb, table)
        ),
    )


def run_to_the_end(world: World, broadcast_id: str) -> None:
    for _ in range(50):
        outcome = planner(world).run_step(CHANNEL_ID, broadcast_id, budget(max_chunks=2))
        if outcome is StepOutcome.DONE:
            return
        assert outcome is StepOutcome.CONTINUE
    raise AssertionError("the broadcast never finished")


def stats(world: World) -> CampaignStatsRepository:
    table = world.aws.resources.table_names["Main"]
    return CampaignStatsRepository(world.aws.client("dynamodb"), table)


def markers(world: World) -> TrackingMarkers:
    table = world.aws.resources.table_names["Main"]
    return TrackingMarkers(world.aws.client("dynamodb"), table)


def test_each_variant_is_one_multicast_group_and_the_holdout_gets_nothing(world: World) -> None:
    friends = world.add_friends(1_200)
    broadcast = create(world, experiment=SPLIT)
    campaign = broadcast_campaign(broadcast.broadcast_id)
    experiment = Experiment.model_validate(SPLIT)
    expected = Counter(experiment.assign(campaign, user_id) for user_id in friends)

    run_to_the_end(world, broadcast.broadcast_id)

    by_variant: dict[str | None, list[str]] = {}
    chunks: Counter[str | None] = Counter()
    for request in world.chunks.queued:
        assert request.campaign == campaign
        by_variant.setdefault(request.variant, []).extend(request.to)
        chunks[request.variant] += 1
        assert request.messages == (SALE if request.variant == "A" else OTHER)
    # Identical content per variant keeps multicast: ceil(N_variant / 500) calls each.
    assert set(by_variant) == {"A", "B"}
    for variant in ("A", "B"):
        assert sorted(by_variant[variant]) == sorted(
            u for u in friends if experiment.assign(campaign, u) == variant
        )
        assert chunks[variant] == math.ceil(expected[variant] / 500)
    sent = {user for users in by_variant.values() for user in users}
    held_out = [u for u in friends if experiment.assign(campaign, u) == HOLDOUT_VARIANT]
    assert held_out and not sent & set(held_out)
    assert len(sent) + len(held_out) == 1_200

    # Recorded: a marker per held-out friend, the counter once, the broadcast's counts.
    for user_id in held_out:
        marker = markers(world).holdout(CHANNEL_ID, user_id)
        assert marker is not None and marker.campaign == campaign
        assert marker.variant == HOLDOUT_VARIANT
    assert markers(world).holdout(CHANNEL_ID, sorted(sent)[0]) is None
    assert stats(world).campaign(CHANNEL_ID, campaign)[HOLDOUT_VARIANT][HELD_OUT] == len(held_out)
    done = world.broadcasts.get(CHANNEL_ID, broadcast.broadcast_id)
    assert done is not None and done.status == "sent"
    assert done.counters.friends_seen == 1_200
    assert done.counters.held_out == len(held_out)
    assert done.counters.recipients == len(sent)
    assert done.counters.variant_recipients == {"A": expected["A"], "B": expected["B"]}

    # Planned again (a duplicate step message): nothing more is queued or counted.
    again = planner(world).run_step(CHANNEL_ID, broadcast.broadcast_id, budget())
    assert again is StepOutcome.FINISHED
    assert stats(world).campaign(CHANNEL_ID, campaign)[HOLDOUT_VARIANT][HELD_OUT] == len(held_out)


def test_a_crashed_step_counts_the_holdout_once_and_splits_alike(world: World) -> None:
    friends = world.add_friends(60)
    broadcast = create(world, experiment=SPLIT)
    campaign = broadcast_campaign(broadcast.broadcast_id)
    world.chunks.crash_on = {0}  # the first queue put crashes after its commit
    with pytest.raises(QueueCrashed):
        planner(world).run_step(CHANNEL_ID, broadcast.broadcast_id, budget())
    run_to_the_end(world, broadcast.broadcast_id)

    experiment = Experiment.model_validate(SPLIT)
    held_out = sum(experiment.assign(campaign, u) == HOLDOUT_VARIANT for u in friends)
    counted = stats(world).campaign(CHANNEL_ID, campaign)[HOLDOUT_VARIANT][HELD_OUT]
    assert counted == held_out
    # Every friend got the variant the hash gives, however the steps were cut.
    for request in world.chunks.queued:
        assert all(experiment.assign(campaign, u) == request.variant for u in request.to)


def test_without_an_experiment_nothing_changes(world: World) -> None:
    world.add_friends(3)
    broadcast = create(world)
    run_to_the_end(world, broadcast.broadcast_id)
    assert [request.variant for request in world.chunks.queued] == [None]
    assert stats(world).campaign(CHANNEL_ID, broadcast_campaign(broadcast.broadcast_id)) == {}


def test_a_split_that_does_not_add_up_is_refused() -> None:
    with pytest.raises(ValidationError, match="add up to 100"):
        BroadcastRequest(
            name="sale",
            messages=SALE,
            experiment={"variants": [{"name": "A", "percent": 50}], "holdout_percent": 10},
        )


def test_lines_broadcast_endpoint_cannot_split(world: World) -> None:
    with pytest.raises(BroadcastRejected, match="A/B variants"):
        create(world, method="broadcast", experiment=SPLIT)
    # auto picks multicast for an experiment
    assert create(world, method="auto", experiment=SPLIT).method == "multicast"


def test_a_bad_variant_message_is_refused_with_where(world: World) -> None:
    bad = {
        "variants": [
            {"name": "A", "percent": 50},
            {"name": "B", "percent": 50, "messages": [{"type": "text", "text": "x" * 5001}]},
        ]
    }
    with pytest.raises(BroadcastRejected) as refused:
        create(world, experiment=bad)
    assert refused.value.field == "experiment.variants[1].messages"


def test_the_preview_shows_the_split(world: World) -> None:
    world.add_friends(400)
    world.add_friends(5, status="blocked")
    preview = world.service().preview(
        CHANNEL_ID,
        BroadcastRequest(name="sale", messages=SALE, method="multicast", experiment=SPLIT),
    )
    assert isinstance(preview, BroadcastPreview)
    assert preview.variants is not None and set(preview.variants) == {"A", "B"}
    assert sum(preview.variants.values()) == preview.recipients
    assert preview.recipients + preview.held_out == 400
    assert preview.blocked == 5
    assert 10 < preview.held_out < 80  # 10 % of 400, drawn
