"""Validation problems with the path of the field they are about, for 422 answers and
``file:line`` CLI errors (scenarios, rich menus)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import ValidationError


@dataclass(frozen=True)
class Problem:
    path: str  # e.g. "steps[1].messages[0].text"
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


def problems_of(
    error: ValidationError, *, union_tags: frozenset[str], located: re.Pattern[str]
) -> list[Problem]:
    """Pydantic's errors as problems with dotted paths (``steps[0].timing``).

    ``union_tags``: the discriminated unions' member names, left out of paths;
    ``located``: a message that names its own field (``<path>: <reason>``, from a check
    across fields) is moved onto that path."""
    problems = []
    for detail in error.errors(include_url=False, include_input=False):
        path = ""
        for part in detail["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            elif str(part) in union_tags:
                continue  # the discriminated union's member name, not a field
            else:
                path += f".{part}" if path else str(part)
        message = str(detail["msg"]).removeprefix("Value error, ")
        found = located.match(message)
        if found is not None:
            inner, message = found.group(1), found.group(2)
            path = f"{path}.{inner}" if path else inner
        problems.append(Problem(path, message))
    return problems
