"""The ``linecrm`` command: drive the local stack's LINE emulator from a terminal.

linecrm simulate follow [--name Hanako]      a new simulated friend adds the account
linecrm simulate text --user U… "hello"      that friend sends a message
linecrm inbox U…                             what that friend received
linecrm friends list --tag vip               the admin API (see linecrm_local.admin_cli)
linecrm broadcast send -f sale.yaml --dry-run  broadcasts (see linecrm_local.cli_broadcasts)
linecrm events send --name purchase --user U… --property sku=A1   a signed behaviour event
linecrm apply -f scenarios.yaml --dry-run    step scenarios (see linecrm_local.cli_scenarios)
linecrm richmenus apply -f menus.yaml        rich menus (see linecrm_local.cli_richmenus)
linecrm idlink configure --login-url https://…   ID linking (see linecrm_local.cli_idlink)
linecrm routes create qr_shop_a --name …    inflow routes, QR codes (linecrm_local.cli_routes)
linecrm simulate account-link --link-token=T --nonce=N   LINE's account-link dialog
linecrm simulate id-token --user U…          a LINE Login ID token for a LIFF page
linecrm simulate open U… --campaign broadcast:B [--click [URL]]   a friend opens it (cli_insight)
linecrm insight --campaign broadcast:B       LINE's opens and clicks (see linecrm_local.cli_insight)
linecrm simulate click --user U… URL         the friend taps a tracked link (docs/tracking.md)
linecrm shoplogin configure --base-url https://… --allow /mypage   auto-login (cli_shoplogin)
linecrm report campaigns|campaign <key>|funnel <id>|routes|timeline [--csv FILE]   reports
linecrm webtag keys create --origin https://shop.example   a web tag key (cli_webtag)
linecrm segments list|save -f vip.yaml|show|preview|delete   saved segments (cli_segments)
linecrm audit [--user U…]                    who changed what, when (see cli_audit)
linecrm staff list|add|role|remove           the console's staff users (see cli_staff)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import requests

from linecrm_local import (
    admin_cli,
    cli_audit,
    cli_broadcasts,
    cli_events,
    cli_idlink,
    cli_imports,
    cli_insight,
    cli_reports,
    cli_richmenus,
    cli_routes,
    cli_scenarios,
    cli_segments,
    cli_shoplogin,
    cli_staff,
    cli_webtag,
)
from linecrm_local.clicks import ClickFailed, simulate_click

DEFAULT_EMULATOR_URL = "http://127.0.0.1:8090"
DEFAULT_CHANNEL_ID = "2000000001"  # the demo channel `make dev` seeds
TIMEOUT_SECONDS = 30


class CliError(Exception):
    """A problem to tell the user in one line (exit status 2)."""


class EmulatorControl:
    """The emulator's control API (``/_emulator/…``)."""

    def __init__(self, base_url: str) -> None:
        try:
            self.base_url = admin_cli.checked_base_url(base_url, option="--emulator")
        except admin_cli.AdminCliError as error:
            raise CliError(str(error)) from error

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = f"{self.base_url}/_emulator{path}"
        try:
            response = requests.request(method, url, json=body, timeout=TIMEOUT_SECONDS)
        except requests.ConnectionError as error:
            raise CliError(
                f"cannot reach the LINE emulator at {self.base_url} — is `make dev` running? "
                "(set LINECRM_EMULATOR_URL if it runs elsewhere)"
            ) from error
        except requests.Timeout as error:
            raise CliError(f"the LINE emulator at {self.base_url} did not answer") from error
        except requests.RequestException as error:
            raise CliError(f"cannot call the LINE emulator at {self.base_url}: {error}") from error
        try:
            payload = response.json()
        except ValueError:
            payload = {"message": response.text}
        if response.status_code >= 400:
            message = payload.get("message") if isinstance(payload, dict) else payload
            raise CliError(f"emulator answered {response.status_code}: {message}")
        return payload


def _print(payload: Any) -> None:
    if isinstance(payload, cli_reports.Printed):
        print(payload)
        return
    print(json.dumps(payload, ensure_ascii=False, indent=2))


