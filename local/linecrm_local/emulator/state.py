"""The emulated platform's memory: friends, inboxes, retry keys, reply tokens, quotas.

Every mutation happens under one lock, so two concurrent requests with the same
retry key cannot both deliver and the quota is never overspent.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from . import ids
from .config import EmulatorConfig
from .models import ApiCall, ReceivedMessage, SimulatedFriend

JST = timezone(timedelta(hours=9))


def billing_month(now: float) -> str:
    """LINE counts the monthly quota per calendar month in Japan time."""
    return datetime.fromtimestamp(now, JST).strftime("%Y-%m")


class RetryKeyAccepted(Exception):
    def __init__(self, accepted_request_id: str) -> None:
        super().__init__(accepted_request_id)
        self.accepted_request_id = accepted_request_id


class QuotaExceeded(Exception):
    pass


class InvalidReplyToken(Exception):
    pass


@dataclass
class ReplyTokenGrant:
    channel_id: str
    user_id: str
    issued_at: float
    used: bool = False


class InvalidLinkToken(Exception):
    """A link token the account-link dialog cannot use; ``grant`` when we know whose."""

    def __init__(self, reason: str, grant: LinkTokenGrant | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.grant = grant


@dataclass
class LinkTokenGrant:
    channel_id: str
    user_id: str
    issued_at: float
    used: bool = False


@dataclass
class AcceptedRetryKey:
    request_id: str
    accepted_at: float


@dataclass
class RichMenu:
    rich_menu_id: str
    channel_id: str
    definition: dict[str, Any]
    image: bytes | None = None
    image_content_type: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"richMenuId": self.rich_menu_id, **self.definition}


@dataclass
class AudienceGroup:
    audience_group_id: int
    channel_id: str
    description: str
    created: int
    user_ids: list[str] = field(default_factory=list)
    is_ifa_audience: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "audienceGroupId": self.audience_group_id,
            "type": "UPLOAD",
            "description": self.description,
            "status": "READY",
            "audienceCount": len(set(self.user_ids)),
            "created": self.created,
            "permission": "READ_WRITE",
            "createRoute": "MESSAGING_API",
            "isIfaAudience": self.is_ifa_audience,
        }


@dataclass
class NarrowcastJob:
    request_id: str
    accepted_at: float
    target_count: int
    success_count: int
    error_code: int | None = None
    failed_description: str | None = None


@dataclass(frozen=True)
class Delivery:
    """One accepted send request: who actually received it."""

    request_id: str
    recipients: list[str]


# LINE: at most 1,000 different unit names per channel per month (UTC+9); a later
# name is treated as if the request had none (the message is still sent).
MONTHLY_UNIT_LIMIT = 1000


@dataclass(frozen=True)
class SentRequest:
    """What the insight endpoints count: one accepted send and its aggregation unit."""

    request_id: str
    channel_id: str
    endpoint: str
    recipients: list[str]
    messages: list[dict[str, Any]]
    unit: str | None
    time: float


@dataclass(frozen=True)
class Interaction:
    """A simulated friend opened a message (``url`` None) or a URL in bubble ``seq``."""

    user_id: str
    request_id: str
    time: float
    url: str | None = None
    seq: int = 0


class EmulatorState:
    def __init__(self, config: EmulatorConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self.clock = clock
        self.lock = threading.RLock()
        self.friends: dict[str, dict[str, SimulatedFriend]] = defaultdict(dict)
        self.clear()

    def clear(self) -> None:
        """Forget what happened (inboxes, calls, keys, quotas); friends stay."""
        with self.lock:
            self.inboxes: dict[str, list[ReceivedMessage]] = defaultdict(list)
            self.calls: list[ApiCall] = []
            self.retry_keys: dict[tuple[str, str], AcceptedRetryKey] = {}
            self.reply_tokens: dict[str, ReplyTokenGrant] = {}
            self.link_tokens: dict[str, LinkTokenGrant] = {}
            self.usage: dict[tuple[str, str], int] = defaultdict(int)
            self.rich_menus: dict[str, RichMenu] = {}
            self.default_rich_menu: dict[str, str] = {}
            self.rich_menu_aliases: dict[str, dict[str, str]] = defaultdict(dict)
            self.audiences: dict[int, AudienceGroup] = {}
            self.narrowcasts: dict[str, NarrowcastJob] = {}
            self.recipients_by_request: dict[str, list[str]] = {}
            self.sent_requests: dict[str, SentRequest] = {}
            self.units_by_month: dict[tuple[str, str], list[str]] = defaultdict(list)
            self.interactions: list[Interaction] = []
            for friends in self.friends.values():
                for friend in friends.values():
                    friend.linked_rich_menu_id = None

    # ------------------------------------------------------------ friends
    def add_friend(
        self,
        channel_id: str,
        *,
        display_name: str | None = None,
        user_id: str | None = None,
        language: str = "ja",
        following: bool = True,
    ) -> SimulatedFriend:
        with self.lock:
            uid = user_id or ids.user_id()
            friend = self.friends[channel_id].get(uid)
            if friend is None:
                friend = SimulatedFriend(
                    channel_id=channel_id,
                    user_id=uid,
                    display_name=display_name or f"Friend {len(self.friends[channel_id]) + 1}",
                    language=language,
                    picture_url=f"https://profile.line-scdn.net/emulator/{uid}",
                    status_message="Hello from the LINE emulator",
                    following=following,
                )
                self.friends[channel_id][uid] = friend
            else:
                friend.following = following or friend.following
                if display_name:
                    friend.display_name = display_name
            return friend

    def friend(self, channel_id: str, user_id: str) -> SimulatedFriend | None:
        with self.lock:
            return self.friends[channel_id].get(user_id)

    def following_friends(self, channel_id: str) -> list[SimulatedFriend]:
        with self.lock:
            return [f for f in self.friends[channel_id].values() if f.following]

    def set_following(self, channel_id: str, user_id: str, following: bool) -> SimulatedFriend:
        with self.lock:
            friend = self.friends[channel_id].get(user_id)
            if friend is None:
                friend = self.add_friend(channel_id, user_id=user_id, following=following)
            friend.following = following
            return friend

    # ------------------------------------------------------------ reply tokens
    def issue_reply_token(self, channel_id: str, user_id: str) -> str:
        token = ids.reply_token()
        with self.lock:
            self.reply_tokens[token] = ReplyTokenGrant(channel_id, user_id, self.clock())
        return token

    def check_reply_token(self, channel_id: str, token: str) -> str:
        """The user the token replies to; InvalidReplyToken if used, expired or foreign."""
        with self.lock:
            grant = self.reply_tokens.get(token)
            if (
                grant is None
                or grant.used
                or grant.channel_id != channel_id
                or self.clock() - grant.issued_at > self.config.reply_token_ttl_seconds
            ):
                raise InvalidReplyToken
            return grant.user_id

    def use_reply_token(self, token: str) -> None:
        with self.lock:
            self.reply_tokens[token].used = True

    # ------------------------------------------------------------ link tokens
    def issue_link_token(self, channel_id: str, user_id: str) -> str:
        token = ids.link_token()
        with self.lock:
            self.link_tokens[token] = LinkTokenGrant(channel_id, user_id, self.clock())
        return token

    def use_link_token(self, token: str) -> LinkTokenGrant:
        """Spend the token (once, within its 10 minutes); InvalidLinkToken otherwise."""
        with self.lock:
            grant = self.link_tokens.get(token)
            if grant is None:
                raise InvalidLinkToken("unknown link token")
            if grant.used:
                raise InvalidLinkToken("the link token was used already", grant)
            if self.clock() - grant.issued_at > self.config.link_token_ttl_seconds:
                raise InvalidLinkToken("the link token has expired", grant)
            grant.used = True
            return grant

    # ------------------------------------------------------------ sending
    def deliver(
        self,
        *,
        channel_id: str,
        endpoint: str,
        recipients: Iterable[str],
        messages: list[dict[str, Any]],
        request_id: str,
        retry_key: str | None,
        counts_against_quota: bool,
        before_commit: Callable[[], None] | None = None,
        aggregation_unit: str | None = None,
    ) -> Delivery:
        """Append ``messages`` to each following recipient's inbox, once per retry key.

        Blocked and unknown users are skipped silently and not counted (LINE FAQ:
        such messages are not sent and not counted). ``before_commit`` runs under the
        lock after the retry-key and quota checks (e.g. to consume a reply token).
        """
        with self.lock:
            now = self.clock()
            if retry_key is not None:
                accepted = self.retry_keys.get((channel_id, retry_key))
                if accepted and now - accepted.accepted_at < self.config.retry_key_ttl_seconds:
                    raise RetryKeyAccepted(accepted.request_id)
            friends = self.friends[channel_id]
            delivered = list(
                dict.fromkeys(u for u in recipients if u in friends and friends[u].following)
            )
            if counts_against_quota:
                usage_key = (channel_id, billing_month(now))
                if self.usage[usage_key] + len(delivered) > self.config.monthly_quota:
                    raise QuotaExceeded
                self.usage[usage_key] += len(delivered)
            if before_commit is not None:
                before_commit()
            for user_id in delivered:
                self.inboxes[user_id].extend(
                    ReceivedMessage(
                        user_id=user_id,
                        channel_id=channel_id,
                        message=message,
                        endpoint=endpoint,
                        request_id=request_id,
                        retry_key=retry_key,
                        time=now,
                    )
                    for message in messages
                )
            if retry_key is not None:
                self.retry_keys[(channel_id, retry_key)] = AcceptedRetryKey(request_id, now)
            self.recipients_by_request[request_id] = delivered
            self.sent_requests[request_id] = SentRequest(
                request_id,
                channel_id,
                endpoint,
                delivered,
                list(messages),
                self._assign_unit(channel_id, aggregation_unit, now),
                now,
            )
            return Delivery(request_id, delivered)

    def _assign_unit(self, channel_id: str, unit: str | None, now: float) -> str | None:
        """The unit the request counts under: None past the month's 1,000th name."""
        if unit is None:
            return None
        used = self.units_by_month[(channel_id, billing_month(now))]
        if unit in used:
            return unit
        if len(used) >= MONTHLY_UNIT_LIMIT:
            return None
        used.append(unit)
        return unit

    def units_this_month(self, channel_id: str) -> list[str]:
        with self.lock:
            return list(self.units_by_month[(channel_id, billing_month(self.clock()))])

    # ------------------------------------------------------------ insight
    def record_interaction(
        self,
        channel_id: str,
        user_id: str,
        *,
        unit: str | None = None,
        request_id: str | None = None,
        url: str | None = None,
        first_url: bool = False,
    ) -> Interaction:
        """The friend opens the latest message they received (of ``unit`` or from
        ``request_id`` if given) and, with ``url``, opens that URL in it (with
        ``first_url``, the message's first URL)."""
        from .insight import NoSuchMessage, bubble_with_url, first_url_in

        with self.lock:
            received = [
                sent
                for sent in self.sent_requests.values()
                if sent.channel_id == channel_id
                and user_id in sent.recipients
                and (unit is None or sent.unit == unit)
                and (request_id is None or sent.request_id == request_id)
            ]
            if not received:
                raise NoSuchMessage("the friend received no such message")
            sent = max(received, key=lambda request: request.time)
            if first_url and url is None:
                url = first_url_in(sent.messages)
            seq = 0
            if url is not None:
                seq = bubble_with_url(sent.messages, url)
            interaction = Interaction(user_id, sent.request_id, self.clock(), url, seq)
            if url is not None and not any(
                i.user_id == user_id and i.request_id == sent.request_id and i.url is None
                for i in self.interactions
            ):
                # Tapping a URL needs the message on screen: an open first.
                self.interactions.append(Interaction(user_id, sent.request_id, self.clock()))
            self.interactions.append(interaction)
            return interaction

    def usage_this_month(self, channel_id: str) -> int:
        with self.lock:
            return self.usage[(channel_id, billing_month(self.clock()))]

    def record_call(self, call: ApiCall) -> None:
        with self.lock:
            self.calls.append(call)

    def inbox(self, user_id: str) -> list[ReceivedMessage]:
        with self.lock:
            return list(self.inboxes.get(user_id, []))

    def call_log(self, endpoint: str | None = None) -> list[ApiCall]:
        with self.lock:
            return [c for c in self.calls if endpoint is None or c.endpoint == endpoint]
