"""``linecrm routes``: inflow routes (流入経路, docs/inflow-routes.md) from a terminal.

linecrm routes create qr_shop_a --name "渋谷店ポスター" --tag QR渋谷 --scenario qr-welcome \\
    --utm-source poster --utm-campaign open2026
linecrm routes list                       every route with its URL and report
linecrm routes show qr_shop_a             one route: URL, settings, report counters
linecrm routes qr qr_shop_a --format png -o shop_a.png   its QR code (png or svg)
linecrm routes delete qr_shop_a           its URL answers 404 from then on
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from linecrm_local.admin_cli import AdminApiClient, AdminCliError, add_connection_options

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
