"""Admin API, a friend's timeline: events, deliveries, tag and field changes (with who
made them), follows and blocks, newest first, paged with ``before``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from linecrm.domain.conversations import ChatEntry, ChatSettings, IncomingVerdict
from linecrm.models.send import SendRequest
from linecrm.repositories.conversations import ConversationRepository
from linecrm.repositories.deliveries import DeliveryLedger
from linecrm.repositories.dynamo import to_item
from linecrm.repositories.stats_writes import friend_claim_key
from tests.unit.admin.conftest import AdminApi, assert_error, user

pytestmark = pytest.mark.usefixtures("aws")

ALICE = user(1)


def timeline(api: AdminApi, **query: Any) -> list[dict[str, Any]]:
    """Every page, following the cursor."""
    items: list[dict[str, Any]] = []
    before = None
    for _ in range(30):
        page = api.call("GET", f"/friends/{ALICE}/timeline", query={**query, "before": before})
        assert page.status == 200, page.body
        items += page.body["items"]
        before = page.body["cursor"]
        if before is None:
            return items
    raise AssertionError("the timeline never ended")


def put(api: AdminApi, item: dict[str, Any]) -> None:
    api.aws.client("dynamodb").put_item(
        TableName=api.aws.resources.table_names["Main"], Item=to_item(item)
    )


def test_merges_every_source_newest_first(api: AdminApi) -> None:
    now = datetime.now(UTC)
    api.follow(ALICE)
    api.tag("VIP")
    api.field("rank", "text")
    put(api, {**friend_claim_key(api.channel_id, ALICE, "follow", now - timedelta(days=40))})
    api.call("PATCH", f"/friends/{ALICE}", {"add_tags": ["VIP"], "set_fields": {"rank": "gold"}})
    api.call("PATCH", f"/friends/{ALICE}", {"add_tags": ["VIP"]})  # no change: no row
    DeliveryLedger(api.aws.client("dynamodb"), api.aws.resources.table_names["Main"]).record_queued(
        SendRequest(
            delivery_id="push:1",
            channel_id=api.channel_id,
            to=[ALICE],
            messages=[{"type": "text", "text": "hi"}],
            cause="auto_response",
        ),
        now - timedelta(days=2),
    )
    put(
        api,
        {
            "pk": f"CH#{api.channel_id}#FRIEND#{ALICE}",
            "sk": f"EVENT#{(now - timedelta(days=1)).isoformat(timespec='milliseconds')}#abc",
            "name": "purchase",
            "occurred_at": (now - timedelta(days=1)).isoformat(),
            "received_at": (now - timedelta(days=1)).isoformat(),
            "idempotency_key": "k1",
            "source": "api",
            "properties": "{}",
        },
    )

    items = timeline(api, limit=2)
    kinds = [item["kind"] for item in items]
    assert kinds[:3] == ["tags", "event", "delivery"], kinds
    assert "follow" in kinds[3:]
    change = items[0]
    assert change["details"]["addedTags"] == ["VIP"]
    assert change["details"]["setFields"] == {"rank": "gold"}
    assert change["details"]["source"] == "admin"
    assert items[2]["details"]["deliveryId"] == "push:1"
    assert items[2]["details"]["status"] == "queued"
    ats = [item["at"] for item in items]
    assert ats == sorted(ats, reverse=True)
    assert len({(item["kind"], item["at"]) for item in items}) == len(items)  # no repeats


def test_unknown_friend_and_bad_cursor(api: AdminApi) -> None:
    assert_error(api.call("GET", f"/friends/{ALICE}/timeline"), 404)
    api.follow(ALICE)
    assert_error(api.call("GET", f"/friends/{ALICE}/timeline", query={"before": "x"}), 422)


def test_chat_messages_in_and_out_and_postbacks(api: AdminApi) -> None:
    now = datetime.now(UTC)
    api.follow(ALICE)
    chat = ConversationRepository(api.aws.client("dynamodb"), api.aws.resources.table_names["Main"])
    settings = ChatSettings()
    asked = ChatEntry("m1", "in", "text", "is the shop open?", now - timedelta(hours=3), "friend")
    chat.record_incoming(
        api.channel_id, ALICE, asked, IncomingVerdict(unread=True, needs_reply=True), settings
    )
    tapped = ChatEntry("e2", "in", "postback", "menu=coupon", now - timedelta(hours=2), "friend")
    chat.record_incoming(
        api.channel_id, ALICE, tapped, IncomingVerdict(unread=False, needs_reply=False), settings
    )
    answered = ChatEntry(
        "push:9", "out", "text", "until 8 pm", now - timedelta(hours=1), "staff", staff="Hana"
    )
    chat.transact(
        chat.outgoing_writes(api.channel_id, ALICE, answered, settings, touch_summary=True)
    )

    items = [item for item in timeline(api) if item["kind"] in {"message", "postback"}]
    assert [(item["kind"], item["details"]["direction"]) for item in items] == [
        ("message", "out"),
        ("postback", "in"),
        ("message", "in"),
    ]
    assert items[0]["details"]["staff"] == "Hana"
    assert items[0]["details"]["text"] == "until 8 pm"
    assert items[1]["details"]["text"] == "menu=coupon"
    assert items[2]["text"] == "in text: is the shop open?"
    assert items[2]["details"]["source"] == "friend"
