"""``linecrm broadcast|deliveries|policy …``: broadcasts, the delivery ledger and the
delivery policy through the admin API (docs/broadcasts.md).

linecrm broadcast send -f sale.yaml --dry-run     who would get it, caps, a sample
linecrm broadcast send -f sale.yaml [--at 2026-12-01T10:00+09:00] [--wait]
linecrm broadcast list | show ID | cancel ID | wait ID
linecrm deliveries list --status dead [--cause broadcast] [--all]
linecrm deliveries show ID | redrive ID [--force] | redrive --all-dead [--cause …] [--limit N]
linecrm policy show | set -f policy.yaml           caps, quiet hours, time zone

Same connection options as the other admin commands (``--api-url``, ``--token``,
``--sigv4``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from linecrm_local.admin_cli import (
    AdminApiClient,
    AdminCliError,
    IncompleteResult,
    add_connection_options,
    load_document,
)

COMMANDS = ("broadcast", "deliveries", "policy")
POLL_SECONDS = 1.0
FINISHED = ("sent", "failed", "cancelled")
BROADCAST_KEYS = (
    "name",
    "messages",
    "segment",
    "message_class",
    "send_at",
    "method",
    "experiment",  # A/B variants and a holdout (docs/experiments.md)
)


# ---------------------------------------------------------------------- parser
def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    leaf = argparse.ArgumentParser(add_help=False)
    add_connection_options(leaf, on_command=True)

    def group(name: str, help_text: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        return commands.add_parser(name, help=help_text).add_subparsers(
            dest="action", required=True
        )

    def action(
        subcommands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
    ) -> argparse.ArgumentParser:
        return subcommands.add_parser(name, help=help_text, parents=[leaf])

    broadcast = group("broadcast", "broadcasts to every friend or a segment")
    send = action(broadcast, "send", "send a broadcast file (YAML or JSON) now or at a time")
    send.add_argument("-f", "--file", type=Path, required=True)
    send.add_argument("--at", help="send at this time (ISO 8601 with a zone, e.g. …T10:00+09:00)")
    send.add_argument(
        "--dry-run", action="store_true", help="recipients, caps, warnings, a sample; sends nothing"
    )
    send.add_argument("--wait", action="store_true", help="poll until it is sent")
    listing = action(broadcast, "list", "recent broadcasts, newest first")
    listing.add_argument("--limit", type=int, default=20, help="how many (1-100)")
    action(broadcast, "show", "a broadcast and its deliveries by status").add_argument("id")
    action(broadcast, "cancel", "cancel a scheduled or sending broadcast").add_argument("id")
    wait = action(broadcast, "wait", "poll until sent, failed or cancelled and nothing queued")
    wait.add_argument("id")
    wait.add_argument("--timeout", type=float, help="give up after this many seconds")

    deliveries = group("deliveries", "the delivery ledger: queued, sent, skipped, dead")
    dlist = action(deliveries, "list", "deliveries, newest first, a page at a time")
    dlist.add_argument("--status", choices=["queued", "sent", "skipped", "dead"])
    dlist.add_argument("--cause", help="e.g. broadcast, scenario, welcome")
    dlist.add_argument("--limit", type=int, default=50, help="page size (1-200)")
    dlist.add_argument("--cursor", help="next_cursor of a previous page")
    dlist.add_argument("--all", action="store_true", help="follow the cursor to the end")
    action(deliveries, "show", "one delivery").add_argument("id")
    redrive = action(deliveries, "redrive", "queue dead deliveries again (same retry key)")
    redrive.add_argument("id", nargs="?", help="a dead delivery's id")
    redrive.add_argument("--all-dead", action="store_true", help="every dead delivery")
    redrive.add_argument("--cause", help="with --all-dead: only this cause")
    redrive.add_argument("--limit", type=int, help="with --all-dead: at most this many (1-1000)")
    redrive.add_argument(
        "--force",
        action="store_true",
        help="also past LINE's 24 h retry-key window (a friend may get a second copy)",
    )

    policy = group("policy", "the delivery policy: frequency caps and quiet hours")
    action(policy, "show", "the channel's delivery policy")
    set_policy = action(policy, "set", "replace it with a YAML or JSON file")
    set_policy.add_argument("-f", "--file", type=Path, required=True)


# ---------------------------------------------------------------------- commands
def run(
    args: argparse.Namespace,
    *,
    client: AdminApiClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    client = client or AdminApiClient(
        args.api_url, args.channel, token=args.token, sigv4=bool(args.sigv4)
    )
    if (args.command, args.action) == ("broadcast", "wait"):
        return wait_for(client, args.id, timeout=args.timeout, sleep=sleep)
    if (args.command, args.action) == ("broadcast", "send") and args.wait and not args.dry_run:
        created = _send(client, args)
        return wait_for(client, created["broadcast_id"], sleep=sleep)
    if (args.command, args.action) == ("broadcast", "send") and args.dry_run:
        return preview_result(client, _send(client, args), sleep=sleep)
    return _HANDLERS[(args.command, args.action)](client, args)


def broadcast_request(path: Path, at: str | None = None) -> dict[str, Any]:
    """The request body from a broadcast file, ``--at`` overriding its ``send_at``."""
    document = load_document(path)
    if isinstance(document, dict) and isinstance(document.get("broadcast"), dict):
        document = document["broadcast"]
    if not isinstance(document, dict):
        raise AdminCliError(f"{path}: expected a mapping with name, messages and segment")
    unknown = sorted(set(document) - set(BROADCAST_KEYS))
    if unknown:
        raise AdminCliError(
            f"{path}: unknown key(s) {', '.join(map(str, unknown))} "
            f"(expected {', '.join(BROADCAST_KEYS)})"
        )
    if "messages" not in document:
        raise AdminCliError(f"{path}: no messages")
    if not isinstance(document["messages"], list):
        document = {**document, "messages": [document["messages"]]}
    if at is not None:
        document = {**document, "send_at": send_time(at)}
    elif document.get("send_at") is not None:
        document = {**document, "send_at": send_time(str(document["send_at"]))}
    return document


def send_time(text: str) -> str:
    """An ISO 8601 instant with its zone, as the API takes it."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise AdminCliError(
            f"--at {text!r} is not a time; use ISO 8601 such as 2026-12-01T10:00+09:00"
        ) from error
    if value.tzinfo is None:
        raise AdminCliError(f"--at {text!r} has no time zone; add one, e.g. +09:00 or Z")
    return value.isoformat()


