"""What the settings say about verifying LINE ID tokens (``linecrm.config`` reads these).

Kept apart from ``linecrm.line.login``, which imports ``urllib.request`` (about 20 ms),
so that every function's settings, the webhook's included, load without it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

JWKS_REFRESH_COOLDOWN_SECONDS = 30.0

Verification = Literal["jwks", "verify_endpoint"]


class MockIdentity(BaseModel):
    """The user a liff-mock token stands for."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    user_id: str = Field(alias="userId", pattern=r"^U[0-9a-f]{32}$")
    display_name: str | None = Field(default=None, alias="displayName", max_length=100)
