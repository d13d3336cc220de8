"""Staff sign-in, locally: the staff user pool on moto's Cognito, the demo staff, and
what API Gateway's JWT authorizer does with a staff member's token (docs/staff.md).

``POST /local/staff/login`` (the local gateway; never a route on AWS, where the console
signs in with Cognito's hosted UI) answers ``{"token", "expires_in", "role", "email"}``
for an email and password. The token is the Cognito ID token moto issues (RS256, its
JWKS at ``{moto}/{pool_id}/.well-known/jwks.json``); the gateway checks it on the admin
routes as the JWT authorizer would (signature, ``exp``, issuer, audience or
``client_id``, ``token_use``) and passes its claims, rendered as HTTP APIs render them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import jwt
import requests
from botocore.exceptions import ClientError

from linecrm.admin.staff import Role, role_from_groups
from linecrm_local import demo
from linecrm_local.staff_oauth import SignInRefused

LOGIN_PATH = "/local/staff/login"
STAFF_POOL_NAME = "linecrm-staff"
CONSOLE_CLIENT_NAME = "linecrm-console"
# A demo password of lower-case letters and a hyphen: the local pool asks no more.
_LOCAL_PASSWORD_POLICY = {
    "MinimumLength": 8,
    "RequireUppercase": False,
    "RequireLowercase": False,
    "RequireNumbers": False,
    "RequireSymbols": False,
}


def demo_staff() -> list[tuple[str, Role]]:
    """The demo staff: (email, role), one per role."""
    return [(f"{role.value}@{demo.DEMO_STAFF_DOMAIN}", role) for role in Role]


@dataclass(frozen=True)
class StaffPool:
    """The staff user pool and the console's app client (no secret)."""

    pool_id: str
    client_id: str
    region: str
    endpoint_url: str  # moto

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"

    @property
    def jwks_url(self) -> str:
        return f"{self.endpoint_url}/{self.pool_id}/.well-known/jwks.json"


def create_staff_pool(session: boto3.session.Session, endpoint_url: str) -> StaffPool:
    """The pool (email sign-in, no self sign-up), a group per role and the console's
    client, in moto (the CDK stack makes the same on AWS)."""
    cognito = session.client("cognito-idp")
    pool = cognito.create_user_pool(
        PoolName=STAFF_POOL_NAME,
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        Policies={"PasswordPolicy": _LOCAL_PASSWORD_POLICY},
    )["UserPool"]
    for role in Role:
        cognito.create_group(UserPoolId=pool["Id"], GroupName=role.value)
    client = cognito.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName=CONSOLE_CLIENT_NAME,
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    return StaffPool(pool["Id"], client["ClientId"], session.region_name, endpoint_url)


def add_staff_user(
    session: boto3.session.Session, pool: StaffPool, email: str, role: Role, password: str
) -> None:
    """A confirmed staff user with a permanent password, in the group of ``role``."""
    cognito = session.client("cognito-idp")
    cognito.admin_create_user(
        UserPoolId=pool.pool_id,
        Username=email,
        MessageAction="SUPPRESS",
        UserAttributes=[
            {"Name": "email", "Value": email},
            {"Name": "email_verified", "Value": "true"},
        ],
    )
    cognito.admin_set_user_password(
        UserPoolId=pool.pool_id, Username=email, Password=password, Permanent=True
    )
    cognito.admin_add_user_to_group(UserPoolId=pool.pool_id, Username=email, GroupName=role.value)


def seed_demo_staff(session: boto3.session.Session, pool: StaffPool) -> list[tuple[str, Role]]:
    staff = demo_staff()
    for email, role in staff:
        add_staff_user(session, pool, email, role, demo.DEMO_STAFF_PASSWORD)
    return staff


_ASK = 'send JSON {"email": …, "password": …}'


class LoginRefused(SignInRefused):
    """Wrong credentials, or a user who may not sign in (401): the reason is the message."""


class LoginRequestInvalid(Exception):
    """A login request that is not ``{"email", "password"}`` in JSON (400): the reason."""


class InvalidToken(Exception):
    """A bearer JWT the JWT authorizer would refuse (401): the reason is the message."""


