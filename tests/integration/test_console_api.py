"""The console's admin routes through the local stack: a saved segment's preview is
exactly whom a broadcast naming it reaches (the same evaluator, resolved when planned),
and the dashboard's quota is read from the LINE emulator by the jobs function."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from linecrm.resources import MAIN_TABLE
from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID
from linecrm_local.seed import seed_friends
from linecrm_local.stack import LocalStack
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ADMIN = {"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}
BASE = f"/admin/channels/{DEMO_CHANNEL_ID}"
READ_TIMEOUT = 300


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(visibility_timeout_seconds=120, scheduler_tick_seconds=0.2) as local:
        yield local


def admin(stack: LocalStack, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(
        method, f"{stack.gateway_url}{BASE}{path}", json=body, headers=ADMIN, timeout=(10, 300)
    )
    assert response.status_code < 300, (response.status_code, response.text)
    return response.json() if response.content else None


def test_a_saved_segments_preview_is_whom_the_broadcast_reaches(stack: LocalStack) -> None:
    table = stack.resources.table_names[MAIN_TABLE.logical_id]
    fans = admin(stack, "POST", "/tags", {"name": "seg-fans"})["tag_id"]
    staff = admin(stack, "POST", "/tags", {"name": "seg-staff"})["tag_id"]
    wanted = seed_friends(stack.emulator, DEMO_CHANNEL_ID, table, 23, tag_ids=(fans,))
    seed_friends(stack.emulator, DEMO_CHANNEL_ID, table, 4, tag_ids=(fans, staff))
    seed_friends(stack.emulator, DEMO_CHANNEL_ID, table, 6)
    definition = {"match": {"all": [{"tag": "seg-fans"}, {"not": {"tag": "seg-staff"}}]}}
    segment_id = admin(
        stack, "POST", "/segments", {"name": "fans, not staff", "definition": definition}
    )["segmentId"]

    preview = admin(stack, "POST", "/segments/preview", {"segmentId": segment_id})
    assert preview["count"] == preview["reachable"] == 23
    assert preview["warning"] is None
    assert {friend["userId"] for friend in preview["sample"]} <= set(wanted)

    body = {
        "name": "fans only",
        "messages": [{"type": "text", "text": "ファン限定のお知らせ"}],
        "segment": {"segment": segment_id},
    }
    dry_run = admin(stack, "POST", "/broadcasts/preview", body)
    assert dry_run["recipients"] == preview["reachable"]

    calls_before = len(stack.emulator.calls("multicast"))
    created = admin(stack, "POST", "/broadcasts", body)

    def sent() -> dict[str, Any] | None:
        report = admin(stack, "GET", f"/broadcasts/{created['broadcast_id']}")
        done = report["broadcast"]["status"] in ("sent", "failed")
        return report if done and not report["deliveries"].get("queued") else None

    report = wait_for(sent, timeout=READ_TIMEOUT, interval=0.2)
    stack.poller.drain(timeout=READ_TIMEOUT)
    assert report["broadcast"]["status"] == "sent", report
    reached = [
        user
        for call in stack.emulator.calls("multicast")[calls_before:]
        for user in call.body["to"]
    ]
    assert sorted(reached) == sorted(wanted)
    listed = admin(stack, "GET", f"/friends?segment={segment_id}&limit=200")["friends"]
    assert sorted(friend["user_id"] for friend in listed) == sorted(wanted)


def test_the_dashboard_quota_comes_from_the_emulator_through_the_jobs_function(
    stack: LocalStack,
) -> None:
    first = admin(stack, "GET", "/dashboard/summary?days=7")
    assert len(first["days"]) == 7

    def quota() -> dict[str, Any] | None:
        summary = admin(stack, "GET", "/dashboard/summary?days=7")
        return summary["quota"] if not summary["quotaRefreshing"] else None

    read = wait_for(quota, timeout=120, interval=0.5)
    assert read["type"] == "limited"
    assert read["limit"] == stack.emulator.config.monthly_quota
    assert read["used"] >= 0 and read["remaining"] == read["limit"] - read["used"]
