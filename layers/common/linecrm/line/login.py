"""LINE Login ID-token verification: offline against LINE's JWKS, or LINE's verify endpoint.

LINE signs an ID token with ES256 (native apps, the LINE SDK and LIFF apps; the key is
one of LINE's published keys, named by the header's ``kid``) or with HS256 (web
login; the key is the LINE Login channel's secret). Either way the token is good only
if it is LINE's (``iss``), for our LINE Login channel (``aud``), not expired (``exp``,
with a small leeway for clock skew) and, when the LIFF page sent a nonce, carries
that nonce. A token that carries a nonce the request did not send is refused too.

- ``JwksVerifier`` checks all of that here: the key set comes from
  ``<login base URL>/oauth2/v2.1/certs`` (``https://api.line.me/oauth2/v2.1/certs``),
  cached per execution environment (PyJWT's ``PyJWKClient``); a ``kid`` the cache does
  not know fetches the set once more (LINE rotated its keys), at most once per
  cooldown, so forged ``kid`` values cannot make us call LINE per request.
- ``VerifyEndpointVerifier`` asks LINE (``POST /oauth2/v2.1/verify``): one call per
  login, no keys here.
- ``MockIdTokens`` (local only, ``LINECRM_LIFF_MOCK_ID_TOKENS``): the fixed tokens
  ``@line/liff-mock``'s ``getIDToken()`` returns, each standing for a given mock user.

``IdTokenRejected`` is the token's fault (401); ``LoginServiceUnavailable`` is LINE's
(its keys or its endpoint could not be read: 503, retry later).
"""

from __future__ import annotations

import hmac
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from linecrm.line.login_settings import (
    JWKS_REFRESH_COOLDOWN_SECONDS,
    MockIdentity,
    Verification,
)

ISSUER = "https://access.line.me"
JWKS_PATH = "/oauth2/v2.1/certs"
VERIFY_PATH = "/oauth2/v2.1/verify"
# Clock skew between LINE and us that an expiry may be off by.
EXPIRY_LEEWAY_SECONDS = 10
# How long a fetched key set is used before it is fetched again, and how soon after a
# fetch an unknown ``kid`` may fetch it again.
JWKS_LIFESPAN_SECONDS = 3600.0
HTTP_TIMEOUT_SECONDS = 4.0

RejectionKind = Literal[
    "malformed", "alg", "kid", "signature", "iss", "aud", "expired", "nonce", "claims"
]


class IdTokenRejected(Exception):
    """The ID token is not LINE's, not for our channel, expired, or for another nonce."""

    def __init__(self, kind: RejectionKind, reason: str) -> None:
        super().__init__(reason)
        self.kind: RejectionKind = kind
        self.reason = reason

    @property
    def field(self) -> str:
        """The request field at fault: the nonce when only it disagrees."""
        return "nonce" if self.kind == "nonce" else "idToken"


class LoginServiceUnavailable(Exception):
    """LINE Login (its key set or its verify endpoint) could not be reached or answered 5xx."""


class VerifiedIdToken(BaseModel):
    """The claims of a verified ID token that linecrm uses."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    user_id: str = Field(alias="sub", min_length=1)
    audience: str = Field(alias="aud")
    expires_at: int = Field(alias="exp")
    issued_at: int | None = Field(default=None, alias="iat")
    nonce: str | None = None
    name: str | None = None
    picture: str | None = None


@dataclass(frozen=True)
class LoginChannel:
    """The LINE Login channel the tokens must be for: its id (``aud``), and its secret
    (the HS256 key of web-login tokens; None: HS256 tokens are refused)."""

    channel_id: str
    secret: str | None = None


class IdTokenVerifier(Protocol):
    def verify(
        self, id_token: str, channel: LoginChannel, nonce: str | None = None
    ) -> VerifiedIdToken: ...


def check_nonce(token: VerifiedIdToken, nonce: str | None) -> None:
    """The request's nonce must be the token's; a token with a nonce needs the request's."""
    if nonce is None:
        if token.nonce is not None:
            raise IdTokenRejected(
                "nonce", "the token carries a nonce; send the nonce the LIFF page used"
            )
        return
    if token.nonce is None or not hmac.compare_digest(token.nonce, nonce):
        raise IdTokenRejected("nonce", "the token's nonce is not the request's nonce")


