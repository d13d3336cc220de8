"""Demo activity for the dashboard: what ``make dev`` runs (in the background, after the
stack is up) so the charts show something on first open.

Everything goes through the stack's real flows, as a shop and its friends would:
friends follow through the LINE emulator's signed webhooks (the welcome scenario
enrols them), a broadcast is created through the admin API and sent by the sender,
friends tap the tracked links in what they received (as the LIFF click page does in
LINE: ``POST /t/<token>`` with the friend's ID token, issued by the emulator),
purchases arrive through the signed events API, and some friends block (unfollow
webhooks). The counters the
dashboard charts are whatever those flows counted: nothing here writes a figure.

Who clicks, buys and blocks is drawn by a seeded random generator, so two runs do the
same things.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import requests

from linecrm.domain.tracked_links import token_of
from linecrm.events.signature import compute_signature
from linecrm_local import demo

TIMEOUT = (10, 120)
SCENARIO_ID = "demo-welcome"
SHOP_URL = "https://shop.example.com"
_URL = re.compile(r"https?://[^\s\"'<>]+")


def _text(value: str) -> dict[str, str]:
    return {"type": "text", "text": value}


# A short welcome series: its steps come minutes apart (real time in `make dev`), and a
# purchase ends it, so its step funnel narrows as friends buy.
DEMO_SCENARIO: dict[str, Any] = {
    "name": "デモ: 友だち追加のステップ配信",
    "message_class": "transactional",  # no quiet hours: the demo runs at any hour
    "triggers": [{"type": "follow"}],
    "exit_when": [{"type": "event", "name": "purchase"}, {"type": "blocked"}],
    "steps": [
        {
            "id": "welcome",
            "timing": {"after": "0m"},
            "messages": [_text(f"ご登録ありがとうございます！新作はこちら {SHOP_URL}/new")],
            "next": "tips",
        },
        {
            "id": "tips",
            "timing": {"after": "1m"},
            "messages": [_text(f"使い方のコツをまとめました {SHOP_URL}/guide")],
            "next": "coupon",
        },
        {
            "id": "coupon",
            "timing": {"after": "2m"},
            "messages": [_text(f"初回10%OFFクーポン WELCOME10 {SHOP_URL}/coupon")],
            "next": "end",
        },
    ],
}

SALE_MARK = "冬のセール"  # in both variants' copy
SALE_TEXT_B = f"【本日限定】冬のセール 最大30%OFF、あと24時間！ {SHOP_URL}/sale"
# An A/B test with a holdout: A the plain copy, B the urgent one, 10 % get nothing.
DEMO_BROADCAST: dict[str, Any] = {
    "name": "デモ: 冬のセール",
    "message_class": "marketing",
    "method": "multicast",
    "messages": [_text(f"冬のセール開催中！最大30%OFF {SHOP_URL}/sale")],
    "experiment": {
        "variants": [
            {"name": "A", "percent": 45},
            {"name": "B", "percent": 45, "messages": [_text(SALE_TEXT_B)]},
        ],
        "holdout_percent": 10,
    },
}


@dataclass
class DemoPlan:
    """How much activity: friends, and the shares of them that click, buy and block
    (variant B's urgent copy gets more taps)."""

    friends: int = 60
    click_share: float = 0.35
    click_share_b: float = 0.55
    buy_share_of_clickers: float = 0.4
    buy_share_of_others: float = 0.05
    block_share: float = 0.1
    seed: int = 13


@dataclass
class DemoActivity:
    """What the demo did (each through the stack's flows)."""

    friends: list[str] = field(default_factory=list)
    broadcast_id: str | None = None
    clicked: list[str] = field(default_factory=list)
    link_visits: int = 0
    taps: list[tuple[str, str]] = field(default_factory=list)  # (user id, tracking URL)
    purchases: dict[str, int] = field(default_factory=dict)  # user id -> yen
    blocked: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.friends)} friends followed, a broadcast sent, "
            f"{len(self.clicked)} clicked ({self.link_visits} link visits), "
            f"{len(self.purchases)} bought (¥{sum(self.purchases.values()):,}), "
            f"{len(self.blocked)} blocked"
        )


class AdminError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status


