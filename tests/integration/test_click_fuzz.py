"""Fuzzing the redirector: ``GET /t/<anything>`` with any query and User-Agent, and
``POST`` of any body to a real link, never answer a 5xx, and nothing but the link's own
URL is ever a ``Location``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linecrm.domain.tracked_links import TrackedLink, link_token
from linecrm.repositories.tracked_links import TrackedLinkRepository
from linecrm.resources import MAIN_TABLE
from linecrm_local.demo import DEMO_CHANNEL_ID
from linecrm_local.stack import LocalStack

pytestmark = pytest.mark.integration

FUZZ = settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
URL = "https://shop.example/fuzz"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def token(local_stack: LocalStack) -> str:
    token = link_token(DEMO_CHANNEL_ID, "broadcast:fuzz", None, URL)
    TrackedLinkRepository(
        local_stack.aws.session().client("dynamodb"),
        local_stack.resources.table_names[MAIN_TABLE.logical_id],
    ).put(TrackedLink(token, DEMO_CHANNEL_ID, "broadcast:fuzz", None, URL), datetime.now(UTC))
    local_stack.gateway.internal_errors = 0
    return token


@FUZZ
@given(
    path=st.text(max_size=30) | st.sampled_from(["", "..", "%2e%2e", "a/b"]),
    query=st.dictionaries(
        st.sampled_from(["url", "t", "next"]) | st.text(max_size=6),
        st.text(max_size=40),
        max_size=3,
    ),
    agent=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    real=st.booleans(),
)
def test_the_redirector_never_answers_5xx_nor_redirects_elsewhere(
    local_stack: LocalStack, token: str, path: str, query: dict[str, str], agent: str, real: bool
) -> None:
    target = token if real else quote(path, safe="")
    response = requests.get(
        f"{local_stack.gateway_url}/t/{target}",
        params=query,
        headers={"User-Agent": agent},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code < 500, response.text[:300]
    assert response.headers.get("Location") in (None, URL)
    if response.status_code == 302:
        assert real and not query
    assert local_stack.gateway.internal_errors == 0


@FUZZ
@given(body=json_values | st.binary(max_size=40))
def test_posting_anything_to_a_link_never_answers_5xx(
    local_stack: LocalStack, token: str, body: Any
) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = requests.post(
        f"{local_stack.gateway_url}/t/{token}",
        data=data,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code in (401, 415, 422, 400), (response.status_code, response.text[:300])
    assert "message" in response.json()
    assert local_stack.gateway.internal_errors == 0
