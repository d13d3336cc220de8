from __future__ import annotations

import os
from datetime import timedelta

import pytest
import requests

from linecrm import resources
from linecrm_local import demo
from linecrm_local.stack import LocalStack

pytestmark = pytest.mark.integration


def test_the_stack_serves_the_routes_and_its_parts(fresh: LocalStack) -> None:
    index = requests.get(fresh.gateway_url + "/", timeout=5).json()

    assert {r["route"] for r in index["routes"]} == {
        f"{r.method} {r.path}" for r in resources.ROUTES
    }
    assert fresh.webhook_url() == f"{fresh.gateway_url}/webhook/{demo.DEMO_CHANNEL_ID}"
    assert fresh.emulator.channel(demo.DEMO_CHANNEL_ID).webhook_url == fresh.webhook_url()
    webhook = fresh.functions.environment(resources.WEBHOOK_FUNCTION.name)
    assert webhook[resources.Env.LINE_API_BASE_URL] == fresh.emulator_url
    assert os.environ["AWS_ENDPOINT_URL"] == fresh.moto_url
    assert webhook[resources.Env.SEND_QUEUE_URL] == fresh.send_queue_url
    assert fresh.runner.functions is fresh.functions
    before = fresh.clock.now()
    fresh.clock.advance(timedelta(hours=1))
    assert fresh.clock.now() - before >= timedelta(hours=1)


def test_a_simulated_follow_reaches_the_webhook_handler(fresh: LocalStack) -> None:
    delivery = fresh.emulator.simulate_follow(demo.DEMO_CHANNEL_ID, display_name="Hanako")

    assert delivery.status == 200, delivery.body
    assert fresh.functions.invocation_count("webhook") >= 1
    assert fresh.gateway.internal_errors == 0


def test_a_badly_signed_webhook_is_refused_not_a_500(fresh: LocalStack) -> None:
    response = requests.post(
        fresh.webhook_url(),
        data=b'{"destination": "x", "events": []}',
        headers={"Content-Type": "application/json", "X-Line-Signature": "bad"},
        timeout=5,
    )

    assert 400 <= response.status_code < 500
    assert fresh.gateway.internal_errors == 0
