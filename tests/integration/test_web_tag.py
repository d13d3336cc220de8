"""The web tag through the local stack's gateway: a key made with `linecrm webtag keys`,
the script at /web/tag.js, the CORS preflight, and a friend's cart_updated from the
shop's page that enrols them in the cart reminder, which fires an hour later, exactly
like the signed events API's. Every call is checked against the functions' grants."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linecrm import resources
from linecrm.domain.visitor_ids import sign_visitor_id
from linecrm_local import cli
from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID
from linecrm_local.stack import LocalStack
from tests.e2e.test_cart_reminder import CART_REMINDER, REMINDER, fire_due, follower, texts
from tests.support.admin_http import admin

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
READ = (10, 120)
ORIGIN = "http://localhost:8123"  # the shop's page (http: localhost only)
# Tuesday 2026-12-01 13:00:20 in Tokyo: the reminder is due at 14:00, in business hours.
START = datetime(2026, 12, 1, 4, 0, 20, tzinfo=UTC)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(visibility_timeout_seconds=5, scheduler_tick_seconds=3600) as local:
        local.clock.set(START)
        yield local


def linecrm(capsys: pytest.CaptureFixture[str], stack: LocalStack, *argv: str) -> Any:
    action, *rest = argv
    connection = ["--api-url", stack.gateway_url, "--token", DEMO_ADMIN_TOKEN]
    code = cli.main(["webtag", "keys", action, *connection, *rest])
    out, err = capsys.readouterr()
    assert code == 0, (out, err)
    return json.loads(out)


def visitor_id(stack: LocalStack, user_id: str) -> str:
    """What the auto-login's consume answer gives the shop (signed with the stack's key)."""
    secret = (
        stack.aws.session()
        .client("secretsmanager")
        .get_secret_value(SecretId=resources.VISITOR_KEY_SECRET_NAME)
    )
    key = json.loads(secret["SecretString"])["current"].encode()
    return sign_visitor_id(key, DEMO_CHANNEL_ID, user_id, stack.clock.now())


def post_web(stack: LocalStack, key: str, body: Any, origin: str = ORIGIN) -> requests.Response:
    return requests.post(
        f"{stack.gateway_url}/events/web",
        params={"key": key},
        json=body,
        headers={"Origin": origin},
        timeout=READ,
    )


def test_the_cli_makes_keys_that_the_admin_api_lists(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    created = linecrm(capsys, stack, "create", "--origin", "https://shop.example", "--rate", "100")
    assert created["origins"] == ["https://shop.example"] and created["rate_per_minute"] == 100
    assert f'{stack.gateway_url}/web/tag.js" data-key="{created["key"]}"' in created["snippet"]
    listed = linecrm(capsys, stack, "list")["keys"]
    assert created["key"] in [entry["key"] for entry in listed]
    assert linecrm(capsys, stack, "revoke", created["key"]) == {
        "key": created["key"],
        "revoked": True,
    }
    assert created["key"] not in [entry["key"] for entry in linecrm(capsys, stack, "list")["keys"]]
    # A mistake is one line and exit status 2, not a traceback.
    code = cli.main(
        [
            "webtag",
            "keys",
            "create",
            "--api-url",
            stack.gateway_url,
            "--token",
            DEMO_ADMIN_TOKEN,
            "--origin",
            "http://shop.example",
        ]
    )
    _, err = capsys.readouterr()
    assert code == 2 and "https" in err and "Traceback" not in err, err


def test_a_cart_updated_from_the_page_drives_the_cart_reminder(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert admin(stack, "PUT", "/scenarios/cart-reminder", CART_REMINDER).status_code < 300
    key = linecrm(capsys, stack, "create", "--origin", ORIGIN)["key"]
    script = requests.get(f"{stack.gateway_url}/web/tag.js", timeout=READ)
    assert script.status_code == 200 and "/events/web" in script.text
    assert script.headers["Content-Type"].startswith("application/javascript")

    preflight = requests.options(
        f"{stack.gateway_url}/events/web",
        params={"key": key},
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=READ,
    )
    assert preflight.status_code == 204, preflight.text
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    refused = requests.options(
        f"{stack.gateway_url}/events/web",
        params={"key": key},
        headers={"Origin": "https://elsewhere.example"},
        timeout=READ,
    )
    assert refused.status_code == 403 and "not allowed" in refused.json()["message"]

    user = follower(stack, "ウェブの客")
    stack.poller.drain(timeout=120)
    welcome = texts(stack, user)
    lcv = visitor_id(stack, user)
    answer = post_web(
        stack,
        key,
        {
            "visitor": lcv,
            "events": [
                {"name": "page_view", "event_id": "pv-0000000001", "properties": {"path": "/"}},
                {
                    "name": "cart_updated",
                    "event_id": "cu-0000000001",
                    "properties": {"value": 4200, "items": [{"sku": "A1", "qty": 1}]},
                },
            ],
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["applied"] == 2, answer.json()
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN
    events = admin(stack, "GET", f"/friends/{user}/events").json()["events"]
    assert sorted(event["name"] for event in events) == ["cart_updated", "page_view"]

    # Another site with the key, or a forged visitor id: refused with a reason.
    elsewhere = post_web(
        stack,
        key,
        {"events": [{"name": "page_view", "event_id": "pv-2222222"}]},
        origin="https://elsewhere.example",
    )
    assert elsewhere.status_code == 403 and elsewhere.json()["field"] == "Origin"
    forged = post_web(
        stack,
        key,
        {
            "visitor": lcv[:-4] + "AAAA",
            "events": [
                {"name": "cart_updated", "event_id": "cu-3333333", "properties": {"value": 9000}}
            ],
        },
    )
    assert forged.status_code == 401 and forged.json()["field"] == "visitor"

    fire_due(stack, START + timedelta(hours=1, minutes=1))
    assert texts(stack, user) == [*welcome, REMINDER]
    assert stack.gateway.internal_errors == 0


web_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
web_events = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["page_view", "cart_updated", "purchase", ""]) | web_values,
        "event_id": st.sampled_from(["ev-00000001", "x"]) | web_values,
        "properties": st.fixed_dictionaries(
            {}, optional={"amount": web_values, "order_id": web_values, "value": web_values}
        )
        | web_values,
    },
)


@pytest.fixture(scope="module")
def fuzz_key(stack: LocalStack) -> str:
    answer = admin(stack, "POST", "/web-tag/keys", {"origins": [ORIGIN], "rate_per_minute": 60000})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["key"])


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    body=st.fixed_dictionaries(
        {"events": st.lists(web_events | web_values, max_size=4)},
        optional={"visitor": st.sampled_from(["VALID", "", "AAAA" * 10]) | web_values},
    )
    | web_values
    | st.binary(max_size=40),
    origin=st.sampled_from([ORIGIN, "https://elsewhere.example", "null", ""]),
    method=st.sampled_from(["POST", "OPTIONS"]),
)
def test_the_web_events_route_never_answers_5xx(
    stack: LocalStack, fuzz_key: str, body: Any, origin: str, method: str
) -> None:
    if isinstance(body, dict) and body.get("visitor") == "VALID":
        body = body | {"visitor": visitor_id(stack, "U" + "f" * 32)}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = requests.request(
        method,
        f"{stack.gateway_url}/events/web",
        params={"key": fuzz_key},
        data=data,
        headers={"Origin": origin, "Content-Type": "application/json"},
        timeout=READ,
    )
    assert response.status_code < 500, response.text[:500]
    if response.status_code != 204:
        assert "results" in response.json() or "message" in response.json()
    assert stack.gateway.internal_errors == 0
