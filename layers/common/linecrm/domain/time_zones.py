"""The account time zone: an IANA name, checked when a model is validated."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator

DEFAULT_TIME_ZONE = "Asia/Tokyo"


def _known_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name!r} (use an IANA name)") from error
    return name


TimeZoneName = Annotated[str, AfterValidator(_known_time_zone)]
