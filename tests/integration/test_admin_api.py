"""The admin API and the ``linecrm`` CLI on the local stack: the gateway's stand-in for
IAM auth, friends that arrived by webhook, and the CLI commands end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from linecrm_local import cli
from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID
from linecrm_local.stack import LocalStack

pytestmark = pytest.mark.integration

FRIENDS = f"/admin/channels/{DEMO_CHANNEL_ID}/friends"
ADMIN = {"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}

RULES_YAML = """\
rules:
  - rule_id: price
    name: Price question
    priority: 10
    match: {kind: keyword, mode: contains, patterns: ["料金", "price"]}
    actions:
      - type: reply
        messages: [{type: text, text: "料金はこちら"}]
      - type: add_tags
        tags: [price-asked]
  - rule_id: fallback
    name: Fallback
    match: {kind: default}
    actions:
      - type: reply
        messages: [{type: text, text: "担当者からご連絡します"}]
"""


def linecrm(stack: LocalStack, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    """Run the CLI in this process against the stack; its JSON output, parsed."""
    capsys.readouterr()
    status = cli.main(["--api-url", stack.gateway_url, *args])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return json.loads(captured.out)


def new_friend(stack: LocalStack, name: str) -> str:
    """A simulated friend follows; the webhook creates the friend row."""
    delivery = stack.emulator.simulate_follow(DEMO_CHANNEL_ID, display_name=name)
    deadline = time.monotonic() + 10
    url = f"{stack.gateway_url}{FRIENDS}/{delivery.user_id}"
    while time.monotonic() < deadline:
        if requests.get(url, headers=ADMIN, timeout=60).status_code == 200:
            return delivery.user_id
        time.sleep(0.05)
    raise AssertionError(f"friend {delivery.user_id} never appeared")


# ---------------------------------------------------------------- auth at the gateway
def test_no_token_is_401_and_a_wrong_one_403(local_stack: LocalStack) -> None:
    url = local_stack.gateway_url + FRIENDS
    missing = requests.get(url, timeout=60)
    assert missing.status_code == 401
    assert "Bearer" in missing.headers["WWW-Authenticate"]
    wrong = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=60)
    assert wrong.status_code == 403
    basic = requests.get(url, headers={"Authorization": "Basic YWRtaW4="}, timeout=60)
    assert basic.status_code == 403
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert requests.request(method, url, timeout=60).status_code == 401, method
    assert requests.get(url, headers=ADMIN, timeout=60).status_code == 200


def test_the_api_description_is_public(local_stack: LocalStack) -> None:
    document = requests.get(local_stack.gateway_url + "/admin/openapi.json", timeout=10)
    assert document.status_code == 200
    assert document.json()["info"]["title"] == "linecrm admin API"
    swagger = requests.get(local_stack.gateway_url + "/admin/swagger", timeout=10)
    assert swagger.status_code == 200
    assert swagger.headers["Content-Type"].startswith("text/html")


def test_a_friend_from_a_webhook_is_tagged_through_the_gateway(local_stack: LocalStack) -> None:
    user_id = new_friend(local_stack, "Hanako")
    base = local_stack.gateway_url + f"/admin/channels/{DEMO_CHANNEL_ID}"
    created = requests.post(base + "/tags", json={"name": "gateway-vip"}, headers=ADMIN, timeout=60)
    assert created.status_code == 201, created.text
    patched = requests.patch(
        f"{base}/friends/{user_id}", json={"add_tags": ["gateway-vip"]}, headers=ADMIN, timeout=5
    )
    assert patched.status_code == 200, patched.text
    assert [t["name"] for t in patched.json()["tags"]] == ["gateway-vip"]
    bad = requests.patch(
        f"{base}/friends/{user_id}", json={"add_tags": ["nope"]}, headers=ADMIN, timeout=5
    )
    assert (bad.status_code, bad.json()["field"]) == (422, "add_tags")
    assert local_stack.gateway.internal_errors == 0


# ---------------------------------------------------------------- the CLI
def test_cli_tags_friends_and_fields(
    local_stack: LocalStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    stack = local_stack
    user_id = new_friend(stack, "Taro")
    folder = linecrm(stack, capsys, "tags", "create-folder", "Members")
    tag = linecrm(stack, capsys, "tags", "create", "vip", "--folder", "Members")
    assert tag["folder_id"] == folder["folder_id"]
    linecrm(stack, capsys, "tags", "create", "trial")
    linecrm(stack, capsys, "fields", "create", "rank", "--type", "choice", "--choices", "a,gold")

    linecrm(stack, capsys, "friends", "tag", user_id, "--add", "trial")
    tagged = linecrm(stack, capsys, "friends", "tag", user_id, "--add", "vip", "--remove", "trial")
    assert [t["name"] for t in tagged["tags"]] == ["vip"]
    fielded = linecrm(stack, capsys, "friends", "set-field", user_id, "rank=gold")
    assert fielded["fields"] == {"rank": "gold"}

    page = linecrm(stack, capsys, "friends", "list", "--tag", "vip")
    assert [f["user_id"] for f in page["friends"]] == [user_id]
    everyone = linecrm(stack, capsys, "friends", "list", "--all", "--limit", "1")
    assert user_id in [f["user_id"] for f in everyone]

    renamed = linecrm(stack, capsys, "tags", "rename", "vip", "VIP")
    assert renamed["name"] == "VIP"
    shown = linecrm(stack, capsys, "friends", "show", user_id)
    assert [t["name"] for t in shown["tags"]] == ["VIP"]

    taken = linecrm(stack, capsys, "chat", "take", user_id, "--staff", "Sato")
    assert taken["chat_mode"]["staff"] == "Sato"
    assert linecrm(stack, capsys, "chat", "release", user_id)["chat_mode"] is None

    exported = tmp_path / "friend.json"
    linecrm(stack, capsys, "friends", "export", user_id, "-o", str(exported))
    assert json.loads(exported.read_text())["friend"]["user_id"] == user_id
    assert linecrm(stack, capsys, "friends", "delete", user_id, "--yes") == {"deleted": user_id}
    assert stack.gateway.internal_errors == 0


def test_cli_rules_apply_dry_run_then_apply_and_test(
    local_stack: LocalStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    stack = local_stack
    linecrm(stack, capsys, "tags", "create", "price-asked")
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(RULES_YAML, encoding="utf-8")

    dry = linecrm(stack, capsys, "rules", "apply", "-f", str(rules_file), "--dry-run")
    assert (dry["dry_run"], dry["added"]) == (True, ["fallback", "price"])
    assert linecrm(stack, capsys, "rules", "show") == {"rules": []}

    applied = linecrm(stack, capsys, "rules", "apply", "-f", str(rules_file))
    assert applied["added"] == ["fallback", "price"]
    again = linecrm(stack, capsys, "rules", "apply", "-f", str(rules_file), "--dry-run")
    assert (again["added"], again["changed"], again["unchanged"]) == ([], [], 2)

    # The same rules as JSON work too.
    import yaml

    json_file = tmp_path / "rules.json"
    json_file.write_text(json.dumps(yaml.safe_load(RULES_YAML)), encoding="utf-8")
    assert (
        linecrm(stack, capsys, "rules", "apply", "-f", str(json_file), "--dry-run")["unchanged"]
        == 2
    )

    answer = linecrm(stack, capsys, "rules", "test", "料金を教えて")
    assert (answer["rule_id"], answer["matched"]) == ("price", True)
    assert linecrm(stack, capsys, "rules", "test", "hello")["rule_id"] == "fallback"


def run_cli(stack: LocalStack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "linecrm_local.cli", "--api-url", stack.gateway_url, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "in_error"),
    [
        (("friends", "tag", "U" + "0" * 32, "--add", "no-such-tag"), "422"),
        (("friends", "show", "U" + "f" * 32), "404"),
        (("friends", "delete", "U" + "f" * 32), "--yes"),
        (("friends", "list", "--token", "wrong"), "403"),
        (("rules", "apply", "-f", "/no/such/rules.yaml"), "cannot read"),
        (("friends", "set-field", "U" + "0" * 32, "rank"), "KEY=VALUE"),
    ],
)
def test_cli_errors_are_one_line_with_exit_status_2(
    local_stack: LocalStack, args: tuple[str, ...], in_error: str
) -> None:
    result = run_cli(local_stack, *args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert in_error in result.stderr


def test_cli_with_bad_yaml_and_an_unreachable_api(local_stack: LocalStack, tmp_path: Path) -> None:
    broken = tmp_path / "rules.yaml"
    broken.write_text("rules: [unclosed\n")
    result = run_cli(local_stack, "rules", "apply", "-f", str(broken))
    assert (result.returncode, "not valid YAML" in result.stderr) == (2, True), result.stderr

    nowhere = subprocess.run(
        [
            sys.executable,
            "-m",
            "linecrm_local.cli",
            "--api-url",
            "http://127.0.0.1:9",
            "tags",
            "list",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert nowhere.returncode == 2
    assert "cannot reach the admin API" in nowhere.stderr