class DemoClient:
    """The stack's public interfaces, as the demo's actors use them."""

    def __init__(
        self,
        gateway_url: str,
        *,
        channel_id: str = demo.DEMO_CHANNEL_ID,
        admin_token: str = demo.DEMO_ADMIN_TOKEN,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.gateway_url = gateway_url.rstrip("/")
        self.channel_id = channel_id
        self.admin_token = admin_token
        self.wall_clock = wall_clock
        self.http = requests.Session()

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(
            method,
            f"{self.gateway_url}/admin/channels/{self.channel_id}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=TIMEOUT,
        )
        if response.status_code >= 300:
            raise AdminError(response.status_code, f"{method} {path}: {response.text[:300]}")
        return response.json() if response.content else None

    def purchase(self, user_id: str, amount: int, order_id: str, occurred_at: datetime) -> None:
        """A purchase as the shop reports it: a signed event (docs/events.md)."""
        event = {
            "name": "purchase",
            "user": user_id,
            "occurred_at": occurred_at.isoformat(timespec="milliseconds"),
            "idempotency_key": f"order-{order_id}",
            "value": amount,
            "properties": {"order_id": order_id},
        }
        body = json.dumps({"events": [event]}, ensure_ascii=False).encode("utf-8")
        timestamp = str(int(self.wall_clock()))
        response = self.http.post(
            f"{self.gateway_url}/events/{self.channel_id}",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-Linecrm-Source": demo.DEMO_EVENT_SOURCE,
                "X-Linecrm-Timestamp": timestamp,
                "X-Linecrm-Signature": compute_signature(
                    demo.DEMO_EVENT_SOURCE_KEY, timestamp, body
                ),
            },
            timeout=TIMEOUT,
        )
        if response.status_code >= 300:
            raise RuntimeError(f"purchase {order_id}: {response.status_code} {response.text}")

    def tap(self, tracking_url: str, id_token: str) -> bool:
        """A friend's tap on a tracked link, as the LIFF click page sends it inside LINE
        (docs/tracking.md): True when linecrm recorded it and named the shop's URL."""
        token = token_of(tracking_url)
        if token is None:
            return False
        response = self.http.post(
            f"{self.gateway_url}/t/{token}", json={"idToken": id_token}, timeout=TIMEOUT
        )
        return response.status_code == 200


