"""Environment variable names, secret names and operational defaults.

What every function's settings read (``linecrm.config``), apart from the resource
definitions in ``linecrm.resources`` (tables, queues, functions, grants, routes): the
webhook's cold start loads this, and not those (``resources`` re-exports these names).
"""

from __future__ import annotations

from dataclasses import dataclass, field

APP_NAME = "linecrm"


# ---------------------------------------------------------------- environment names
class Env:
    """Environment variable names the functions read (see ``linecrm.config``)."""

    TABLE_NAME = "LINECRM_TABLE_NAME"
    IDEMPOTENCY_TABLE_NAME = "LINECRM_IDEMPOTENCY_TABLE_NAME"
    SEND_QUEUE_URL = "LINECRM_SEND_QUEUE_URL"
    SCHEDULE_GROUP_NAME = "LINECRM_SCHEDULE_GROUP_NAME"
    SCHEDULER_TARGET_ARN = "LINECRM_SCHEDULER_TARGET_ARN"
    SCHEDULER_ROLE_ARN = "LINECRM_SCHEDULER_ROLE_ARN"
    CHANNEL_SECRET_PREFIX = "LINECRM_CHANNEL_SECRET_PREFIX"  # noqa: S105 - a variable name
    LINE_API_BASE_URL = "LINECRM_LINE_API_BASE_URL"
    LINE_DATA_API_BASE_URL = "LINECRM_LINE_DATA_API_BASE_URL"
    LINE_LOGIN_BASE_URL = "LINECRM_LINE_LOGIN_BASE_URL"
    SEND_RETRY_BASE_SECONDS = "LINECRM_SEND_RETRY_BASE_SECONDS"
    ACCOUNT_TIME_ZONE = "LINECRM_ACCOUNT_TIME_ZONE"
    JOB_QUEUE_URL = "LINECRM_JOB_QUEUE_URL"
    UPLOADS_BUCKET_NAME = "LINECRM_UPLOADS_BUCKET_NAME"
    # Import job pacing (tests and the local stack make steps small; see linecrm.imports).
    IMPORT_PAGE_SIZE = "LINECRM_IMPORT_PAGE_SIZE"
    IMPORT_CHUNKS_PER_STEP = "LINECRM_IMPORT_CHUNKS_PER_STEP"
    # Where EventBridge Scheduler dead-letters a fire it could not hand to Lambda.
    SCHEDULE_DEAD_LETTER_ARN = "LINECRM_SCHEDULE_DEAD_LETTER_ARN"
    SCHEDULE_FAILURE_QUEUE_URL = "LINECRM_SCHEDULE_FAILURE_QUEUE_URL"
    # The events API: its sources' keys (a secret per channel) and how long events stay.
    EVENT_SOURCES_SECRET_PREFIX = "LINECRM_EVENT_SOURCES_SECRET_PREFIX"  # noqa: S105 - a name
    EVENT_RETENTION_DAYS = "LINECRM_EVENT_RETENTION_DAYS"
    AUDIT_RETENTION_DAYS = "LINECRM_AUDIT_RETENTION_DAYS"
    STAFF_USER_POOL_ID = "LINECRM_STAFF_USER_POOL_ID"
    # LIFF login: how ID tokens are verified (``jwks`` offline, or ``verify_endpoint``),
    # and the liff-mock test tokens (local only: see LOCAL_ONLY_SETTINGS).
    ID_TOKEN_VERIFICATION = "LINECRM_ID_TOKEN_VERIFICATION"  # noqa: S105 - a variable name
    LIFF_MOCK_ID_TOKENS = "LINECRM_LIFF_MOCK_ID_TOKENS"
    # How soon after fetching LINE's keys an unknown kid may fetch them again.
    JWKS_REFRESH_COOLDOWN_SECONDS = "LINECRM_JWKS_REFRESH_COOLDOWN_SECONDS"
    # Auto-login into the shop: the secret with the ES256 keys that sign login URLs.
    LOGIN_KEYS_SECRET_NAME = "LINECRM_LOGIN_KEYS_SECRET_NAME"  # noqa: S105 - a name
    # The web tag (docs/web-tag.md): the secret with the key that signs visitor ids.
    VISITOR_KEY_SECRET_NAME = "LINECRM_VISITOR_KEY_SECRET_NAME"  # noqa: S105 - a name
    # Inflow routes (docs/inflow-routes.md): LINE Login's authorize page and the
    # add-friend URL (the emulator locally), how far apart a route's login and the
    # follow may be, how long a login may take, and the API's public URL (the routes'
    # URLs and LINE Login's callback; empty: the host the request came to).
    LINE_LOGIN_AUTHORIZE_URL = "LINECRM_LINE_LOGIN_AUTHORIZE_URL"
    LINE_ADD_FRIEND_URL = "LINECRM_LINE_ADD_FRIEND_URL"
    INFLOW_WINDOW_MINUTES = "LINECRM_INFLOW_WINDOW_MINUTES"
    INFLOW_STATE_TTL_SECONDS = "LINECRM_INFLOW_STATE_TTL_SECONDS"
    PUBLIC_BASE_URL = "LINECRM_PUBLIC_BASE_URL"
    # Local stack only: the LIFF pages load @line/liff-mock instead of talking to LINE
    # (docs/liff.md). Never set by the CDK stack (an infra test holds it off).
    LIFF_MOCK_SDK = "LINECRM_LIFF_MOCK_SDK"


# ---------------------------------------------------------------- secrets
CHANNEL_SECRET_PREFIX = f"{APP_NAME}/channel/"
"""Secrets Manager name of a channel's credentials: ``linecrm/channel/<channel id>``;
the value is JSON ``{"channel_secret": "…", "channel_access_token": "…"}``."""

EVENT_SOURCES_SECRET_PREFIX = f"{APP_NAME}/events/"
"""Secrets Manager name of a channel's events API sources: ``linecrm/events/<channel id>``;
the value is JSON ``{"sources": {"<source id>": {"current": "…", "previous": "…"}}}``
(see ``linecrm.events.sources``)."""

LOGIN_KEYS_SECRET_NAME = f"{APP_NAME}/login-keys"
"""Secrets Manager name of the keys that sign auto-login URLs (one set for every
channel; the token's ``aud`` names the channel). JSON ``{"active_kid": …, "keys": [{"kid",
"created_at", "retired_at", "private_key_pem"}]}`` (see ``linecrm.shop_login.keys``)."""

VISITOR_KEY_SECRET_NAME = f"{APP_NAME}/visitor-id-key"
"""Secrets Manager name of the key that signs the web tag's visitor ids (one for every
channel; the id names its channel). JSON ``{"current": "…", "previous": "…"}`` (see
``linecrm.webtag.visitor_keys``); the CDK stack generates ``current``."""


# ---------------------------------------------------------------- defaults
@dataclass(frozen=True)
class Defaults:
    """Operational defaults with their reasons."""

    idempotency_hours: int = 48  # LINE redelivers for up to ~1 day; keep twice that
    # Behaviour events on a friend's timeline (and their idempotency keys): 13 months,
    # so "same month last year" comparisons still find them.
    event_retention_days: int = 400
    # Audit log entries of admin changes: two years (a year's review and the one before).
    audit_retention_days: int = 730
    account_time_zone: str = "Asia/Tokyo"
    tags: dict[str, str] = field(default_factory=lambda: {"app": APP_NAME})


DEFAULTS = Defaults()
