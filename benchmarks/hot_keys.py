"""Hot keys and read counts through the real local stack, counted, not timed.

1. A follow burst (10,000 friends follow through LINE's webhook; each is welcomed,
   so the sender writes ledger rows too) and a 10,000-row CSV import (each row tags a
   new friend): every DynamoDB write is resolved to the partition key value it lands
   on, in the table and in each GSI (``linecrm_local.write_keys``). Figure: the largest
   share one key value took, per table/index. Budget: <= 10 % each (one partition
   takes about 1,000 writes/s; a list that puts every write on one key caps the
   channel there).
2. Items read to list 50 friends with a tag that 50 of the channel's 20,000 friends
   hold (``FriendRepository.list_page``, behind ``GET …/friends?tag=``). Budget:
   <= 2 x the 50 returned.
3. Read capacity per friend of a broadcast preview over the 20,000 (estimated from
   the items read by DynamoDB's rules: 4 KB units, half a unit when eventually
   consistent); over 5,000 friends the preview is a job, whose steps are counted too.

``LINECRM_BENCH_BURST`` sets the burst and import size (default 10,000).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

from linecrm.domain.friends import FriendChangeSet
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.friends import FriendRepository
from linecrm.resources import MAIN_TABLE
from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID
from linecrm_local.stack import LocalStack
from linecrm_local.write_keys import KeyShare, ReadFigure, record_dynamodb_keys

BURST = int(os.environ.get("LINECRM_BENCH_BURST", "10000"))
MAX_SHARE = 0.10
TAGGED = 50
READ_BUDGET = 2.0  # items read per friend returned
HEADERS = {"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}


@dataclass(frozen=True)
class BurstFigure:
    name: str
    shares: list[KeyShare]

    @property
    def within_budget(self) -> bool:
        return all(share.share <= MAX_SHARE for share in self.shares)


@dataclass(frozen=True)
class HotKeyReport:
    bursts: list[BurstFigure]
    friends: int
    tag_list_returned: int
    tag_list_reads: dict[str, ReadFigure]
    preview_reads: dict[str, ReadFigure]
    preview_recipients: int
    wall_seconds: float

    @property
    def tag_list_items(self) -> int:
        return sum(figure.items for figure in self.tag_list_reads.values())

    @property
    def tag_list_within_budget(self) -> bool:
        return self.tag_list_items <= READ_BUDGET * TAGGED and self.tag_list_returned == TAGGED

    @property
    def preview_capacity_per_friend(self) -> float:
        units = sum(figure.capacity_units for figure in self.preview_reads.values())
        return units / self.friends if self.friends else 0.0


def measure() -> HotKeyReport:
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _measure()


_STARTED = time.perf_counter()


def _progress(text: str) -> None:
    seconds = time.perf_counter() - _STARTED
    print(f"  [hot keys {seconds:6.0f} s] {text}", file=sys.stderr, flush=True)


def _admin(
    stack: LocalStack, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
) -> Any:
    url = f"{stack.gateway_url}/admin/channels/{DEMO_CHANNEL_ID}{path}"
    headers = {**HEADERS, **(headers or {})}
    response = requests.request(method, url, headers=headers, timeout=120, **kwargs)
    if response.status_code >= 300:
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
    return response.json()


def _measure() -> HotKeyReport:
    started = time.perf_counter()
    with LocalStack(
        visibility_timeout_seconds=30, poll_interval_seconds=0.02, scheduler_tick_seconds=3600
    ) as stack:
        session = stack.aws.session()
        dynamodb = session.client("dynamodb")
        table = stack.resources.table_names[MAIN_TABLE.logical_id]
        ChannelConfigRepository(dynamodb, table).set_welcome_messages(
            DEMO_CHANNEL_ID, [{"type": "text", "text": "友だち追加ありがとうございます！"}]
        )
        tag_id = _admin(stack, "POST", "/tags", json={"name": "キャンペーン"})["tag_id"]
        rare_tag_id = _admin(stack, "POST", "/tags", json={"name": "VIP"})["tag_id"]
        bursts = []

        _progress(f"{BURST:,} follows through the webhook")
        with record_dynamodb_keys(stack.resources.table_names, session) as recorder:
            with ThreadPoolExecutor(4) as pool:
                list(
                    pool.map(
                        lambda _: stack.emulator.simulate_follow(DEMO_CHANNEL_ID), range(BURST)
                    )
                )
            stack.poller.drain(timeout=max(600.0, BURST / 5))
        bursts.append(BurstFigure(f"{BURST:,}-follow burst", recorder.shares()))

        _progress(f"a {BURST:,}-row CSV import")
        rows = "\r\n".join(f"U{0xC0000000 + n:032x},キャンペーン" for n in range(BURST))
        with record_dynamodb_keys(stack.resources.table_names, session) as recorder:
            job = _admin(
                stack,
                "POST",
                "/imports/csv",
                data=("user_id,tags\r\n" + rows + "\r\n").encode(),
                headers={"Content-Type": "text/csv"},
            )
            _wait_for_job(stack, job["job_id"], timeout=max(600.0, BURST / 5))
        bursts.append(BurstFigure(f"{BURST:,}-row CSV import", recorder.shares()))

        _progress("a tag list and a preview")
        friends = FriendRepository(dynamodb, table)
        everyone = [friend.user_id for friend in friends.walk(DEMO_CHANNEL_ID)]
        rare = everyone[7 :: max(1, len(everyone) // TAGGED)][:TAGGED]
        for user_id in rare:
            friends.apply_change(
                DEMO_CHANNEL_ID,
                user_id,
                FriendChangeSet(add_tag_ids=frozenset({rare_tag_id})),
                stack.clock.now(),
            )
        # The repository call behind GET …/friends?tag= (the route also loads the
        # channel's settings once, whatever the page: not part of the list's reads).
        with record_dynamodb_keys(stack.resources.table_names, session) as recorder:
            page = friends.list_page(DEMO_CHANNEL_ID, tag_id=rare_tag_id, limit=TAGGED)
        tag_reads = recorder.reads()
        with record_dynamodb_keys(stack.resources.table_names, session) as recorder:
            preview = _admin(
                stack,
                "POST",
                "/broadcasts/preview",
                json={
                    "name": "bench preview",
                    "messages": [{"type": "text", "text": "セール"}],
                    "segment": {"match": {"tags_any": [tag_id]}},
                },
            )
            if "preview_id" in preview:  # over 5,000 friends it runs as a job: wait for it
                preview = _wait_for_preview(stack, preview["preview_id"])
        return HotKeyReport(
            bursts=bursts,
            friends=len(everyone),
            tag_list_returned=len(page.friends),
            tag_list_reads=tag_reads,
            preview_reads=recorder.reads(),
            preview_recipients=int(preview.get("recipients", 0)),
            wall_seconds=time.perf_counter() - started,
        )


def _wait_for_preview(stack: LocalStack, preview_id: str) -> Any:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        job = _admin(stack, "GET", f"/broadcasts/previews/{preview_id}")
        if job["status"] == "done":
            return job["result"]
        if job["status"] == "failed":
            raise RuntimeError(f"preview {preview_id} failed: {job}")
        time.sleep(0.2)
    raise TimeoutError(f"preview {preview_id} did not finish")


def _wait_for_job(stack: LocalStack, job_id: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = _admin(stack, "GET", f"/imports/{job_id}")
        if job["status"] == "done":
            return
        if job["status"] == "failed":
            raise RuntimeError(f"import {job_id} failed: {job}")
        time.sleep(0.2)
    raise TimeoutError(f"import {job_id} did not finish in {timeout:.0f} s")
