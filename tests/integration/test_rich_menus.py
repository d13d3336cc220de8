"""Rich menus through the local stack: ``linecrm richmenus apply -f`` → admin API →
job queue → jobs function → the LINE emulator (menus, images on the data-API host,
aliases, default); a tag added by a postback switches the friend's menu with one LINE
call, an unchanged outcome with none; a rule change relinks 1,200 friends in
⌈1,200 / 500⌉ bulk calls; an ID link (and the shop's unlink) switches the menu. Every
AWS call is checked against the function's role."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from linecrm.resources import MAIN_TABLE, Env
from linecrm_local import cli
from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID
from linecrm_local.emulator import config as keys
from linecrm_local.seed import seed_friends
from linecrm_local.stack import LocalStack
from tests.integration.test_id_linking import LOGIN_URL, shop, tap_link_button

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ADMIN = {"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}
BASE = f"/admin/channels/{DEMO_CHANNEL_ID}"
FRIENDS = 1_200
MENUS = """\
menus:
  - id: main
    name: メイン
    size: compact
    chat_bar_text: メニュー
    areas:
      - bounds: {x: 0, y: 0, width: 1250, height: 843}
        label: 会員特典
        action: {type: richmenuswitch, to: vip}
      - bounds: {x: 1250, y: 0, width: 1250, height: 843}
        label: ショップへ
        action: {type: uri, uri: "https://shop.example/"}
  - id: vip
    name: VIP
    size: compact
    areas:
      - bounds: {x: 0, y: 0, width: 2500, height: 843}
        label: VIP限定セール
        action: {type: postback, data: "linecrm=1&tag.add=セール"}
default: main
rules:
  - menu: vip
    segment:
      match: %s
