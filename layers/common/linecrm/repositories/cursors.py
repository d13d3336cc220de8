"""Opaque page cursors: a small JSON object in URL-safe base64 without padding.

A cursor names the list it belongs to (``scope``: e.g. the channel's deliveries list)
and one position in it. ``position_in`` gives the position back only for a cursor of
that same list, so a cursor from another list, channel or API is refused, not followed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping


def page_cursor(scope: Mapping[str, str], position_name: str, position: str) -> str:
    key = {**scope, position_name: position}
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def position_in(cursor: str, scope: Mapping[str, str], position_name: str) -> str | None:
    """The position a cursor of this list holds; None for anything this API did not
    hand out for it."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(key, dict) or set(key) != {*scope, position_name}:
        return None
    if any(key[name] != value for name, value in scope.items()):
        return None
    position = key[position_name]
    return position if isinstance(position, str) and position else None
