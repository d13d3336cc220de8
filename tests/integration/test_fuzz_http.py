"""Fuzzing every HTTP route of the local stack: the admin API from its OpenAPI document
(schemathesis), and ``/liff/login``, the webhook, the events API and the inflow routes'
``/r/…`` with hypothesis. No answer may be a 5xx, and no function may fail (the gateway
counts those as internal errors)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linecrm_local.demo import DEMO_CHANNEL_ID
from linecrm_local.stack import LocalStack

pytestmark = pytest.mark.integration

OPENAPI = Path(__file__).parents[2] / "docs" / "admin-openapi.json"
schema = schemathesis.openapi.from_path(OPENAPI)

# Bounded so the whole module stays a few minutes: ~60 operations x 5 examples.
FUZZ = settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def stack(local_stack: LocalStack) -> LocalStack:
    local_stack.gateway.internal_errors = 0
    return local_stack


# One test per operation, with its label as the id: schemathesis' own parametrize
# gives all of them one node id, which pytest-xdist collapses into a single test.
OPERATIONS = [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_admin_api_never_answers_5xx(operation: Any, stack: LocalStack) -> None:
    @FUZZ
    @given(case=operation.as_strategy())
    def never_5xx(case: Any) -> None:
        if "channel_id" in (case.path_parameters or {}):
            case.path_parameters["channel_id"] = DEMO_CHANNEL_ID  # past the channel lookup
        response = case.call(
            base_url=stack.gateway_url,
            headers={"Authorization": f"Bearer {stack.admin_token}"},
            timeout=30,
        )
        assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
        assert stack.gateway.internal_errors == 0

    never_5xx()


@FUZZ
@given(body=json_values | st.binary(max_size=40).map(lambda raw: raw))
def test_liff_login_never_answers_5xx(stack: LocalStack, body: Any) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = requests.post(
        f"{stack.gateway_url}/liff/login",
        data=data,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code < 500, response.text[:500]
    assert response.status_code == 200 or "message" in response.json()
    assert stack.gateway.internal_errors == 0


@FUZZ
@given(body=json_values | st.binary(max_size=40))
def test_webhook_never_answers_5xx(stack: LocalStack, body: Any) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = requests.post(
        f"{stack.gateway_url}/webhook/{DEMO_CHANNEL_ID}",
        data=data,
        headers={"content-type": "application/json", "x-line-signature": "forged"},
        timeout=30,
    )
    assert response.status_code == 401, response.text[:500]  # unsigned: refused, not parsed
    assert stack.gateway.internal_errors == 0


event_values = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["purchase", "Purchase", ""]) | st.text(max_size=10),
        "user": st.sampled_from(["U" + "f" * 32, "U" + "0" * 31]) | json_values,
        "member_id": json_values,
        "occurred_at": st.sampled_from(["2026-12-02T00:00:00Z", "yesterday"]) | json_values,
        "idempotency_key": st.text(max_size=140) | json_values,
        "properties": json_values,
        "value": json_values,
    },
)


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    body=st.fixed_dictionaries({"events": st.lists(event_values | json_values, max_size=5)})
    | json_values
    | st.binary(max_size=40)
)
def test_events_never_answer_5xx(stack: LocalStack, body: Any) -> None:
    import time

    from linecrm.events.signature import compute_signature
    from linecrm_local.demo import DEMO_EVENT_SOURCE, DEMO_EVENT_SOURCE_KEY

    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    # Signed: past authentication, into parsing and per-event checks. The nanoseconds
    # make each signature new (a replay would be a 401 before any parsing).
    timestamp = str(int(stack.clock.now().timestamp()) - time.monotonic_ns() % 60)
    response = requests.post(
        f"{stack.gateway_url}/events/{DEMO_CHANNEL_ID}",
        data=data,
        headers={
            "content-type": "application/json",
            "x-linecrm-source": DEMO_EVENT_SOURCE,
            "x-linecrm-timestamp": timestamp,
            "x-linecrm-signature": compute_signature(DEMO_EVENT_SOURCE_KEY, timestamp, data),
        },
        timeout=30,
    )
    assert response.status_code < 500, response.text[:500]
    assert "results" in response.json() or "message" in response.json()
    assert stack.gateway.internal_errors == 0


query_values = st.dictionaries(
    st.sampled_from(["code", "state", "error", "error_description", "friendship_status_changed"])
    | st.text(max_size=8),
    st.text(max_size=60) | st.sampled_from(["access_denied", "e30.AAAA", "x.y"]),
    max_size=5,
)


@FUZZ
@given(
    code=st.text(max_size=20) | st.sampled_from(["callback", "abcdefgh", "zzzzzzzz", "%00"]),
    query=query_values,
    cookie=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=30),
)
def test_inflow_routes_never_answer_5xx(
    stack: LocalStack, code: str, query: dict[str, str], cookie: str
) -> None:
    from urllib.parse import quote

    route = requests.post(
        f"{stack.gateway_url}/admin/channels/{DEMO_CHANNEL_ID}/routes",
        json={"route_id": "fuzz", "name": "fuzz"},
        headers={"Authorization": f"Bearer {stack.admin_token}"},
        timeout=30,
    )
    assert route.status_code in (201, 409), route.text
    listed = requests.get(
        f"{stack.gateway_url}/admin/channels/{DEMO_CHANNEL_ID}/routes/fuzz",
        headers={"Authorization": f"Bearer {stack.admin_token}"},
        timeout=30,
    ).json()
    real = f"/r/{listed['code']}"  # a real route: past the lookup, into LINE Login
    for path in (f"/r/{quote(code, safe='')}", "/r/callback", real):
        response = requests.get(
            f"{stack.gateway_url}{path}",
            params=query,
            headers={"cookie": f"linecrm_inflow={cookie}"},
            allow_redirects=False,
            timeout=30,
        )
        assert response.status_code < 500, (path, response.text[:500])
    assert stack.gateway.internal_errors == 0
