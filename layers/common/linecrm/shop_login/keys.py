"""The ES256 keys that sign login URLs, kept in one Secrets Manager secret.

The secret ``linecrm/login-keys`` (``resources.LOGIN_KEYS_SECRET_NAME``) holds JSON::

    {"active_kid": "20261202T031000-1a2b3c4d",
     "keys": [{"kid": "…", "created_at": "…", "retired_at": null,
               "private_key_pem": "-----BEGIN PRIVATE KEY-----…"}]}

Rotation (the admin API) adds a key and makes it active; the key it replaces gets a
``retired_at`` and stays (its public half in the JWKS, so URLs it signed still verify)
for ``RETIRED_KEY_KEPT``, far longer than any URL lives; older retired keys are dropped
on the next rotation. A new key signs only once it has been published for
``PUBLISH_DELAY`` (until then the previous key signs): every container's cached copy
and every shop's cached JWKS have caught up by then, so no URL carries a kid a
verifier cannot know yet. The private keys never leave this module's callers: the
JWKS and the admin listing carry public material and ids only.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from linecrm.shop_login.errors import NoSigningKey

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import (
        EllipticCurvePrivateKey,
        EllipticCurvePublicKey,
    )

# Every container reads the secret through a cache this old at most...
KEYS_MAX_AGE_SECONDS = 60
# ...and a shop may cache our JWKS this long (Cache-Control of GET /login/jwks.json).
JWKS_MAX_AGE_SECONDS = 60
# So a new key signs once both caches have seen it.
PUBLISH_DELAY = timedelta(seconds=KEYS_MAX_AGE_SECONDS + JWKS_MAX_AGE_SECONDS)
# A retired key verifies what it signed: URLs live minutes; an hour is plenty.
RETIRED_KEY_KEPT = timedelta(hours=1)
# Rotations within RETIRED_KEY_KEPT are bounded (the secret stays small).
MAX_KEYS = 10
# An unknown kid reads the secret again, at most this often per container.
FORCED_REFRESH_SECONDS = 10
ALGORITHM = "ES256"


class RotationRefused(RuntimeError):
    """Too many keys within the retention time; the message says when to retry."""


class LoginKey(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    kid: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    created_at: datetime
    retired_at: datetime | None = None
    private_key_pem: str = Field(min_length=1, repr=False)

    def private_key(self) -> EllipticCurvePrivateKey:
        from cryptography.hazmat.primitives.asymmetric.ec import (
            SECP256R1,
            EllipticCurvePrivateKey,
        )
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        key = load_pem_private_key(self.private_key_pem.encode("ascii"), password=None)
        if not isinstance(key, EllipticCurvePrivateKey) or not isinstance(key.curve, SECP256R1):
            raise ValueError(f"login key {self.kid} is not a P-256 (ES256) key")
        return key

    def public_key(self) -> EllipticCurvePublicKey:
        return self.private_key().public_key()

    def public_jwk(self) -> dict[str, str]:
        """The key as a JWK (RFC 7517/7518): public coordinates only."""
        numbers = self.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64url(numbers.x.to_bytes(32, "big")),
            "y": _b64url(numbers.y.to_bytes(32, "big")),
            "kid": self.kid,
            "use": "sig",
            "alg": ALGORITHM,
        }


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def new_login_key(now: datetime) -> LoginKey:
    """A fresh P-256 key with an id that sorts by time and cannot collide."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    kid = f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
    return LoginKey(kid=kid, created_at=now, private_key_pem=pem)