def policy_document(path: Path) -> dict[str, Any]:
    """A delivery policy file: the policy itself or under ``delivery_policy:``."""
    document = load_document(path)
    if isinstance(document, dict) and "delivery_policy" in document:
        document = document["delivery_policy"]
    if not isinstance(document, dict):
        raise AdminCliError(
            f"{path}: expected a mapping (time_zone, marketing_caps, quiet_hours, when_capped)"
        )
    return document


def _send(client: AdminApiClient, args: argparse.Namespace) -> Any:
    body = broadcast_request(args.file, args.at)
    path = "/broadcasts/preview" if args.dry_run else "/broadcasts"
    return client.call("POST", path, body, idempotent=not args.dry_run)


def _id(args: argparse.Namespace) -> str:
    # Delivery ids look like ``bc:<broadcast>:<n>``; ``:`` is fine in a path segment.
    return quote(str(args.id), safe=":")


def _deliveries_list(client: AdminApiClient, args: argparse.Namespace) -> Any:
    params = {
        "status": args.status,
        "cause": args.cause,
        "limit": args.limit,
        "cursor": args.cursor,
    }
    if not args.all:
        return client.call("GET", "/deliveries", params=params)
    deliveries: list[Any] = []
    while True:
        page = client.call("GET", "/deliveries", params=params)
        deliveries.extend(page["deliveries"])
        if not page.get("next_cursor"):
            return deliveries
        params = {**params, "cursor": page["next_cursor"]}


def _redrive(client: AdminApiClient, args: argparse.Namespace) -> Any:
    if args.all_dead == (args.id is not None):
        raise AdminCliError("`deliveries redrive` needs a delivery id or --all-dead (not both)")
    if args.id is not None:
        if args.cause is not None or args.limit is not None:
            raise AdminCliError("--cause and --limit go with --all-dead")
        params = {"force": "true"} if args.force else None
        return client.call("POST", f"/deliveries/{_id(args)}/redrive", params=params)
    body: dict[str, Any] = {"cause": args.cause}
    if args.force:
        body["force"] = True
    if args.limit is not None:
        body["limit"] = args.limit
    return client.call("POST", "/deliveries/redrive-dead", body)


