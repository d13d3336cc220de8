"""LINE Login ID-token verification (POST /oauth2/v2.1/verify); stdlib HTTP only."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class IdTokenRejected(Exception):
    """LINE says the ID token is invalid, expired, or for another channel."""


class LoginServiceUnavailable(Exception):
    """LINE Login could not be reached or answered 5xx."""


class VerifiedIdToken(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    user_id: str = Field(alias="sub")
    audience: str = Field(alias="aud")
    expires_at: int = Field(alias="exp")
    name: str | None = None
    picture: str | None = None


class LineLoginVerifier:
    def __init__(self, login_base_url: str, timeout_seconds: float = 5.0) -> None:
        self._url = login_base_url.rstrip("/") + "/oauth2/v2.1/verify"
        self._timeout = timeout_seconds

    def verify(self, id_token: str, client_id: str, nonce: str | None = None) -> VerifiedIdToken:
        form: dict[str, str] = {"id_token": id_token, "client_id": client_id}
        if nonce:
            form["nonce"] = nonce
        request = urllib.request.Request(  # noqa: S310 - URL comes from settings (https/emulator)
            self._url,
            data=urllib.parse.urlencode(form).encode("ascii"),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                claims: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as error:
            if 400 <= error.code < 500:
                raise IdTokenRejected(_error_description(error)) from error
            raise LoginServiceUnavailable(f"LINE Login answered {error.code}") from error
        except (urllib.error.URLError, TimeoutError, ValueError) as error:
            raise LoginServiceUnavailable(str(error)) from error
        try:
            return VerifiedIdToken.model_validate(claims)
        except ValidationError as error:
            raise IdTokenRejected("LINE Login returned claims without a user") from error


def _error_description(error: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(error.read())
    except ValueError:
        return f"LINE Login answered {error.code}"
    return str(body.get("error_description") or body.get("error") or error.code)
