"""The dashboard demo's helpers: which links a friend can tap in what they received."""

from __future__ import annotations

from linecrm.domain.tracked_links import click_url
from linecrm_local.demo_activity import DEMO_BROADCAST, DemoPlan, message_urls, tracked_links

TRACKED = click_url("2000000002-DemoLiff", "hY41SFw21qOHO5ogAQ7vDj")


def test_urls_are_found_in_text_and_in_uri_actions() -> None:
    message = {
        "type": "template",
        "altText": "a",
        "template": {
            "type": "buttons",
            "text": "see https://shop.example.com/a and https://shop.example.com/a",
            "actions": [{"type": "uri", "label": "b", "uri": TRACKED}],
        },
    }
    assert message_urls(message) == ["https://shop.example.com/a", TRACKED]


def test_only_tracking_urls_are_tapped_once_each_in_order() -> None:
    messages = [
        {"type": "text", "text": "plain https://shop.example.com/new"},
        {"type": "text", "text": f"sale {TRACKED}"},
        {"type": "text", "text": f"again {TRACKED}"},
    ]
    assert tracked_links(messages) == [TRACKED]
    assert tracked_links([{"type": "text", "text": "nothing"}]) == []


def test_the_demo_broadcast_is_an_ab_test_with_a_holdout() -> None:
    experiment = DEMO_BROADCAST["experiment"]
    percents = [v["percent"] for v in experiment["variants"]] + [experiment["holdout_percent"]]
    assert sum(percents) == 100 and experiment["holdout_percent"] > 0
    plan = DemoPlan()
    assert plan.click_share_b > plan.click_share  # B's copy should win the demo's test
