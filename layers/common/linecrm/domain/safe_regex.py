"""Regex keyword patterns that cannot stall the webhook: RE2, a linear-time engine.

An auto-response regex runs on text that any friend can send. Python's ``re``
backtracks, and no static check of a pattern can be complete (``(?:ia|ıa)+$`` with
case folding took 54 s on a 55-character message). So patterns are compiled and matched
by RE2 (``google-re2``): its automata match in time linear in the text, whatever the
pattern. What keeps a whole rule set fast:

1. **Input bound**: a pattern only sees the first ``MAX_REGEX_INPUT`` (2,000) characters
   of a message (LINE text messages are at most 5,000).
2. **Program size**: RE2's worst case (its NFA, when the DFA's cache keeps filling) is
   linear in the text times the compiled program's size. A pattern may compile to at
   most ``MAX_PROGRAM_SIZE`` instructions (``a{1,999}`` alone is refused), and all
   patterns of a rule set together to ``MAX_TOTAL_PROGRAM_SIZE``.

RE2 has no backreferences (``\\1``) and no look-around (``(?=…)``, ``(?<!…)``): such a
pattern is refused when the rules are saved, with RE2's reason. Unlike Python's ``re``,
``\\w``, ``\\d``, ``\\s`` and ``\\b`` are ASCII-only; use ``\\p{L}`` (letters, any
script), ``\\p{Han}``, ``\\p{Hiragana}``, ``\\p{Katakana}`` or ``\\p{N}`` for Japanese text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_REGEX_LENGTH = 200
MAX_REGEX_INPUT = 2_000
# RE2 program sizes: "VIP" is 6, a phone-number pattern ~60, "a{0,490}!" ~1,000. Measured
# worst case at 1,000 on 2,000 characters: ~7 ms (RE2's default 8 MB budget per pattern
# for its DFA cache); so a rule set at the total costs well under 0.1 s per message.
MAX_PROGRAM_SIZE = 1_000
MAX_TOTAL_PROGRAM_SIZE = 10_000


class UnsafeRegex(ValueError):
    """A regex pattern that is invalid or too costly; the message names it."""


@dataclass(frozen=True)
class CheckedRegex:
    """A compiled pattern and its program size (the cost bound a rule set adds up)."""

    pattern: str
    program_size: int
    _regexp: Any = field(compare=False, repr=False)

    def search(self, text: str) -> bool:
        """Whether the pattern occurs in the first ``MAX_REGEX_INPUT`` characters."""
        # Unpaired surrogates cannot be UTF-8: replaced, so they match nothing.
        subject = text[:MAX_REGEX_INPUT].encode("utf-8", "replace")
        return self._regexp.search(subject) is not None


def compile_safe_regex(pattern: str, *, case_sensitive: bool) -> CheckedRegex:
    """``pattern`` compiled by RE2, after checking that it is valid and small enough."""
    if len(pattern) > MAX_REGEX_LENGTH:
        raise UnsafeRegex(f"regex {pattern!r} is longer than {MAX_REGEX_LENGTH} characters")
    # Imported here: only a channel with a regex rule needs RE2 (it adds to a cold start).
    import re2

    options = re2.Options()
    options.case_sensitive = case_sensitive
    options.log_errors = False
    try:
        regexp = re2.compile(pattern, options)
    except re2.error as error:
        raise UnsafeRegex(
            f"regex {pattern!r} is invalid: {error} (patterns use RE2 syntax: no "
            "backreferences or look-around such as (?=…))"
        ) from error
    except UnicodeEncodeError as error:
        raise UnsafeRegex(f"regex {pattern!r} is not valid Unicode text") from error
    size = int(regexp.programsize)
    if size > MAX_PROGRAM_SIZE:
        raise UnsafeRegex(
            f"regex {pattern!r} is too large to match quickly (it compiles to {size} of at "
            f"most {MAX_PROGRAM_SIZE} instructions): use smaller repeat counts such as "
            "{0,20}, or split it into several patterns"
        )
    return CheckedRegex(pattern, size, regexp)
