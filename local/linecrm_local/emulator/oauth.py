"""LINE Login's OAuth 2.0 web flow, as the emulator plays it.

- ``GET /oauth2/v2.1/authorize``: checked like LINE (a known ``client_id``, a
  ``redirect_uri`` that is one of the channel's registered Callback URLs, ``state``,
  ``response_type=code``, an ``openid`` or ``profile`` scope). A bad client or redirect
  URI is an error page (LINE never redirects to an unregistered URL); the rest comes
  back to the redirect URI as ``error=…``. Otherwise: the consent page.
- The consent page: who logs in (a LINE user id, new or a known friend) and, with
  ``bot_prompt`` and a linked bot, the add-friend prompt. "Add friend and allow" makes
  the friend follow (the follow webhook goes out, signed, before the redirect, as on
  LINE); "Allow" only logs in; "Cancel" answers ``error=access_denied``.
- ``POST /oauth2/v2.1/token``: the code once, within 10 minutes, for the same client
  and redirect URI, with the client secret: an access token and an ID token (ES256,
  aud = the login channel, the authorize request's nonce).
- ``GET /R/ti/p/<basic id>``: the account's add-friend page (the user from the
  browser's login, or typed in); its button sends the follow webhook.
"""

from __future__ import annotations

import hmac
import html
import secrets
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from . import ids
from .http import json_response

if TYPE_CHECKING:
    from .config import EmulatedLoginChannel
    from .server import LineEmulator

AUTHORIZE_PATH = "/oauth2/v2.1/authorize"
CONSENT_PATH = "/oauth2/v2.1/authorize/consent"
TOKEN_PATH = "/oauth2/v2.1/token"  # noqa: S105 - a path
ADD_FRIEND_PREFIX = "/R/ti/p/"
# The browser's LINE identity on the emulator's host (set when it logs in).
USER_COOKIE = "emulator_line_user"
ACCESS_TOKEN_TTL_SECONDS = 30 * 86400
_USER_ID_CHARS = frozenset("0123456789abcdef")


@dataclass
class AuthorizationRequest:
    request_id: str
    channel: EmulatedLoginChannel
    redirect_uri: str
    state: str
    scope: str
    nonce: str | None
    bot_prompt: str | None
    created_at: float


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    user_id: str
    nonce: str | None
    scope: str
    issued_at: float
    used: bool = False


