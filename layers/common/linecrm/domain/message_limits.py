"""LINE's length limits on message text, counted the way LINE counts them.

The Messaging API counts text in UTF-16 code units, not in characters: 😀 is two
(developers.line.biz/en/docs/messaging-api/text-character-count/). Python's ``len``
counts code points, so an emoji-heavy text can pass a ``len`` check and still be
refused by LINE. Counting UTF-16 units is also safe for the properties LINE counts in
grapheme clusters (template messages): a cluster is at least one unit.
"""

from __future__ import annotations

from typing import Any

MAX_TEXT_LENGTH = 5000  # text and textV2 messages
MAX_ALT_TEXT_LENGTH = 1500  # flex, imagemap and template messages
TEXT_TYPES = frozenset({"text", "textV2"})


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, as LINE counts (a lone surrogate counts one)."""
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


def length_problems(messages: list[dict[str, Any]]) -> list[str]:
    """Each message property past its LINE limit, e.g. ``messages[0].text is 5,200
    UTF-16 units long; LINE allows 5,000``; [] when every length is within limits."""
    problems: list[str] = []
    for index, message in enumerate(messages):
        checks: list[tuple[str, int]] = [("altText", MAX_ALT_TEXT_LENGTH)]
        if message.get("type") in TEXT_TYPES:
            checks.append(("text", MAX_TEXT_LENGTH))
        for key, limit in checks:
            value = message.get(key)
            if isinstance(value, str) and (length := utf16_length(value)) > limit:
                problems.append(
                    f"messages[{index}].{key} is {length:,} UTF-16 units long; "
                    f"LINE allows {limit:,}"
                )
    return problems
