"""The key that signs visitor ids, in Secrets Manager (``linecrm/visitor-id-key``).

One secret per deployment, JSON ``{"current": "<random text>", "previous": "<older
key or omitted>"}``: ids are issued with ``current`` and verified with either, so a
rotation (put a new ``current``, the old one as ``previous``, drop it 30 days later)
keeps every issued id working until it expires. The CDK stack generates ``current``.

``VisitorIds`` is what other parts call: the auto-login's consume answer issues one,
and the click redirector may append one to the URL it redirects to (``?lcv=``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from linecrm.domain.visitor_ids import (
    MIN_KEY_BYTES,
    VisitorId,
    sign_visitor_id,
    verify_visitor_id,
    with_visitor_id,
)

KEY_MAX_AGE_SECONDS = 300


class VisitorKeysUnavailable(RuntimeError):
    """The secret is missing or malformed (ours to fix: 503, never the caller's)."""


class VisitorKeySecret(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    current: str = Field(min_length=MIN_KEY_BYTES)
    previous: str | None = Field(default=None, min_length=MIN_KEY_BYTES)


class VisitorIds:
    """Issues and verifies visitor ids with the deployment's key (cached)."""

    def __init__(self, secrets_provider: Any, secret_name: str) -> None:
        self._secrets = secrets_provider
        self._name = secret_name

    def _keys(self) -> VisitorKeySecret:
        try:
            raw = self._secrets.get(self._name, max_age=KEY_MAX_AGE_SECONDS)
            return VisitorKeySecret.model_validate(json.loads(raw))
        except (TypeError, ValueError, ValidationError) as error:
            raise VisitorKeysUnavailable(f"the secret {self._name} is no visitor key") from error

    def issue(self, channel_id: str, user_id: str, now: datetime) -> str:
        return sign_visitor_id(self._keys().current.encode(), channel_id, user_id, now)

    def landing_url(self, url: str, channel_id: str, user_id: str, now: datetime) -> str:
        """``url`` with a new visitor id of the friend as ``?lcv=``: what the click
        redirector calls for a link into the shop (its function needs ``visitor_key``
        in ``resources.FUNCTION_ACCESS``)."""
        return with_visitor_id(url, self.issue(channel_id, user_id, now))

    def verify(self, token: str, now: datetime) -> VisitorId | None:
        keys = self._keys()
        for key in (keys.current, keys.previous):
            if key is not None:
                found = verify_visitor_id(key.encode(), token, now)
                if found is not None:
                    return found
        return None
