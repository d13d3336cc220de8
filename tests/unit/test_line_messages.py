"""Message objects are checked against LINE's schema with a reason, never a crash."""

from __future__ import annotations

from typing import Any

import pytest

from linecrm.line.messages import InvalidMessage, validate_messages


@pytest.mark.parametrize(
    "message",
    [
        {},
        {"text": "no type"},
        {"type": "flex", "altText": "x", "contents": {}},
        {"type": "flex", "altText": "x", "contents": {"type": "bubble", "body": {}}},
    ],
)
def test_messages_without_a_type_are_invalid_with_a_reason(message: dict[str, Any]) -> None:
    with pytest.raises(InvalidMessage) as raised:
        validate_messages([{"type": "text", "text": "ok"}, message])

    assert raised.value.index == 1
    assert raised.value.reason
