"""Variant assignment: stable per friend, close to the split, independent per campaign."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from pydantic import ValidationError

from linecrm.domain.experiments import BUCKETS, Experiment, Variant, bucket_of
from linecrm.domain.stats import HOLDOUT_VARIANT

MESSAGES = [{"type": "text", "text": "hello"}]


def experiment(a: int = 45, b: int = 45, holdout: int = 10) -> Experiment:
    return Experiment(
        variants=[
            Variant(name="A", percent=a, messages=MESSAGES),
            Variant(name="B", percent=b, messages=[{"type": "text", "text": "hi"}]),
        ],
        holdout_percent=holdout,
    )


USERS = [f"U{index:032x}" for index in range(10_000)]


def test_the_same_friend_lands_in_the_same_variant_whatever_the_order() -> None:
    split = experiment()
    first = {user: split.assign("broadcast:b1", user) for user in USERS}
    shuffled = USERS[:]
    random.Random(7).shuffle(shuffled)
    # Planned again, in another order and in batches of other sizes, by a new instance.
    again: dict[str, str] = {}
    for start in range(0, len(shuffled), 333):
        fresh = experiment()
        for user in shuffled[start : start + 333]:
            again[user] = fresh.assign("broadcast:b1", user)
    assert again == first


def test_the_split_is_close_to_the_percentages_over_10000_friends() -> None:
    counts = Counter(experiment().assign("broadcast:b1", user) for user in USERS)
    # Binomial sd for 45 % of 10,000 is ~50 and for 10 % ~30: 4 sd bounds.
    assert abs(counts["A"] - 4_500) < 200
    assert abs(counts["B"] - 4_500) < 200
    assert abs(counts[HOLDOUT_VARIANT] - 1_000) < 120
    assert sum(counts.values()) == 10_000


def test_uneven_split_and_no_holdout() -> None:
    counts = Counter(experiment(80, 20, 0).assign("step:s1:welcome", u) for u in USERS)
    assert set(counts) == {"A", "B"}
    assert abs(counts["A"] - 8_000) < 160


def test_different_campaigns_split_independently() -> None:
    split = experiment(50, 50, 0)
    one = [split.assign("broadcast:b1", user) for user in USERS]
    two = [split.assign("broadcast:b2", user) for user in USERS]
    same = sum(x == y for x, y in zip(one, two, strict=True))
    # Independent 50/50 splits agree for about half the friends (sd 50).
    assert 4_800 < same < 5_200


def test_buckets_are_in_range_and_stable() -> None:
    assert bucket_of("broadcast:b1", "U1") == bucket_of("broadcast:b1", "U1")
    assert all(0 <= bucket_of("broadcast:x", user) < BUCKETS for user in USERS[:1000])


@pytest.mark.parametrize(
    ("a", "b", "holdout", "reason"),
    [
        (50, 40, 0, "add up to 100"),
        (50, 50, 10, "add up to 100"),
        (60, 50, 0, "add up to 100"),
    ],
)
def test_a_split_that_does_not_add_up_is_refused(a: int, b: int, holdout: int, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        experiment(a, b, holdout)


def test_variant_names_must_differ_and_holdout_is_reserved() -> None:
    with pytest.raises(ValidationError, match="must differ"):
        Experiment(variants=[Variant(name="A", percent=50), Variant(name="A", percent=50)])
    with pytest.raises(ValidationError, match="holdout group"):
        Experiment(variants=[Variant(name="holdout", percent=100)])
    with pytest.raises(ValidationError):
        Variant(name="A B", percent=50)


def test_messages_of_a_variant_default_to_the_campaigns() -> None:
    split = Experiment(
        variants=[Variant(name="A", percent=90), Variant(name="B", percent=5, messages=MESSAGES)],
        holdout_percent=5,
    )
    default = [{"type": "text", "text": "default"}]
    assert split.messages_of("A", default) == default
    assert split.messages_of("B", default) == MESSAGES
    assert split.messages_of(HOLDOUT_VARIANT, default) is None
    assert split.all_messages(default) == [default, MESSAGES]
    assert split.control == "A"
