"""The channel's event sources from Secrets Manager (moto): keys through the cache, a
rotation picked up by a bounded forced re-read, unknown or malformed secrets refused."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.utilities.parameters import SecretsProvider

from linecrm import resources
from linecrm.events.sources import FORCED_REFRESH_SECONDS, EventSourceDirectory, UnknownSource
from tests.unit.conftest import CHANNEL_ID, AwsWorld

SECRET = f"{resources.EVENT_SOURCES_SECRET_PREFIX}{CHANNEL_ID}"
CURRENT = "c" * 40
PREVIOUS = "p" * 40


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def directory(aws: AwsWorld, clock: Monotonic | None = None) -> EventSourceDirectory:
    provider = SecretsProvider(boto3_client=aws.client("secretsmanager"))
    return EventSourceDirectory(
        provider, resources.EVENT_SOURCES_SECRET_PREFIX, monotonic=clock or Monotonic()
    )


def put(aws: AwsWorld, value: object) -> None:
    aws.client("secretsmanager").put_secret_value(
        SecretId=SECRET, SecretString=value if isinstance(value, str) else json.dumps(value)
    )


def test_keys_current_first_and_a_rotation_on_a_fresh_read(aws: AwsWorld) -> None:
    put(aws, {"sources": {"shop": {"current": CURRENT}}})
    sources = directory(aws)
    assert sources.keys(CHANNEL_ID, "shop") == (CURRENT,)
    put(aws, {"sources": {"shop": {"current": "n" * 40, "previous": CURRENT}}})
    assert sources.keys(CHANNEL_ID, "shop") == (CURRENT,)  # cached
    assert sources.keys(CHANNEL_ID, "shop", fresh=True) == ("n" * 40, CURRENT)


def test_forced_re_reads_are_bounded_per_channel(aws: AwsWorld) -> None:
    clock = Monotonic()
    sources = directory(aws, clock)
    assert sources.may_refresh(CHANNEL_ID)
    assert not sources.may_refresh(CHANNEL_ID)
    assert sources.may_refresh("other")
    clock.now += FORCED_REFRESH_SECONDS
    assert sources.may_refresh(CHANNEL_ID)


@pytest.mark.parametrize(
    "value",
    [
        {"sources": {}},
        {"sources": {"other": {"current": CURRENT}}},
        {"sources": {"shop": {"current": "short"}}},
        "not json",
        {"sources": "no"},
    ],
)
def test_unknown_or_malformed_sources_are_unknown(aws: AwsWorld, value: object) -> None:
    put(aws, value)
    with pytest.raises(UnknownSource):
        directory(aws).keys(CHANNEL_ID, "shop")


def test_a_channel_without_a_secret_or_odd_ids_are_unknown(aws: AwsWorld) -> None:
    sources = directory(aws)
    for channel, source in (("1999999999", "shop"), ("../x", "shop"), (CHANNEL_ID, "a b")):
        with pytest.raises(UnknownSource):
            sources.keys(channel, source)