def _simulate(control: EmulatorControl, args: argparse.Namespace) -> Any:
    if args.event == "account-link":
        return control.call(
            "POST",
            "/account-link",
            {
                "linkToken": args.link_token,
                "nonce": args.nonce,
                "result": "failed" if args.failed else "ok",
            },
        )
    if args.event == "id-token":
        token = control.call("POST", f"/channels/{args.channel}/id-token", {"userId": args.user})
        api_url = admin_cli.checked_base_url(args.api_url).rstrip("/")
        return {
            **token,
            # The LIFF member card with this token (the local stack's liff-mock: docs/liff.md).
            "memberCardUrl": f"{api_url}/liff/{args.channel}/card?mockIdToken={token['idToken']}",
        }
    if args.event == "open":
        try:
            opened = cli_insight.open_body(args)
        except cli_insight.OpenMistake as mistake:
            raise CliError(str(mistake)) from mistake
        return control.call("POST", f"/channels/{args.channel}/opens", opened)
    if args.event == "click":
        if (args.user is None) == (not args.anonymous):
            raise CliError("`simulate click` needs --user U… (a friend in LINE) or --anonymous")
        try:
            return simulate_click(
                admin_cli.checked_base_url(args.api_url),
                control.base_url,
                args.channel,
                args.url,
                user_id=args.user,
                **({"user_agent": args.user_agent} if args.user_agent else {}),
            )
        except ClickFailed as error:
            raise CliError(str(error)) from error
    body: dict[str, Any] = {"type": args.event}
    if args.user:
        body["userId"] = args.user
    elif args.event != "follow":
        raise CliError(f"`simulate {args.event}` needs --user (the friend's user id)")
    if args.name:
        body["displayName"] = args.name
    if args.event == "text":
        if not args.payload:
            raise CliError(
                '`simulate text` needs the message text, e.g. linecrm simulate text "hi"'
            )
        body["text"] = args.payload
    if args.event == "postback":
        if not args.payload:
            raise CliError("`simulate postback` needs the postback data")
        body["data"] = args.payload
    return control.call("POST", f"/channels/{args.channel}/simulate", body)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="linecrm", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--emulator",
        default=os.environ.get("LINECRM_EMULATOR_URL", DEFAULT_EMULATOR_URL),
        help="LINE emulator URL (env LINECRM_EMULATOR_URL; default %(default)s)",
    )
    parser.add_argument(
        "--channel",
        default=os.environ.get("LINECRM_CHANNEL_ID", DEFAULT_CHANNEL_ID),
        help="LINE channel id (env LINECRM_CHANNEL_ID; default the demo channel)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    simulate = commands.add_parser("simulate", help="send a signed webhook as a simulated friend")
    # One subcommand per event, so the text may come before or after --user
    # (``simulate text --user U… "hello"``: an optional positional would not take it).
    events = simulate.add_subparsers(dest="event", required=True)
    for event, payload_help in (
        ("follow", None),
        ("unfollow", None),
        ("text", "the message text"),
        ("postback", "the postback data, e.g. action=buy"),
    ):
        parser_for_event = events.add_parser(event, help=f"a {event} event")
        if payload_help is None:
            parser_for_event.set_defaults(payload=None)
        else:
            parser_for_event.add_argument("payload", help=payload_help)
        parser_for_event.add_argument(
            "--user", help="the friend's user id (follow: omit for a new friend)"
        )
        parser_for_event.add_argument("--name", help="display name of a new friend")
    account_link = events.add_parser(
        "account-link",
        help="the friend opens LINE's account-link URL: the accountLink event (ID linking)",
    )
    account_link.add_argument("--link-token", required=True, help="the token linecrm issued")
    account_link.add_argument("--nonce", required=True, help="the nonce the shop got")
    account_link.add_argument(
        "--failed", action="store_true", help="the friend's check fails: result failed"
    )

    id_token = events.add_parser(
        "id-token",
        help="the friend logs in with LINE: an ID token for the LIFF pages and /liff/… calls",
    )
    id_token.add_argument("--user", required=True, help="the friend's user id")
    id_token.add_argument(
        "--api-url",
        default=os.environ.get("LINECRM_API_URL", admin_cli.DEFAULT_API_URL),
        help="the local gateway, for the card URL (env LINECRM_API_URL)",
    )

    cli_insight.add_open_command(events)
    click = events.add_parser(
        "click",
        help="the friend taps a tracked link: LINE and the LIFF click page (docs/tracking.md)",
    )
    click.add_argument("url", help="the tracking URL, as in the friend's inbox")
    click.add_argument("--user", help="the friend's user id (tapped in LINE)")
    click.add_argument(
        "--anonymous", action="store_true", help="opened outside LINE: GET /t/<token>"
    )
    click.add_argument("--user-agent", help="e.g. a link-preview fetcher's (not counted)")
    click.add_argument(
        "--api-url",
        default=os.environ.get("LINECRM_API_URL", admin_cli.DEFAULT_API_URL),
        help="the local gateway (env LINECRM_API_URL)",
    )

    inbox = commands.add_parser("inbox", help="messages a simulated friend received")
    inbox.add_argument("user")

    commands.add_parser("simulated-friends", help="the emulator's simulated friends")
    admin_cli.add_commands(commands, parser)
    cli_imports.add_commands(commands)
    cli_broadcasts.add_commands(commands)
    cli_events.add_commands(commands)
    cli_scenarios.add_commands(commands)
    cli_richmenus.add_commands(commands)
    cli_idlink.add_commands(commands)
    cli_shoplogin.add_commands(commands)
    cli_routes.add_commands(commands)
    cli_reports.add_commands(commands)
    cli_insight.add_commands(commands)
    cli_webtag.add_commands(commands)
    cli_segments.add_commands(commands)
    cli_audit.add_commands(commands)
    cli_staff.add_commands(commands)

    calls = commands.add_parser("calls", help="LINE API calls the emulator received")
    calls.add_argument("--endpoint", help="e.g. push, multicast, reply")

    faults = commands.add_parser("faults", help="inject LINE API failures")
    fault_commands = faults.add_subparsers(dest="fault_command", required=True)
    set_faults = fault_commands.add_parser("set")
    set_faults.add_argument("--endpoint", default="*", help='endpoint key or "*"')
    for name in ("error-500", "error-500-after-delivery", "error-429", "timeout"):
        set_faults.add_argument(f"--{name}", type=float, default=0.0, help="probability 0..1")
    set_faults.add_argument("--delay-seconds", type=float, default=0.0)
    fault_commands.add_parser("clear")
    return parser


def run(args: argparse.Namespace) -> Any:
    if args.command in admin_cli.COMMANDS:
        return admin_cli.run(args)
    if args.command == cli_imports.COMMAND:
        return cli_imports.run(args)
    if args.command in cli_broadcasts.COMMANDS:
        return cli_broadcasts.run(args)
    if args.command == cli_events.COMMAND:
        return cli_events.run(args)
    if args.command in cli_scenarios.COMMANDS:
        return cli_scenarios.run(args)
    if args.command == cli_richmenus.COMMAND:
        return cli_richmenus.run(args)
    if args.command == cli_idlink.COMMAND:
        return cli_idlink.run(args)
    if args.command == cli_shoplogin.COMMAND:
        return cli_shoplogin.run(args)
    if args.command == cli_routes.COMMAND:
        return cli_routes.run(args)
    if args.command == cli_reports.COMMAND:
        return cli_reports.run(args)
    if args.command == cli_insight.COMMAND:
        return cli_insight.run(args)
    if args.command == cli_webtag.COMMAND:
        return cli_webtag.run(args)
    if args.command == cli_segments.COMMAND:
        return cli_segments.run(args)
    if args.command == cli_audit.COMMAND:
        return cli_audit.run(args)
    if args.command == cli_staff.COMMAND:
        return cli_staff.run(args)
    control = EmulatorControl(args.emulator)
    if args.command == "simulate":
        return _simulate(control, args)
    if args.command == "inbox":
        return control.call("GET", f"/inbox/{args.user}")
    if args.command == "simulated-friends":
        return control.call("GET", f"/channels/{args.channel}/friends")
    if args.command == "calls":
        suffix = f"?endpoint={args.endpoint}" if args.endpoint else ""
        return control.call("GET", f"/calls{suffix}")
    if args.fault_command == "clear":
        return control.call("DELETE", "/faults")
    for name in ("error_500", "error_500_after_delivery", "error_429", "timeout"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            raise CliError(f"--{name.replace('_', '-')} is a probability between 0 and 1")
    return control.call(
        "PUT",
        "/faults",
        {
            "endpoint": args.endpoint,
            "error_500": args.error_500,
            "error_500_after_delivery": args.error_500_after_delivery,
            "error_429": args.error_429,
            "timeout": args.timeout,
            "delay_seconds": args.delay_seconds,
        },
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        try:
            _print(run(args))
        except admin_cli.IncompleteResult as incomplete:
            _print(incomplete.result)
            print(f"linecrm: {incomplete}", file=sys.stderr)
            return 1
        except (CliError, admin_cli.AdminCliError) as error:
            print(f"linecrm: {error}", file=sys.stderr)
            return 2
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (e.g. `| head`) left: not an error of ours. Point stdout at devnull
        # so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
