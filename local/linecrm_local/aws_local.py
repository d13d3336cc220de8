"""Local AWS: moto's server in this process, and linecrm's resources created in it.

Resources come from ``linecrm.resources`` through ``provision`` (the same definitions
the CDK stack uses). moto keeps its state in module globals, so there is one moto
state per process: ``LocalAws.start`` resets it, and only one local stack should run
in a process at a time.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import boto3
import requests
from moto import backends as moto_backends
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.sqs.models import sqs_backends

from linecrm import resources
from linecrm.resources import DEFAULTS, Env
from linecrm_local import moto_queries, moto_responses, moto_transactions
from linecrm_local.provision import ChannelSecret, ProvisionedResources, provision
from linecrm_local.serving import BackgroundWsgiServer, bind_listening_socket
from linecrm_local.sqs_poller import PolledQueue
from linecrm_local.staff_auth import StaffPool, create_staff_pool

logger = logging.getLogger(__name__)

LOCAL_ACCESS_KEY = "testing"


class _QuietMotoRequestHandler(MotoRequestHandler):
    """moto's request handler, minus a stderr line per AWS call."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.debug("moto %s %s -> %s", self.command, self.path, code)


def _list_moto_modules_once() -> None:
    """moto's server lists its package directory (``os.listdir`` plus an ``isdir`` per
    entry, ~200) on every request to find the backend, under our one-at-a-time lock:
    about 40 % of its dispatch time. The directory does not change while we run."""
    modules = frozenset(moto_backends.list_of_moto_modules())
    moto_backends.list_of_moto_modules = lambda: modules


_list_moto_modules_once()
moto_transactions.install()
moto_queries.install()
moto_responses.install()


class _OneRequestAtATime:
    """moto's backends take no locks: two requests inside one table interleave (moto's
    own TransactWriteItems deep-copied a table while another request changed it:
    "dictionary changed size during iteration"). DynamoDB,
    SQS and the rest apply each request atomically; serving one at a time gives that."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: Any, start_response: Any) -> list[bytes]:
        with self._lock, moto_queries.serving():
            moto_queries.note_request(environ)
            return list(self._app(environ, start_response))


class LocalAws:
    """moto's server app on 127.0.0.1, served from a daemon thread.

    Built from the parts of moto's ``ThreadedMotoServer`` rather than the class itself:
    that one cannot report a busy port (werkzeug exits its thread and ``start()`` waits
    forever) and logs every request through werkzeug's shared logger.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, region: str = resources.DEFAULT_REGION
    ) -> None:
        self.host = host
        self.requested_port = port
        self.region = region
        self._server: BackgroundWsgiServer | None = None
        self._environment: EnvironmentPatch | None = None

    def start(self) -> None:
        """Serve moto, reset its state and point this process's boto3 at it."""
        sock = bind_listening_socket("moto (local AWS)", self.host, self.requested_port)
        app = _OneRequestAtATime(DomainDispatcherApplication(create_backend_app))
        self._server = BackgroundWsgiServer("moto", sock, app, _QuietMotoRequestHandler)
        self._server.start()
        self._environment = EnvironmentPatch(aws_environment(self.url, self.region))
        self._environment.apply()
        self.reset()

    def stop(self) -> None:
        if self._environment is not None:
            self._environment.restore()
            self._environment = None
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("local AWS is not started")
        return self._server.url

    def queue_may_have_messages(self, queue_url: str) -> bool:
        """False only when moto's queue holds no message a receive could return (none
        visible and due), read from moto's state in this process: no request, no lock.
        A queue it cannot find says True (the receive will tell)."""
        try:
            account, name = urlsplit(queue_url).path.strip("/").split("/")[-2:]
            queue = sqs_backends[account][self.region].queues.get(name)
            return queue is None or bool(queue.messages)
        except Exception:  # moto's internals moved: receive as if it had messages
            return True

    def reset(self) -> None:
        """Forget every resource (moto's state is per process, not per server)."""
        requests.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()

    def session(self) -> boto3.session.Session:
        """A session for moto (clients also need AWS_ENDPOINT_URL, set by ``start``)."""
        return boto3.session.Session(
            aws_access_key_id=LOCAL_ACCESS_KEY,
            aws_secret_access_key=LOCAL_ACCESS_KEY,
            region_name=self.region,
        )


def aws_environment(endpoint_url: str, region: str = resources.DEFAULT_REGION) -> dict[str, str]:
    """Credentials, region and endpoint: boto3 then talks to moto for every service."""
    return {
        "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": LOCAL_ACCESS_KEY,
        "AWS_SESSION_TOKEN": LOCAL_ACCESS_KEY,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ENDPOINT_URL": endpoint_url,
    }


@dataclass(frozen=True)
class LocalQueue:
    definition: resources.QueueDefinition
    url: str
    arn: str
    dlq_url: str


