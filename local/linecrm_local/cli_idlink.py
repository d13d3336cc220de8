"""``linecrm idlink``: ID linking (docs/id-linking.md) from a terminal.

linecrm idlink configure --login-url https://shop.example/login   the shop's login page
linecrm idlink show U…                   a friend's link (member id, consent, times)
linecrm idlink unlink U…                 end a friend's link (as staff)
linecrm idlink nonce --member M-1 --link-token=T   the shop's signed nonce request
linecrm simulate account-link --link-token=T --nonce=N [--failed]   (the emulator)

``nonce`` signs as the shop does, with the events API source and key (the local demo
source's unless told otherwise), so the whole flow can be walked through by hand.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any
from urllib.parse import quote

from linecrm_local import admin_cli
from linecrm_local.admin_cli import AdminApiClient, add_connection_options
from linecrm_local.cli_events import post_signed
from linecrm_local.demo import DEMO_EVENT_SOURCE, DEMO_EVENT_SOURCE_KEY

COMMAND = "idlink"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    leaf = argparse.ArgumentParser(add_help=False)
    add_connection_options(leaf, on_command=True)
    group = commands.add_parser(COMMAND, help="ID linking: settings, links, the shop's nonce")
    actions = group.add_subparsers(dest="idlink_action", required=True)
    configure = actions.add_parser(
        "configure", help="set the shop login page (and message) of link_account", parents=[leaf]
    )
    configure.add_argument("--login-url", required=True, help="https URL; ?linkToken=… is added")
    configure.add_argument("--text", help="the message text (at most 160 characters)")
    configure.add_argument("--button-label", help="the button label (at most 20 characters)")
    actions.add_parser("settings", help="the ID-linking setting", parents=[leaf])
    actions.add_parser("show", help="a friend's link", parents=[leaf]).add_argument("user")
    actions.add_parser("unlink", help="end a friend's link", parents=[leaf]).add_argument("user")
    nonce = actions.add_parser("nonce", help="ask for a nonce as the shop (signed)", parents=[leaf])
    nonce.add_argument("--member", required=True, help="the shop's member id")
    nonce.add_argument(
        "--link-token",
        required=True,
        help="from the login page's ?linkToken= (write --link-token=T: a token may start with -)",
    )
    nonce.add_argument(
        "--source", default=os.environ.get("LINECRM_EVENTS_SOURCE", DEMO_EVENT_SOURCE)
    )
    nonce.add_argument(
        "--signing-key", default=os.environ.get("LINECRM_EVENTS_KEY", DEMO_EVENT_SOURCE_KEY)
    )


def run(args: argparse.Namespace) -> Any:
    if args.idlink_action == "nonce":
        return _nonce(args)
    client = AdminApiClient(args.api_url, args.channel, token=args.token, sigv4=bool(args.sigv4))
    if args.idlink_action == "configure":
        body: dict[str, Any] = {"shop_login_url": args.login_url}
        if args.text:
            body["text"] = args.text
        if args.button_label:
            body["button_label"] = args.button_label
        return client.call("PUT", "/account-link", body)
    if args.idlink_action == "settings":
        return client.call("GET", "/account-link")
    if args.idlink_action == "show":
        return client.call("GET", f"/friends/{quote(args.user, safe='')}/link")
    client.call("DELETE", f"/friends/{quote(args.user, safe='')}/link")
    return {"user_id": args.user, "unlinked": True}


def _nonce(args: argparse.Namespace) -> Any:
    base_url = admin_cli.checked_base_url(args.api_url)
    body = json.dumps(
        {"member_id": args.member, "link_token": args.link_token}, ensure_ascii=False
    ).encode("utf-8")
    return post_signed(
        f"{base_url}/link/{quote(args.channel, safe='')}/nonce",
        body,
        source=args.source,
        signing_key=args.signing_key,
        api_name="link API",
    )
