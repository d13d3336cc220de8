"""``LineEmulator``: the emulated LINE platform as a real HTTP server in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from . import ids
from .app import EmulatorApp
from .config import ALL_ENDPOINTS, ENDPOINT_KEYS, EmulatedChannel, EmulatorConfig
from .faults import FaultInjector, FaultSpec, InvalidFault
from .limits import RateLimiter
from .login import IdTokenIssuer
from .models import ApiCall, ReceivedMessage, SimulatedFriend, WebhookDelivery
from .state import EmulatorState, InvalidLinkToken
from .webhooks import (
    REPLYABLE_EVENTS,
    WebhookSender,
    account_link_event,
    complete_event,
    follow_event,
    postback_event,
    text_message_event,
    unfollow_event,
)

# How often the server loop checks for shutdown: stop() returns within this.
SHUTDOWN_POLL_SECONDS = 0.05


class UnknownChannel(LookupError):
    pass


class UnknownFriend(LookupError):
    pass


class FriendBlocked(ValueError):
    pass


class InvalidRotation(ValueError):
    pass


class _QuietRequestHandler(WSGIRequestHandler):
    """No access log line per request (errors are still logged)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class LineEmulator:
    def __init__(self, config: EmulatorConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.state = EmulatorState(config, clock)
        self.limiter = RateLimiter(config.rate_limit, clock)
        self.faults = FaultInjector()
        self.issuer = IdTokenIssuer()
        self._stopping = threading.Event()
        self.webhooks = WebhookSender(
            config.redelivery_delays_seconds, config.webhook_timeout_seconds, self.wait
        )
        self.wsgi_app = EmulatorApp(self)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        self._stopping.clear()
        self._server = make_server(
            host, port, self.wsgi_app, threaded=True, request_handler=_QuietRequestHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name="line-emulator",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        # Release held ("timeout" fault) requests and pending redeliveries first.
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> LineEmulator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        host, port = self._server.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode("ascii")
        return f"http://{host}:{port}"

    def wait(self, seconds: float) -> bool:
        """Sleep unless the emulator stops meanwhile; True if the time ran out normally."""
        return not self._stopping.wait(seconds)

    # ------------------------------------------------------------ friends and webhooks
    def channel(self, channel_id: str) -> EmulatedChannel:
        channel = self.config.channel(channel_id)
        if channel is None:
            raise UnknownChannel(f"no emulated channel {channel_id!r}")
        return channel

    def add_friend(
        self,
        channel_id: str,
        display_name: str | None = None,
        user_id: str | None = None,
        language: str = "ja",
    ) -> SimulatedFriend:
        """A friend who follows the account, without sending a webhook."""
        self.channel(channel_id)
        return self.state.add_friend(
            channel_id, display_name=display_name, user_id=user_id, language=language
        )

    def friends(self, channel_id: str) -> list[SimulatedFriend]:
        self.channel(channel_id)
        with self.state.lock:
            return list(self.state.friends[channel_id].values())

    def simulate(self, channel_id: str, user_id: str, event: dict[str, Any]) -> WebhookDelivery:
        """Send ``event`` from ``user_id`` in a signed webhook, redelivering on failure."""
        channel = self.channel(channel_id)
        event = complete_event(event, user_id, self.clock())
        if event["type"] == "follow":
            self.state.set_following(channel_id, user_id, True)
        elif event["type"] == "unfollow":
            self.state.set_following(channel_id, user_id, False)
        if event["type"] in REPLYABLE_EVENTS and "replyToken" not in event:
            event["replyToken"] = self.state.issue_reply_token(channel_id, user_id)
        delivery = WebhookDelivery(channel_id, user_id, event["webhookEventId"], event)
        if self.config.synchronous_webhooks:
            return self.webhooks.deliver(channel, delivery)
        threading.Thread(
            target=self.webhooks.deliver, args=(channel, delivery), daemon=True
        ).start()
        return delivery

    def simulate_follow(
        self,
        channel_id: str,
        user_id: str | None = None,
        display_name: str | None = None,
        language: str = "ja",
    ) -> WebhookDelivery:
        """A new friend (no ``user_id``), or an existing one who follows or unblocks."""
        self.channel(channel_id)
        existing = self.state.friend(channel_id, user_id) if user_id else None
        is_unblocked = existing is not None and not existing.following
        friend = existing or self.state.add_friend(
            channel_id, display_name=display_name, user_id=user_id, language=language
        )
        event = follow_event(friend.user_id, self.clock(), is_unblocked=is_unblocked)
        return self.simulate(channel_id, friend.user_id, event)

    def simulate_unfollow(self, channel_id: str, user_id: str) -> WebhookDelivery:
        self._known_friend(channel_id, user_id)
        return self.simulate(channel_id, user_id, unfollow_event(user_id, self.clock()))

    def simulate_text(self, channel_id: str, user_id: str, text: str) -> WebhookDelivery:
        self._following_friend(channel_id, user_id)
        return self.simulate(channel_id, user_id, text_message_event(user_id, self.clock(), text))

    def simulate_postback(self, channel_id: str, user_id: str, data: str) -> WebhookDelivery:
        self._following_friend(channel_id, user_id)
        return self.simulate(channel_id, user_id, postback_event(user_id, self.clock(), data))

    def account_link(self, link_token: str, nonce: str, *, fail: bool = False) -> WebhookDelivery:
        """LINE's account-link dialog (``/dialog/bot/accountLink``): spend the link
        token and send the ``accountLink`` event for its user, ``ok`` (with a reply
        token) or ``failed`` (``fail``: the friend's check failed). A used or expired
        token sends ``failed`` and raises ``InvalidLinkToken`` after it; an unknown one
        sends nothing (whose would it be?)."""
        if not nonce:
            raise InvalidLinkToken("nonce is required")
        try:
            grant = self.state.use_link_token(link_token)
        except InvalidLinkToken as invalid:
            if invalid.grant is not None:
                event = account_link_event(
                    invalid.grant.user_id, self.clock(), ok=False, nonce=nonce
                )
                self.simulate(invalid.grant.channel_id, invalid.grant.user_id, event)
            raise
        event = account_link_event(grant.user_id, self.clock(), ok=not fail, nonce=nonce)
        if not fail:
            event["replyToken"] = self.state.issue_reply_token(grant.channel_id, grant.user_id)
        return self.simulate(grant.channel_id, grant.user_id, event)

    def _known_friend(self, channel_id: str, user_id: str) -> SimulatedFriend:
        self.channel(channel_id)
        friend = self.state.friend(channel_id, user_id)
        if friend is None:
            raise UnknownFriend(f"{user_id!r} is not a friend of channel {channel_id}")
        return friend

    def _following_friend(self, channel_id: str, user_id: str) -> SimulatedFriend:
        friend = self._known_friend(channel_id, user_id)
        if not friend.following:
            # LINE sends no events from a user who blocked the account.
            raise FriendBlocked(f"{user_id!r} has blocked channel {channel_id}; follow first")
        return friend

    # ------------------------------------------------------------ observing
    def inbox(self, user_id: str) -> list[ReceivedMessage]:
        return self.state.inbox(user_id)

    def rich_menu_of(self, channel_id: str, user_id: str) -> dict[str, Any] | None:
        """The rich menu the friend sees in their chat, as LINE holds it (its areas'
        actions: the URIs a tap opens): the one linked to them, else the channel's
        default; None when there is none (or the friend is unknown)."""
        self.channel(channel_id)
        with self.state.lock:
            friend = self.state.friends[channel_id].get(user_id)
            if friend is None:
                return None
            linked = friend.linked_rich_menu_id
            rich_menu_id = linked or self.state.default_rich_menu.get(channel_id)
            menu = self.state.rich_menus.get(rich_menu_id) if rich_menu_id else None
            if menu is None:
                return None
            return {**menu.to_json(), "shown": "linked" if linked else "default"}

    def calls(self, endpoint: str | None = None) -> list[ApiCall]:
        return self.state.call_log(endpoint)

    def rotate_token(
        self,
        channel_id: str,
        new_token: str | None = None,
        *,
        old_token_valid_seconds: float = 0,
        old_token_valid_calls: int = 0,
    ) -> str:
        """Issue a new channel access token (the console's "Reissue"); the new token.

        The old one answers 401 at once, or after ``old_token_valid_seconds`` (LINE
        lets you keep it valid for a while), or after the channel's next
        ``old_token_valid_calls`` calls (with either token; tests use it to revoke the
        old token exactly as a broadcast's sends go out). Secrets Manager is not
        touched: whoever rotates puts the new token there too.
        """
        channel = self.channel(channel_id)
        if old_token_valid_seconds < 0:
            raise InvalidRotation("oldTokenValidSeconds must not be negative")
        if old_token_valid_calls < 0:
            raise InvalidRotation("oldTokenValidCalls must not be negative")
        token = new_token or ids.channel_access_token()
        if token == channel.channel_access_token or any(
            token == c.channel_access_token
            or token in c.retired_tokens
            or token in c.retired_token_calls
            for c in self.config.channels
        ):
            raise InvalidRotation("that token is in use or was used before")
        with self.state.lock:
            now = self.clock()
            channel.retired_tokens = {
                old: until for old, until in channel.retired_tokens.items() if until > now
            }
            if old_token_valid_seconds > 0:
                channel.retired_tokens[channel.channel_access_token] = now + old_token_valid_seconds
            if old_token_valid_calls > 0:
                channel.retired_token_calls[channel.channel_access_token] = old_token_valid_calls
            channel.channel_access_token = token
        return token

    # ------------------------------------------------------------ faults and reset
    def set_faults(
        self,
        endpoint: str,
        *,
        error_500: float = 0,
        error_500_after_delivery: float = 0,
        error_429: float = 0,
        delay_seconds: float = 0,
        timeout: float = 0,
        seed: int | None = None,
    ) -> None:
        """Inject faults into ``endpoint`` (a key such as "push", or "*" for all)."""
        if endpoint != ALL_ENDPOINTS and endpoint not in ENDPOINT_KEYS:
            raise InvalidFault(f"unknown endpoint key {endpoint!r}")
        self.faults.set(
            endpoint,
            FaultSpec(
                error_500=error_500,
                error_500_after_delivery=error_500_after_delivery,
                error_429=error_429,
                delay_seconds=delay_seconds,
                timeout=timeout,
                seed=seed,
            ),
        )

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_rate_limit(self, endpoint: str, per_second: float) -> None:
        """Change LINE's per-channel rate limit of ``endpoint`` (e.g. to what a laptop
        sustains, for a send-rate benchmark); every rate bucket starts over full."""
        if endpoint not in ENDPOINT_KEYS:
            raise InvalidFault(f"unknown endpoint key {endpoint!r}")
        if per_second <= 0:
            raise InvalidFault("a rate limit must be positive")
        self.config.rate_limits[endpoint] = per_second
        self.limiter.reset()

    def reset(self) -> None:
        """Forget inboxes, calls, retry keys, quotas, rate buckets, reply tokens and
        LINE Login's pending logins and codes."""
        self.state.clear()
        self.limiter.reset()
        self.wsgi_app.login_web.clear()

    # ------------------------------------------------------------ LINE Login
    def issue_id_token(
        self,
        channel_id: str,
        user_id: str,
        nonce: str | None = None,
        *,
        display_name: str | None = None,
        web_login: bool = False,
    ) -> str:
        """An ID token of the account's user, as its linked LINE Login channel issues it
        (aud = that channel; without one, the Messaging API channel id): ES256 as LIFF
        gets it, or HS256 with the login channel's secret as web login does. The name
        is the friend's, else ``display_name`` (a LINE user who is no friend)."""
        channel = self.channel(channel_id)
        friend = self.state.friend(channel_id, user_id)
        linked = next(
            (c for c in self.config.login_channels if c.linked_bot_channel_id == channel_id),
            None,
        )
        return self.issuer.issue(
            channel_id=linked.channel_id if linked else channel_id,
            user_id=user_id,
            now=self.clock(),
            nonce=nonce,
            name=friend.display_name if friend and friend.display_name else display_name,
            picture=friend.picture_url if friend else None,
            channel_secret=(linked.channel_secret if linked else channel.channel_secret)
            if web_login
            else None,
        )

    def rotate_login_key(self) -> str:
        """LINE Login signs with a new key from now on (the old one stays published)."""
        return self.issuer.rotate_key()
