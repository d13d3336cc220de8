"""Who may send events for a channel: its sources and their keys, in Secrets Manager.

One secret per channel, ``linecrm/events/<channel id>``, holding JSON::

    {"sources": {"shop-web": {"current": "<key>", "previous": "<older key or omitted>"}}}

A request signed with either key is accepted, so a key is rotated without downtime:
put the new key as ``current`` and the old one as ``previous``, switch the sender over,
then drop ``previous``. The secret is read through Powertools' cache (at most
``SOURCES_MAX_AGE_SECONDS`` old); a signature no cached key matches reads it once more,
at most every ``FORCED_REFRESH_SECONDS``, so a fresh rotation is picked up at once.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from linecrm.aws_errors import error_code
from linecrm.channels import CHANNEL_ID_PATTERN

SOURCES_MAX_AGE_SECONDS = 300
FORCED_REFRESH_SECONDS = 10
MIN_KEY_LENGTH = 32
SOURCE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class UnknownSource(LookupError):
    """No such channel, no such source, or its secret is unreadable (same answer)."""


class SourceKeys(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    current: str = Field(min_length=MIN_KEY_LENGTH)
    previous: str | None = Field(default=None, min_length=MIN_KEY_LENGTH)

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.current,) if self.previous is None else (self.current, self.previous)


class ChannelEventSources(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    sources: dict[str, SourceKeys] = Field(default_factory=dict)


class EventSourceDirectory:
    """Looks a channel's source keys up; backed by Powertools' cached SecretsProvider."""

    def __init__(
        self,
        secrets_provider: Any,
        secret_prefix: str,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secrets = secrets_provider
        self._prefix = secret_prefix
        self._monotonic = monotonic
        self._forced_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def keys(self, channel_id: str, source_id: str, *, fresh: bool = False) -> tuple[str, ...]:
        """The source's keys, current first; ``UnknownSource`` if it has none."""
        if not CHANNEL_ID_PATTERN.fullmatch(channel_id) or not SOURCE_ID_PATTERN.fullmatch(
            source_id
        ):
            raise UnknownSource(source_id)
        found = self._channel(channel_id, fresh=fresh).sources.get(source_id)
        if found is None:
            raise UnknownSource(source_id)
        return found.keys

    def may_refresh(self, channel_id: str) -> bool:
        """Whether a forced re-read is allowed now (bounded, so bad signatures cannot
        turn into a Secrets Manager call each)."""
        now = self._monotonic()
        with self._lock:
            last = self._forced_at.get(channel_id)
            if last is not None and now - last < FORCED_REFRESH_SECONDS:
                return False
            self._forced_at[channel_id] = now
            return True

    def _channel(self, channel_id: str, *, fresh: bool) -> ChannelEventSources:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            raw = self._secrets.get(
                f"{self._prefix}{channel_id}",
                max_age=SOURCES_MAX_AGE_SECONDS,
                force_fetch=fresh,
            )
        except GetParameterError as error:
            if error_code(error.__context__) in (
                "ResourceNotFoundException",
                "AccessDeniedException",
            ):
                raise UnknownSource(channel_id) from error
            raise
        try:
            return ChannelEventSources.model_validate(json.loads(raw))
        except (ValueError, ValidationError) as error:
            raise UnknownSource(f"{channel_id}: malformed event sources secret") from error
