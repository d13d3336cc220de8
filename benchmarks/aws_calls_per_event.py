"""AWS calls to apply one webhook event of each kind (moto in-process, counted)."""

from __future__ import annotations

import os
from typing import Any

import boto3
from moto import mock_aws

from linecrm import resources
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm_local.aws_calls import count_aws_calls
from linecrm_local.provision import ChannelSecret, provision
from tests.support.lambda_support import FakeLambdaContext, http_event, load_handler
from tests.support.signing import line_event, sign, webhook_body

CHANNEL = ChannelSecret("1650000000", "0123456789abcdef0123456789abcdef", "bench-token")
USER = "U" + "b" * 32


def _request(body: bytes) -> dict[str, Any]:
    return http_event(
        "POST",
        f"/webhook/{CHANNEL.channel_id}",
        route="/webhook/{channel_id}",
        body=body,
        headers={"x-line-signature": sign(CHANNEL.channel_secret, body)},
        path_parameters={"channel_id": CHANNEL.channel_id},
    )


def measure() -> dict[str, dict[str, int]]:
    """Calls per event kind, after a warm-up request (secrets cached as in a warm Lambda)."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "ap-northeast-1",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
    with mock_aws():
        session = boto3.session.Session(region_name="ap-northeast-1")
        created = provision(session, [CHANNEL])
        os.environ.update(created.function_environment(resources.WEBHOOK_FUNCTION))
        ChannelConfigRepository(
            session.client("dynamodb"), created.table_names["Main"]
        ).set_welcome_messages(CHANNEL.channel_id, [{"type": "text", "text": "welcome"}])
        handler = load_handler("webhook")
        handler.lambda_handler(_request(webhook_body()), FakeLambdaContext())
        events = {
            "follow": line_event("follow", USER),
            "text message": line_event(
                "message", USER, message={"type": "text", "id": "1", "text": "hello"}
            ),
            "redelivered text": None,
            "unfollow": line_event("unfollow", USER),
        }
        results: dict[str, dict[str, int]] = {}
        last: dict[str, Any] | None = None
        for name, event in events.items():
            if event is None:
                assert last is not None
                event = {**last, "deliveryContext": {"isRedelivery": True}}
            with count_aws_calls() as calls:
                handler.lambda_handler(_request(webhook_body(event)), FakeLambdaContext())
            results[name] = calls.by_operation()
            last = event
        return results