# ---------------------------------------------------------------- offline (JWKS)
class JwksVerifier:
    """Verifies signature and claims here; the keys from LINE's JWKS, cached."""

    def __init__(
        self,
        login_base_url: str,
        clock: Callable[[], float],
        *,
        lifespan_seconds: float = JWKS_LIFESPAN_SECONDS,
        refresh_cooldown_seconds: float = JWKS_REFRESH_COOLDOWN_SECONDS,
        timeout_seconds: float = HTTP_TIMEOUT_SECONDS,
        jwks_client: Any = None,
    ) -> None:
        """``clock``: now in epoch seconds (expiry is checked against it)."""
        import jwt

        self.jwks_url = login_base_url.rstrip("/") + JWKS_PATH
        self._clock = clock
        self._jwks: jwt.PyJWKClient = jwks_client or jwt.PyJWKClient(
            self.jwks_url,
            cache_jwk_set=True,
            lifespan=lifespan_seconds,
            cooldown_duration=refresh_cooldown_seconds,
            timeout=timeout_seconds,
        )

    def verify(
        self, id_token: str, channel: LoginChannel, nonce: str | None = None
    ) -> VerifiedIdToken:
        import jwt

        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as error:
            raise IdTokenRejected("malformed", "not a JWT") from error
        algorithm = header.get("alg")
        key: Any
        if algorithm == "ES256":
            key = self._signing_key(header.get("kid"))
        elif algorithm == "HS256":
            if not channel.secret:
                raise IdTokenRejected(
                    "alg",
                    "an HS256 (web login) token needs the LINE Login channel's secret "
                    "(login_channel_secret in the channel's credentials)",
                )
            key = channel.secret.encode("utf-8")
        else:
            raise IdTokenRejected(
                "alg",
                f"alg {algorithm!r} is not one LINE signs ID tokens with (ES256, or HS256 "
                "for web login)",
            )
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=[algorithm],
                audience=channel.channel_id,
                issuer=ISSUER,
                # Expiry against our clock (the runtime's), with the leeway, below.
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "require": ["iss", "sub", "aud", "exp"],
                },
            )
        except jwt.InvalidSignatureError as error:
            raise IdTokenRejected("signature", "the signature does not verify") from error
        except jwt.InvalidAudienceError as error:
            raise IdTokenRejected(
                "aud", "the token is for another channel (aud is not our LINE Login channel)"
            ) from error
        except jwt.InvalidIssuerError as error:
            raise IdTokenRejected("iss", f"the issuer is not {ISSUER}") from error
        except jwt.MissingRequiredClaimError as error:
            raise IdTokenRejected("claims", f"the token has no {error.claim!r} claim") from error
        except jwt.PyJWTError as error:
            raise IdTokenRejected("malformed", f"the token does not decode: {error}") from error
        token = _claims(claims)
        if token.expires_at + EXPIRY_LEEWAY_SECONDS <= self._clock():
            raise IdTokenRejected("expired", "the token has expired")
        check_nonce(token, nonce)
        return token

    def _signing_key(self, kid: object) -> Any:
        import jwt

        if not isinstance(kid, str) or not kid:
            raise IdTokenRejected("kid", "an ES256 token names its key (kid); this one does not")
        try:
            # Reads (or fetches) the key set first: a failure there is LINE's.
            self._jwks.get_signing_keys()
            # A kid not in the set fetches it once more (at most once per cooldown).
            return self._jwks.get_signing_key(kid).key
        except jwt.PyJWKClientConnectionError as error:
            raise LoginServiceUnavailable(f"LINE's keys could not be read: {error}") from error
        except (jwt.PyJWKSetError, jwt.PyJWKError) as error:
            raise LoginServiceUnavailable(f"LINE's key set is unusable: {error}") from error
        except jwt.PyJWKClientError as error:
            raise IdTokenRejected("kid", "the token's key (kid) is not one of LINE's") from error


def _claims(claims: Mapping[str, Any]) -> VerifiedIdToken:
    try:
        return VerifiedIdToken.model_validate(claims)
    except ValidationError as error:
        raise IdTokenRejected("claims", "the token's claims are malformed") from error


