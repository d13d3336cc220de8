"""Cognito's managed login, locally: the authorization code flow with PKCE (S256) the
console uses on AWS, at the local gateway (docs/staff.md).

``{domain}/oauth2/authorize`` with ``domain = /local`` is a small sign-in page (email and
password of the demo staff); it redirects to the console's callback with a code.
``{domain}/oauth2/token`` exchanges that code, once and within five minutes, for the
tokens the local staff login issues (moto's Cognito ID token), when the client id, the
redirect URI and the PKCE verifier match; otherwise 400 ``invalid_grant`` as Cognito
answers. ``{domain}/logout`` sends the browser back to the console's sign-out URL.

Never a route on AWS: there Cognito's own domain serves the same three paths.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

DOMAIN = "/local"
AUTHORIZE_PATH = f"{DOMAIN}/oauth2/authorize"
TOKEN_PATH = f"{DOMAIN}/oauth2/token"
LOGOUT_PATH = f"{DOMAIN}/logout"
PATHS = (AUTHORIZE_PATH, TOKEN_PATH, LOGOUT_PATH)
CODE_LIFETIME_SECONDS = 300  # Cognito's authorization codes last five minutes
# RFC 7636: 43-128 characters of [A-Z a-z 0-9 - . _ ~].
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class OAuthResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class SignInRefused(Exception):
    """Wrong email or password, or a user who may not sign in: the message says why."""


# (email, password) -> the local staff login's answer: ``token`` (the ID token),
# ``access_token``, ``refresh_token``, ``expires_in``; raises SignInRefused.
SignIn = Callable[[str, str], Mapping[str, Any]]


@dataclass(frozen=True)
class _Grant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    tokens: Mapping[str, Any]
    expires_at: float


@dataclass(frozen=True)
class _AuthorizeRequest:
    client_id: str
    redirect_uri: str
    state: str
    nonce: str
    scope: str
    code_challenge: str
    code_challenge_method: str
    response_type: str

    @classmethod
    def of(cls, params: Mapping[str, str]) -> _AuthorizeRequest:
        return cls(
            **{name: params.get(name, "") for name in cls.__dataclass_fields__},
        )


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of ``verifier``: base64url(SHA-256), no padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class HostedLogin:
    """The managed login's three endpoints for one app client (the console's)."""

    def __init__(
        self, client_id: str, sign_in: SignIn, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.client_id = client_id
        self._sign_in = sign_in
        self._clock = clock
        self._grants: dict[str, _Grant] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ /oauth2/authorize
    def authorize(
        self,
        method: str,
        params: Mapping[str, str],
        *,
        redirect_uris: Collection[str],
    ) -> OAuthResponse:
        """GET shows the sign-in page; POST (the page's form) signs in and redirects to
        ``redirect_uri`` with ``code`` and ``state``."""
        if method not in ("GET", "POST"):
            return _page(405, "Method Not Allowed", "use GET (or the sign-in form's POST)")
        request = _AuthorizeRequest.of(params)
        # An unknown client or callback is never redirected to (an open redirect).
        if request.client_id != self.client_id:
            return _page(400, "invalid_client", "this app client is not the console's")
        if request.redirect_uri not in redirect_uris:
            return _page(400, "redirect_mismatch", "the redirect_uri is not the console's callback")
        if request.response_type != "code":
            # The code flow only: no implicit flow (response_type=token).
            return _redirect_error(request, "unsupported_response_type", "use response_type=code")
        if "openid" not in request.scope.split():
            return _redirect_error(request, "invalid_scope", "the scope needs openid")
        if not request.code_challenge or request.code_challenge_method != "S256":
            return _redirect_error(
                request, "invalid_request", "PKCE: send code_challenge with method S256"
            )
        if method == "GET":
            return _sign_in_page(request, failure=None)
        email, password = params.get("email", ""), params.get("password", "")
        try:
            tokens = self._sign_in(email.strip(), password)
        except SignInRefused as error:
            return _sign_in_page(request, failure=str(error), email=email, status=401)
        code = secrets.token_urlsafe(32)
        grant = _Grant(
            client_id=request.client_id,
            redirect_uri=request.redirect_uri,
            code_challenge=request.code_challenge,
            tokens=tokens,
            expires_at=self._clock() + CODE_LIFETIME_SECONDS,
        )
        with self._lock:
            self._forget_expired()
            self._grants[code] = grant
        query = {"code": code, **({"state": request.state} if request.state else {})}
        return _found(f"{request.redirect_uri}?{urlencode(query)}")

    # ------------------------------------------------------------ /oauth2/token
    def token(self, method: str, content_type: str, form: Mapping[str, str]) -> OAuthResponse:
        """``grant_type=authorization_code`` with ``client_id``, ``code``,
        ``redirect_uri`` and ``code_verifier`` -> the tokens, once."""
        if method != "POST":
            return _oauth_error(405, "invalid_request", "use POST")
        if content_type.split(";", 1)[0].strip().lower() != _FORM:
            return _oauth_error(400, "invalid_request", f"send the form as {_FORM}")
        if form.get("grant_type") != "authorization_code":
            return _oauth_error(400, "unsupported_grant_type", "use authorization_code")
        if form.get("client_id") != self.client_id:
            return _oauth_error(400, "invalid_client", "this app client is not the console's")
        code = form.get("code", "")
        if not code:
            return _oauth_error(400, "invalid_request", "send the code")
        with self._lock:
            # Single use: a code is gone at its first exchange, whether it succeeds or not.
            grant = self._grants.pop(code, None)
        if grant is None:
            return _oauth_error(400, "invalid_grant", "the code is unknown or was used")
        if grant.expires_at <= self._clock():
            return _oauth_error(400, "invalid_grant", "the code has expired (5 minutes)")
        if form.get("client_id") != grant.client_id:
            return _oauth_error(400, "invalid_grant", "the code was issued to another client")
        if form.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error(400, "invalid_grant", "the redirect_uri is not the code's")
        verifier = form.get("code_verifier", "")
        if not _VERIFIER.fullmatch(verifier) or not hmac.compare_digest(
            s256(verifier), grant.code_challenge
        ):
            return _oauth_error(400, "invalid_grant", "the code_verifier does not match")
        tokens = grant.tokens
        answer = {
            "id_token": tokens["token"],
            "access_token": tokens.get("access_token", ""),
            "refresh_token": tokens.get("refresh_token", ""),
            "expires_in": int(tokens.get("expires_in", 3600)),
            "token_type": "Bearer",
        }
        return OAuthResponse(200, _json_headers(), json.dumps(answer).encode())

    # ------------------------------------------------------------ /logout
    def logout(self, params: Mapping[str, str], *, logout_uris: Collection[str]) -> OAuthResponse:
        """``client_id`` and ``logout_uri`` (one of the client's sign-out URLs) -> there."""
        if params.get("client_id") != self.client_id:
            return _page(400, "invalid_client", "this app client is not the console's")
        target = params.get("logout_uri", "")
        if target not in logout_uris:
            return _page(400, "redirect_mismatch", "the logout_uri is not the console's")
        return _found(target)

    def _forget_expired(self) -> None:
        now = self._clock()
        for code in [code for code, grant in self._grants.items() if grant.expires_at <= now]:
            del self._grants[code]


# ---------------------------------------------------------------- answers
def _json_headers() -> list[tuple[str, str]]:
    return [
        ("Content-Type", "application/json"),
        ("Cache-Control", "no-store"),
        ("Pragma", "no-cache"),
    ]


def _oauth_error(status: int, error: str, description: str) -> OAuthResponse:
    body = json.dumps({"error": error, "error_description": description}).encode()
    return OAuthResponse(status, _json_headers(), body)


def _found(location: str) -> OAuthResponse:
    return OAuthResponse(302, [("Location", location), ("Cache-Control", "no-store")], b"")


def _redirect_error(request: _AuthorizeRequest, error: str, description: str) -> OAuthResponse:
    query = {"error": error, "error_description": description}
    if request.state:
        query["state"] = request.state
    return _found(f"{request.redirect_uri}?{urlencode(query)}")


_STYLE = (
    "body{font-family:system-ui,sans-serif;background:#f1f3f5;margin:0}"
    "main{max-width:360px;margin:10vh auto;background:#fff;padding:24px;border-radius:8px;"
    "border:1px solid #dee2e6}"
    "h1{font-size:1.3rem;margin:0 0 16px}label{display:block;margin:12px 0 4px}"
    "input[type=email],input[type=password]{width:100%;box-sizing:border-box;padding:8px;"
    "font-size:1rem;border:1px solid #868e96;border-radius:4px}"
    "button{margin-top:16px;width:100%;padding:10px;font-size:1rem;background:#2b8a3e;"
    "color:#fff;border:0;border-radius:4px;cursor:pointer}"
    "p.error{background:#ffe3e3;color:#a61e1e;padding:8px;border-radius:4px}"
    "p.note{color:#495057;font-size:.85rem}"
)


def _html(status: int, title: str, content: str) -> OAuthResponse:
    body = (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><main>{content}</main></body></html>"
    )
    headers = [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Cache-Control", "no-store"),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    return OAuthResponse(status, headers, body.encode("utf-8"))


def _page(status: int, error: str, description: str) -> OAuthResponse:
    content = (
        f"<h1>linecrm staff sign-in</h1>"
        f'<p class="error" role="alert">{html.escape(error)}: {html.escape(description)}</p>'
    )
    return _html(status, f"linecrm: {error}", content)


def _sign_in_page(
    request: _AuthorizeRequest, *, failure: str | None, email: str = "", status: int = 200
) -> OAuthResponse:
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{html.escape(value)}">'
        for name, value in vars(request).items()
    )
    error = (
        f'<p class="error" role="alert" id="signin-error">{html.escape(failure)}</p>'
        if failure
        else ""
    )
    content = (
        "<h1>linecrm スタッフ サインイン / Staff sign-in</h1>"
        f"{error}"
        f'<form id="signin-staff" method="post" action="{AUTHORIZE_PATH}">{hidden}'
        '<label for="signin-email">メールアドレス / Email</label>'
        f'<input id="signin-email" name="email" type="email" autocomplete="username" required'
        f' value="{html.escape(email)}">'
        '<label for="signin-password">パスワード / Password</label>'
        '<input id="signin-password" name="password" type="password"'
        ' autocomplete="current-password" required>'
        '<button type="submit">サインイン / Sign in</button></form>'
        '<p class="note">The local stand-in for Cognito\'s managed login (make dev prints '
        "the demo staff).</p>"
    )
    return _html(status, "linecrm staff sign-in", content)