"""


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # One page of 1,000 friends per job step: the relink takes two steps.
    with LocalStack(
        visibility_timeout_seconds=60,
        poll_interval_seconds=0.02,
        scheduler_tick_seconds=3600,
        settings={Env.IMPORT_CHUNKS_PER_STEP: "1"},
    ) as local:
        # Before any webhook: warm functions keep a channel's settings cached a while.
        admin(local, "PUT", "/account-link", {"shop_login_url": LOGIN_URL})
        yield local


def admin(stack: LocalStack, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(
        method, f"{stack.gateway_url}{BASE}{path}", json=body, headers=ADMIN, timeout=120
    )
    assert response.status_code < 300, (response.status_code, response.text)
    return response.json()


def linecrm(stack: LocalStack, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    exited = cli.main(["--api-url", stack.gateway_url, *args])
    captured = capsys.readouterr()
    assert exited == 0, captured.err
    return json.loads(captured.out)


def line_calls(stack: LocalStack, endpoint: str, method: str = "POST") -> int:
    return sum(1 for call in stack.emulator.calls(endpoint) if call.method == method)


def test_menus_apply_follow_tags_and_a_rule_change_relinks_in_bulk(
    stack: LocalStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    admin(stack, "POST", "/tags", {"name": "VIP"})
    admin(stack, "POST", "/tags", {"name": "セール"})
    table = stack.resources.table_names[MAIN_TABLE.logical_id]
    seeded = seed_friends(stack.emulator, DEMO_CHANNEL_ID, table, FRIENDS)
    menus = tmp_path / "menus.yaml"
    menus.write_text(MENUS % "{tag: VIP}", encoding="utf-8")

    applied = linecrm(stack, capsys, "richmenus", "apply", "-f", str(menus))
    assert applied["status"] == "ready", applied
    ids = {menu["id"]: menu["rich_menu_id"] for menu in applied["menus"]}
    state = stack.emulator.state
    assert state.rich_menu_aliases[DEMO_CHANNEL_ID] == {"main": ids["main"], "vip": ids["vip"]}
    assert state.default_rich_menu[DEMO_CHANNEL_ID] == ids["main"]
    assert state.rich_menus[ids["vip"]].image_content_type == "image/png"
    assert line_calls(stack, keys.RICHMENU_BULK_LINK) == 0  # nobody is VIP yet

    # Re-applying the same file: unchanged, not a single LINE call.
    before = len(stack.emulator.calls())
    again = linecrm(stack, capsys, "richmenus", "apply", "-f", str(menus))
    assert again["action"] == "unchanged"
    assert len(stack.emulator.calls()) == before

    # A friend taps a postback that adds VIP: one link call, to the VIP menu.
    fan = stack.emulator.simulate_follow(DEMO_CHANNEL_ID, display_name="Fan").user_id
    stack.poller.drain(timeout=60)
    links = line_calls(stack, keys.RICHMENU_LINK)
    stack.emulator.simulate_postback(DEMO_CHANNEL_ID, fan, "linecrm=1&tag.add=VIP")
    stack.poller.drain(timeout=60)
    assert line_calls(stack, keys.RICHMENU_LINK) == links + 1
    assert state.friend(DEMO_CHANNEL_ID, fan).linked_rich_menu_id == ids["vip"]  # type: ignore[union-attr]
    # A tag no rule mentions, and VIP again: no call.
    stack.emulator.simulate_postback(DEMO_CHANNEL_ID, fan, "linecrm=1&tag.add=セール")
    stack.emulator.simulate_postback(DEMO_CHANNEL_ID, fan, "linecrm=1&tag.add=VIP")
    stack.poller.drain(timeout=60)
    assert line_calls(stack, keys.RICHMENU_LINK) == links + 1

    # The rule now takes every active friend: 1,200 move, in ⌈1,200 / 500⌉ bulk calls.
    menus.write_text(MENUS % "{status: active}", encoding="utf-8")
    changed = linecrm(stack, capsys, "richmenus", "apply", "-f", str(menus))
    assert changed["status"] == "ready", changed
    assert changed["counts"]["linked"] == FRIENDS
    assert line_calls(stack, keys.RICHMENU_BULK_LINK) == math.ceil(FRIENDS / 500) == 3
    assert {state.friend(DEMO_CHANNEL_ID, u).linked_rich_menu_id for u in seeded} == {  # type: ignore[union-attr]
        ids["vip"]
    }
    assert stack.functions.error_count("jobs") == 0
    assert stack.gateway.internal_errors == 0


def test_linking_a_friend_switches_the_menu_and_unlinking_switches_it_back(
    stack: LocalStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A `linked: true` rule: the account link (accountLink webhook) moves the friend to
    the member menu with one LINE call; the shop's unlink moves them back."""
    menus = tmp_path / "menus.yaml"
    menus.write_text(MENUS % "{linked: true}", encoding="utf-8")
    applied = linecrm(stack, capsys, "richmenus", "apply", "-f", str(menus))
    assert applied["status"] == "ready", applied
    ids = {menu["id"]: menu["rich_menu_id"] for menu in applied["menus"]}
    state = stack.emulator.state
    # The webhook's warm environment reads channel settings (the new rules) again after
    # its cache's 30 s, as on AWS.
    stack.clock.advance(timedelta(seconds=31))
    member = stack.emulator.simulate_follow(DEMO_CHANNEL_ID, display_name="会員").user_id
    stack.poller.drain(timeout=60)
    assert state.friend(DEMO_CHANNEL_ID, member).linked_rich_menu_id is None  # type: ignore[union-attr]

    client = shop(stack)
    stack.poller.drain(timeout=120)  # the relink of the first test's 1,200 is done
    token = tap_link_button(stack, member)
    nonce = client.request_nonce("M-5005", token)
    links = line_calls(stack, keys.RICHMENU_LINK)
    assert requests.get(client.account_link_url(token, nonce.nonce), timeout=120).ok
    stack.poller.drain(timeout=60)
    assert line_calls(stack, keys.RICHMENU_LINK) == links + 1
    assert state.friend(DEMO_CHANNEL_ID, member).linked_rich_menu_id == ids["vip"]  # type: ignore[union-attr]

    client.unlink("M-5005")
    stack.poller.drain(timeout=60)
    assert state.friend(DEMO_CHANNEL_ID, member).linked_rich_menu_id is None  # type: ignore[union-attr]
    assert stack.gateway.internal_errors == 0
