"""Fuzzing every HTTP route of the local stack: the admin API from its OpenAPI document
(schemathesis), and ``/liff/login``, the webhook, the events API and the inflow routes'
``/r/…`` with hypothesis. No answer may be a 5xx, and no function may fail (the gateway
counts those as internal errors)."""

from __future__ import annotations

import base64
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


def post_signed_by_the_shop(stack: LocalStack, path: str, body: Any) -> requests.Response:
    """``body`` (JSON, or raw bytes) signed with the demo source's key: past
    authentication, into parsing. The nanoseconds make each signature new (a replay
    would be a 401 before any parsing)."""
    import time

    from linecrm.events.signature import compute_signature
    from linecrm_local.demo import DEMO_EVENT_SOURCE, DEMO_EVENT_SOURCE_KEY

    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    timestamp = str(int(stack.clock.now().timestamp()) - time.monotonic_ns() % 60)
    return requests.post(
        f"{stack.gateway_url}{path}",
        data=data,
        headers={
            "content-type": "application/json",
            "x-linecrm-source": DEMO_EVENT_SOURCE,
            "x-linecrm-timestamp": timestamp,
            "x-linecrm-signature": compute_signature(DEMO_EVENT_SOURCE_KEY, timestamp, data),
        },
        timeout=30,
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


def _segment(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# JWT-shaped tokens with any header (alg, kid, …) and payload: past the JSON checks,
# into the verifier (the emulator's JWKS is fetched for an ES256 kid).
jwt_like = st.builds(
    lambda header, payload, signature: ".".join(
        (_segment(header), _segment(payload), _segment(signature))
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "alg": st.sampled_from(["ES256", "HS256", "none", "RS256"]) | json_values,
            "kid": st.text(max_size=20) | json_values,
            "typ": st.just("JWT"),
        },
    )
    | json_values,
    json_values,
    st.binary(max_size=64),
)


@settings(FUZZ, max_examples=60)
@given(
    token=jwt_like | st.text(min_size=1, max_size=60),
    nonce=st.none() | st.text(max_size=20),
)
def test_liff_login_verifier_never_answers_5xx(stack: LocalStack, token: str, nonce: Any) -> None:
    body: dict[str, Any] = {"channelId": DEMO_CHANNEL_ID, "idToken": token}
    if nonce is not None:
        body["nonce"] = nonce
    response = requests.post(f"{stack.gateway_url}/liff/login", json=body, timeout=30)
    assert response.status_code in (401, 422), response.text[:500]
    assert response.json()["field"] in ("idToken", "nonce")
    assert stack.gateway.internal_errors == 0


shop_login_bodies = st.fixed_dictionaries(
    {},
    optional={
        "channelId": st.sampled_from([DEMO_CHANNEL_ID, "404404404"]) | json_values,
        "idToken": st.sampled_from(["a.b.c", ""]) | json_values,
        "target": st.sampled_from(["/mypage", "//evil", "/../x", "https://x/"]) | json_values,
        "nonce": json_values,
    },
)


@FUZZ
@given(body=shop_login_bodies | json_values | st.binary(max_size=40))
def test_liff_shop_login_never_answers_5xx(stack: LocalStack, body: Any) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = requests.post(
        f"{stack.gateway_url}/liff/shop-login",
        data=data,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code < 500, response.text[:500]
    assert "message" in response.json()  # nobody here has a valid ID token
    assert stack.gateway.internal_errors == 0


@FUZZ
@given(
    body=st.fixed_dictionaries({"token": st.text(max_size=60) | json_values})
    | st.sampled_from(
        [{"token": "eyJhbGciOiJFUzI1NiIsImtpZCI6IngifQ.e30.AAAA"}, {"token": "a.b.c"}]
    )
    | json_values
    | st.binary(max_size=40)
)
def test_login_consume_never_answers_5xx(stack: LocalStack, body: Any) -> None:
    response = post_signed_by_the_shop(stack, f"/login/{DEMO_CHANNEL_ID}/consume", body)
    assert 400 <= response.status_code < 500, response.text[:500]
    assert "message" in response.json()
    assert stack.gateway.internal_errors == 0


def test_login_jwks_is_public_and_has_no_private_keys(stack: LocalStack) -> None:
    response = requests.get(f"{stack.gateway_url}/login/jwks.json", timeout=30)
    assert response.status_code == 200
    assert response.json()["keys"] and all("d" not in key for key in response.json()["keys"])


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


# Events that are LINE's shape at their core (so they get past parsing into handling),
# with fuzzed contents; the bodies around them also carry events that are garbage.
webhook_events = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["message", "follow", "unfollow", "postback", "accountLink"]),
        "mode": st.sampled_from(["active", "standby"]),
        "timestamp": st.integers(min_value=1_700_000_000_000, max_value=1_900_000_000_000),
        "webhookEventId": st.text(
            alphabet="0123456789ABCDEFGHJKMNPQRSTVWXYZ", min_size=26, max_size=26
        ),
        "deliveryContext": st.fixed_dictionaries({"isRedelivery": st.booleans()}),
        "source": st.fixed_dictionaries(
            {
                "type": st.just("user"),
                "userId": st.sampled_from(["U" + "a" * 32, "U" + "b" * 32, "not-a-user", "\ud800"]),
            }
        ),
    },
    optional={
        "replyToken": st.text(max_size=40),
        "message": st.fixed_dictionaries(
            {"id": st.just("1"), "type": st.sampled_from(["text", "sticker"])},
            optional={"text": st.text(max_size=80) | json_values},
        ),
        "postback": st.fixed_dictionaries({"data": st.text(max_size=60) | json_values}),
        "link": st.fixed_dictionaries(
            {"result": st.sampled_from(["ok", "failed"]) | json_values, "nonce": json_values}
        ),
    },
)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    # Mostly webhook-shaped (three branches of five), so most examples reach the events.
    body=st.one_of(
        *[
            st.fixed_dictionaries(
                {
                    "destination": st.just("U" + "d" * 32) | st.text(min_size=1, max_size=40),
                    "events": st.lists(webhook_events | json_values, max_size=4),
                }
            )
        ]
        * 3,
        json_values,
        st.binary(max_size=40),
    )
)
def test_signed_webhooks_never_answer_5xx(stack: LocalStack, body: Any) -> None:
    """Signed with the channel secret: past the signature, into parsing and handling."""
    from linecrm_local.demo import DEMO_CHANNEL_SECRET
    from tests.support.signing import sign

    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = requests.post(
        f"{stack.gateway_url}/webhook/{DEMO_CHANNEL_ID}",
        data=data,
        headers={
            "content-type": "application/json",
            "x-line-signature": sign(DEMO_CHANNEL_SECRET, data),
        },
        timeout=30,
    )
    assert response.status_code in (200, 400), response.text[:500]
    if response.status_code == 400:
        assert "message" in response.json()
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
    response = post_signed_by_the_shop(stack, f"/events/{DEMO_CHANNEL_ID}", body)
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