class LoginKeySet(BaseModel):
    """The secret's document: every kept key, and which one is active."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    active_kid: str | None = None
    keys: list[LoginKey] = Field(default_factory=list)

    def key(self, kid: str) -> LoginKey | None:
        return next((key for key in self.keys if key.kid == kid), None)

    def signing_key(self, now: datetime) -> LoginKey:
        """The key to sign with now: the active one once it is published, else the one
        it replaced (a first key signs at once: nobody can have cached a JWKS without it)."""
        active = self.key(self.active_kid) if self.active_kid else None
        if active is None:
            raise NoSigningKey("no login signing key yet: POST /admin/login-keys/rotate once")
        if now - active.created_at >= PUBLISH_DELAY:
            return active
        older = [key for key in self.keys if key.created_at < active.created_at]
        return max(older, key=lambda key: key.created_at) if older else active

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set: every kept key (retired ones verify their URLs)."""
        return {"keys": [key.public_jwk() for key in self.keys]}

    def rotated(self, now: datetime) -> LoginKeySet:
        """A new active key; the active one retires; keys retired over
        ``RETIRED_KEY_KEPT`` ago are dropped."""
        kept = [
            key if key.kid != self.active_kid else key.model_copy(update={"retired_at": now})
            for key in self.keys
            if key.retired_at is None or now - key.retired_at < RETIRED_KEY_KEPT
        ]
        # Keys with no retirement that are not active (edited by hand) retire now too.
        kept = [
            key if key.retired_at is not None else key.model_copy(update={"retired_at": now})
            for key in kept
        ]
        if len(kept) >= MAX_KEYS:
            oldest = min(key.retired_at or now for key in kept)
            raise RotationRefused(
                f"{len(kept)} keys are kept (rotated {MAX_KEYS - 1} times within "
                f"{RETIRED_KEY_KEPT}); rotate again after "
                f"{(oldest + RETIRED_KEY_KEPT).isoformat(timespec='seconds')}"
            )
        fresh = new_login_key(now)
        return LoginKeySet(active_kid=fresh.kid, keys=[*kept, fresh])

    def listing(self, now: datetime) -> dict[str, Any]:
        """What the admin API shows: ids and times, never private material."""
        signing = None
        if self.key(self.active_kid or "") is not None:
            signing = self.signing_key(now).kid
        return {
            "active_kid": self.active_kid,
            "signing_kid": signing,
            "keys": [
                {
                    "kid": key.kid,
                    "created_at": key.created_at.isoformat(timespec="seconds"),
                    "retired_at": (
                        key.retired_at.isoformat(timespec="seconds") if key.retired_at else None
                    ),
                    "active": key.kid == self.active_kid,
                }
                for key in self.keys
            ],
        }

    def document(self) -> str:
        return json.dumps(self.model_dump(mode="json"))


class LoginKeyStore:
    """The secret, read through Powertools' cache (``KEYS_MAX_AGE_SECONDS``); rotation
    writes a new version. ``secrets_provider``: a Powertools SecretsProvider;
    ``client``: a boto3 secretsmanager client (rotation only)."""

    def __init__(
        self,
        secrets_provider: Any,
        secret_name: str,
        client: Callable[[], Any] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secrets = secrets_provider
        self._name = secret_name
        self._client = client
        self._monotonic = monotonic
        self._forced_at: float | None = None
        self._lock = threading.Lock()

    def current(self, *, fresh: bool = False) -> LoginKeySet:
        raw = self._secrets.get(self._name, max_age=KEYS_MAX_AGE_SECONDS, force_fetch=fresh)
        return _parsed(raw, self._name)

    def key(self, kid: str) -> LoginKey | None:
        """The key ``kid`` (cached); an unknown one reads the secret once more (at most
        every ``FORCED_REFRESH_SECONDS``: forged kids cannot flood Secrets Manager)."""
        found = self.current().key(kid)
        if found is None and self._may_refresh():
            found = self.current(fresh=True).key(kid)
        return found

    def _may_refresh(self) -> bool:
        now = self._monotonic()
        with self._lock:
            if self._forced_at is not None and now - self._forced_at < FORCED_REFRESH_SECONDS:
                return False
            self._forced_at = now
            return True

    def rotate(self, now: datetime) -> LoginKeySet:
        """Read the secret (no cache), add a key, write it back (a new version)."""
        if self._client is None:
            raise RuntimeError("this function does not rotate login keys")
        client = self._client()
        stored = _parsed(client.get_secret_value(SecretId=self._name)["SecretString"], self._name)
        rotated = stored.rotated(now)
        client.put_secret_value(SecretId=self._name, SecretString=rotated.document())
        # This container signs and verifies with the new set at once.
        self.current(fresh=True)
        return rotated


def _parsed(raw: Any, name: str) -> LoginKeySet:
    try:
        return LoginKeySet.model_validate(json.loads(raw))
    except (TypeError, ValueError, ValidationError) as error:
        raise NoSigningKey(f"the secret {name} is not a login key set") from error
