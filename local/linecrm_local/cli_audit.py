"""``linecrm audit``: the admin API's audit log (docs/staff.md#audit-log).

linecrm audit                      the channel's changes, newest first (a page)
linecrm audit --user U…            only the changes about one friend
linecrm audit --limit 100 --cursor C   the next page (``next_cursor`` of the last)
"""

from __future__ import annotations

import argparse
from typing import Any

from linecrm_local.admin_cli import AdminApiClient, add_connection_options

COMMAND = "audit"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser(COMMAND, help="the audit log: who changed what, and when")
    add_connection_options(audit, on_command=True)
    audit.add_argument("--user", help="only changes about this friend (a LINE user id)")
    audit.add_argument("--limit", type=int, default=50, help="entries per page (1..100)")
    audit.add_argument("--cursor", help="next_cursor of the previous page")


def run(args: argparse.Namespace) -> Any:
    client = AdminApiClient(args.api_url, args.channel, token=args.token, sigv4=bool(args.sigv4))
    return client.call(
        "GET",
        "/audit",
        params={"user_id": args.user, "limit": args.limit, "cursor": args.cursor},
    )
