"""Property: no signed body, however mangled, makes the webhook answer 500 or raise."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.lambda_support import FakeLambdaContext, load_handler
from tests.support.signing import line_event, webhook_body
from tests.unit.conftest import AwsWorld, webhook_request

USER = "U" + "f" * 32
SEED_BODY = json.loads(
    webhook_body(
        line_event("follow", USER),
        line_event("message", USER, message={"type": "text", "id": "1", "text": "hi"}),
    )
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)


@st.composite
def mutated_bodies(draw: st.DrawFn) -> bytes:
    document: Any = json.loads(json.dumps(SEED_BODY))
    kind = draw(st.sampled_from(["replace_field", "drop_field", "raw_bytes", "whole_value"]))
    if kind == "raw_bytes":
        raw = json.dumps(document).encode()
        cut = draw(st.integers(0, len(raw)))
        return raw[:cut] + draw(st.binary(max_size=30)) + raw[cut:]
    if kind == "whole_value":
        return json.dumps(draw(json_values)).encode()
    event = document["events"][draw(st.integers(0, 1))]
    key = draw(st.sampled_from(sorted(event)))
    if kind == "drop_field":
        del event[key]
    else:
        event[key] = draw(json_values)
    return json.dumps(document).encode()


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=mutated_bodies())
def test_mutated_signed_bodies_never_cause_a_500(aws: AwsWorld, body: bytes) -> None:
    handler = _handler()
    response = handler.lambda_handler(webhook_request(body), FakeLambdaContext())
    assert response["statusCode"] in (200, 400), response


_loaded: list[Any] = []


def _handler() -> Any:
    # One module for the whole property run (its lazy clients point at this moto).
    if not _loaded:
        _loaded.append(load_handler("webhook"))
    return _loaded[0]