def wait_for(
    client: AdminApiClient,
    broadcast_id: str,
    *,
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Any:
    """Poll the report until the broadcast is finished and no chunk is queued; the report.

    A failed broadcast is an error (its reason in one line)."""
    path = f"/broadcasts/{quote(broadcast_id, safe='')}"
    deadline = None if timeout is None else monotonic() + timeout
    report = client.call("GET", path)
    while not settled(report):
        print(progress_line(report), file=sys.stderr)
        if deadline is not None and monotonic() >= deadline:
            raise AdminCliError(
                f"broadcast {broadcast_id} still {report['broadcast']['status']} "
                f"after {timeout:g} s"
            )
        sleep(POLL_SECONDS)
        report = client.call("GET", path)
    print(progress_line(report), file=sys.stderr)
    broadcast = report["broadcast"]
    if broadcast["status"] == "failed":
        raise AdminCliError(f"broadcast {broadcast_id} failed: {broadcast.get('reason')}")
    dead = report["deliveries"].get("dead", 0)
    if dead:
        raise IncompleteResult(
            f"broadcast {broadcast_id}: {dead} chunk(s) dead, their recipients got nothing — "
            "see `linecrm deliveries list --status dead --cause broadcast`, then "
            "`linecrm deliveries redrive ID`",
            report,
        )
    return report


def preview_result(
    client: AdminApiClient, answer: Any, *, sleep: Callable[[float], None] = time.sleep
) -> Any:
    """The preview; a big channel's runs as a job (202), polled here until it is done."""
    if not (isinstance(answer, dict) and "preview_id" in answer):
        return answer
    path = f"/broadcasts/previews/{quote(str(answer['preview_id']), safe='')}"
    while answer["status"] == "running":
        print(f"preview: {answer['friends_considered']:,} friends counted", file=sys.stderr)
        sleep(POLL_SECONDS)
        answer = client.call("GET", path)
    if answer["status"] == "failed":
        raise AdminCliError(f"preview failed: {answer.get('reason')}")
    return answer["result"]


def settled(report: Any) -> bool:
    return report["broadcast"]["status"] in FINISHED and not report["deliveries"].get("queued")


def progress_line(report: Any) -> str:
    broadcast = report["broadcast"]
    counters = broadcast.get("counters", {})
    chunks = ", ".join(f"{n} {status}" for status, n in sorted(report["deliveries"].items()))
    return (
        f"{broadcast['broadcast_id']} {broadcast['status']}: "
        f"{counters.get('recipients', 0)} recipients, {counters.get('capped', 0)} capped; "
        f"chunks: {chunks or ('none' if broadcast['status'] in FINISHED else 'none yet')}"
    )


def _get(path: str) -> Callable[[AdminApiClient, argparse.Namespace], Any]:
    """A GET of ``path``, whose ``{id}`` is the command's id argument."""
    return lambda client, args: client.call("GET", path.format(id=_id(args)))


_HANDLERS: dict[tuple[str, str], Callable[[AdminApiClient, argparse.Namespace], Any]] = {
    ("broadcast", "send"): _send,
    ("broadcast", "list"): lambda client, args: client.call(
        "GET", "/broadcasts", params={"limit": args.limit}
    ),
    ("broadcast", "show"): _get("/broadcasts/{id}"),
    ("broadcast", "cancel"): lambda client, args: client.call(
        "POST", f"/broadcasts/{_id(args)}/cancel"
    ),
    ("deliveries", "list"): _deliveries_list,
    ("deliveries", "show"): _get("/deliveries/{id}"),
    ("deliveries", "redrive"): _redrive,
    ("policy", "show"): lambda client, args: client.call("GET", "/delivery-policy"),
    ("policy", "set"): lambda client, args: client.call(
        "PUT", "/delivery-policy", policy_document(args.file)
    ),
}
