"""LINE Login's OAuth 2.0 token endpoint (POST /oauth2/v2.1/token); stdlib HTTP only.

An authorization code from the login's callback becomes an access token and an ID
token (which ``linecrm.line.login`` verifies)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from linecrm.line.login import LoginServiceUnavailable

TOKEN_PATH = "/oauth2/v2.1/token"  # noqa: S105 - a path, not a secret


class CodeRejected(Exception):
    """LINE refused the code (used, expired, another redirect URI) or our client."""


class LoginTokens(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    access_token: str
    id_token: str
    expires_in: int | None = None
    scope: str | None = None
    token_type: str | None = None


def exchange_code(
    login_base_url: str,
    *,
    code: str,
    redirect_uri: str,
    client_id: str,
    client_secret: str,
    timeout_seconds: float = 5.0,
) -> LoginTokens:
    """Spend the authorization code: LINE's tokens, or CodeRejected / LoginServiceUnavailable."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "client_secret": client_secret,
    }
    request = urllib.request.Request(  # noqa: S310 - URL comes from settings (https/emulator)
        login_base_url.rstrip("/") + TOKEN_PATH,
        data=urllib.parse.urlencode(form).encode("ascii"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds) as response:  # noqa: S310
            body: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as error:
        if 400 <= error.code < 500:
            raise CodeRejected(_description(error)) from error
        raise LoginServiceUnavailable(f"LINE Login answered {error.code}") from error
    except (urllib.error.URLError, TimeoutError, ValueError) as error:
        raise LoginServiceUnavailable(str(error)) from error
    try:
        return LoginTokens.model_validate(body)
    except ValidationError as error:
        raise LoginServiceUnavailable("LINE Login's token answer has no ID token") from error


def _description(error: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(error.read())
    except ValueError:
        return f"LINE Login answered {error.code}"
    return str(body.get("error_description") or body.get("error") or error.code)
