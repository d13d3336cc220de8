"""Opens from LINE (docs/insight.md) in a terminal.

linecrm insight [--kind broadcast] [--campaign broadcast:B]   LINE's opens and clicks
    per campaign, as the hourly insight job last fetched them (the admin API)
linecrm simulate open U… --campaign broadcast:B     the campaign's latest message
linecrm simulate open U… --message <request id>     one send (LINE's x-line-request-id)
linecrm simulate open U… --campaign step:S:1 --click [URL]   and taps a URL in it
"""

from __future__ import annotations

import argparse
from typing import Any

from linecrm.domain.campaigns import is_campaign
from linecrm.domain.insight import aggregation_unit_for

COMMAND = "insight"
FIRST_URL = ""  # ``--click`` without a URL: the message's first URL


class OpenMistake(ValueError):
    """A mistake in the command line, to say in one line."""


def add_open_command(events: Any) -> None:
    """``open`` under ``linecrm simulate``."""
    opened = events.add_parser(
        "open",
        help="the friend opens a message they received (LINE's insight API counts it)",
    )
    opened.add_argument("friend", help="the friend's user id")
    which = opened.add_mutually_exclusive_group()
    which.add_argument("--campaign", help="the campaign's message, e.g. broadcast:<id>")
    which.add_argument(
        "--message", help="the message of one send: LINE's request id (x-line-request-id)"
    )
    opened.add_argument(
        "--click",
        metavar="URL",
        nargs="?",
        const=FIRST_URL,
        help="also tap a URL in the message (without URL: its first one)",
    )


def open_body(args: argparse.Namespace) -> dict[str, Any]:
    """The emulator's ``POST /_emulator/channels/<channel>/opens`` body."""
    body: dict[str, Any] = {"userId": args.friend}
    if args.campaign is not None:
        if not is_campaign(args.campaign):
            raise OpenMistake(
                f"--campaign {args.campaign!r} is no campaign key "
                "(broadcast:<id>, step:<scenario>:<step>, rule:<id>, welcome, chat)"
            )
        body["unit"] = aggregation_unit_for(args.campaign)
    if args.message is not None:
        body["requestId"] = args.message
    if args.click == FIRST_URL:
        body["click"] = True
    elif args.click is not None:
        body["url"] = args.click
    return body


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``linecrm insight``: the admin API's GET /admin/channels/<channel>/insight."""
    from linecrm_local.admin_cli import add_connection_options

    insight = commands.add_parser(
        COMMAND, help="LINE's opens and clicks per campaign (fetched hourly)"
    )
    add_connection_options(insight, on_command=True)
    insight.add_argument("--kind", choices=("broadcast", "step", "rule", "welcome", "chat"))
    insight.add_argument("--campaign", help="just this campaign, e.g. broadcast:<id>")
    insight.add_argument("--limit", type=int, help="at most this many campaigns (1-200)")


def run(args: argparse.Namespace) -> Any:
    from linecrm_local.admin_cli import AdminApiClient

    client = AdminApiClient(args.api_url, args.channel, token=args.token, sigv4=bool(args.sigv4))
    params = {"kind": args.kind, "campaign": args.campaign, "limit": args.limit}
    return client.call("GET", "/insight", params=params)
