"""Reading JSON request bodies that anyone can send: refused with a reason, never a crash.

The webhook, the admin API and ``/liff/login`` all read bodies through ``loads_json``
(the admin and LIFF resolvers as their ``json_body_deserializer``), so a body that is
not UTF-8, or nests deeper than any request of ours needs, is an ``UnreadableBody``
(400) everywhere, instead of a RecursionError deep in the parser or a validator.
"""

from __future__ import annotations

import json
from typing import Any

# No request of ours nests anywhere near this (segment conditions and Flex messages stay
# far below); it keeps validators and DynamoDB (32 levels) away from runaway documents.
MAX_JSON_DEPTH = 64


class UnreadableBody(ValueError):
    """A body that cannot be read as JSON for a reason other than its syntax."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


NOT_UTF8 = "the request body is not UTF-8 encoded JSON"
TOO_DEEP = f"the request body nests JSON deeper than {MAX_JSON_DEPTH} levels"


def loads_json(body: str | bytes) -> Any:
    """The document in ``body``; ``json.JSONDecodeError`` (a ValueError) for bad syntax,
    ``UnreadableBody`` for bytes that are not UTF-8 or a document nested too deeply."""
    try:
        document = json.loads(body)
    except UnicodeDecodeError as error:
        raise UnreadableBody(NOT_UTF8) from error
    except RecursionError as error:  # deeper than the parser's stack allows
        raise UnreadableBody(TOO_DEEP) from error
    if _depth_exceeds(document, MAX_JSON_DEPTH):
        raise UnreadableBody(TOO_DEEP)
    return document


def _depth_exceeds(document: Any, limit: int) -> bool:
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False
