"""``linecrm webtag``: the web tag's public keys (docs/web-tag.md) from a terminal.

linecrm webtag keys create --origin https://shop.example [--origin https://www.shop.example]
    [--label "本店"] [--rate 600] [--visitor-rate 60]   a new key and the snippet to embed
linecrm webtag keys list                  the channel's keys with their origins
linecrm webtag keys revoke pk_…           requests with it answer 401 from then on
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import quote

from linecrm_local.admin_cli import AdminApiClient, add_connection_options

COMMAND = "webtag"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    leaf = argparse.ArgumentParser(add_help=False)
    add_connection_options(leaf, on_command=True)
    group = commands.add_parser(COMMAND, help="the web tag for the shop's site: its keys")
    subjects = group.add_subparsers(dest="webtag_subject", required=True)
    keys = subjects.add_parser("keys", help="public web tag keys and their allowed origins")
    actions = keys.add_subparsers(dest="webtag_action", required=True)
    create = actions.add_parser("create", help="create a key (prints the snippet)", parents=[leaf])
    create.add_argument(
        "--origin",
        action="append",
        required=True,
        help="an origin whose pages may send, e.g. https://shop.example (repeat for more)",
    )
    create.add_argument("--label", default="", help="what the key is for")
    create.add_argument("--rate", type=int, help="requests per minute for the key (default 600)")
    create.add_argument(
        "--visitor-rate", type=int, help="requests per minute per visitor (default 60)"
    )
    actions.add_parser("list", help="the channel's keys", parents=[leaf])
    actions.add_parser("revoke", help="revoke a key", parents=[leaf]).add_argument("key")


def run(args: argparse.Namespace) -> Any:
    client = AdminApiClient(args.api_url, args.channel, token=args.token, sigv4=bool(args.sigv4))
    if args.webtag_action == "create":
        body: dict[str, Any] = {"origins": args.origin, "label": args.label}
        if args.rate is not None:
            body["rate_per_minute"] = args.rate
        if args.visitor_rate is not None:
            body["visitor_rate_per_minute"] = args.visitor_rate
        return client.call("POST", "/web-tag/keys", body)
    if args.webtag_action == "list":
        return client.call("GET", "/web-tag/keys")
    client.call("DELETE", f"/web-tag/keys/{quote(args.key, safe='')}")
    return {"key": args.key, "revoked": True}
