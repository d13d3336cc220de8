"""``linecrm routes``: inflow routes (流入経路, docs/inflow-routes.md) from a terminal.

linecrm routes create qr_shop_a --name "渋谷店ポスター" --tag QR渋谷 --scenario qr-welcome \\
    --utm-source poster --utm-campaign open2026
linecrm routes list                       every route with its URL and report
linecrm routes show qr_shop_a             one route: URL, settings, report counters
linecrm routes qr qr_shop_a --format png -o shop_a.png   its QR code (png or svg)
linecrm routes delete qr_shop_a           its URL answers 404 from then on
linecrm routes visit qr_shop_a [--no-add-friend] [--user U…]   walk the URL like a phone
    would, through the emulator's LINE Login (local stack only)
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from linecrm_local.admin_cli import (
    TIMEOUT_SECONDS,
    AdminApiClient,
    AdminCliError,
    add_connection_options,
)

COMMAND = "routes"
UTM_NAMES = ("source", "medium", "campaign", "content", "term")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    leaf = argparse.ArgumentParser(add_help=False)
    add_connection_options(leaf, on_command=True)
    group = commands.add_parser(COMMAND, help="inflow routes: URLs and QR codes per ad or poster")
    actions = group.add_subparsers(dest="routes_action", required=True)
    create = actions.add_parser("create", help="create a route (a new short URL)", parents=[leaf])
    create.add_argument("route", help="route id: a-z, 0-9, _ and - (e.g. qr_shop_a)")
    create.add_argument("--name", required=True, help="what the route is, e.g. 渋谷店ポスター")
    create.add_argument("--tag", action="append", default=[], help="a tag to add (repeat for more)")
    create.add_argument("--scenario", help="a step scenario to start for each friend it brings")
    create.add_argument("--landing-url", help="https page after the friend add (UTM added)")
    for name in UTM_NAMES:
        create.add_argument(f"--utm-{name}", help=f"utm_{name}")
    actions.add_parser("list", help="every route with its URL and report", parents=[leaf])
    actions.add_parser("show", help="one route and its report", parents=[leaf]).add_argument(
        "route"
    )
    actions.add_parser("delete", help="delete a route", parents=[leaf]).add_argument("route")
    qr = actions.add_parser("qr", help="download a route's QR code", parents=[leaf])
    qr.add_argument("route")
    qr.add_argument("--format", choices=("png", "svg"), default="png")
    qr.add_argument("-o", "--output", required=True, help="the file to write")
    qr.add_argument("--scale", type=int, help="pixels (or SVG units) per module, 1-40")
    visit = actions.add_parser(
        "visit",
        help="open the route's URL as a phone would (the emulator's LINE Login)",
        parents=[leaf],
    )
    visit.add_argument("route")
    visit.add_argument("--user", help="the LINE user id who logs in (default: a new one)")
    visit.add_argument(
        "--no-add-friend",
        action="store_true",
        help="decline LINE's add-friend prompt (the callback then sends to the add-friend page)",
    )


def run(args: argparse.Namespace) -> Any:
    client = AdminApiClient(args.api_url, args.channel, token=args.token, sigv4=bool(args.sigv4))
    action = args.routes_action
    if action == "create":
        body: dict[str, Any] = {"route_id": args.route, "name": args.name, "tags": args.tag}
        if args.scenario:
            body["scenario"] = args.scenario
        if args.landing_url:
            body["landing_url"] = args.landing_url
        utm = {name: getattr(args, f"utm_{name}") for name in UTM_NAMES}
        body["utm"] = {name: value for name, value in utm.items() if value}
        return client.call("POST", "/routes", body)
    if action == "list":
        return client.call("GET", "/routes")
    path = f"/routes/{quote(args.route, safe='')}"
    if action == "show":
        return client.call("GET", path)
    if action == "delete":
        client.call("DELETE", path)
        return {"route_id": args.route, "deleted": True}
    if action == "visit":
        return _visit(client.call("GET", path), args)
    return _download_qr(client, path, args)


def _download_qr(client: AdminApiClient, path: str, args: argparse.Namespace) -> Any:
    url = f"{client.base_url}/admin/channels/{quote(client.channel_id, safe='')}{path}"
    params = {"scale": args.scale} if args.scale is not None else {}
    response = client.send(requests.Request("GET", f"{url}/qr.{args.format}", params=params))
    if response.status_code >= 400:
        client.call("GET", path)  # the same request's error, said in one line
        raise AdminCliError(f"the QR code was refused ({response.status_code})")
    output = Path(args.output)
    try:
        output.write_bytes(response.content)
    except OSError as error:
        raise AdminCliError(f"cannot write {output}: {error.strerror or error}") from None
    return {
        "route_id": args.route,
        "format": args.format,
        "file": str(output),
        "bytes": len(response.content),
    }


def _visit(route: dict[str, Any], args: argparse.Namespace) -> Any:
    """A browser's walk: the route's URL → LINE Login (the emulator's consent page) →
    our callback → wherever it sends the person. Works against the local emulator only:
    the real LINE Login needs a person."""
    browser = requests.Session()
    try:
        to_login = browser.get(route["url"], allow_redirects=False, timeout=TIMEOUT_SECONDS)
        authorize = to_login.headers.get("Location", "")
        if to_login.status_code != 302 or "/oauth2/v2.1/authorize?" not in authorize:
            raise AdminCliError(f"{route['url']} answered {to_login.status_code}, not LINE Login")
        consent = browser.get(authorize, timeout=TIMEOUT_SECONDS)
        found = re.search(r"name='request' value='([^']+)'", consent.text)
        if found is None:
            raise AdminCliError(
                "LINE Login's page is not the emulator's: `routes visit` works on the local "
                "stack only (open the URL on a phone instead)"
            )
        suggested = re.search(r"id='user-id' value='([^']+)'", consent.text)
        user_id = args.user or (suggested.group(1) if suggested else "")
        emulator = authorize.split("/oauth2/", 1)[0]
        back = browser.post(
            f"{emulator}/oauth2/v2.1/authorize/consent",
            data={
                "request": found.group(1),
                "user_id": user_id,
                "action": "allow" if args.no_add_friend else "allow_add",
            },
            allow_redirects=False,
            timeout=TIMEOUT_SECONDS,
        )
        if back.status_code != 302:
            raise AdminCliError(f"LINE Login refused: {back.text.strip()[:200]}")
        callback = browser.get(
            back.headers["Location"], allow_redirects=False, timeout=TIMEOUT_SECONDS
        )
    except requests.RequestException as error:
        raise AdminCliError(f"cannot walk {route['url']}: {error}") from None
    if callback.status_code >= 400:
        raise AdminCliError(f"the callback answered {callback.status_code}")
    return {
        "userId": user_id,
        "route_id": route["route_id"],
        "callback": callback.status_code,
        "next": callback.headers.get("Location", "thank-you page"),
    }