# ---------------------------------------------------------------- LINE's verify endpoint
# LINE's error descriptions (error_description of its 400) -> what was wrong.
_ENDPOINT_KINDS: dict[str, RejectionKind] = {
    "IdToken expired.": "expired",
    "Invalid IdToken Audience.": "aud",
    "Invalid IdToken Issuer.": "iss",
    "Invalid IdToken Nonce.": "nonce",
    "Invalid IdToken Signature.": "signature",
    "Invalid IdToken.": "signature",
}


class VerifyEndpointVerifier:
    """Asks LINE (``POST /oauth2/v2.1/verify``) for every token; stdlib HTTP only."""

    def __init__(self, login_base_url: str, timeout_seconds: float = HTTP_TIMEOUT_SECONDS) -> None:
        self.url = login_base_url.rstrip("/") + VERIFY_PATH
        self._timeout = timeout_seconds

    def verify(
        self, id_token: str, channel: LoginChannel, nonce: str | None = None
    ) -> VerifiedIdToken:
        form: dict[str, str] = {"id_token": id_token, "client_id": channel.channel_id}
        if nonce is not None:
            form["nonce"] = nonce
        request = urllib.request.Request(  # noqa: S310 - URL comes from settings (https/emulator)
            self.url,
            data=urllib.parse.urlencode(form).encode("ascii"),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                claims: Any = json.loads(response.read())
        except urllib.error.HTTPError as error:
            if 400 <= error.code < 500 and error.code != 429:
                description = _error_description(error)
                raise IdTokenRejected(
                    _ENDPOINT_KINDS.get(description, "malformed"), f"LINE says: {description}"
                ) from error
            raise LoginServiceUnavailable(f"LINE Login answered {error.code}") from error
        except (urllib.error.URLError, TimeoutError, ValueError) as error:
            raise LoginServiceUnavailable(str(error)) from error
        if not isinstance(claims, dict):
            raise LoginServiceUnavailable("LINE Login answered something other than claims")
        token = _claims(claims)
        if token.audience != channel.channel_id:  # LINE checked; a proxy might not have
            raise IdTokenRejected("aud", "the token is for another channel")
        # LINE checks a nonce we send; a token with a nonce we did not send is ours to refuse.
        check_nonce(token, nonce)
        return token


def _error_description(error: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(error.read())
    except ValueError:
        return f"LINE Login answered {error.code}"
    if not isinstance(body, dict):
        return f"LINE Login answered {error.code}"
    return str(body.get("error_description") or body.get("error") or error.code)


# ---------------------------------------------------------------- liff-mock (local only)
class MockIdTokens:
    """Accepts the fixed tokens ``@line/liff-mock`` hands out (``getIDToken()`` returns
    ``"id_token"`` unless the page sets another with ``liff.$mock.set``), each as the
    mock user it is mapped to; every other token goes to the real verifier.

    LINE could never have signed these: this exists only where a local stack turns it on
    (``LINECRM_LIFF_MOCK_ID_TOKENS``); the CDK stack never sets it (an infra test
    checks). A mock token is still refused with a nonce (it carries none)."""

    def __init__(self, tokens: Mapping[str, MockIdentity], real: IdTokenVerifier) -> None:
        self._tokens = dict(tokens)
        self._real = real

    def verify(
        self, id_token: str, channel: LoginChannel, nonce: str | None = None
    ) -> VerifiedIdToken:
        identity = self._tokens.get(id_token)
        if identity is None:
            return self._real.verify(id_token, channel, nonce)
        token = VerifiedIdToken(
            user_id=identity.user_id,
            audience=channel.channel_id,
            expires_at=0,
            name=identity.display_name,
        )
        check_nonce(token, nonce)
        return token


def build_verifier(
    verification: Verification,
    login_base_url: str,
    clock: Callable[[], float],
    mock_tokens: Mapping[str, MockIdentity] | None = None,
    *,
    refresh_cooldown_seconds: float = JWKS_REFRESH_COOLDOWN_SECONDS,
) -> IdTokenVerifier:
    """The verifier the settings ask for (one per execution environment: its cache)."""
    real: IdTokenVerifier = (
        JwksVerifier(login_base_url, clock, refresh_cooldown_seconds=refresh_cooldown_seconds)
        if verification == "jwks"
        else VerifyEndpointVerifier(login_base_url)
    )
    return MockIdTokens(mock_tokens, real) if mock_tokens else real
