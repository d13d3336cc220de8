"""The account time zone: an IANA name, checked when a model is validated."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, StringConstraints

Model = TypeVar("Model", bound=BaseModel)

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


def shown_in(zone: tzinfo, model: Model) -> Model:
    """``model`` with its instants written in ``zone`` (the same instants, the account's
    offset): what the admin API answers, so ``send_at`` reads ``…T10:00:00+09:00``."""
    moved = {
        name: value.astimezone(zone)
        for name, value in model
        if isinstance(value, datetime) and value.tzinfo is not None
    }
    return model.model_copy(update=moved) if moved else model
