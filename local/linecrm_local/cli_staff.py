"""``linecrm staff``: the console's staff users (owner only; docs/staff.md).

linecrm staff list                                  users, their role and status
linecrm staff add sato@shop.example --role operator   invite (Cognito emails them)
linecrm staff role sato@shop.example marketer        change their role
linecrm staff remove sato@shop.example               disable: no more sign-in
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import quote

from linecrm.admin.staff import Role
from linecrm_local.admin_cli import AdminApiClient, add_connection_options

COMMAND = "staff"
_ROLES = [role.value for role in Role]


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    leaf = argparse.ArgumentParser(add_help=False)
    add_connection_options(leaf, on_command=True)
    group = commands.add_parser(COMMAND, help="the console's staff users and their roles")
    actions = group.add_subparsers(dest="staff_action", required=True)
    actions.add_parser("list", help="staff users with their role", parents=[leaf])
    add = actions.add_parser("add", help="invite a staff user with a role", parents=[leaf])
    add.add_argument("email")
    add.add_argument("--role", choices=_ROLES, required=True)
    role = actions.add_parser("role", help="change a staff user's role", parents=[leaf])
    role.add_argument("email")
    role.add_argument("role", choices=_ROLES)
    remove = actions.add_parser("remove", help="disable a staff user", parents=[leaf])
    remove.add_argument("email")


def run(args: argparse.Namespace) -> Any:
    # The staff routes are outside any channel: the channel option is not needed.
    client = AdminApiClient(
        args.api_url, getattr(args, "channel", "") or "-", token=args.token, sigv4=bool(args.sigv4)
    )
    if args.staff_action == "list":
        return client.call("GET", "/admin/staff")
    if args.staff_action == "add":
        return client.call("POST", "/admin/staff", {"email": args.email, "role": args.role})
    path = f"/admin/staff/{quote(args.email, safe='@')}"
    if args.staff_action == "role":
        return client.call("PUT", path, {"role": args.role})
    client.call("DELETE", path)
    return {"email": args.email, "disabled": True}
