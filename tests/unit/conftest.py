"""Unit tests: moto in-process (mock_aws) and fakes; no network at all."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

from linecrm.repositories.channel_registry import CHANNEL_SK
from linecrm_local import moto_transactions
from linecrm_local.provision import ChannelSecret, ProvisionedResources, provision
from tests.support.lambda_support import FakeLambdaContext, http_event
from tests.support.signing import sign

CHANNEL_ID = "1650000000"
CHANNEL_SECRET = "0123456789abcdef0123456789abcdef"
ACCESS_TOKEN = "unit-test-access-token"
WELCOME = [{"type": "text", "text": "友だち追加ありがとうございます！"}]


@dataclass
class AwsWorld:
    session: Any
    resources: ProvisionedResources

    def client(self, service: str) -> Any:
        return self.session.client(service)

    def queued_messages(self) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        url = next(iter(self.resources.queue_urls.values()))
        found: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return found
            found.extend(json.loads(m["Body"]) for m in batch)

    def queued_sends(self) -> list[dict[str, Any]]:
        """Queued deliveries only (not profile refreshes or rich menu links)."""
        return [m for m in self.queued_messages() if m.get("kind", "send") == "send"]

    def main_items(self) -> list[dict[str, Any]]:
        """The main table's items, but the channel registry items provisioning wrote."""
        table = self.resources.table_names["Main"]
        items: list[dict[str, Any]] = self.client("dynamodb").scan(TableName=table)["Items"]
        return [item for item in items if item["sk"]["S"] != CHANNEL_SK]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsWorld]:
    moto_transactions.install()  # as the local stack's moto (same semantics, faster)
    with mock_aws():
        session = boto3.session.Session(region_name="ap-northeast-1")
        created = provision(session, [ChannelSecret(CHANNEL_ID, CHANNEL_SECRET, ACCESS_TOKEN)])
        for name, value in created.resource_values().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("LINECRM_SEND_RETRY_BASE_SECONDS", "0")
        yield AwsWorld(session, created)


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


def webhook_request(
    body: bytes | str,
    *,
    channel_id: str = CHANNEL_ID,
    secret: str | None = CHANNEL_SECRET,
    signature: str | None = None,
    content_type: str = "application/json",
) -> dict[str, Any]:
    raw = body.encode() if isinstance(body, str) else body
    headers = {"content-type": content_type}
    if signature is not None:
        headers["x-line-signature"] = signature
    elif secret is not None:
        headers["x-line-signature"] = sign(secret, raw)
    return http_event(
        "POST",
        f"/webhook/{channel_id}",
        route="/webhook/{channel_id}",
        body=raw,
        headers=headers,
        path_parameters={"channel_id": channel_id},
    )


@pytest.fixture
def atomic_aws(aws: AwsWorld, monkeypatch: pytest.MonkeyPatch) -> AwsWorld:
    """One moto request at a time, as AWS applies each request atomically.

    moto's backends take no lock, so two threads inside one UpdateItem could interleave
    in moto itself; the handlers' own calls still interleave freely between requests.
    """
    lock = threading.Lock()
    original = BotocoreStubber.process_request

    def process_request(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return original(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", process_request)
    return aws


@pytest.fixture(autouse=True)
def _fresh_metrics() -> None:
    """Each test starts with no metrics pending: Powertools' Metrics share their state in
    the process, and a handler flushes whatever earlier tests added to stdout (EMF)."""
    from linecrm.observability import metrics

    metrics.clear_metrics()
