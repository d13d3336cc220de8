"""``linecrm shoplogin``: auto-login into the shop (docs/auto-login.md) from a terminal.

linecrm shoplogin configure --base-url https://shop.example --allow /mypage --allow /cart/
linecrm shoplogin show                   the channel's setting
linecrm shoplogin off                    turn auto-login off for the channel
linecrm shoplogin keys                   the signing keys' ids (never private keys)
linecrm shoplogin rotate-keys            a new signing key (old URLs stay valid)
linecrm shoplogin mint --user U… --target /mypage   a login URL (local: the emulator's ID token)
linecrm shoplogin consume TOKEN          the shop's signed consume call (spends the token)

``consume`` signs as the shop does, with the events API source and key (the local demo
source's unless told otherwise); ``mint`` asks the LINE emulator for the friend's ID
token and calls ``/liff/shop-login`` as the LIFF page does.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any
from urllib.parse import quote

import requests

from linecrm_local import admin_cli
from linecrm_local.admin_cli import AdminApiClient, AdminCliError, add_connection_options
from linecrm_local.cli_events import post_signed
from linecrm_local.demo import DEMO_EVENT_SOURCE, DEMO_EVENT_SOURCE_KEY

COMMAND = "shoplogin"
TIMEOUT_SECONDS = 30


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    leaf = argparse.ArgumentParser(add_help=False)
    add_connection_options(leaf, on_command=True)
    group = commands.add_parser(
        COMMAND, help="auto-login into the shop: setting, signing keys, tokens"
    )
    actions = group.add_subparsers(dest="shoplogin_action", required=True)
    configure = actions.add_parser(
        "configure", help="set the shop's base URL and the allowed target paths", parents=[leaf]
    )
    configure.add_argument("--base-url", required=True, help="https URL of the shop")
    configure.add_argument(
        "--allow",
        action="append",
        required=True,
        metavar="PATH",
        help="an allowed target: an exact path (/mypage) or a prefix ending in / (/cart/); "
        "repeat for more",
    )
    configure.add_argument(
        "--login-path", help="the shop's page that verifies the token (default /auto-login)"
    )
    actions.add_parser("show", help="the channel's auto-login setting", parents=[leaf])
    actions.add_parser("off", help="turn auto-login off for the channel", parents=[leaf])
    actions.add_parser("keys", help="the signing keys (ids and times)", parents=[leaf])
    actions.add_parser("rotate-keys", help="add a signing key and make it active", parents=[leaf])
    mint = actions.add_parser(
        "mint",
        help="a login URL for a linked friend (local stack: emulator ID token)",
        parents=[leaf],
    )
    mint.add_argument("--user", required=True, help="the friend's LINE user id")
    mint.add_argument("--target", required=True, help="the shop path to land on, e.g. /mypage")
    consume = actions.add_parser(
        "consume", help="consume a login token as the shop (signed)", parents=[leaf]
    )
    consume.add_argument("token", help="the ?token= of the login URL")
    consume.add_argument(
        "--source", default=os.environ.get("LINECRM_EVENTS_SOURCE", DEMO_EVENT_SOURCE)
    )
    consume.add_argument(
        "--signing-key", default=os.environ.get("LINECRM_EVENTS_KEY", DEMO_EVENT_SOURCE_KEY)
    )


def run(args: argparse.Namespace) -> Any:
    action = args.shoplogin_action
    if action == "consume":
        base_url = admin_cli.checked_base_url(args.api_url)
        raw = json.dumps({"token": args.token.strip()}).encode("utf-8")
        return post_signed(
            f"{base_url}/login/{quote(args.channel, safe='')}/consume",
            raw,
            source=args.source,
            signing_key=args.signing_key,
            api_name="login API",
        )
    if action == "mint":
        return _mint(args)
    client = AdminApiClient(args.api_url, args.channel, token=args.token, sigv4=bool(args.sigv4))
    if action == "configure":
        body: dict[str, Any] = {"base_url": args.base_url, "allow": args.allow}
        if args.login_path:
            body["login_path"] = args.login_path
        return client.call("PUT", "/shop-login", body)
    if action == "show":
        return client.call("GET", "/shop-login")
    if action == "off":
        client.call("DELETE", "/shop-login")
        return {"channel_id": args.channel, "shop_login": None}
    if action == "keys":
        return client.call("GET", "/admin/login-keys")
    return client.call("POST", "/admin/login-keys/rotate")


def _mint(args: argparse.Namespace) -> Any:
    emulator = admin_cli.checked_base_url(args.emulator, option="--emulator")
    base_url = admin_cli.checked_base_url(args.api_url)
    id_token = _post(
        f"{emulator}/_emulator/channels/{quote(args.channel, safe='')}/id-token",
        {"userId": args.user},
        "the LINE emulator",
    )["idToken"]
    return _post(
        f"{base_url}/liff/shop-login",
        {"channelId": args.channel, "idToken": id_token, "target": args.target},
        "/liff/shop-login",
    )


def _post(url: str, body: dict[str, Any], name: str) -> Any:
    try:
        response = requests.post(url, json=body, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as error:
        raise AdminCliError(f"cannot reach {name} at {url} — is `make dev` running?") from error
    try:
        answer = response.json()
    except ValueError:
        answer = {"message": response.text.strip()[:300]}
    if response.status_code >= 400:
        message = answer.get("message") if isinstance(answer, dict) else answer
        raise AdminCliError(f"{name} answered {response.status_code}: {message}")
    return answer
