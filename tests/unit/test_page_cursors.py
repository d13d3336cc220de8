"""Page cursors: a cursor leads back to its position in its own list only."""

from __future__ import annotations

import base64
import json

import pytest

from linecrm.repositories.cursors import page_cursor, position_in

LIST = {"list": "LIST#deliveries#ch1"}


def test_a_cursor_gives_its_position_back_in_its_own_list() -> None:
    cursor = page_cursor(LIST, "before", "2026-12-04T10:00:00Z#d1")
    assert "=" not in cursor and "/" not in cursor and "+" not in cursor  # URL-safe
    assert position_in(cursor, LIST, "before") == "2026-12-04T10:00:00Z#d1"


@pytest.mark.parametrize(
    "cursor",
    [
        page_cursor({"list": "LIST#deliveries#other"}, "before", "x"),  # another channel
        page_cursor(LIST, "after", "x"),  # another API's position
        page_cursor(LIST, "before", ""),  # no position
        base64.urlsafe_b64encode(json.dumps({**LIST, "before": 7}).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps(["before", "x"]).encode()).decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        "not base64 at all!",
        "",
    ],
)
def test_anything_else_is_refused(cursor: str) -> None:
    assert position_in(cursor, LIST, "before") is None
