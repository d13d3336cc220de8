"""The liff_login function's settings (``linecrm.config`` has the parts)."""

from __future__ import annotations

from pydantic import Field, Json

from linecrm.config import (
    LineSettings,
    LoginKeysSettings,
    MainTableSettings,
    VisitorKeySettings,
)
from linecrm.environment import Env
from linecrm.line.login_settings import (
    JWKS_REFRESH_COOLDOWN_SECONDS,
    MockIdentity,
    Verification,
)


class LiffLoginSettings(MainTableSettings, LineSettings, LoginKeysSettings, VisitorKeySettings):
    function_name = "liff_login"
    # ``jwks``: ES256 against LINE's keys (fetched from the login base URL, cached), or
    # HS256 with the LINE Login channel's secret; ``verify_endpoint``: ask LINE per token.
    id_token_verification: Verification = Field(alias=Env.ID_TOKEN_VERIFICATION, default="jwks")
    # An unknown kid (LINE rotated its keys, or a forged token) fetches LINE's keys
    # again at most this often.
    jwks_refresh_cooldown_seconds: float = Field(
        alias=Env.JWKS_REFRESH_COOLDOWN_SECONDS,
        default=JWKS_REFRESH_COOLDOWN_SECONDS,
        ge=0,
        le=3600,
    )
    # Local only (never deployed): JSON {"<liff-mock token>": {"userId": "U…",
    # "displayName": "…"}}; those fixed tokens stand for those users.
    liff_mock_id_tokens: Json[dict[str, MockIdentity]] | None = Field(
        alias=Env.LIFF_MOCK_ID_TOKENS, default=None
    )
    # Local stack only: the LIFF pages use @line/liff-mock (docs/liff.md).
    liff_mock_sdk: bool = Field(alias=Env.LIFF_MOCK_SDK, default=False)
