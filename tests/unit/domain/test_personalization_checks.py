"""Placeholders in saved messages: unknown fields refused, other braces left as written."""

from __future__ import annotations

import pytest

from linecrm.domain.friends import Friend
from linecrm.domain.personalization import PersonalizationError, check_fields, render

FRIEND = Friend(channel_id="1", user_id="U" + "a" * 32, status="active", fields={"rank": "gold"})


def test_a_field_placeholder_must_name_a_defined_field() -> None:
    messages = [{"type": "text", "text": "ok"}, {"type": "text", "text": "{field.rnak|-}"}]
    expected = r"messages\[1\]\.text: \{field\.rnak\} names no custom field 'rnak'"
    with pytest.raises(PersonalizationError, match=expected):
        check_fields(messages, {"rank"})
    check_fields([{"type": "text", "text": "{field.rank} {display_name}"}], {"rank"})


def test_render_fills_placeholders_and_keeps_other_braces() -> None:
    messages = [{"type": "text", "text": "{display_name|お客様} {field.rank} {注意} {{x}}"}]
    assert render(messages, FRIEND)[0]["text"] == "お客様 gold {注意} {x}"
    assert render(messages, None)[0]["text"] == "お客様  {注意} {x}"