class StaffAuth:
    """Staff login and JWT checks against the local staff pool."""

    def __init__(self, session: boto3.session.Session, pool: StaffPool) -> None:
        self.pool = pool
        self._cognito = session.client("cognito-idp")
        self._keys: jwt.PyJWKSet | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ login
    def login(self, body: bytes) -> dict[str, Any]:
        """``{"email", "password"}`` -> ``{"token", "expires_in", "role", "email"}``."""
        try:
            request = json.loads(body or b"{}")
        except ValueError as error:
            raise LoginRequestInvalid(f"the body is not JSON: {_ASK}") from error
        email = request.get("email") if isinstance(request, dict) else None
        password = request.get("password") if isinstance(request, dict) else None
        if not isinstance(email, str) or not isinstance(password, str) or not email or not password:
            raise LoginRequestInvalid(_ASK)
        signed_in = self.sign_in(email, password)
        return {name: signed_in[name] for name in ("token", "expires_in", "role", "email")}

    def sign_in(self, email: str, password: str) -> dict[str, Any]:
        """The staff member's tokens (``token``: the ID token; ``access_token``,
        ``refresh_token``), ``expires_in``, ``role`` and ``email``; else ``LoginRefused``.
        The local login and the local managed login (staff_oauth) both sign in here."""
        if not email or not password:
            raise LoginRefused("wrong email or password")
        try:
            answer = self._cognito.initiate_auth(
                ClientId=self.pool.client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": email, "PASSWORD": password},
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("NotAuthorizedException", "UserNotFoundException"):
                reason = error.response.get("Error", {}).get("Message", "")
                if "disabled" in reason.lower():
                    raise LoginRefused("this staff user is disabled") from error
                raise LoginRefused("wrong email or password") from error
            raise
        result = answer.get("AuthenticationResult")
        if not result:
            raise LoginRefused(
                f"sign-in needs a step the local login does not do: {answer.get('ChallengeName')}"
            )
        token = result["IdToken"]
        claims = self.verify(token)
        role = role_from_groups(claims.get("cognito:groups"))
        if role is None:
            raise LoginRefused(
                "no role: this staff user is in no group owner, marketer, operator or viewer"
            )
        return {
            "token": token,
            "access_token": result.get("AccessToken", ""),
            "refresh_token": result.get("RefreshToken", ""),
            "expires_in": int(result.get("ExpiresIn", 3600)),
            "role": role.value,
            "email": str(claims.get("email") or email),
        }

    # ------------------------------------------------------------ the JWT authorizer
    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims if API Gateway's JWT authorizer (issuer = the pool,
        audience = the console's client) would accept it; else ``InvalidToken``."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._key(kid)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                issuer=self.pool.issuer,
                options={"require": ["exp", "iss", "sub"], "verify_aud": False},
                leeway=0,
            )
        except jwt.ExpiredSignatureError as error:
            raise InvalidToken("the token has expired: sign in again") from error
        except jwt.InvalidIssuerError as error:
            raise InvalidToken("the token is not from the staff user pool") from error
        except jwt.InvalidSignatureError as error:
            raise InvalidToken("the token's signature does not verify") from error
        except (jwt.PyJWTError, KeyError) as error:
            raise InvalidToken(f"not a valid token: {error}") from error
        audience = claims.get("aud", claims.get("client_id"))
        audiences = audience if isinstance(audience, list) else [audience]
        if self.pool.client_id not in audiences:
            raise InvalidToken("the token is not for the console's app client")
        if claims.get("token_use") not in ("id", "access"):
            raise InvalidToken("the token is neither an ID nor an access token")
        return claims

    def authorizer(self, token: str) -> dict[str, Any]:
        """``requestContext.authorizer`` as the JWT authorizer passes it."""
        return {"jwt": {"claims": rendered_claims(self.verify(token)), "scopes": None}}

    def _key(self, kid: str | None) -> Any:
        with self._lock:
            if self._keys is None or not _has_kid(self._keys, kid):
                response = requests.get(self.pool.jwks_url, timeout=10)
                response.raise_for_status()
                self._keys = jwt.PyJWKSet.from_dict(response.json())
            keys = self._keys
        for key in keys.keys:
            if key.key_id == kid:
                return key.key
        raise InvalidToken(f"the token's key {kid!r} is not the staff user pool's")


def _has_kid(keys: jwt.PyJWKSet, kid: str | None) -> bool:
    return any(key.key_id == kid for key in keys.keys)


def rendered_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """Claims as an HTTP API passes them to the function: every value a string, an
    array as "[a b]", a boolean as "true"/"false"."""
    rendered: dict[str, str] = {}
    for name, value in claims.items():
        if isinstance(value, list | tuple):
            rendered[name] = "[" + " ".join(str(item) for item in value) + "]"
        elif isinstance(value, bool):
            rendered[name] = "true" if value else "false"
        else:
            rendered[name] = str(value)
    return rendered
