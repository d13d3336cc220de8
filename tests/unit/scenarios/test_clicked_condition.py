"""Scenario branching on clicks: a step with ``if_clicked`` goes to the friends who did
(or did not) click a tracked link of an earlier step, read from their first-click
markers; the step's links are tracked like a broadcast's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from linecrm.domain.campaigns import step_campaign
from linecrm.domain.tracked_links import token_of
from linecrm.repositories.tracked_links import TrackedLinkRepository
from linecrm.repositories.tracking_markers import Marker, TrackingMarkers
from linecrm.scenarios.model import ScenarioDefinition
from tests.unit.conftest import CHANNEL_ID, AwsWorld
from tests.unit.scenarios.test_engine import MINUTE_1, T0, USERS, World

LIFF_ID = "2000000002-AbCdEfGh"
SALE_URL = "https://shop.example/sale"


def branching() -> dict[str, Any]:
    return {
        "name": "クリックで分岐",
        "triggers": [{"type": "follow"}],
        "steps": [
            {
                "id": "sale",
                "timing": {"after_enrollment": "0m"},
                "messages": [{"type": "text", "text": f"セールです {SALE_URL}"}],
            },
            {
                "id": "thanks",
                "timing": {"after_enrollment": "1d"},
                "if_clicked": {"step": "sale"},
                "messages": [{"type": "text", "text": "見てくれてありがとう"}],
            },
            {
                "id": "nudge",
                "timing": {"after_enrollment": "2d"},
                "if_clicked": {"step": "sale", "clicked": False},
                "messages": [{"type": "text", "text": "まだ間に合います"}],
            },
        ],
    }


@pytest.fixture
def world(aws: AwsWorld) -> World:
    world = World(aws)
    world.container.channel_config.set_setting(CHANNEL_ID, "liff", {"liff_id": LIFF_ID})
    world.service.apply(CHANNEL_ID, "s", branching(), dry_run=False)
    return world


def test_friends_who_clicked_step_k_get_one_step_and_the_others_the_other(
    world: World, aws: AwsWorld
) -> None:
    clicker, other = USERS[:2]
    world.follow(clicker)
    world.follow(other)
    assert world.fire_at(world.job("sale", MINUTE_1), MINUTE_1)["sent"] == 2
    # (queued_sends receives them: the later sends are the next steps' only)
    (sale,) = [send for send in aws.queued_sends() if send["cause"] == "step"]
    text = sale["messages"][0]["text"]
    assert SALE_URL not in text
    token = token_of(text.split()[-1])
    assert token is not None
    link = TrackedLinkRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])
    stored = link.get(token)
    assert stored is not None
    assert (stored.campaign, stored.url) == (step_campaign("s", "sale"), SALE_URL)

    markers = TrackingMarkers(aws.client("dynamodb"), aws.resources.table_names["Main"])
    markers.put_first_click(
        CHANNEL_ID, clicker, Marker(step_campaign("s", "sale"), None, T0 + timedelta(hours=1))
    )

    thanks = world.fire_at(
        world.job("thanks", MINUTE_1 + timedelta(days=1)), MINUTE_1 + timedelta(days=1)
    )
    assert (thanks["sent"], thanks["skipped:condition"]) == (1, 1)
    nudge = world.fire_at(
        world.job("nudge", MINUTE_1 + timedelta(days=2)), MINUTE_1 + timedelta(days=2)
    )
    assert (nudge["sent"], nudge["skipped:condition"]) == (1, 1)
    assert world.sends() == [([clicker], "見てくれてありがとう"), ([other], "まだ間に合います")]


def test_if_clicked_names_an_earlier_step() -> None:
    later = branching()
    later["steps"][0]["if_clicked"] = {"step": "nudge"}
    with pytest.raises(ValidationError, match="no earlier step"):
        ScenarioDefinition.model_validate({"id": "s", **later})
    unknown = branching()
    unknown["steps"][1]["if_clicked"] = {"step": "nope"}
    with pytest.raises(ValidationError, match="no earlier step"):
        ScenarioDefinition.model_validate({"id": "s", **unknown})
