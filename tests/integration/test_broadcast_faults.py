"""A 2,000-friend broadcast while LINE fails a third of its multicasts: every friend
gets it exactly once, or is in a chunk delivery that is dead with a reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from linecrm.domain.broadcasts import chunk_delivery_id
from linecrm_local.demo import DEMO_CHANNEL_ID
from linecrm_local.seed import seed_friends
from linecrm_local.stack import LocalStack
from tests.integration.test_broadcasts import admin, settled, table, wait_for

# Generous deadlines: retries with backoff on a busy machine take minutes.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

FRIENDS = 2_000
SALE = [{"type": "text", "text": "冬のセール 2,000 名さま向け"}]
# Seeded fault draws, one per request in arrival order. Seed 183 on multicast begins
# 500, ok, timeout, 429, 500, ...: each kind of fault is met within the first calls.
FAULTS = {"error_500": 0.20, "error_429": 0.10, "timeout": 0.05}
MULTICAST_SEED = 183
PUSH_SEED = 7


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # Its own stack: "every friend" is exactly the 2,000 seeded here. The visibility
    # timeout outlasts a sender stuck in timeouts (client timeout 10 s, 3 tries), so
    # SQS does not hand a batch that is still being sent to a second consumer.
    with LocalStack(visibility_timeout_seconds=60, scheduler_tick_seconds=0.2) as local:
        yield local


def test_2000_friends_with_faults_get_it_exactly_once_or_dead_with_a_reason(
    stack: LocalStack,
) -> None:
    friends = seed_friends(stack.emulator, DEMO_CHANNEL_ID, table(stack), FRIENDS)
    stack.emulator.set_faults("multicast", seed=MULTICAST_SEED, **FAULTS)
    stack.emulator.set_faults("push", seed=PUSH_SEED, **FAULTS)

    created = admin(
        stack, "POST", "/broadcasts", {"name": "faults", "messages": SALE, "method": "multicast"}
    )
    report = wait_for(lambda: settled(stack, created["broadcast_id"]), timeout=600)
    stack.poller.drain(timeout=300)
    stack.emulator.clear_faults()

    broadcast = report["broadcast"]
    assert broadcast["status"] == "sent"
    assert broadcast["counters"]["recipients"] == FRIENDS
    chunks = [
        admin(stack, "GET", f"/deliveries/{chunk_delivery_id(created['broadcast_id'], n)}")
        for n in range(broadcast["cursor"]["next_chunk"])
    ]
    assert all(len(chunk["recipients"]) <= 500 for chunk in chunks)
    # The ledger accounts for everyone: nobody twice, nobody left queued.
    in_chunks = Counter(user for chunk in chunks for user in chunk["recipients"])
    assert sorted(in_chunks) == sorted(friends)
    assert set(in_chunks.values()) == {1}
    assert {chunk["status"] for chunk in chunks} <= {"sent", "dead", "skipped"}
    assert sum(report["recipients_by_status"].values()) == FRIENDS
    assert "queued" not in report["recipients_by_status"]

    not_sent = [chunk for chunk in chunks if chunk["status"] != "sent"]
    assert [chunk["delivery_id"] for chunk in not_sent if not chunk["reason"]] == []
    dead = {user for chunk in not_sent for user in chunk["recipients"]}
    copies = {user: len(stack.emulator.inbox(user)) for user in friends}
    duplicates = [user for user, count in copies.items() if count > 1]
    lost = [user for user, count in copies.items() if count == 0 and user not in dead]
    assert duplicates == [] and lost == []
    assert all(copies[user] == 0 for user in dead)  # dead means LINE never took it
    assert all(
        [m.message["text"] for m in stack.emulator.inbox(user)] == [SALE[0]["text"]]
        for user in friends
        if user not in dead
    )

    # The faults were really met, and retried rather than given up on at once.
    statuses = Counter(call.status for call in stack.emulator.calls("multicast"))
    assert statuses[500] >= 1 and statuses[429] >= 1
    assert statuses[200] == sum(1 for chunk in chunks if chunk["status"] == "sent")
