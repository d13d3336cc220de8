"""A LINE channel's credentials, from Secrets Manager (``linecrm/channel/<id>``)."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from linecrm.aws_errors import error_code

CHANNEL_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Credentials are cached per container; a rotated secret is picked up within this time,
# or at once when LINE refuses the old token (``credentials(..., fresh=True)``).
CREDENTIALS_MAX_AGE_SECONDS = 300


class UnknownChannel(LookupError):
    """No credentials are stored for this channel id."""


class ChannelCredentials(BaseModel):
    # defer_build: validators built on first use, not at import (cold starts).
    model_config = ConfigDict(frozen=True, defer_build=True)

    channel_secret: str = Field(min_length=1)
    channel_access_token: str = Field(min_length=1)
    # The LINE Login channel that owns the LIFF app (ID tokens are issued for it), and
    # its channel secret: the key of the HS256 tokens LINE's web login issues (optional;
    # LIFF tokens are ES256, verified with LINE's public keys).
    login_channel_id: str | None = None
    # Its secret: HS256 web-login ID tokens are signed with it; inflow routes spend
    # LINE Login codes with it (and sign their state).
    login_channel_secret: str | None = Field(default=None, min_length=1)
    # The account's basic id ("@abc1234d"): the add-friend URL inflow routes send to.
    bot_basic_id: str | None = Field(default=None, pattern=r"^@?[0-9a-z._-]{1,40}$")


class ChannelDirectory:
    """Looks channels up by id; backed by Powertools' cached SecretsProvider."""

    def __init__(self, secrets_provider: Any, secret_prefix: str) -> None:
        self._secrets = secrets_provider
        self._prefix = secret_prefix

    def credentials(self, channel_id: str, *, fresh: bool = False) -> ChannelCredentials:
        """The channel's credentials; ``fresh`` reads the secret again (past the cache)."""
        if not CHANNEL_ID_PATTERN.fullmatch(channel_id):
            raise UnknownChannel(channel_id)
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            raw = self._secrets.get(
                f"{self._prefix}{channel_id}",
                max_age=CREDENTIALS_MAX_AGE_SECONDS,
                force_fetch=fresh,
            )
        except GetParameterError as error:
            # Powertools re-raises inside its except block: the ClientError is the context.
            # A function's role may read the secrets of the deployed channels only, so on
            # AWS another channel's secret is AccessDenied rather than not found.
            if error_code(error.__context__) in (
                "ResourceNotFoundException",
                "AccessDeniedException",
            ):
                raise UnknownChannel(channel_id) from error
            raise
        try:
            return ChannelCredentials.model_validate(json.loads(raw))
        except (ValueError, ValidationError) as error:
            raise UnknownChannel(f"{channel_id}: malformed credentials secret") from error
