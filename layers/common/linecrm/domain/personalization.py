"""Personalised messages: ``{display_name}`` and ``{field.<key>}`` with defaults, in
broadcasts and in auto-response replies (the welcome too).

Placeholders go in a text message's ``text`` and in any message's ``altText``:
``{display_name|お客様}`` falls back to お客様 when the name is unknown; ``{field.rank}``
falls back to an empty string. ``{{`` and ``}}`` are literal braces. Friends whose
rendered messages are identical share one multicast; personalised content that
differs per friend costs one push per friend (see docs/broadcasts.md).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from linecrm.domain.fields import MAX_TEXT_LENGTH as MAX_FIELD_TEXT_LENGTH
from linecrm.domain.friends import Friend
from linecrm.domain.message_limits import (
    MAX_ALT_TEXT_LENGTH,
    MAX_TEXT_LENGTH,
    TEXT_TYPES,
    length_problems,
    utf16_length,
)

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}|]*)(?:\|([^{}]*))?\}")
_NAME = re.compile(r"display_name|field\.[a-z][a-z0-9_]{0,63}")
PERSONALISED_KEYS = ("text", "altText")
# What one filled placeholder can add, in UTF-16 units, for the preview's warning: LINE
# display names have at most 20 characters, text fields 500 (each may be an emoji: 2).
DISPLAY_NAME_MAX_UNITS = 2 * 20
FIELD_MAX_UNITS = 2 * MAX_FIELD_TEXT_LENGTH


class PersonalizationError(ValueError):
    """A placeholder linecrm cannot fill; the message names it."""


def placeholders(messages: list[dict[str, Any]]) -> set[str]:
    """Every placeholder name used; PersonalizationError for an unknown one."""
    found: set[str] = set()
    for index, message in enumerate(messages):
        for key in PERSONALISED_KEYS:
            text = message.get(key)
            if not isinstance(text, str):
                continue
            for match in _PLACEHOLDER.finditer(text):
                name = match.group(1)
                if name is None:
                    continue  # an escaped brace
                if not _NAME.fullmatch(name.strip()):
                    raise PersonalizationError(
                        f"messages[{index}].{key}: unknown placeholder {{{name}}}; "
                        "use {display_name} or {field.<key>}, with |default if you like"
                    )
                found.add(name.strip())
    return found


def check_fields(messages: list[dict[str, Any]], known_fields: Collection[str]) -> None:
    """PersonalizationError naming the first ``{field.<key>}`` whose field is not
    defined: it would always render as its default, a typo nobody notices."""
    for index, message in enumerate(messages):
        for key in PERSONALISED_KEYS:
            text = message.get(key)
            if not isinstance(text, str):
                continue
            for name in _names_in(text):
                field = name.removeprefix("field.")
                if name.startswith("field.") and field not in known_fields:
                    defined = ", ".join(sorted(known_fields)) or "none yet"
                    raise PersonalizationError(
                        f"messages[{index}].{key}: {{{name}}} names no custom field "
                        f"{field!r} (defined: {defined}; see `linecrm fields list`)"
                    )


def names_used(text: str) -> list[str]:
    """The placeholder-shaped names in ``text`` (``display_name``, ``field.rank``)."""
    return [name for name in _names_in(text) if _NAME.fullmatch(name)]


def _names_in(text: str) -> list[str]:
    return [
        match.group(1).strip()
        for match in _PLACEHOLDER.finditer(text)
        if match.group(1) is not None
    ]


def is_personalised(messages: list[dict[str, Any]]) -> bool:
    return bool(placeholders(messages))


def render(messages: list[dict[str, Any]], friend: Friend | None) -> list[dict[str, Any]]:
    """The messages as ``friend`` receives them (unchanged if nothing is personalised;
    ``None``, a friend not known yet: every placeholder takes its default)."""
    values: Mapping[str, object] = (
        {}
        if friend is None
        else {
            "display_name": friend.display_name,
            **{f"field.{key}": value for key, value in friend.fields.items()},
        }
    )
    rendered: list[dict[str, Any]] = []
    for message in messages:
        copy = dict(message)
        for key in PERSONALISED_KEYS:
            text = copy.get(key)
            if isinstance(text, str):
                copy[key] = _fill(text, values)
        rendered.append(copy)
    return rendered


def shortest_rendering(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages with every placeholder at its default (or empty): what a length
    check of the saved messages measures, since a placeholder is not sent as written."""
    rendered: list[dict[str, Any]] = []
    for message in messages:
        copy = dict(message)
        for key in PERSONALISED_KEYS:
            text = copy.get(key)
            if isinstance(text, str):
                copy[key] = _fill(text, {})
        rendered.append(copy)
    return rendered


def _fill(text: str, values: Mapping[str, object]) -> str:
    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        if not _NAME.fullmatch(match.group(1).strip()):
            return token  # not a placeholder (text saved before placeholders were checked)
        value = values.get(match.group(1).strip())
        if value is None or value == "":
            return match.group(2) or ""
        return str(value)

    return _PLACEHOLDER.sub(replace, text)


def over_limit_reason(rendered: list[dict[str, Any]]) -> str | None:
    """Why LINE would refuse these rendered messages (a length limit), or None."""
    problems = length_problems(rendered)
    if not problems:
        return None
    return "personalised message over LINE's limit: " + "; ".join(problems)


def limit_warnings(messages: list[dict[str, Any]]) -> list[str]:
    """Where filling the placeholders could break a LINE length limit.

    Counts the text around the placeholders (their defaults where they have one, as
    the shortest they can become) and adds the longest each placeholder can be.
    Display names longer than LINE's 20 characters (imported ones) are counted per
    friend by the preview itself.
    """
    warnings: list[str] = []
    for index, message in enumerate(messages):
        limits = {"altText": MAX_ALT_TEXT_LENGTH}
        if message.get("type") in TEXT_TYPES:
            limits["text"] = MAX_TEXT_LENGTH
        for key, limit in limits.items():
            text = message.get(key)
            if not isinstance(text, str) or not _PLACEHOLDER.search(text):
                continue
            fixed = utf16_length(_fill(text, {}))
            extra = 0
            for match in _PLACEHOLDER.finditer(text):
                name = match.group(1)
                if name is None:
                    continue
                name = name.strip()
                extra += DISPLAY_NAME_MAX_UNITS if name == "display_name" else FIELD_MAX_UNITS
            if fixed + extra > limit:
                warnings.append(
                    f"messages[{index}].{key} is {fixed:,} UTF-16 units without its "
                    f"placeholders and could reach {fixed + extra:,} once they are filled "
                    f"(LINE allows {limit:,}): friends whose rendering is too long are "
                    "skipped, not sent"
                )
    return warnings
