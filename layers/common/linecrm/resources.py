"""The one definition of linecrm's AWS resources.

The CDK stack (``infra/``) and the local stack (``linecrm_local``) both build their
tables, queues, schedule group, secrets, functions and routes from these objects, so
the two can never drift apart. Limits that follow from each other are computed here
(e.g. the send queue's visibility timeout from the sender's timeout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

APP_NAME = "linecrm"
DEFAULT_REGION = "ap-northeast-1"


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


# ---------------------------------------------------------------- DynamoDB
@dataclass(frozen=True)
class KeyAttribute:
    name: str
    type: Literal["S", "N"] = "S"


@dataclass(frozen=True)
class GlobalIndex:
    """A GSI. ``projection`` decides which writes reach it: with KEYS_ONLY (or INCLUDE)
    an update that changes no key (or included) attribute writes nothing to the index."""

    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    projection: Literal["ALL", "KEYS_ONLY", "INCLUDE"] = "ALL"
    non_key_attributes: tuple[str, ...] = ()  # INCLUDE only

    def __post_init__(self) -> None:
        if (self.projection == "INCLUDE") != bool(self.non_key_attributes):
            raise ValueError(f"{self.name}: non-key attributes go with INCLUDE, and only there")


@dataclass(frozen=True)
class TableDefinition:
    """An on-demand table with PITR, encryption and a TTL attribute."""

    logical_id: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    ttl_attribute: str | None = None
    global_indexes: tuple[GlobalIndex, ...] = ()

    @property
    def local_name(self) -> str:
        """Table name in the local stack (CDK lets CloudFormation name it)."""
        return f"{APP_NAME}-{self.logical_id.lower()}"


# Friends, ID links, deliveries and everything else: one table, keys ``pk``/``sk``.
# Index keys are write-sharded (``…#<shard>``, see linecrm.repositories.sharding and
# docs/data-model.md), so no single index partition takes a channel's every write.
MAIN_TABLE = TableDefinition(
    logical_id="Main",
    partition_key=KeyAttribute("pk"),
    sort_key=KeyAttribute("sk"),
    ttl_attribute="expires_at",
    global_indexes=(
        # A channel's friends (by user id) and deliveries (newest first): whole items,
        # because broadcasts, previews and the ledger list read every attribute.
        GlobalIndex("gsi1", KeyAttribute("gsi1pk"), KeyAttribute("gsi1sk")),
        # Tag memberships (one small item per friend and tag), keys only: listing a
        # tag's friends reads its members, not the channel.
        GlobalIndex("gsi2", KeyAttribute("gsi2pk"), KeyAttribute("gsi2sk"), projection="KEYS_ONLY"),
    ),
)

# Webhook event dedupe records, in Powertools Idempotency's own schema. A table of its
# own so that the records spread over partitions by event id (a static partition key
# in the main table would be one hot partition under a webhook burst).
IDEMPOTENCY_TABLE = TableDefinition(
    logical_id="Idempotency",
    partition_key=KeyAttribute("id"),
    ttl_attribute="expiration",
)

TABLES = (MAIN_TABLE, IDEMPOTENCY_TABLE)


# ---------------------------------------------------------------- functions
@dataclass(frozen=True)
class FunctionDefinition:
    name: str  # folder under functions/ and the local function name
    timeout_seconds: int
    memory_mb: int
    description: str


WEBHOOK_FUNCTION = FunctionDefinition(
    "webhook", timeout_seconds=10, memory_mb=1024, description="LINE webhook receiver"
)
SCHEDULER_FUNCTION = FunctionDefinition(
    "scheduler", timeout_seconds=60, memory_mb=512, description="Fires due scheduled jobs"
)
SENDER_FUNCTION = FunctionDefinition(
    "sender", timeout_seconds=30, memory_mb=512, description="Sends queued messages to LINE"
)
LIFF_LOGIN_FUNCTION = FunctionDefinition(
    "liff_login", timeout_seconds=10, memory_mb=512, description="LIFF / LINE Login auto-login"
)
JOBS_FUNCTION = FunctionDefinition(
    # Memory: a CSV import keeps its decoded file (up to 50 MB) while warm.
    "jobs",
    timeout_seconds=120,
    memory_mb=1024,
    description="Runs long jobs (friend imports) in resumable steps",
)
ADMIN_FUNCTION = FunctionDefinition(
    # Bulk changes touch up to 500 friends (one write each): seconds, not milliseconds.
    "admin",
    timeout_seconds=30,
    memory_mb=512,
    description="Admin API: friends, tags, fields, rules, chat mode",
)
FUNCTIONS = (
    WEBHOOK_FUNCTION,
    SCHEDULER_FUNCTION,
    SENDER_FUNCTION,
    LIFF_LOGIN_FUNCTION,
    JOBS_FUNCTION,
    ADMIN_FUNCTION,
)


# ---------------------------------------------------------------- SQS
@dataclass(frozen=True)
class QueueDefinition:
    logical_id: str
    consumer: FunctionDefinition
    max_receive_count: int
    batch_size: int
    max_batching_window_seconds: int
    max_concurrency: int  # SQS event source MaximumConcurrency (2..1000)
    retention_days: int = 4
    dlq_retention_days: int = 14

    @property
    def visibility_timeout_seconds(self) -> int:
        # AWS guidance: at least 6 x the consumer's timeout, so a batch that is retried
        # inside the function is not handed to a second consumer meanwhile.
        return 6 * self.consumer.timeout_seconds

    @property
    def local_name(self) -> str:
        return f"{APP_NAME}-{self.logical_id.lower()}"

    @property
    def local_dlq_name(self) -> str:
        return f"{self.local_name}-dlq"


SEND_QUEUE = QueueDefinition(
    logical_id="SendQueue",
    consumer=SENDER_FUNCTION,
    # Retries of 5xx/timeouts happen inside the LINE client first (same retry key), so
    # a receive is already several attempts; 8 receives then dead-letter.
    max_receive_count=8,
    batch_size=10,
    max_batching_window_seconds=1,
    max_concurrency=5,
)
JOB_QUEUE = QueueDefinition(
    logical_id="JobQueue",
    consumer=JOBS_FUNCTION,
    # Each message is "continue job X": one step, then the step queues the next. A
    # step that crashes is received again and resumes from the job's saved cursor.
    max_receive_count=5,
    batch_size=1,
    max_batching_window_seconds=0,
    max_concurrency=2,
)
QUEUES = (SEND_QUEUE, JOB_QUEUE)


# ---------------------------------------------------------------- S3
@dataclass(frozen=True)
class BucketDefinition:
    """A private, encrypted, SSL-only bucket whose objects expire."""

    logical_id: str
    expire_after_days: int
    object_prefix: str  # the functions' grants cover objects under this prefix only

    @property
    def local_name(self) -> str:
        return f"{APP_NAME}-{self.logical_id.lower()}"


# Uploaded CSV files (friend imports): kept a week for support, then deleted.
UPLOADS_BUCKET = BucketDefinition(
    logical_id="Uploads", expire_after_days=7, object_prefix="imports/"
)
BUCKETS = (UPLOADS_BUCKET,)


# ---------------------------------------------------------------- Scheduler, secrets
SCHEDULE_GROUP_NAME = APP_NAME
SCHEDULE_TARGET = SCHEDULER_FUNCTION  # schedules invoke the scheduler function

CHANNEL_SECRET_PREFIX = f"{APP_NAME}/channel/"
"""Secrets Manager name of a channel's credentials: ``linecrm/channel/<channel id>``;
the value is JSON ``{"channel_secret": "…", "channel_access_token": "…"}``."""


# ---------------------------------------------------------------- HTTP API routes
ADMIN_METHODS: tuple[Literal["GET", "POST", "PUT", "PATCH", "DELETE"], ...] = (
    "GET",
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
)
ADMIN_DOC_PATHS = ("/admin/openapi.json", "/admin/swagger")


@dataclass(frozen=True)
class Route:
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str  # API Gateway route path, with {parameters}
    function: FunctionDefinition
    authorization: Literal["none", "iam"]
    why_no_auth: str = ""


ROUTES = (
    Route(
        "POST",
        "/webhook/{channel_id}",
        WEBHOOK_FUNCTION,
        "none",
        why_no_auth="LINE calls it; every request is authenticated by X-Line-Signature",
    ),
    Route(
        "POST",
        "/liff/login",
        LIFF_LOGIN_FUNCTION,
        "none",
        why_no_auth="called from the LIFF page; authenticated by the LINE ID token it carries",
    ),
    # The admin API: every method under /admin is IAM-authorized (SigV4; the local
    # gateway asks for the admin bearer token instead). The function routes further.
    *(Route(method, "/admin/{proxy+}", ADMIN_FUNCTION, "iam") for method in ADMIN_METHODS),
    # Its description is public (the same document is committed in docs/): a browser
    # can open the Swagger page, whose calls then carry credentials.
    *(
        Route(
            "GET",
            path,
            ADMIN_FUNCTION,
            "none",
            why_no_auth="the admin API's OpenAPI description and Swagger page: no data",
        )
        for path in ADMIN_DOC_PATHS
    ),
)


# ---------------------------------------------------------------- metrics
# Powertools Metrics publish to this namespace with the dimension service=<this>.
METRICS_NAMESPACE = APP_NAME
# Emitted once per channel and month by the sender that finds LINE's monthly message
# quota used up; the stack alarms on it.
QUOTA_EXHAUSTED_METRIC = "MonthlyQuotaExhausted"


@dataclass(frozen=True)
class Defaults:
    """Operational defaults with their reasons."""

    idempotency_hours: int = 48  # LINE redelivers for up to ~1 day; keep twice that
    account_time_zone: str = "Asia/Tokyo"
    tags: dict[str, str] = field(default_factory=lambda: {"app": APP_NAME})


DEFAULTS = Defaults()
