"""Regex keyword patterns that cannot stall the webhook: a static check plus an input bound.

Python's ``re`` backtracks and has no timeout, and an auto-response regex runs on text
that any friend can send. Two things keep matching fast:

1. **Input bound**: a pattern only sees the first ``MAX_REGEX_INPUT`` (2,000) characters
   of a message (LINE text messages are at most 5,000).
2. **Static check** over the pattern's parse tree, which bounds how many ways one match
   attempt can proceed from one start position ("paths"): a literal, class or anchor has
   1; a sequence multiplies its parts; alternatives add up, except that those starting
   with different literal characters cannot both proceed, so only the largest such group
   counts; a repeat ``{m,n}`` has ``n - m + 1`` paths, an open-ended one (``*``, ``+``,
   ``{m,}``) as many as the input has characters (2,001).

   - A variable repeat of a part that itself has more than one path (``(a+)+``,
     ``(a*)*``, ``(a|a)*``, ``(.*)*``, ``(\\w+\\s?)+``) is rejected outright: those
     take exponential time.
   - Otherwise a pattern may have at most ``MAX_MATCH_PATHS`` (8 x 2,001) paths: one
     open-ended repeat with a little ambiguity around it. Two open-ended repeats that can
     overlap, as in ``\\d+\\d+x`` or ``.*a.*b``, already cost seconds on 2,000 characters.

   A search tries each of the 2,000 start positions, so a pattern at the limit costs
   about 3e7 steps, ~0.4 s on CPython for a crafted worst-case message (microseconds for
   ordinary ones). ``MAX_TOTAL_MATCH_PATHS`` caps the sum over a rule set, so a crafted
   message that no rule matches costs at most a few seconds in all.

The tree comes from ``re._parser`` (private, but the parser ``re`` itself runs, present
from Python 3.11 through 3.14); it is imported defensively, and any shape the check does
not know rejects the pattern instead of letting it through (fail closed).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

MAX_REGEX_LENGTH = 200
MAX_REGEX_INPUT = 2_000
_OPEN_ENDED_PATHS = MAX_REGEX_INPUT + 1
MAX_MATCH_PATHS = 8 * _OPEN_ENDED_PATHS
MAX_TOTAL_MATCH_PATHS = 64 * _OPEN_ENDED_PATHS

_SINGLE_PATH = frozenset({"LITERAL", "NOT_LITERAL", "ANY", "IN", "AT", "GROUPREF"})
_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})


def _load_parser() -> Any:
    try:
        return importlib.import_module("re._parser")
    except ImportError:  # pragma: no cover - a Python without it: every regex is refused
        return None


_PARSER = _load_parser()


class UnsafeRegex(ValueError):
    """A regex pattern that is invalid or could take too long; the message names it."""


class _NestedRepeat(Exception):
    pass


class _Unanalysable(Exception):
    pass


@dataclass(frozen=True)
class CheckedRegex:
    regex: re.Pattern[str]
    match_paths: int  # the cost bound of the static check (see the module docstring)


def compile_safe_regex(pattern: str, flags: int = 0) -> CheckedRegex:
    """``pattern`` compiled, after checking that it is valid and fast to match."""
    if len(pattern) > MAX_REGEX_LENGTH:
        raise UnsafeRegex(f"regex {pattern!r} is longer than {MAX_REGEX_LENGTH} characters")
    try:
        compiled = re.compile(pattern, flags)
    except re.error as error:
        raise UnsafeRegex(f"regex {pattern!r} is invalid: {error}") from error
    paths = _match_paths_of(pattern, flags)
    if paths > MAX_MATCH_PATHS:
        raise UnsafeRegex(
            f"regex {pattern!r} can match in too many ways to stay fast on long messages: "
            "use at most one open-ended repeat such as '.*' or '\\d+' and few optional "
            "parts, or split it into several patterns of the rule"
        )
    return CheckedRegex(compiled, paths)


def search_bounded(regex: re.Pattern[str], text: str) -> re.Match[str] | None:
    """Search only the first ``MAX_REGEX_INPUT`` characters (the bound the check assumes)."""
    return regex.search(text[:MAX_REGEX_INPUT])


def _match_paths_of(pattern: str, flags: int) -> int:
    if _PARSER is None:  # pragma: no cover
        raise UnsafeRegex(f"regex {pattern!r} cannot be checked on this Python")
    try:
        return _sequence_paths(_PARSER.parse(pattern, flags))
    except _NestedRepeat as error:
        raise UnsafeRegex(
            f"regex {pattern!r} repeats a part that can itself match in several ways (as in "
            "'(a+)+', '(a|a)*' or '(\\w+\\s?)+'), which can take exponential time: remove "
            "the inner repeat or alternatives"
        ) from error
    except (_Unanalysable, TypeError, ValueError, IndexError, AttributeError) as error:
        raise UnsafeRegex(
            f"regex {pattern!r} could not be checked for safety: simplify it"
        ) from error


def _sequence_paths(items: Iterable[Any]) -> int:
    paths = 1
    for op, argument in items:
        # Capped so long patterns cannot build huge integers; the cap is already "too many".
        paths = min(paths * _item_paths(op.name, argument), MAX_MATCH_PATHS + 1)
    return paths


def _item_paths(op: str, argument: Any) -> int:
    if op in _SINGLE_PATH:
        return 1
    if op == "SUBPATTERN":  # (group, add_flags, del_flags, body)
        return _sequence_paths(argument[3])
    if op == "ATOMIC_GROUP":
        return _sequence_paths(argument)
    if op in ("ASSERT", "ASSERT_NOT"):  # (direction, body)
        return _sequence_paths(argument[1])
    if op == "BRANCH":  # (None, [alternative, ...])
        return _alternatives_paths(argument[1])
    if op == "GROUPREF_EXISTS":  # (group, yes, no or None)
        _, yes, no = argument
        return _sequence_paths(yes) + (_sequence_paths(no) if no is not None else 1)
    if op in _REPEATS:  # (min, max, body)
        low, high, body = argument
        return _repeat_paths(int(low), int(high), body)
    raise _Unanalysable(op)


def _repeat_paths(low: int, high: int, body: Iterable[Any]) -> int:
    body_paths = _sequence_paths(body)
    if body_paths == 1:
        return min(high - low + 1, _OPEN_ENDED_PATHS)
    if low == high:  # a fixed count is a sequence of copies: (x|yz){3} = (x|yz)(x|yz)(x|yz)
        paths = 1
        for _ in range(high):
            paths *= body_paths
            if paths > MAX_MATCH_PATHS:
                break
        return paths
    if high > 1:
        raise _NestedRepeat
    return 2 * body_paths  # optional: skipped, or once


def _alternatives_paths(alternatives: Iterable[Any]) -> int:
    by_first_literal: dict[str, int] = {}
    others = 0
    for alternative in alternatives:
        paths = _sequence_paths(alternative)
        first = alternative[0] if len(alternative) else None
        if first is not None and first[0].name == "LITERAL":
            key = chr(first[1]).casefold()
            by_first_literal[key] = by_first_literal.get(key, 0) + paths
        else:
            others += paths
    return others + max(by_first_literal.values(), default=0)
