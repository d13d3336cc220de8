"""The one definition of linecrm's AWS resources.

The CDK stack (``infra/``) and the local stack (``linecrm_local``) both build their
tables, queues, schedule group, secrets, functions and routes from these objects, so
the two can never drift apart. Limits that follow from each other are computed here
(e.g. the send queue's visibility timeout from the sender's timeout).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Environment variable names, secret names and defaults live in linecrm.environment (the
# functions' settings need them, not the rest of this module); the same names here.
from linecrm.environment import APP_NAME as APP_NAME
from linecrm.environment import CHANNEL_SECRET_PREFIX as CHANNEL_SECRET_PREFIX
from linecrm.environment import DEFAULTS as DEFAULTS
from linecrm.environment import EVENT_SOURCES_SECRET_PREFIX as EVENT_SOURCES_SECRET_PREFIX
from linecrm.environment import LOGIN_KEYS_SECRET_NAME as LOGIN_KEYS_SECRET_NAME
from linecrm.environment import VISITOR_KEY_SECRET_NAME as VISITOR_KEY_SECRET_NAME
from linecrm.environment import Defaults as Defaults
from linecrm.environment import Env as Env

DEFAULT_REGION = "ap-northeast-1"


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
# Set on every function, whatever its settings: pydantic would otherwise look through
# every installed distribution's entry points for plugins at the first model (about a
# tenth of the webhook's cold import), and we install none.
PYTHON_ENVIRONMENT = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}

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
EVENTS_FUNCTION = FunctionDefinition(
    "events",
    timeout_seconds=30,
    memory_mb=512,
    description="Events API: behaviour events from the shop's systems",
)
SCHEDULE_FAILURES_FUNCTION = FunctionDefinition(
    "schedule_failures",
    timeout_seconds=30,
    memory_mb=256,
    description="Marks scheduled fires that finally failed dead in the ledger",
)
INFLOW_FUNCTION = FunctionDefinition(
    "inflow",
    timeout_seconds=15,
    memory_mb=512,
    description="Inflow routes: /r/<code> through LINE Login, and its callback",
)
FUNCTIONS = (
    WEBHOOK_FUNCTION,
    SCHEDULER_FUNCTION,
    SENDER_FUNCTION,
    LIFF_LOGIN_FUNCTION,
    JOBS_FUNCTION,
    ADMIN_FUNCTION,
    SCHEDULE_FAILURES_FUNCTION,
    EVENTS_FUNCTION,
    INFLOW_FUNCTION,
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

    def __post_init__(self) -> None:
        # Lambda refuses an SQS event source mapping that breaks these (CreateEventSourceMapping).
        if not 1 <= self.batch_size <= 10_000:
            raise ValueError(f"{self.logical_id}: batch size must be within 1..10,000")
        if self.batch_size > 10 and self.max_batching_window_seconds < 1:
            raise ValueError(
                f"{self.logical_id}: a batch size over 10 needs a batching window of >= 1 s"
            )
        if not 2 <= self.max_concurrency <= 1000:
            raise ValueError(f"{self.logical_id}: MaximumConcurrency must be within 2..1000")

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
    # The sender sends a batch's records concurrently (one thread each), so at most
    # max_concurrency x batch_size = 200 LINE calls are in flight: at 50 ms per call
    # that allows 4,000 calls/s, above push's 2,000/s, so LINE's rate (kept by each
    # environment pacing to channel rate / max_concurrency) is the limit, not latency.
    # A batch size above 10 needs a batching window of at least 1 s (AWS rule).
    batch_size=20,
    max_batching_window_seconds=1,
    max_concurrency=10,
)
JOB_QUEUE = QueueDefinition(
    logical_id="JobQueue",
    consumer=JOBS_FUNCTION,
    # Each message is "continue job X": one step, then the step queues the next. A
    # step that crashes is received again and resumes from the job's saved cursor.
    # A job's steps run one after another, so concurrency is across jobs, and across
    # the parts of a big scenario bucket: 10,000 friends due in one minute are 20 parts
    # of 500, which 10 environments fire in two rounds of a few seconds each.
    max_receive_count=5,
    batch_size=1,
    max_batching_window_seconds=0,
    max_concurrency=10,
)
# Scheduled fires that finally failed: the scheduler function's on-failure destination
# (Lambda gave up on an asynchronous invocation) and every schedule's dead-letter queue
# (Scheduler could not invoke the function). See docs/scheduling.md.
SCHEDULE_FAILURE_QUEUE = QueueDefinition(
    logical_id="ScheduleFailureQueue",
    consumer=SCHEDULE_FAILURES_FUNCTION,
    max_receive_count=5,
    batch_size=10,
    max_batching_window_seconds=0,
    max_concurrency=2,
    retention_days=14,
)
QUEUES = (SEND_QUEUE, JOB_QUEUE, SCHEDULE_FAILURE_QUEUE)


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


@dataclass(frozen=True)
class AsyncInvocation:
    """How Lambda runs a function's asynchronous invocations (Scheduler's are).

    Lambda retries a failed invocation ``max_retry_attempts`` times (after about 1 and 2
    minutes), keeps a throttled event for up to ``max_event_age_seconds``, then sends
    an invocation record to ``on_failure``.
    """

    function: FunctionDefinition
    max_retry_attempts: int = 2  # Lambda's default (and maximum)
    max_event_age_seconds: int = 21600  # Lambda's default (and maximum): 6 h
    on_failure: QueueDefinition | None = None


# Lambda's waits before its first and second retry of an asynchronous invocation.
LAMBDA_ASYNC_RETRY_DELAYS_SECONDS = (60, 120)

ASYNC_INVOCATIONS = (
    # A delayed message an hour late is still worth sending; later it goes dead (with
    # the reason) for an operator to re-drive.
    AsyncInvocation(
        SCHEDULER_FUNCTION, max_event_age_seconds=3600, on_failure=SCHEDULE_FAILURE_QUEUE
    ),
)


def async_invocation(function: FunctionDefinition) -> AsyncInvocation:
    """The function's asynchronous invocation config (Lambda's defaults if none)."""
    for config in ASYNC_INVOCATIONS:
        if config.function == function:
            return config
    return AsyncInvocation(function)


@dataclass(frozen=True)
class ScheduleRetryPolicy:
    """Scheduler's retries of *handing the event to Lambda* (an asynchronous Invoke that
    was throttled or failed); the function's own errors are Lambda's retries."""

    max_retry_attempts: int = 185  # Scheduler's default (and maximum)
    max_event_age_seconds: int = 3600


SCHEDULE_RETRY_POLICY = ScheduleRetryPolicy()
SCHEDULE_DEAD_LETTER_QUEUE = SCHEDULE_FAILURE_QUEUE


@dataclass(frozen=True)
class RecurringSchedule:
    """A rate() schedule in our group that invokes the schedule target with ``input``."""

    name: str
    expression: str
    input: str


# Recovers step-scenario buckets that are overdue and whose schedule is gone (or whose
# fire failed): it reads the sparse list of buckets not done, never a scan.
SCENARIO_SWEEPER = RecurringSchedule(
    name="scenario-sweeper", expression="rate(5 minutes)", input='{"kind": "sweep_scenarios"}'
)

# Fetches LINE's opens and clicks per campaign (linecrm.insight.fetcher): hourly, as
# LINE's insight endpoints allow 60 requests per hour per channel.
INSIGHT_FETCH = RecurringSchedule(
    name="insight-fetch", expression="rate(1 hour)", input='{"kind": "fetch_insight"}'
)
RECURRING_SCHEDULES = (SCENARIO_SWEEPER, INSIGHT_FETCH)

# ---------------------------------------------------------------- what each function has
# Which variable names each resource's name (or URL) reaches a function under.
TABLE_ENV = {
    MAIN_TABLE.logical_id: Env.TABLE_NAME,
    IDEMPOTENCY_TABLE.logical_id: Env.IDEMPOTENCY_TABLE_NAME,
}
QUEUE_ENV = {
    SEND_QUEUE.logical_id: Env.SEND_QUEUE_URL,
    JOB_QUEUE.logical_id: Env.JOB_QUEUE_URL,
    SCHEDULE_FAILURE_QUEUE.logical_id: Env.SCHEDULE_FAILURE_QUEUE_URL,
}
BUCKET_ENV = {UPLOADS_BUCKET.logical_id: Env.UPLOADS_BUCKET_NAME}
SCHEDULE_ENV = (
    Env.SCHEDULE_GROUP_NAME,
    Env.SCHEDULER_TARGET_ARN,
    Env.SCHEDULER_ROLE_ARN,
    Env.SCHEDULE_DEAD_LETTER_ARN,
)
# Settings that name no resource: where LINE is, and the LINE client's retry backoff.
LINE_SETTINGS = (
    Env.LINE_API_BASE_URL,
    Env.LINE_DATA_API_BASE_URL,
    Env.LINE_LOGIN_BASE_URL,
    Env.SEND_RETRY_BASE_SECONDS,
)

# Settings a local stack sets only when asked to (``LocalStack(settings=…)``, ``make dev``
# with the variable set), and the CDK stack never: the liff-mock ID tokens, which LINE
# could never have signed (tests/infra asserts no deployed function has them).
LOCAL_ONLY_SETTINGS = (Env.LIFF_MOCK_ID_TOKENS,)

# "read_update": read, and create or update items (PutItem, UpdateItem), never delete
# or batch-write.
Access = Literal["read", "read_update", "read_write"]


@dataclass(frozen=True)
class FunctionAccess:
    """What one function may touch and which settings it has.

    Its IAM grants (CDK) and its environment (CDK and the local stack) both follow from
    this entry, and its settings model (``linecrm.config``) reads exactly these names:

    - ``tables``: DynamoDB item actions on the table and its indexes: read-only,
      read-update (also PutItem and UpdateItem) or read-write; the table's name in
      ``TABLE_ENV[...]``.
    - ``sends_to``: sqs:SendMessage on the queue; its URL in ``QUEUE_ENV[...]``. The
      queues it consumes (``QueueDefinition.consumer``) are granted by the event source
      (receive, delete, change visibility); their URLs are in its environment too.
    - ``buckets``: s3:GetObject (read) or also s3:PutObject (read_write) under the
      bucket's ``object_prefix``, and listing that prefix.
    - ``reads_channel_secrets``: secretsmanager:GetSecretValue on the channel secrets.
    - ``reads_event_sources``: secretsmanager:GetSecretValue on the events API's source
      secrets (a channel's senders and their keys), and nothing else of Secrets Manager.
    - ``login_keys``: the auto-login signing keys' secret: ``read`` is
      secretsmanager:GetSecretValue; ``rotate`` also secretsmanager:PutSecretValue.
    - ``visitor_key``: secretsmanager:GetSecretValue on the visitor id key (issue and
      verify the web tag's visitor ids).
    - ``manages_schedules``: scheduler:Create/Get/DeleteSchedule in our group and
      iam:PassRole of the schedules' role to EventBridge Scheduler.
    - ``staff_pool``: the staff users API on the staff user pool (Cognito's
      ListUsers, ListUsersInGroup and the Admin* user and group calls on that pool);
      its id in ``STAFF_USER_POOL_ID``.
    - ``settings``: further variables (no resource): LINE endpoints, tuning.
    """

    function: FunctionDefinition
    tables: tuple[tuple[TableDefinition, Access], ...] = ()
    sends_to: tuple[QueueDefinition, ...] = ()
    buckets: tuple[tuple[BucketDefinition, Access], ...] = ()
    reads_channel_secrets: bool = False
    reads_event_sources: bool = False
    login_keys: Literal["read", "rotate"] | None = None
    visitor_key: bool = False
    manages_schedules: bool = False
    staff_pool: bool = False
    settings: tuple[str, ...] = ()

    @property
    def consumes(self) -> tuple[QueueDefinition, ...]:
        return tuple(queue for queue in QUEUES if queue.consumer == self.function)

    @property
    def environment_names(self) -> tuple[str, ...]:
        """Every variable this function has, in a stable order."""
        names = [TABLE_ENV[table.logical_id] for table, _ in self.tables]
        names += [QUEUE_ENV[queue.logical_id] for queue in (*self.sends_to, *self.consumes)]
        names += [BUCKET_ENV[bucket.logical_id] for bucket, _ in self.buckets]
        if self.reads_channel_secrets:
            names.append(Env.CHANNEL_SECRET_PREFIX)
        if self.reads_event_sources:
            names.append(Env.EVENT_SOURCES_SECRET_PREFIX)
        if self.login_keys is not None:
            names.append(Env.LOGIN_KEYS_SECRET_NAME)
        if self.visitor_key:
            names.append(Env.VISITOR_KEY_SECRET_NAME)
        if self.manages_schedules:
            names += SCHEDULE_ENV
        if self.staff_pool:
            names.append(Env.STAFF_USER_POOL_ID)
        names += self.settings
        return tuple(dict.fromkeys(names))


FUNCTION_ACCESS = (
    # Verifies, dedupes (idempotency table) and applies events: friends, rule replies
    # and welcome messages go to the send queue. A follow, tap or tag that enrols a
    # friend in a step scenario (or branches it) creates the step's bucket schedule.
    # A follow within the inflow window of a route's login is attributed to it.
    FunctionAccess(
        WEBHOOK_FUNCTION,
        tables=((MAIN_TABLE, "read_write"), (IDEMPOTENCY_TABLE, "read_write")),
        sends_to=(SEND_QUEUE,),
        reads_channel_secrets=True,
        manages_schedules=True,
        settings=(*LINE_SETTINGS, Env.INFLOW_WINDOW_MINUTES),
    ),
    # Fires delayed messages (send queue), starts scheduled broadcasts (job queue), and
    # defers a delayed message again when caps or quiet hours say so (a new schedule
    # that targets this same function). The hourly insight fetch: one step per
    # registered channel on the job queue.
    FunctionAccess(
        SCHEDULER_FUNCTION,
        tables=((MAIN_TABLE, "read_write"),),
        sends_to=(SEND_QUEUE, JOB_QUEUE),
        manages_schedules=True,
    ),
    # Consumes the send queue; sends to LINE, records outcomes in the ledger.
    FunctionAccess(
        SENDER_FUNCTION,
        tables=((MAIN_TABLE, "read_write"),),
        reads_channel_secrets=True,
        settings=(*LINE_SETTINGS, Env.ACCOUNT_TIME_ZONE),
    ),
    # Verifies a LINE ID token (LINE's keys or its verify endpoint), then finds the
    # friend (their last login time) or creates a login-only one: one UpdateItem, no
    # deletes, so read-update. Mints auto-login URLs for linked friends (reads the
    # channel's shop-login setting, the link, and the signing keys).
    # Also serves the LIFF pages (member card, open-the-shop) with the channel's LIFF setup.
    # The click redirector (GET/POST /t/{token}): reads the tracked link, records the
    # friend's first and last click (PutItem) and adds to the click counters (UpdateItem),
    # on the day of the channel's time zone (its delivery policy, in the channel config);
    # a friend's link into the shop (an origin of the channel's web tag keys: a Query)
    # gets the friend's visitor id (the visitor id key).
    FunctionAccess(
        LIFF_LOGIN_FUNCTION,
        tables=((MAIN_TABLE, "read_update"),),
        reads_channel_secrets=True,
        login_keys="read",
        visitor_key=True,
        settings=(
            *LINE_SETTINGS,
            Env.ID_TOKEN_VERIFICATION,
            Env.JWKS_REFRESH_COOLDOWN_SECONDS,
            Env.LIFF_MOCK_ID_TOKENS,
            Env.LIFF_MOCK_SDK,
        ),
    ),
    # Runs import, broadcast, preview and segment enrolment steps: reads the CSV, pages
    # LINE's followers, reads the quota, queues broadcast chunks and its next step,
    # defers capped/quiet sends; enrols a segment in a step scenario (enrolments, the
    # scenario's counters, its buckets' fire records) and creates the buckets' schedules;
    # syncs rich menus to LINE (reads their images, links friends in bulk); fetches
    # LINE's opens and clicks per campaign (the insight API) and stores them.
    FunctionAccess(
        JOBS_FUNCTION,
        tables=((MAIN_TABLE, "read_write"),),
        sends_to=(JOB_QUEUE, SEND_QUEUE),
        buckets=((UPLOADS_BUCKET, "read"),),
        reads_channel_secrets=True,
        manages_schedules=True,
        settings=(*LINE_SETTINGS, Env.IMPORT_PAGE_SIZE, Env.IMPORT_CHUNKS_PER_STEP),
    ),
    # The admin API reads and writes friends and channel config; it never calls LINE,
    # so no channel secrets. It starts friend imports (stores the CSV, queues the first
    # step), broadcasts (job queue now, or a schedule for later; cancel deletes it) and
    # segment enrolments (job queue), rich menu syncs (stores the images, queues the
    # job: LINE is called by the jobs function), and re-drives dead deliveries. It
    # rotates the auto-login signing keys (and lists their ids). Every change it makes
    # is kept in the audit log (main table, with its retention). The owner manages the
    # console's staff users in the staff user pool.
    FunctionAccess(
        ADMIN_FUNCTION,
        tables=((MAIN_TABLE, "read_write"),),
        sends_to=(JOB_QUEUE, SEND_QUEUE),
        buckets=((UPLOADS_BUCKET, "read_write"),),
        login_keys="rotate",
        manages_schedules=True,
        staff_pool=True,
        settings=(Env.PUBLIC_BASE_URL, Env.AUDIT_RETENTION_DAYS),
    ),
    # Consumes the schedule failure queue (granted by the event source): a scheduled
    # fire that finally failed marks its delivery dead, or its broadcast failed.
    FunctionAccess(SCHEDULE_FAILURES_FUNCTION, tables=((MAIN_TABLE, "read_write"),)),
    # Verifies the shop's signed requests (its sources' keys, never the LINE channel's
    # credentials) and applies events: timeline, aggregates, dedupe and replay records.
    # Also the shop's ID-linking requests: nonces (and the link tokens they bind to)
    # and unlinks, which end a friend's link (an unlink may end a scenario enrolment).
    # An event that enrols a friend in a step scenario, branches or ends one, plans
    # the step (its bucket schedule) or sends (a zero-delay step goes to the send queue).
    # The shop's auto-login: the public keys (JWKS) and consume, which verifies a login
    # token and spends it (a record per token), and issues the friend's visitor id.
    # The web tag (POST /events/web): reads the key, counts its fixed-window rate
    # limits (UpdateItem), verifies visitor ids, then applies events as above.
    FunctionAccess(
        EVENTS_FUNCTION,
        tables=((MAIN_TABLE, "read_write"),),
        sends_to=(SEND_QUEUE,),
        manages_schedules=True,
        reads_event_sources=True,
        login_keys="read",
        visitor_key=True,
        settings=(Env.EVENT_RETENTION_DAYS, Env.ACCOUNT_TIME_ZONE),
    ),
    # Inflow routes: reads the route by its code and the channel's LINE Login channel
    # (secret), spends the login's code at LINE and keeps the touch; a follow already
    # there is attributed now: the route's tags and scenario (its first step's bucket
    # schedule, or a zero-delay step through the send queue).
    FunctionAccess(
        INFLOW_FUNCTION,
        tables=((MAIN_TABLE, "read_write"),),
        sends_to=(SEND_QUEUE,),
        reads_channel_secrets=True,
        manages_schedules=True,
        settings=(
            *LINE_SETTINGS,
            Env.LINE_LOGIN_AUTHORIZE_URL,
            Env.LINE_ADD_FRIEND_URL,
            Env.INFLOW_WINDOW_MINUTES,
            Env.INFLOW_STATE_TTL_SECONDS,
            Env.PUBLIC_BASE_URL,
        ),
    ),
)


def function_access(function: FunctionDefinition) -> FunctionAccess:
    (access,) = [entry for entry in FUNCTION_ACCESS if entry.function == function]
    return access


# ---------------------------------------------------------------- HTTP API routes
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
ADMIN_METHODS: tuple[Method, ...] = (
    "GET",
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
)
ADMIN_DOC_PATHS = ("/admin/openapi.json", "/admin/swagger")
# The console's staff reach the admin routes under this prefix (a JWT authorizer).
STAFF_PREFIX = "/staff"
# The analytics dashboard's page and its static JS/CSS (linecrm.dashboard).
DASHBOARD_PATHS = ("/admin/dashboard", "/admin/dashboard/assets/{file}")


@dataclass(frozen=True)
class Route:
    method: Method
    path: str  # API Gateway route path, with {parameters}
    function: FunctionDefinition
    # "iam": SigV4 (machines); "jwt": a staff member's Cognito token (docs/staff.md).
    authorization: Literal["none", "iam", "jwt"]
    why_no_auth: str = ""


WEB_EVENTS_PATH = "/events/web"
WEB_TAG_PATH = "/web/tag.js"

# The shop's ID-linking requests (docs/id-linking.md): the same shop backend as the
# events API, signed the same way with the same source keys.
_SHOP_SIGNED = (
    "the shop's backend calls it; every request is authenticated by its source's HMAC "
    "signature over timestamp and body (docs/id-linking.md)"
)

_LIFF_PAGE = (
    "the LIFF page's HTML shell and its static JS/CSS: public, no data (the member card's "
    "data needs the friend's LINE ID token)"
)

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
        "/events/{channel_id}",
        EVENTS_FUNCTION,
        "none",
        why_no_auth=(
            "the shop's systems call it; every request is authenticated by its source's "
            "HMAC signature over timestamp and body (docs/events.md)"
        ),
    ),
    Route("POST", "/link/{channel_id}/nonce", EVENTS_FUNCTION, "none", why_no_auth=_SHOP_SIGNED),
    # The web tag (docs/web-tag.md): its script, its events and their CORS preflight.
    # The function checks the Origin against the key's own origins (no API-wide CORS).
    Route(
        "POST",
        WEB_EVENTS_PATH,
        EVENTS_FUNCTION,
        "none",
        why_no_auth=(
            "the shop's pages call it from the browser: a public web tag key whose allowed "
            "origins must include the request's Origin, rate-limited per key and visitor; "
            "the friend is known only by a signed visitor id"
        ),
    ),
    Route(
        "OPTIONS",
        WEB_EVENTS_PATH,
        EVENTS_FUNCTION,
        "none",
        why_no_auth="the browser's CORS preflight of POST /events/web: no data",
    ),
    Route(
        "GET",
        WEB_TAG_PATH,
        EVENTS_FUNCTION,
        "none",
        why_no_auth="the web tag's JavaScript (a static file): public, no data",
    ),
    Route(
        "DELETE",
        "/link/{channel_id}/members/{member_id}",
        EVENTS_FUNCTION,
        "none",
        why_no_auth=_SHOP_SIGNED,
    ),
    Route(
        "POST",
        "/liff/login",
        LIFF_LOGIN_FUNCTION,
        "none",
        why_no_auth="called from the LIFF page; authenticated by the LINE ID token it carries",
    ),
    # Auto-login into the shop (docs/auto-login.md): the LIFF page mints a login URL;
    # the shop verifies it with the public keys and consumes it once.
    Route(
        "POST",
        "/liff/shop-login",
        LIFF_LOGIN_FUNCTION,
        "none",
        why_no_auth="called from the LIFF page; authenticated by the LINE ID token it carries",
    ),
    # The LIFF pages and their JSON (linecrm.liff.routes, docs/liff.md).
    *(
        Route("GET", path, LIFF_LOGIN_FUNCTION, "none", why_no_auth=_LIFF_PAGE)
        for path in (
            "/liff/{channel_id}",  # the LIFF app's endpoint URL (the card)
            "/liff/{channel_id}/card",
            "/liff/{channel_id}/open",  # ?target=/path: open the shop logged in
            "/liff/{channel_id}/click",  # ?t=<token>: a tracked link (docs/tracking.md)
            "/liff/assets/{file}",
        )
    ),
    Route(
        "POST",
        "/liff/member-card",
        LIFF_LOGIN_FUNCTION,
        "none",
        why_no_auth="called from the LIFF page; authenticated by the LINE ID token it carries",
    ),
    # Click tracking (docs/tracking.md): a tracked link's redirect; the LIFF click page
    # posts the friend's ID token to the same path.
    Route(
        "GET",
        "/t/{token}",
        LIFF_LOGIN_FUNCTION,
        "none",
        why_no_auth=(
            "a tracked link in a message: redirects only to the URL stored under the token"
        ),
    ),
    Route(
        "POST",
        "/t/{token}",
        LIFF_LOGIN_FUNCTION,
        "none",
        why_no_auth="from the LIFF click page; authenticated by the LINE ID token it carries",
    ),
    Route(
        "GET",
        "/login/jwks.json",
        EVENTS_FUNCTION,
        "none",
        why_no_auth="the public keys that verify login URLs (a JWK Set): no secret, no data",
    ),
    Route("POST", "/login/{channel_id}/consume", EVENTS_FUNCTION, "none", why_no_auth=_SHOP_SIGNED),
    # Inflow routes: the URL on a poster / ad (its QR code), and LINE Login's callback.
    Route(
        "GET",
        "/r/{code}",
        INFLOW_FUNCTION,
        "none",
        why_no_auth="a route's public short URL (a QR code): it only redirects to LINE Login",
    ),
    Route(
        "GET",
        "/r/callback",
        INFLOW_FUNCTION,
        "none",
        why_no_auth=(
            "LINE Login redirects the browser here; the request is authenticated by the "
            "HMAC-signed state, its cookie, and the code LINE exchanges for an ID token"
        ),
    ),
    # The admin API: every method under /admin is IAM-authorized (SigV4; the local
    # gateway asks for the admin bearer token instead). The function routes further.
    *(Route(method, "/admin/{proxy+}", ADMIN_FUNCTION, "iam") for method in ADMIN_METHODS),
    # The same admin routes for staff signed in to the console: a Cognito JWT (an HTTP
    # API route has one authorizer). The function strips the prefix (docs/staff.md).
    *(
        Route(method, f"{STAFF_PREFIX}/admin/{{proxy+}}", ADMIN_FUNCTION, "jwt")
        for method in ADMIN_METHODS
    ),
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
    # The dashboard's page holds no data: it calls the /admin report routes above with
    # the admin's credentials (SigV4 on AWS, the bearer token locally).
    *(
        Route(
            "GET",
            path,
            ADMIN_FUNCTION,
            "none",
            why_no_auth=(
                "the analytics dashboard's HTML shell and static JS/CSS: no data (the page "
                "reads the IAM-authorized report routes with the admin's credentials)"
            ),
        )
        for path in DASHBOARD_PATHS
    ),
)


# ---------------------------------------------------------------- metrics
# Powertools Metrics publish to this namespace with the dimension service=<this>.
METRICS_NAMESPACE = APP_NAME
# Emitted once per channel and month by the sender that finds LINE's monthly message
# quota used up; the stack alarms on it.
QUOTA_EXHAUSTED_METRIC = "MonthlyQuotaExhausted"
# Emitted per scheduled fire that finally failed (its delivery is now dead); alarmed.
SCHEDULED_FIRES_DEAD_METRIC = "ScheduledFiresDead"
