"""What the emulated LINE platform knows: its channels and its limits."""

from __future__ import annotations

from dataclasses import dataclass, field

# Endpoint keys: how calls, rate limits and faults name the Messaging API operations.
REPLY = "reply"
PUSH = "push"
MULTICAST = "multicast"
BROADCAST = "broadcast"
NARROWCAST = "narrowcast"
NARROWCAST_PROGRESS = "narrowcast_progress"
PROFILE = "profile"
FOLLOWERS_IDS = "followers_ids"
QUOTA = "quota"
QUOTA_CONSUMPTION = "quota_consumption"
RICHMENU_CREATE = "richmenu_create"
RICHMENU_GET = "richmenu_get"
RICHMENU_DELETE = "richmenu_delete"
RICHMENU_UPLOAD_IMAGE = "richmenu_upload_image"
RICHMENU_LINK = "richmenu_link"
RICHMENU_UNLINK = "richmenu_unlink"
RICHMENU_BULK_LINK = "richmenu_bulk_link"
RICHMENU_BULK_UNLINK = "richmenu_bulk_unlink"
RICHMENU_DEFAULT = "richmenu_default"
RICHMENU_ALIAS = "richmenu_alias"
AUDIENCE_UPLOAD = "audience_upload"
LINK_TOKEN = "link_token"  # noqa: S105 - an endpoint key, not a secret
INSIGHT_UNIT = "insight_unit"  # statistics per aggregation unit
INSIGHT_MESSAGE_EVENT = "insight_message_event"  # statistics per request id
AGGREGATION_UNIT_USAGE = "aggregation_unit_usage"
AGGREGATION_UNIT_LIST = "aggregation_unit_list"
LOGIN_VERIFY = "login_verify"
LOGIN_JWKS = "login_jwks"
LOGIN_TOKEN = "login_token"  # noqa: S105 - an endpoint key, not a secret

ENDPOINT_KEYS = (
    REPLY,
    PUSH,
    MULTICAST,
    BROADCAST,
    NARROWCAST,
    NARROWCAST_PROGRESS,
    PROFILE,
    FOLLOWERS_IDS,
    QUOTA,
    QUOTA_CONSUMPTION,
    RICHMENU_CREATE,
    RICHMENU_GET,
    RICHMENU_DELETE,
    RICHMENU_UPLOAD_IMAGE,
    RICHMENU_LINK,
    RICHMENU_UNLINK,
    RICHMENU_BULK_LINK,
    RICHMENU_BULK_UNLINK,
    RICHMENU_DEFAULT,
    RICHMENU_ALIAS,
    AUDIENCE_UPLOAD,
    LINK_TOKEN,
    INSIGHT_UNIT,
    INSIGHT_MESSAGE_EVENT,
    AGGREGATION_UNIT_USAGE,
    AGGREGATION_UNIT_LIST,
    LOGIN_VERIFY,
    LOGIN_JWKS,
    LOGIN_TOKEN,
)
ALL_ENDPOINTS = "*"

# Only these accept X-Line-Retry-Key (LINE API reference, "Retry a failed API request").
RETRY_KEY_ENDPOINTS = frozenset({PUSH, MULTICAST, BROADCAST, NARROWCAST})
# Only these accept customAggregationUnits (LINE: push and multicast).
AGGREGATION_UNIT_ENDPOINTS = frozenset({PUSH, MULTICAST})
# These count recipients against the monthly quota; reply is free.
QUOTA_ENDPOINTS = RETRY_KEY_ENDPOINTS

PER_HOUR = 1 / 3600


def default_rate_limits() -> dict[str, float]:
    """LINE's published rate limits, in requests per second."""
    limits = dict.fromkeys(ENDPOINT_KEYS, 2000.0)
    limits[MULTICAST] = 200.0
    limits[BROADCAST] = 60 * PER_HOUR
    limits[NARROWCAST] = 60 * PER_HOUR
    # The insight endpoints: 60 requests per hour.
    limits[INSIGHT_UNIT] = 60 * PER_HOUR
    limits[INSIGHT_MESSAGE_EVENT] = 60 * PER_HOUR
    return limits


