"""The account time zone: an IANA name, checked when a model is validated."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, StringConstraints

DEFAULT_TIME_ZONE = "Asia/Tokyo"
# The longest IANA name is 32 characters (America/Argentina/ComodRivadavia); the bound
# keeps a long string from reaching the file system (ENAMETOOLONG is an OSError).
MAX_TIME_ZONE_LENGTH = 64


def _known_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:
        # OSError: names the zoneinfo lookup cannot even open as a file (a directory, …).
        raise ValueError(f"unknown time zone {name!r} (use an IANA name)") from error
    return name


TimeZoneName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_TIME_ZONE_LENGTH),
    AfterValidator(_known_time_zone),
]
