"""Per-friend tracking markers: written in batches, read one item each, first click once."""

from __future__ import annotations

from datetime import UTC, datetime

from linecrm.repositories.tracking_markers import Marker, TrackingMarkers
from tests.unit.conftest import CHANNEL_ID, AwsWorld

AT = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def _markers(aws: AwsWorld) -> TrackingMarkers:
    return TrackingMarkers(aws.client("dynamodb"), aws.resources.table_names["Main"])


def test_last_sent_for_a_chunk_takes_one_call_per_25_friends(aws: AwsWorld) -> None:
    markers = _markers(aws)
    friends = [f"U{index:032d}" for index in range(60)] + ["U" + "0" * 32]  # one twice

    calls = markers.put_last_sent_many(CHANNEL_ID, friends, Marker("broadcast:b1", "A", AT))

    assert calls == 3
    assert markers.last_sent(CHANNEL_ID, friends[59]) == Marker("broadcast:b1", "A", AT)
    assert markers.last_sent(CHANNEL_ID, "Unobody") is None


def test_a_later_send_replaces_the_marker(aws: AwsWorld) -> None:
    markers = _markers(aws)
    markers.put_last_sent_many(CHANNEL_ID, ["U1"], Marker("broadcast:b1", None, AT))
    markers.put_last_sent_many(CHANNEL_ID, ["U1"], Marker("step:s:day3", None, AT))
    assert markers.last_sent(CHANNEL_ID, "U1") == Marker("step:s:day3", None, AT)


def test_first_click_is_recorded_once(aws: AwsWorld) -> None:
    markers = _markers(aws)
    first = Marker("broadcast:b1", None, AT)
    assert markers.put_first_click(CHANNEL_ID, "U1", first)
    assert not markers.put_first_click(
        CHANNEL_ID, "U1", Marker("broadcast:b1", None, AT.replace(hour=10))
    )
    assert markers.put_first_click(CHANNEL_ID, "U1", Marker("broadcast:b2", None, AT))
    assert markers.first_click(CHANNEL_ID, "U1", "broadcast:b1") == first
    markers.put_last_click(CHANNEL_ID, "U1", Marker("broadcast:b2", None, AT))
    assert markers.last_click(CHANNEL_ID, "U1") == Marker("broadcast:b2", None, AT)


def test_holdout_marker(aws: AwsWorld) -> None:
    markers = _markers(aws)
    markers.put_holdout_many(CHANNEL_ID, ["U1", "U2"], Marker("broadcast:b1", None, AT))
    assert markers.holdout(CHANNEL_ID, "U2") == Marker("broadcast:b1", None, AT)
    assert markers.holdout(CHANNEL_ID, "U3") is None
