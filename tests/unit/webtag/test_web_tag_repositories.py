"""The web tag's items in the main table (moto): keys (two items per key, one
transaction), their cache, and the fixed-window rate counters."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from linecrm.domain.web_tag import MAX_KEYS_PER_CHANNEL, WebTagKeySpec, new_web_tag_key
from linecrm.repositories.rate_limits import FixedWindowLimiter
from linecrm.repositories.web_tag_keys import KEY_CACHE_SECONDS, TooManyKeys, WebTagKeyRepository
from tests.unit.conftest import CHANNEL_ID, AwsWorld

NOW = datetime(2026, 12, 3, 9, 0, 10, tzinfo=UTC)
SPEC = WebTagKeySpec(origins=["https://shop.example"], label="本店")


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def keys_of(world: AwsWorld, clock: Ticks | None = None) -> WebTagKeyRepository:
    table = world.resources.table_names["Main"]
    if clock is None:
        return WebTagKeyRepository(world.client("dynamodb"), table)
    return WebTagKeyRepository(world.client("dynamodb"), table, monotonic=clock)


def test_keys_are_created_listed_found_and_revoked(aws: AwsWorld) -> None:
    repository = keys_of(aws)
    first = new_web_tag_key(CHANNEL_ID, SPEC, NOW)
    second = new_web_tag_key(CHANNEL_ID, SPEC, NOW + timedelta(seconds=1))
    other_channel = new_web_tag_key("1650009999", SPEC, NOW)
    for key in (second, first, other_channel):
        repository.create(key)
    assert [key.key for key in repository.list(CHANNEL_ID)] == [first.key, second.key]
    assert repository.get(first.key) == first
    assert repository.get("pk_" + "n" * 24) is None
    assert not repository.revoke(CHANNEL_ID, other_channel.key)  # not this channel's
    assert repository.revoke(CHANNEL_ID, first.key)
    assert not repository.revoke(CHANNEL_ID, first.key)
    assert [key.key for key in repository.list(CHANNEL_ID)] == [second.key]
    assert keys_of(aws).get(first.key) is None


def test_a_revoked_key_stops_working_within_the_cache_time(aws: AwsWorld) -> None:
    clock = Ticks()
    reader = keys_of(aws, clock)
    key = new_web_tag_key(CHANNEL_ID, SPEC, NOW)
    keys_of(aws).create(key)
    assert reader.get(key.key) == key
    keys_of(aws).revoke(CHANNEL_ID, key.key)  # by the admin function
    assert reader.get(key.key) == key  # this container's cache
    clock.now += KEY_CACHE_SECONDS
    assert reader.get(key.key) is None


def test_a_channel_has_a_bounded_number_of_keys(aws: AwsWorld) -> None:
    repository = keys_of(aws)
    for index in range(MAX_KEYS_PER_CHANNEL):
        repository.create(new_web_tag_key(CHANNEL_ID, SPEC, NOW + timedelta(seconds=index)))
    with pytest.raises(TooManyKeys, match="at most"):
        repository.create(new_web_tag_key(CHANNEL_ID, SPEC, NOW))


def test_of_concurrent_hits_exactly_the_limit_pass(atomic_aws: AwsWorld) -> None:
    limiter = FixedWindowLimiter(
        atomic_aws.client("dynamodb"), atomic_aws.resources.table_names["Main"]
    )
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: limiter.hit("key#pk_a", 5, NOW), range(20)))
    assert answers.count(None) == 5
    assert {answer for answer in answers if answer is not None} == {50}  # seconds left
    # Another scope has its own count; the next window starts from zero.
    assert limiter.hit("key#pk_b", 5, NOW) is None
    assert limiter.hit("key#pk_a", 5, NOW + timedelta(minutes=1)) is None


def test_rate_counters_expire_after_their_window(aws: AwsWorld) -> None:
    table = aws.resources.table_names["Main"]
    FixedWindowLimiter(aws.client("dynamodb"), table).hit("visitor#x", 3, NOW)
    (item,) = [
        item
        for item in aws.client("dynamodb").scan(TableName=table)["Items"]
        if item["pk"]["S"].startswith("RATE#")
    ]
    assert item["count"]["N"] == "1"
    expires = datetime.fromtimestamp(int(item["expires_at"]["N"]), UTC)
    assert expires == datetime(2026, 12, 3, 9, 2, tzinfo=UTC)
