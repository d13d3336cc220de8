"""Checking message objects against LINE's Messaging API schema before they are stored.

line-bot-sdk's models are generated from LINE's OpenAPI spec; building them from the
documents catches what LINE would refuse (unknown types, missing fields, bad enums in
flex, …) when a broadcast is created, not hours later when it is sent.
"""

from __future__ import annotations

from typing import Any

from linecrm.domain.message_limits import MAX_TEXT_LENGTH, length_problems

__all__ = ["MAX_TEXT_LENGTH", "InvalidMessage", "validate_messages"]


class InvalidMessage(ValueError):
    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"messages[{index}]: {reason}")
        self.index = index
        self.reason = reason


def validate_messages(messages: list[dict[str, Any]]) -> None:
    from linebot.v3.messaging import Message

    for index, document in enumerate(messages):
        # LINE counts UTF-16 code units: an emoji outside the BMP is two.
        problems = length_problems([document])
        if problems:
            raise InvalidMessage(index, problems[0].removeprefix("messages[0]."))
        try:
            Message.from_dict(document)
        except KeyError as error:  # the SDK reads a discriminator ("type") without a check
            raise InvalidMessage(index, f"missing field {error}") from error
        except (ValueError, TypeError) as error:  # pydantic.v1 errors are ValueErrors
            raise InvalidMessage(index, _first_line(str(error))) from error


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # pydantic v1: "1 validation error for FlexBox" / "layout" / "must be one of …"
    return " ".join(lines[:3])[:300] if lines else "not a valid LINE message"
