"""``linecrm broadcast|deliveries|policy`` against the local stack: policy, dry run,
send + wait + report to seeded friends, and re-driving a dead delivery."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from linecrm.resources import MAIN_TABLE
from linecrm_local import cli
from linecrm_local.demo import DEMO_CHANNEL_ID
from linecrm_local.seed import seed_friends
from linecrm_local.stack import LocalStack

pytestmark = pytest.mark.integration

POLICY_YAML = """\
delivery_policy:
  time_zone: Asia/Tokyo
  marketing_caps: {per_day: 5, per_week: 20}
  when_capped: skip
"""


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # Longer than a paced sender batch takes here, so SQS never hands a batch still
    # being sent to a second consumer (see tests/integration/test_broadcasts.py).
    with LocalStack(visibility_timeout_seconds=30, scheduler_tick_seconds=0.2) as local:
        yield local


def linecrm(
    stack: LocalStack, capsys: pytest.CaptureFixture[str], *args: str, status: int = 0
) -> Any:
    """Run the CLI in this process against the stack; its JSON output, parsed."""
    capsys.readouterr()
    exited = cli.main(["--api-url", stack.gateway_url, *args])
    captured = capsys.readouterr()
    assert exited == status, captured.err
    return json.loads(captured.out)


def table(stack: LocalStack) -> str:
    return stack.resources.table_names[MAIN_TABLE.logical_id]


def broadcast_file(tmp_path: Path, name: str, tag: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"name: {name}\n"
        f"messages:\n  - {{type: text, text: '{text}'}}\n"
        f"segment:\n  match: {{tag: {tag}}}\n"
        "message_class: marketing\n",
        encoding="utf-8",
    )
    return path


class UnknownToLine:
    """Stands in for the emulator in ``seed_friends``: friend rows for user ids LINE
    has never seen (a push to one answers 400, so its delivery is dead at once)."""

    def add_friend(self, channel_id: str, display_name: str | None = None) -> Any:
        return SimpleNamespace(user_id="U" + secrets.token_hex(16))


def test_policy_set_and_show(
    stack: LocalStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY_YAML, encoding="utf-8")
    stored = linecrm(stack, capsys, "policy", "set", "-f", str(path))
    shown = linecrm(stack, capsys, "policy", "show")
    assert shown == stored
    assert shown["marketing_caps"] == {"per_day": 5, "per_week": 20}
    assert (shown["time_zone"], shown["when_capped"]) == ("Asia/Tokyo", "skip")


def test_dry_run_send_wait_and_show(
    stack: LocalStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tag = linecrm(stack, capsys, "tags", "create", "cli30")
    members = seed_friends(
        stack.emulator, DEMO_CHANNEL_ID, table(stack), 30, tag_ids=(tag["tag_id"],)
    )
    seed_friends(stack.emulator, DEMO_CHANNEL_ID, table(stack), 5)  # not in the segment
    path = broadcast_file(tmp_path, "cli-sale", "cli30", "セール開催中")

    preview = linecrm(stack, capsys, "broadcast", "send", "-f", str(path), "--dry-run")
    assert (preview["recipients"], preview["method"], preview["capped"]) == (30, "multicast", 0)
    assert preview["sample_messages"] == [{"type": "text", "text": "セール開催中"}]
    assert isinstance(preview["warnings"], list)
    assert linecrm(stack, capsys, "broadcast", "list")["broadcasts"] == []  # nothing stored

    created = linecrm(stack, capsys, "broadcast", "send", "-f", str(path))
    report = linecrm(
        stack, capsys, "broadcast", "wait", created["broadcast_id"], "--timeout", "120"
    )
    assert report["broadcast"]["status"] == "sent"
    assert report["deliveries"] == {"sent": 1}
    assert report["recipients_by_status"] == {"sent": 30}
    shown = linecrm(stack, capsys, "broadcast", "show", created["broadcast_id"])
    assert shown["recipients_by_status"] == {"sent": 30}
    for user_id in members:
        assert [m.message["text"] for m in stack.emulator.inbox(user_id)] == ["セール開催中"]

    listed = linecrm(stack, capsys, "broadcast", "list")["broadcasts"]
    assert created["broadcast_id"] in [b["broadcast_id"] for b in listed]
    sent = linecrm(stack, capsys, "deliveries", "list", "--cause", "broadcast", "--all")
    assert f"bc:{created['broadcast_id']}:0" in [d["delivery_id"] for d in sent]


def test_a_scheduled_broadcast_is_cancelled(
    stack: LocalStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    linecrm(stack, capsys, "tags", "create", "cli-later")
    path = broadcast_file(tmp_path, "later", "cli-later", "また明日")
    tomorrow = (stack.clock.now() + timedelta(days=1)).isoformat()
    created = linecrm(stack, capsys, "broadcast", "send", "-f", str(path), "--at", tomorrow)
    assert created["status"] == "scheduled"
    cancelled = linecrm(stack, capsys, "broadcast", "cancel", created["broadcast_id"])
    assert cancelled["status"] == "cancelled"
    capsys.readouterr()
    assert (
        cli.main(["--api-url", stack.gateway_url, "broadcast", "cancel", created["broadcast_id"]])
        == 2
    )
    assert "409" in capsys.readouterr().err


def test_a_dead_delivery_is_redriven_once_line_knows_the_friend(
    stack: LocalStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tag = linecrm(stack, capsys, "tags", "create", "cli-ghost")
    (ghost,) = seed_friends(
        UnknownToLine(), DEMO_CHANNEL_ID, table(stack), 1, tag_ids=(tag["tag_id"],)
    )
    path = broadcast_file(tmp_path, "ghost", "cli-ghost", "届くかな")
    # Dead chunks: the report is printed, and the exit status says it did not all go out.
    created = linecrm(stack, capsys, "broadcast", "send", "-f", str(path), "--wait", status=1)
    assert created["deliveries"] == {"dead": 1}
    delivery_id = f"bc:{created['broadcast']['broadcast_id']}:0"

    dead = linecrm(stack, capsys, "deliveries", "list", "--status", "dead", "--cause", "broadcast")
    assert delivery_id in [d["delivery_id"] for d in dead["deliveries"]]
    assert "400" in (linecrm(stack, capsys, "deliveries", "show", delivery_id)["reason"] or "")

    stack.emulator.add_friend(DEMO_CHANNEL_ID, user_id=ghost)  # LINE knows them now
    redriven = linecrm(stack, capsys, "deliveries", "redrive", delivery_id)
    assert redriven["status"] == "queued"
    deadline = time.monotonic() + 60
    while linecrm(stack, capsys, "deliveries", "show", delivery_id)["status"] != "sent":
        assert time.monotonic() < deadline, "the re-driven delivery was never sent"
        time.sleep(0.2)
    assert [m.message["text"] for m in stack.emulator.inbox(ghost)] == ["届くかな"]
    report = linecrm(stack, capsys, "broadcast", "show", created["broadcast"]["broadcast_id"])
    assert report["deliveries"] == {"sent": 1}
    nothing = linecrm(stack, capsys, "deliveries", "redrive", "--all-dead", "--cause", "broadcast")
    assert nothing == {"redriven": [], "refused": []}
    row = linecrm(stack, capsys, "deliveries", "show", delivery_id)
    # Sent after the re-drive: no failure reason left, the old one kept apart.
    assert row["reason"] is None and "400" in (row["previous_reason"] or "")
    assert row["redrive_forced_at"] is None