class LoginWebFlow:
    def __init__(self, emulator: LineEmulator) -> None:
        self.emulator = emulator
        self._lock = threading.Lock()
        self._pending: dict[str, AuthorizationRequest] = {}
        self._codes: dict[str, AuthorizationCode] = {}

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
            self._codes.clear()

    def handles(self, path: str) -> bool:
        return path in (AUTHORIZE_PATH, CONSENT_PATH) or path.startswith(ADD_FRIEND_PREFIX)

    def dispatch(self, request: Request) -> Response:
        if request.path == AUTHORIZE_PATH and request.method == "GET":
            return self.authorize(request)
        if request.path == CONSENT_PATH and request.method == "POST":
            return self.consent(request)
        if request.path.startswith(ADD_FRIEND_PREFIX) and request.method in ("GET", "POST"):
            return self.add_friend(request, request.path.removeprefix(ADD_FRIEND_PREFIX))
        return page(405, "Method not allowed", "This page does not take that method.")

    # ------------------------------------------------------------ authorize
    def authorize(self, request: Request) -> Response:
        args = request.args
        channel = self.emulator.config.login_channel(args.get("client_id", ""))
        if channel is None:
            return page(400, "400 Bad Request", "Invalid client_id: no such LINE Login channel.")
        redirect_uri = args.get("redirect_uri", "")
        if redirect_uri not in channel.callback_urls:
            return page(
                400,
                "400 Bad Request",
                "Invalid redirect_uri: it does not match the channel's registered Callback URL.",
            )
        state = args.get("state", "")
        if not state:
            return page(400, "400 Bad Request", "Invalid request: state is required.")
        if args.get("response_type") != "code":
            return _back(redirect_uri, state, "unsupported_response_type", "response_type=code")
        scope = args.get("scope", "")
        if not {"openid", "profile"} & set(scope.split()):
            return _back(redirect_uri, state, "invalid_scope", "scope needs openid or profile")
        bot_prompt = args.get("bot_prompt")
        if bot_prompt not in (None, "normal", "aggressive"):
            return _back(redirect_uri, state, "invalid_request", "bot_prompt: normal|aggressive")
        pending = AuthorizationRequest(
            request_id=secrets.token_urlsafe(16),
            channel=channel,
            redirect_uri=redirect_uri,
            state=state,
            scope=scope,
            nonce=args.get("nonce"),
            bot_prompt=bot_prompt,
            created_at=self.emulator.clock(),
        )
        with self._lock:
            # Unanswered logins and old codes are forgotten after the code's lifetime.
            horizon = pending.created_at - self.emulator.config.login_code_ttl_seconds
            for key in [k for k, p in self._pending.items() if p.created_at < horizon]:
                del self._pending[key]
            for key in [k for k, c in self._codes.items() if c.issued_at < horizon]:
                del self._codes[key]
            self._pending[pending.request_id] = pending
        return self._consent_page(pending, request.cookies.get(USER_COOKIE))

    def _consent_page(self, pending: AuthorizationRequest, user_id: str | None) -> Response:
        bot = pending.channel.linked_bot_channel_id
        prompt = pending.bot_prompt is not None and bot is not None
        following = False
        if prompt and user_id and bot:
            friend = self.emulator.state.friend(bot, user_id)
            following = friend is not None and friend.following
        buttons = []
        if prompt and not following:
            buttons.append(
                "<button type='submit' name='action' value='allow_add' id='add-friend'>"
                "友だち追加して許可する / Add friend and allow</button>"
            )
        buttons.append(
            "<button type='submit' name='action' value='allow' id='allow'>許可する / Allow</button>"
        )
        buttons.append(
            "<button type='submit' name='action' value='cancel' id='cancel'>"
            "キャンセル / Cancel</button>"
        )
        body = (
            f"<form method='post' action='{CONSENT_PATH}'>"
            f"<input type='hidden' name='request' value='{html.escape(pending.request_id)}'>"
            "<p><label>LINE user id <input name='user_id' id='user-id' "
            f"value='{html.escape(user_id or ids.user_id())}' size='40'></label></p>"
            f"<p>Channel {html.escape(pending.channel.channel_id)} asks for: "
            f"{html.escape(pending.scope)}</p>"
            + (
                "<p id='bot-prompt'>Add the official account as a friend?</p>"
                if prompt and not following
                else ""
            )
            + "".join(buttons)
            + "</form>"
        )
        return page(200, "LINE Login (emulator)", "", raw_body=body)

    def consent(self, request: Request) -> Response:
        with self._lock:
            pending = self._pending.pop(request.form.get("request", ""), None)
        if pending is None:
            return page(400, "400 Bad Request", "This login expired or was already answered.")
        action = request.form.get("action", "")
        if action == "cancel":
            return _back(
                pending.redirect_uri,
                pending.state,
                "access_denied",
                "The resource owner denied the request.",
            )
        user_id = request.form.get("user_id", "").strip()
        if not _is_user_id(user_id):
            return page(400, "400 Bad Request", "user_id must be U + 32 hex digits.")
        query = {}
        if pending.bot_prompt and pending.channel.linked_bot_channel_id:
            changed = False
            if action == "allow_add":
                changed = self._follow(pending.channel.linked_bot_channel_id, user_id)
            query["friendship_status_changed"] = "true" if changed else "false"
        code = AuthorizationCode(
            code=secrets.token_urlsafe(15),
            client_id=pending.channel.channel_id,
            redirect_uri=pending.redirect_uri,
            user_id=user_id,
            nonce=pending.nonce,
            scope=pending.scope,
            issued_at=self.emulator.clock(),
        )
        with self._lock:
            self._codes[code.code] = code
        location = (
            f"{pending.redirect_uri}{'&' if '?' in pending.redirect_uri else '?'}"
            + urlencode({"code": code.code, "state": pending.state, **query})
        )
        response = Response(status=302, headers={"Location": location})
        response.set_cookie(USER_COOKIE, user_id, httponly=True, samesite="Lax")
        return response

    def _follow(self, channel_id: str, user_id: str) -> bool:
        """The friend adds the account (a signed follow webhook); False if following."""
        friend = self.emulator.state.friend(channel_id, user_id)
        if friend is not None and friend.following:
            return False
        self.emulator.simulate_follow(channel_id, user_id)
        return True

    # ------------------------------------------------------------ token
    def token(self, request: Request) -> Response:
        form = request.form
        if form.get("grant_type") != "authorization_code":
            return _token_error(400, "unsupported_grant_type", "grant_type: authorization_code")
        channel = self.emulator.config.login_channel(form.get("client_id", ""))
        if channel is None or not hmac.compare_digest(
            form.get("client_secret", "").encode(), channel.channel_secret.encode()
        ):
            return _token_error(401, "invalid_client", "invalid client_id or client_secret")
        now = self.emulator.clock()
        with self._lock:
            grant = self._codes.get(form.get("code", ""))
            if grant is None or grant.used:
                return _token_error(400, "invalid_grant", "authorization code is invalid or used")
            grant.used = True
        if now - grant.issued_at > self.emulator.config.login_code_ttl_seconds:
            return _token_error(400, "invalid_grant", "authorization code expired")
        if grant.client_id != channel.channel_id:
            return _token_error(400, "invalid_grant", "code was issued to another client")
        if grant.redirect_uri != form.get("redirect_uri", ""):
            return _token_error(400, "invalid_grant", "redirect_uri does not match")
        bot = channel.linked_bot_channel_id
        friend = self.emulator.state.friend(bot, grant.user_id) if bot else None
        id_token = self.emulator.issuer.issue(
            channel_id=channel.channel_id,
            user_id=grant.user_id,
            now=now,
            nonce=grant.nonce,
            name=friend.display_name if friend else None,
        )
        return json_response(
            {
                "access_token": secrets.token_urlsafe(32),
                "expires_in": ACCESS_TOKEN_TTL_SECONDS,
                "id_token": id_token,
                "refresh_token": secrets.token_urlsafe(16),
                "scope": grant.scope,
                "token_type": "Bearer",
            }
        )

    # ------------------------------------------------------------ add friend
    def add_friend(self, request: Request, basic_id: str) -> Response:
        channel = self.emulator.config.channel_by_basic_id(basic_id)
        if channel is None:
            return page(404, "Not found", "No LINE official account has this id.")
        if request.method == "POST":
            user_id = request.form.get("user_id", "").strip()
            if not _is_user_id(user_id):
                return page(400, "400 Bad Request", "user_id must be U + 32 hex digits.")
            added = self._follow(channel.channel_id, user_id)
            text = "The follow webhook went out." if added else "Already a friend."
            response = page(200, "Friend added", text)
            response.set_cookie(USER_COOKIE, user_id, httponly=True, samesite="Lax")
            return response
        user_id = request.cookies.get(USER_COOKIE) or ids.user_id()
        body = (
            "<form method='post'><p><label>LINE user id <input name='user_id' id='user-id' "
            f"value='{html.escape(user_id)}' size='40'></label></p>"
            "<button type='submit' id='add-friend'>友だち追加 / Add friend</button></form>"
        )
        return page(200, f"{channel.basic_id} (emulator)", "", raw_body=body)


def _is_user_id(value: str) -> bool:
    return len(value) == 33 and value[0] == "U" and set(value[1:]) <= _USER_ID_CHARS


def _back(redirect_uri: str, state: str, error: str, description: str) -> Response:
    """An OAuth error, returned to the (registered) redirect URI as LINE does."""
    separator = "&" if "?" in redirect_uri else "?"
    query = urlencode({"error": error, "error_description": description, "state": state})
    return Response(status=302, headers={"Location": f"{redirect_uri}{separator}{query}"})


def _token_error(status: int, error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, status)


def page(status: int, title: str, text: str, *, raw_body: str = "") -> Response:
    body = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        + (f"<p>{html.escape(text)}</p>" if text else "")
        + raw_body
        + "</body></html>"
    )
    return Response(body, status=status, content_type="text/html; charset=utf-8")
