"""Infra-only names and settings. Names and limits shared with the runtime and the
local stack live in ``linecrm.resources``; this module holds what only CDK needs."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

# Paths are computed from this file, so `cdk synth` works from any working directory.
REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"
LAYER_SOURCE_DIR = REPO_ROOT / "layers" / "common"
PYPROJECT = REPO_ROOT / "pyproject.toml"
CONSTRAINTS = REPO_ROOT / "constraints.txt"

STACK_ID = "LinecrmStack"
STACK_NAME = "Linecrm"

LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_13
LAMBDA_ARCHITECTURE = lambda_.Architecture.ARM_64
LAMBDA_HANDLER = "handler.lambda_handler"
# What `pip install --python-version/--platform` must target to match the runtime.
LAYER_PYTHON_VERSION = "3.13"
# Lambda's python3.13 runs on Amazon Linux 2023 (glibc 2.34): manylinux2014 wheels and
# the newer manylinux_2_28 ones both load there.
LAYER_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
# The Lambda runtime ships these; a copy in the layer would shadow the runtime's and
# could mismatch its boto3. aws-xray-sdk (Powertools' tracer) pulls botocore in.
RUNTIME_PROVIDED_DISTRIBUTIONS = ("boto3", "botocore", "s3transfer")

POWERTOOLS_ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "linecrm",
    "POWERTOOLS_METRICS_NAMESPACE": "linecrm",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}

LOG_RETENTION = logs.RetentionDays.ONE_MONTH

# HTTP API default stage throttling (account-wide limits are far higher). LINE's webhook
# bursts on a broadcast reply wave; 200 burst / 100 rps leaves room for that.
API_THROTTLE_RATE_LIMIT = 100
API_THROTTLE_BURST_LIMIT = 200
# Route-level limits of their own (requests/s, burst), by the function behind the route:
# LINE's webhook keeps its capacity whatever the admin API receives, and an admin
# burst (a script, a retry loop) is held well below what the webhook may need.
ROUTE_THROTTLES = {
    "webhook": (API_THROTTLE_RATE_LIMIT, API_THROTTLE_BURST_LIMIT),
    # The shop's systems send batches of up to 100 events: 50 requests/s is 5,000
    # events/s, and a runaway sender cannot take the webhook's share.
    "events": (50, 100),
    "admin": (20, 40),
}

# CDK context keys (`cdk deploy -c key=value`).
CONTEXT_CHANNEL_IDS = "channelIds"
CONTEXT_ALARM_EMAIL = "alarmEmail"
CONTEXT_LINE_API_BASE_URL = "lineApiBaseUrl"
CONTEXT_LINE_DATA_API_BASE_URL = "lineDataApiBaseUrl"
CONTEXT_LINE_LOGIN_BASE_URL = "lineLoginBaseUrl"
# How /liff/login verifies ID tokens: "jwks" (offline, LINE's keys) or "verify_endpoint".
CONTEXT_ID_TOKEN_VERIFICATION = "idTokenVerification"  # noqa: S105 - a context key

# Other URLs the console is served at besides CloudFront's (a custom domain:
# https://crm.example.com/console/), comma-separated: each one's <url>callback and <url>
# join the app client's callback and sign-out URLs; and the prefix of Cognito's
# managed login domain (docs/staff.md).
CONTEXT_CONSOLE_URLS = "consoleUrls"
CONTEXT_STAFF_DOMAIN_PREFIX = "staffDomainPrefix"

DEFAULT_CHANNEL_IDS = "demo"
DEFAULT_LINE_API_BASE_URL = "https://api.line.me"
DEFAULT_LINE_DATA_API_BASE_URL = "https://api-data.line.me"
DEFAULT_LINE_LOGIN_BASE_URL = "https://api.line.me"
DEFAULT_ID_TOKEN_VERIFICATION = "jwks"  # noqa: S105 - a mode name

# Placeholder channel credentials (the JSON fields of resources.CHANNEL_SECRET_PREFIX
# secrets); the operator puts the real ones after deploy.
CHANNEL_CREDENTIALS_GENERATED_FIELD = "channel_secret"
CHANNEL_CREDENTIALS_TEMPLATE_FIELD = "channel_access_token"
CHANNEL_CREDENTIALS_PLACEHOLDER = "REPLACE_ME"