@dataclass(frozen=True)
class LocalResources:
    """What was created in moto, and the environment the handlers need to find it."""

    endpoint_url: str
    region: str
    table_names: Mapping[str, str]  # logical id -> name
    queues: Mapping[str, LocalQueue]  # logical id -> queue
    schedule_group_name: str
    scheduler_target_arn: str
    scheduler_role_arn: str
    provisioned: ProvisionedResources = field(compare=False)
    channel_secret_prefix: str = resources.CHANNEL_SECRET_PREFIX
    # The staff user pool (Cognito) and the console's client (docs/staff.md).
    staff_pool: StaffPool | None = None

    def polled_queues(self) -> list[PolledQueue]:
        return [PolledQueue(q.definition, q.url, q.arn) for q in self.queues.values()]

    def environment(self, *, log_level: str = "WARNING") -> dict[str, str]:
        """What every function's process has: AWS (moto) and Powertools settings. Each
        function's own settings are in ``function_environments``."""
        env = aws_environment(self.endpoint_url, self.region)
        env.update(
            {
                "POWERTOOLS_SERVICE_NAME": resources.APP_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": resources.APP_NAME,
                "POWERTOOLS_TRACE_DISABLED": "true",
                # EMF metrics would print a JSON blob per invocation on the dev terminal.
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": log_level,
            }
        )
        return env

    def settings_values(
        self, line_base_url: str | None = None, *, send_retry_base_seconds: float = 0.05
    ) -> dict[str, str]:
        """The local value of every setting: resource names, LINE (the emulator), tuning."""
        values = self.provisioned.resource_values()
        if self.staff_pool is not None:
            values[Env.STAFF_USER_POOL_ID] = self.staff_pool.pool_id
        values.update(
            {
                Env.SEND_RETRY_BASE_SECONDS: str(send_retry_base_seconds),
                Env.ACCOUNT_TIME_ZONE: DEFAULTS.account_time_zone,
                Env.EVENT_RETENTION_DAYS: str(DEFAULTS.event_retention_days),
                Env.AUDIT_RETENTION_DAYS: str(DEFAULTS.audit_retention_days),
                # Friend imports: LINE's page size, steps as long as time allows.
                Env.IMPORT_PAGE_SIZE: "1000",
                Env.IMPORT_CHUNKS_PER_STEP: "0",
                # LIFF login: ES256 against the emulator's JWKS, as on AWS. The liff-mock
                # tokens (resources.LOCAL_ONLY_SETTINGS) only when asked for (overrides).
                Env.ID_TOKEN_VERIFICATION: "jwks",
                Env.JWKS_REFRESH_COOLDOWN_SECONDS: "30",
                Env.INFLOW_WINDOW_MINUTES: "30",
                Env.INFLOW_STATE_TTL_SECONDS: "600",
                # Route URLs and LINE Login's callback on the host the request came to.
                Env.PUBLIC_BASE_URL: "",
                # No LINE app locally: the LIFF pages run on @line/liff-mock.
                Env.LIFF_MOCK_SDK: "true",
            }
        )
        if line_base_url is not None:
            base = line_base_url.rstrip("/")
            values[Env.LINE_API_BASE_URL] = base
            values[Env.LINE_DATA_API_BASE_URL] = base
            values[Env.LINE_LOGIN_BASE_URL] = base
            # LINE Login's web pages (access.line.me, line.me) are the emulator's too.
            values[Env.LINE_LOGIN_AUTHORIZE_URL] = f"{base}/oauth2/v2.1/authorize"
            values[Env.LINE_ADD_FRIEND_URL] = f"{base}/R/ti/p/"
        return values

    def function_environments(
        self,
        line_base_url: str | None = None,
        *,
        send_retry_base_seconds: float = 0.05,
        overrides: Mapping[str, str] | None = None,
    ) -> dict[str, dict[str, str]]:
        """Each function's own settings (``resources.FUNCTION_ACCESS``), by function
        name, as the CDK stack gives them: a function never sees another's variables.
        ``overrides`` (variable -> value) go to every function that has the variable."""
        values = self.settings_values(
            line_base_url, send_retry_base_seconds=send_retry_base_seconds
        )
        unknown = set(overrides or {}) - {
            name for access in resources.FUNCTION_ACCESS for name in access.environment_names
        }
        if unknown:
            raise ValueError(f"no function has the settings {sorted(unknown)}")
        values.update(overrides or {})
        return {
            access.function.name: {
                name: values[name] for name in access.environment_names if name in values
            }
            for access in resources.FUNCTION_ACCESS
        }


def create_resources(
    local_aws: LocalAws,
    channels: Sequence[ChannelSecret],
    *,
    visibility_timeout_seconds: int | None = None,
) -> LocalResources:
    """Create every table, queue (+DLQ), the schedule group, its role and the secrets.

    ``visibility_timeout_seconds`` overrides the queues' (6 x the consumer's timeout,
    i.e. minutes) so that tests see failed messages come back within seconds.
    """
    created = provision(
        local_aws.session(),
        list(channels),
        visibility_timeout_override=visibility_timeout_seconds,
    )
    queues = {
        definition.logical_id: LocalQueue(
            definition=definition,
            url=created.queue_urls[definition.logical_id],
            arn=created.queue_arns[definition.logical_id],
            dlq_url=created.dlq_urls[definition.logical_id],
        )
        for definition in resources.QUEUES
    }
    return LocalResources(
        staff_pool=create_staff_pool(local_aws.session(), local_aws.url),
        endpoint_url=local_aws.url,
        region=created.region,
        table_names=dict(created.table_names),
        queues=queues,
        schedule_group_name=created.schedule_group_name,
        scheduler_target_arn=created.scheduler_target_arn,
        scheduler_role_arn=created.scheduler_role_arn,
        provisioned=created,
    )


class EnvironmentPatch:
    """Sets variables in ``os.environ`` and puts the previous values back on restore."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)
        self._saved: dict[str, str | None] | None = None

    def apply(self) -> None:
        if self._saved is None:
            self._saved = {name: os.environ.get(name) for name in self.values}
        os.environ.update(self.values)

    def restore(self) -> None:
        if self._saved is None:
            return
        for name, previous in self._saved.items():
            if previous is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = previous
        self._saved = None
