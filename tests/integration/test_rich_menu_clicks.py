"""Rich menu taps through the local stack: ``linecrm richmenus apply -f`` on a channel
with LIFF puts the menu on LINE (the emulator) with its ``uri`` area made a tracking
URL; a friend taps it (as LINE and the LIFF click page would:
``linecrm_local.clicks.simulate_click``); the report for ``richmenu:<id>`` shows the
tap, unique once per friend, and no rates (a menu sends nothing)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from linecrm.domain.tracked_links import token_of
from linecrm.resources import MAIN_TABLE
from linecrm_local import cli
from linecrm_local.clicks import simulate_click
from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID
from linecrm_local.seed import seed_friends
from linecrm_local.stack import LocalStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ADMIN = {"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}
BASE = f"/admin/channels/{DEMO_CHANNEL_ID}"
LIFF_ID = "2000000002-MenuTrk1"
SHOP_URL = "https://shop.example/winter?utm_source=richmenu"
CARD_URL = f"https://liff.line.me/{LIFF_ID}/card"
MENUS = f"""\
menus:
  - id: main
    name: メインメニュー
    size: compact
    areas:
      - bounds: {{x: 0, y: 0, width: 1250, height: 843}}
        label: ショップへ
        action: {{type: uri, uri: "{SHOP_URL}"}}
      - bounds: {{x: 1250, y: 0, width: 625, height: 843}}
        label: 会員証
        action: {{type: uri, uri: "{CARD_URL}"}}
      - bounds: {{x: 1875, y: 0, width: 625, height: 843}}
        label: クーポン
        action: {{type: postback, data: "linecrm=1&tag.add=クーポン"}}
default: main
"""
READ_TIMEOUT = 300


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(visibility_timeout_seconds=120, scheduler_tick_seconds=3600) as local:
        admin(local, "PUT", "/liff", {"liff_id": LIFF_ID})
        admin(local, "POST", "/tags", {"name": "クーポン"})
        yield local


def admin(stack: LocalStack, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(
        method,
        f"{stack.gateway_url}{BASE}{path}",
        json=body,
        headers=ADMIN,
        timeout=(10, READ_TIMEOUT),
    )
    assert response.status_code < 300, (response.status_code, response.text)
    return response.json() if response.content else None


def linecrm(stack: LocalStack, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    exited = cli.main(["--api-url", stack.gateway_url, *args])
    captured = capsys.readouterr()
    assert exited == 0, captured.err
    return json.loads(captured.out)


def test_a_tap_on_a_menus_link_counts_once_per_friend_in_its_report(
    stack: LocalStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    table = stack.resources.table_names[MAIN_TABLE.logical_id]
    hanako, taro = seed_friends(stack.emulator, DEMO_CHANNEL_ID, table, 2)
    menus = tmp_path / "menus.yaml"
    menus.write_text(MENUS, encoding="utf-8")

    applied = linecrm(stack, capsys, "richmenus", "apply", "-f", str(menus))
    assert applied["status"] == "ready", applied
    (link,) = applied["links"]  # the shop link; the member card and the postback stay
    assert (link["menu"], link["area"], link["url"]) == ("main", 0, SHOP_URL)
    assert link["uri"].startswith(f"https://liff.line.me/{LIFF_ID}/click?t=")

    # What LINE shows the friend: the default menu, its first area the tracking URL.
    seen = requests.get(
        f"{stack.emulator_url}/_emulator/channels/{DEMO_CHANNEL_ID}/friends/{hanako}/richmenu",
        timeout=30,
    )
    assert seen.status_code == 200, seen.text
    actions = [area["action"] for area in seen.json()["areas"]]
    assert actions[0]["uri"] == link["uri"]
    assert actions[1]["uri"] == CARD_URL
    assert actions[2] == {
        "type": "postback",
        "data": "linecrm=1&tag.add=クーポン",
        "label": "クーポン",
    }
    assert token_of(actions[0]["uri"]) is not None

    # Re-applying the same file: the same tracking URL, no LINE call.
    calls = len(stack.emulator.calls())
    again = linecrm(stack, capsys, "richmenus", "apply", "-f", str(menus))
    assert again["action"] == "unchanged" and again["links"] == applied["links"]
    assert len(stack.emulator.calls()) == calls

    def tap(user_id: str) -> dict[str, Any]:
        return simulate_click(
            stack.gateway_url,
            stack.emulator_url,
            DEMO_CHANNEL_ID,
            actions[0]["uri"],
            user_id=user_id,
        )

    first = tap(hanako)
    assert first == {"identified": True, "user": hanako, "first": True, "url": SHOP_URL}
    report = admin(stack, "GET", "/reports/campaigns/richmenu:main")
    assert (report["kind"], report["name"]) == ("richmenu", "メインメニュー")
    assert (report["sent"], report["clicks"], report["unique_clicks"]) == (0, 1, 1)
    assert (report["ctr"], report["cvr"], report["block_rate"]) == (None, None, None)

    second = tap(hanako)  # the same friend again: a click, not a unique one
    assert (second["first"], second["url"]) == (False, SHOP_URL)
    report = admin(stack, "GET", "/reports/campaigns/richmenu:main")
    assert (report["clicks"], report["unique_clicks"]) == (2, 1)

    assert tap(taro)["first"] is True
    listed = admin(stack, "GET", "/reports/campaigns?kind=richmenu")
    assert [
        (c["campaign"], c["clicks"], c["unique_clicks"], c["ctr"]) for c in listed["campaigns"]
    ] == [("richmenu:main", 3, 2, None)]
    timeline = admin(stack, "GET", "/reports/timeline")
    today = timeline["days"][-1]
    assert (today["clicks"], today["unique_clicks"]) == (3, 2)