@dataclass
class EmulatedChannel:
    channel_id: str  # e.g. "2000000001"
    channel_secret: str  # 32 hex chars
    channel_access_token: str
    webhook_url: str | None  # where signed webhooks go
    bot_user_id: str  # "U" + 32 hex; the webhook ``destination``
    redelivery: bool = True  # LINE's "webhook redelivery" setting
    # The account's basic id ("@abc1234d"): its add-friend page is /R/ti/p/<basic id>.
    basic_id: str | None = None
    # Tokens replaced by a rotation that LINE still accepts, until (emulator clock).
    retired_tokens: dict[str, float] = field(default_factory=dict)
    # Tokens replaced by a rotation that LINE still accepts for this many more calls to
    # the channel (any token): a test's way to revoke one exactly as sends go out.
    retired_token_calls: dict[str, int] = field(default_factory=dict)

    def accepts(self, access_token: str, now: float) -> bool:
        if access_token == self.channel_access_token:
            return True
        if self.retired_token_calls.get(access_token, 0) > 0:
            return True
        until = self.retired_tokens.get(access_token)
        return until is not None and now < until


@dataclass
class EmulatedLoginChannel:
    """A LINE Login channel: its id is the OAuth client_id (and the ID tokens' aud)."""

    channel_id: str
    channel_secret: str
    # The Callback URLs registered in the console: redirect_uri must be one of them.
    callback_urls: list[str] = field(default_factory=list)
    # The Messaging API channel linked to it (bot_prompt offers to add that friend).
    linked_bot_channel_id: str | None = None


@dataclass
class EmulatorConfig:
    channels: list[EmulatedChannel]
    login_channels: list[EmulatedLoginChannel] = field(default_factory=list)
    rate_limits: dict[str, float] = field(default_factory=default_rate_limits)
    monthly_quota: int = 200_000  # messages: recipients x requests; reply is free
    # Real LINE waits minutes between redeliveries; short here so tests stay fast.
    redelivery_delays_seconds: tuple[float, ...] = (1.0, 2.0, 4.0)
    reply_token_ttl_seconds: float = 60.0
    # LINE: a link token (ID linking) is valid for 10 minutes and works once.
    link_token_ttl_seconds: float = 600.0
    # LINE Login: an authorization code is valid for 10 minutes and works once.
    login_code_ttl_seconds: float = 600.0
    retry_key_ttl_seconds: float = 24 * 3600.0
    # How long a "timeout" fault holds a request: longer than any client timeout.
    fault_timeout_hold_seconds: float = 35.0
    webhook_timeout_seconds: float = 10.0
    # Deliver webhooks and their redeliveries before simulate() returns.
    synchronous_webhooks: bool = True

    def channel(self, channel_id: str) -> EmulatedChannel | None:
        return next((c for c in self.channels if c.channel_id == channel_id), None)

    def login_channel(self, channel_id: str) -> EmulatedLoginChannel | None:
        return next((c for c in self.login_channels if c.channel_id == channel_id), None)

    def channel_by_basic_id(self, basic_id: str) -> EmulatedChannel | None:
        wanted = basic_id if basic_id.startswith("@") else f"@{basic_id}"
        return next((c for c in self.channels if c.basic_id == wanted), None)

    def channel_by_token(self, access_token: str, now: float) -> EmulatedChannel | None:
        """The channel this token is valid for at ``now``; None (LINE: 401) otherwise."""
        return next((c for c in self.channels if c.accepts(access_token, now)), None)

    @staticmethod
    def count_call(channel: EmulatedChannel) -> None:
        """One more call reached ``channel``: spend the call-counted grace of its
        retired tokens (the caller holds the state lock)."""
        channel.retired_token_calls = {
            token: left - 1 for token, left in channel.retired_token_calls.items() if left > 1
        }

    def rate_limit(self, endpoint: str) -> float:
        return self.rate_limits.get(endpoint, default_rate_limits().get(endpoint, 2000.0))