def message_urls(message: dict[str, Any]) -> list[str]:
    """Every URL in a LINE message: text, URI actions (buttons, quick replies, flex,
    imagemaps), wherever they sit in the message object."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str):
            found.extend(_URL.findall(value))

    walk(message)
    return list(dict.fromkeys(found))


def tracked_links(messages: Iterable[dict[str, Any]]) -> list[str]:
    """The tracking URLs in ``messages`` (the LIFF click page's, or the redirector's),
    in order, once each."""
    links = [url for message in messages for url in message_urls(message)]
    return list(dict.fromkeys(url for url in links if token_of(url) is not None))


def wait_until(condition: Callable[[], Any], timeout: float, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("the demo activity waited too long for the stack")
        time.sleep(interval)


def set_up_liff(client: DemoClient) -> None:
    """Links are tracked through the channel's LIFF app: the demo's, unless one is set."""
    try:
        client.admin("GET", "/liff")
    except AdminError as error:
        if error.status != HTTPStatus.NOT_FOUND:
            raise
        client.admin("PUT", "/liff", {"liff_id": demo.DEMO_LIFF_ID})


def set_up_scenario(client: DemoClient) -> None:
    """The welcome series, active (PUT is idempotent: a restart changes nothing)."""
    client.admin("PUT", f"/scenarios/{SCENARIO_ID}", {"id": SCENARIO_ID, **DEMO_SCENARIO})
    scenario = client.admin("GET", f"/scenarios/{SCENARIO_ID}")
    if scenario["status"] != "active":
        client.admin("POST", f"/scenarios/{SCENARIO_ID}/activate")


def run_demo_activity(
    client: DemoClient,
    emulator: Any,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    plan: DemoPlan | None = None,
    settle: Callable[[], None] = lambda: None,
) -> DemoActivity:
    """Follows, a broadcast, clicks, purchases and blocks, through the stack.

    ``emulator`` is the stack's LINE emulator (its simulated friends follow, read and
    block); ``settle`` waits for queued work (tests drain the poller; ``make dev`` lets
    the stack's own loops run)."""
    plan = plan or DemoPlan()
    rng = random.Random(plan.seed)
    activity = DemoActivity()
    set_up_liff(client)
    set_up_scenario(client)

    # Friends follow: the webhook adds them, the welcome series starts.
    for n in range(plan.friends):
        delivery = emulator.simulate_follow(
            client.channel_id, display_name=f"デモ友だち{n + 1:02d}"
        )
        activity.friends.append(delivery.user_id)
    settle()

    # A broadcast to everyone, sent through the job queue and the sender.
    broadcast = client.admin("POST", "/broadcasts", DEMO_BROADCAST)
    activity.broadcast_id = broadcast["broadcast_id"]

    def sent() -> bool:
        # Planned is not delivered: wait until no chunk is queued, so the friends'
        # inboxes hold the sale before they tap (make dev's loops run on their own).
        settle()
        shown = client.admin("GET", f"/broadcasts/{activity.broadcast_id}")
        finished = shown["broadcast"]["status"] in ("sent", "failed")
        return bool(finished and not shown["deliveries"].get("queued"))

    wait_until(sent, timeout=120)

    # Friends tap links in what they received; some of them, and a few others, buy.
    order = 1000
    for user_id in activity.friends:
        received = [m.message for m in emulator.inbox(user_id)]
        got_b = any(m.get("text") == SALE_TEXT_B for m in received)
        clicks = rng.random() < (plan.click_share_b if got_b else plan.click_share)
        if clicks:
            # The latest link (the broadcast's, unless held out), sometimes the first too.
            links = tracked_links(received)
            chosen = links[-1:] + (links[:1] if len(links) > 1 and rng.random() < 0.5 else [])
            id_token = emulator.issue_id_token(client.channel_id, user_id)
            tapped = [url for url in chosen if client.tap(url, id_token)]
            activity.taps.extend((user_id, url) for url in tapped)
            activity.link_visits += len(tapped)
            if tapped:
                activity.clicked.append(user_id)
                # Some tap twice: unique clicks stay one per friend.
                if rng.random() < 0.3 and client.tap(tapped[0], id_token):
                    activity.taps.append((user_id, tapped[0]))
                    activity.link_visits += 1
        # The sale's tappers buy most; anyone else (the holdout too) now and then.
        sale_links = tracked_links(m for m in received if SALE_MARK in m.get("text", ""))
        tapped_sale = any(user == user_id and url in sale_links for user, url in activity.taps)
        share = plan.buy_share_of_clickers if tapped_sale else plan.buy_share_of_others
        if rng.random() < share:
            order += 1
            amount = rng.choice((1980, 2980, 4200, 5500, 8800))
            client.purchase(user_id, amount, f"demo-{order}", now())
            activity.purchases[user_id] = amount
    settle()

    # Some friends block the account (within 24 h of the broadcast: its block rate).
    buyers = set(activity.purchases)
    for user_id in activity.friends:
        if user_id not in buyers and rng.random() < plan.block_share:
            emulator.simulate_unfollow(client.channel_id, user_id)
            activity.blocked.append(user_id)
    settle()
    return activity


def seed_in_background(
    gateway_url: str, emulator: Any, admin_token: str, stopping: threading.Event
) -> threading.Thread:
    """``make dev``: the demo activity on a thread, so the stack is up at once. A stop
    (Ctrl-C) while it runs ends it quietly."""

    def work() -> None:
        started = time.monotonic()
        try:
            client = DemoClient(gateway_url, admin_token=admin_token)
            activity = run_demo_activity(client, emulator)
        except Exception as error:  # the stack going away under it, or a real fault
            if not stopping.is_set():
                print(f"linecrm dev: the dashboard's demo activity failed: {error}", flush=True)
            return
        if not stopping.is_set():
            print(
                f"linecrm dev: demo activity for the dashboard: {activity.summary()} "
                f"({time.monotonic() - started:.0f} s; the scenario's later steps follow "
                "within minutes)",
                flush=True,
            )

    thread = threading.Thread(target=work, name="demo-activity", daemon=True)
    thread.start()
    return thread
