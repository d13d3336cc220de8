"""The emulator's own JSON API under ``/_emulator/`` (for the CLI, tests and people)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .faults import InvalidFault
from .http import HttpError, json_response

if TYPE_CHECKING:
    from .server import LineEmulator

SIMULATE_TYPES = ("follow", "unfollow", "text", "postback")
FAULT_FIELDS = ("error_500", "error_500_after_delivery", "error_429", "delay_seconds", "timeout")
PAGE_REFRESH_SECONDS = 2

_LINE_USER_ID = re.compile(r"U[0-9a-f]{32}")


class ControlApi:
    def __init__(self, emulator: LineEmulator) -> None:
        self.emulator = emulator
        self.url_map = Map(
            [
                Rule("/_emulator/", endpoint="page", methods=["GET"]),
                Rule("/_emulator/channels", endpoint="channels", methods=["GET"]),
                Rule(
                    "/_emulator/channels/<channel_id>/friends",
                    endpoint="add_friend",
                    methods=["POST"],
                ),
                Rule(
                    "/_emulator/channels/<channel_id>/friends", endpoint="friends", methods=["GET"]
                ),
                Rule(
                    "/_emulator/channels/<channel_id>/simulate",
                    endpoint="simulate",
                    methods=["POST"],
                ),
                Rule(
                    "/_emulator/channels/<channel_id>/opens",
                    endpoint="open_message",
                    methods=["POST"],
                ),
                Rule(
                    "/_emulator/channels/<channel_id>/rotate-token",
                    endpoint="rotate_token",
                    methods=["POST"],
                ),
                Rule(
                    "/_emulator/channels/<channel_id>/id-token",
                    endpoint="id_token",
                    methods=["POST"],
                ),
                Rule("/_emulator/login/rotate-key", endpoint="rotate_login_key", methods=["POST"]),
                Rule("/_emulator/account-link", endpoint="account_link", methods=["POST"]),
                Rule("/_emulator/inbox/<user_id>", endpoint="inbox", methods=["GET"]),
                Rule("/_emulator/calls", endpoint="calls", methods=["GET"]),
                Rule("/_emulator/faults", endpoint="faults", methods=["GET"]),
                Rule("/_emulator/faults", endpoint="set_faults", methods=["PUT"]),
                Rule("/_emulator/faults", endpoint="clear_faults", methods=["DELETE"]),
                Rule("/_emulator/reset", endpoint="reset", methods=["POST"]),
            ],
            strict_slashes=False,
        )
        self.views: dict[str, Callable[..., Response]] = {
            "page": self.page,
            "channels": self.channels,
            "add_friend": self.add_friend,
            "friends": self.friends,
            "simulate": self.simulate,
            "open_message": self.open_message,
            "id_token": self.id_token,
            "rotate_token": self.rotate_token,
            "rotate_login_key": self.rotate_login_key,
            "account_link": self.account_link,
            "inbox": self.inbox,
            "calls": self.calls,
            "faults": self.faults,
            "set_faults": self.set_faults,
            "clear_faults": self.clear_faults,
            "reset": self.reset,
        }

    def dispatch(self, request: Request) -> Response:
        # Imported here: server.py imports this module through app.py.
        from .server import FriendBlocked, InvalidRotation, UnknownChannel, UnknownFriend

        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, params = adapter.match(
                "/_emulator/" if request.path == "/_emulator" else None
            )
            return self.views[endpoint](request, **params)
        except NotFound:
            return json_response({"message": f"No control route {request.path}"}, 404)
        except MethodNotAllowed:
            return json_response({"message": f"{request.method} is not allowed here"}, 405)
        except HttpError as failure:
            return failure.response()
        except (UnknownChannel, UnknownFriend) as missing:
            return json_response({"message": str(missing).strip("'\"")}, 404)
        except (FriendBlocked, InvalidFault, InvalidRotation) as invalid:
            return json_response({"message": str(invalid)}, 400)

    # ------------------------------------------------------------ helpers
    @staticmethod
    def _json_object(request: Request, *, required: bool = True) -> dict[str, Any]:
        raw = request.get_data(cache=True)
        if not raw and not required:
            return {}
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as bad:
            raise HttpError(400, "The request body must be a JSON object") from bad
        if not isinstance(body, dict):
            raise HttpError(400, "The request body must be a JSON object")
        return body

    @staticmethod
    def _optional_str(body: dict[str, Any], name: str) -> str | None:
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or not value):
            raise HttpError(400, f"'{name}' must be a non-empty string")
        return value

    @staticmethod
    def _flag(body: dict[str, Any], name: str) -> bool:
        value = body.get(name, False)
        if not isinstance(value, bool):
            raise HttpError(400, f"'{name}' must be true or false")
        return value

    def _required_str(self, body: dict[str, Any], name: str) -> str:
        value = self._optional_str(body, name)
        if value is None:
            raise HttpError(400, f"'{name}' is required")
        return value

    # ------------------------------------------------------------ views
    def channels(self, request: Request) -> Response:
        return json_response(
            [
                {
                    "channelId": c.channel_id,
                    "botUserId": c.bot_user_id,
                    "webhookUrl": c.webhook_url,
                    "redelivery": c.redelivery,
                    "channelSecret": c.channel_secret,
                    "channelAccessToken": c.channel_access_token,
                }
                for c in self.emulator.config.channels
            ]
        )

    def add_friend(self, request: Request, channel_id: str) -> Response:
        body = self._json_object(request, required=False)
        friend = self.emulator.add_friend(
            channel_id,
            display_name=self._optional_str(body, "displayName"),
            user_id=self._optional_str(body, "userId"),
            language=self._optional_str(body, "language") or "ja",
        )
        return json_response(friend.to_json(), 201)

    def friends(self, request: Request, channel_id: str) -> Response:
        return json_response([f.to_json() for f in self.emulator.friends(channel_id)])

    def simulate(self, request: Request, channel_id: str) -> Response:
        body = self._json_object(request)
        kind = body.get("type")
        if kind not in SIMULATE_TYPES:
            raise HttpError(400, f"'type' must be one of {', '.join(SIMULATE_TYPES)}")
        user_id = self._optional_str(body, "userId")
        if kind == "follow":
            delivery = self.emulator.simulate_follow(
                channel_id, user_id, display_name=self._optional_str(body, "displayName")
            )
        elif user_id is None:
            raise HttpError(400, "'userId' is required")
        elif kind == "unfollow":
            delivery = self.emulator.simulate_unfollow(channel_id, user_id)
        elif kind == "text":
            delivery = self.emulator.simulate_text(
                channel_id, user_id, self._required_str(body, "text")
            )
        else:
            delivery = self.emulator.simulate_postback(
                channel_id, user_id, self._required_str(body, "data")
            )
        return json_response(delivery.to_json())

    def open_message(self, request: Request, channel_id: str) -> Response:
        """A simulated friend opens a message they received (what LINE's insight API
        counts): body ``userId``; ``unit`` (the aggregation unit) or ``requestId``
        picks the message (else their latest); ``url`` also opens that URL in it,
        ``click: true`` its first URL."""
        from .insight import NoSuchMessage

        body = self._json_object(request)
        unknown = set(body) - {"userId", "unit", "requestId", "url", "click"}
        if unknown:
            raise HttpError(400, f"Unknown fields: {', '.join(sorted(unknown))}")
        if self.emulator.config.channel(channel_id) is None:
            raise HttpError(404, f"Unknown channel {channel_id}")
        user_id = self._required_str(body, "userId")
        try:
            opened = self.emulator.state.record_interaction(
                channel_id,
                user_id,
                unit=self._optional_str(body, "unit"),
                request_id=self._optional_str(body, "requestId"),
                url=self._optional_str(body, "url"),
                first_url=self._flag(body, "click"),
            )
        except NoSuchMessage as missing:
            raise HttpError(404, str(missing)) from missing
        return json_response(
            {"userId": opened.user_id, "requestId": opened.request_id, "url": opened.url}
        )

    def id_token(self, request: Request, channel_id: str) -> Response:
        """Mint an ID token as LINE Login would give it: body ``userId``, optional
        ``nonce``, ``displayName`` (for a user who is no friend) and ``alg``
        (``ES256``, as LIFF gets it, the default; ``HS256``, as web login gets it)."""
        body = self._json_object(request)
        unknown = set(body) - {"userId", "nonce", "displayName", "alg"}
        if unknown:
            raise HttpError(400, f"Unknown fields: {', '.join(sorted(unknown))}")
        algorithm = self._optional_str(body, "alg") or "ES256"
        if algorithm not in ("ES256", "HS256"):
            raise HttpError(400, "'alg' must be ES256 (LIFF) or HS256 (web login)")
        user_id = self._required_str(body, "userId")
        if not _LINE_USER_ID.fullmatch(user_id):
            # LINE Login only ever names a real LINE user (U + 32 hex digits).
            raise HttpError(400, "'userId' is not a LINE user id (U followed by 32 hex digits)")
        token = self.emulator.issue_id_token(
            channel_id,
            user_id,
            nonce=self._optional_str(body, "nonce"),
            display_name=self._optional_str(body, "displayName"),
            web_login=algorithm == "HS256",
        )
        return json_response({"idToken": token})

    def rotate_login_key(self, request: Request) -> Response:
        """LINE Login signs new ID tokens with a new key (published at the certs path
        with the old ones, which keep verifying the tokens they signed)."""
        return json_response({"kid": self.emulator.rotate_login_key()})

    def rotate_token(self, request: Request, channel_id: str) -> Response:
        """A new channel access token; the old one answers 401 (now, or after
        ``oldTokenValidSeconds``). Nothing in AWS changes: update the secret yourself."""
        body = self._json_object(request, required=False)
        unknown = set(body) - {"channelAccessToken", "oldTokenValidSeconds"}
        if unknown:
            raise HttpError(400, f"Unknown fields: {', '.join(sorted(unknown))}")
        grace = body.get("oldTokenValidSeconds", 0)
        if isinstance(grace, bool) or not isinstance(grace, int | float):
            raise HttpError(400, "'oldTokenValidSeconds' must be a number")
        token = self.emulator.rotate_token(
            channel_id,
            self._optional_str(body, "channelAccessToken"),
            old_token_valid_seconds=float(grace),
        )
        return json_response({"channelId": channel_id, "channelAccessToken": token})

    def account_link(self, request: Request) -> Response:
        """What opening LINE's account-link URL does, as JSON: ``{"linkToken", "nonce",
        "result": "ok"|"failed"}`` sends the ``accountLink`` event; the delivery."""
        from .state import InvalidLinkToken

        body = self._json_object(request)
        unknown = set(body) - {"linkToken", "nonce", "result"}
        if unknown:
            raise HttpError(400, f"Unknown fields: {', '.join(sorted(unknown))}")
        result = body.get("result", "ok")
        if result not in ("ok", "failed"):
            raise HttpError(400, "'result' must be ok or failed")
        try:
            delivery = self.emulator.account_link(
                self._required_str(body, "linkToken"),
                self._required_str(body, "nonce"),
                fail=result == "failed",
            )
        except InvalidLinkToken as invalid:
            raise HttpError(400, invalid.reason) from invalid
        return json_response(delivery.to_json())

    def inbox(self, request: Request, user_id: str) -> Response:
        return json_response([m.to_json() for m in self.emulator.inbox(user_id)])

    def calls(self, request: Request) -> Response:
        endpoint = request.args.get("endpoint") or None
        return json_response([c.to_json() for c in self.emulator.calls(endpoint)])

    def faults(self, request: Request) -> Response:
        return json_response(self.emulator.faults.to_json())

    def set_faults(self, request: Request) -> Response:
        body = self._json_object(request)
        endpoint = self._required_str(body, "endpoint")
        unknown = set(body) - {"endpoint", "seed", *FAULT_FIELDS}
        if unknown:
            raise HttpError(400, f"Unknown fields: {', '.join(sorted(unknown))}")
        values: dict[str, float] = {}
        for name in FAULT_FIELDS:
            value = body.get(name, 0)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise HttpError(400, f"'{name}' must be a number")
            values[name] = float(value)
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise HttpError(400, "'seed' must be an integer")
        self.emulator.set_faults(endpoint, seed=seed, **values)
        return json_response(self.emulator.faults.to_json())

    def clear_faults(self, request: Request) -> Response:
        self.emulator.clear_faults()
        return json_response({})

    def reset(self, request: Request) -> Response:
        self.emulator.reset()
        return json_response({})

    def page(self, request: Request) -> Response:
        return Response(render_page(self.emulator), content_type="text/html; charset=utf-8")


def render_page(emulator: LineEmulator) -> str:
    """A plain, auto-refreshing page: each channel's friends and what they received."""
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<meta http-equiv='refresh' content='{PAGE_REFRESH_SECONDS}'>",
        "<title>LINE emulator</title><style>body{font-family:sans-serif;margin:2em}"
        "section{border:1px solid #ccc;padding:.5em 1em;margin:1em 0}"
        "pre{background:#f6f6f6;padding:.4em;white-space:pre-wrap}</style></head><body>",
        "<h1>LINE emulator</h1>",
    ]
    for channel in emulator.config.channels:
        parts.append(f"<h2>Channel {esc(channel.channel_id)}</h2>")
        parts.append(f"<p>Webhook: <code>{esc(channel.webhook_url or '(none)')}</code></p>")
        friends = emulator.friends(channel.channel_id)
        if not friends:
            parts.append("<p>No friends yet.</p>")
        for friend in friends:
            status = "following" if friend.following else "blocked"
            parts.append(
                f"<section><h3>{esc(friend.display_name)} <small>({esc(friend.user_id)}, "
                f"{status})</small></h3>"
            )
            inbox = emulator.inbox(friend.user_id)
            if not inbox:
                parts.append("<p>Nothing received.</p>")
            for received in inbox:
                shown = received.message.get("text") or json.dumps(
                    received.message, ensure_ascii=False
                )
                parts.append(
                    f"<p>via <b>{esc(received.endpoint)}</b></p><pre>{esc(str(shown))}</pre>"
                )
            parts.append("</section>")
    parts.append("</body></html>")
    return "".join(parts)
