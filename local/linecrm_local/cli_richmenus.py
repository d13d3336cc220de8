"""``linecrm richmenus``: rich menus as config, through the admin API.

linecrm richmenus apply -f menus.yaml [--dry-run] [--no-wait]   validate (file:line), diff,
                                                               apply; waits for the sync
linecrm richmenus show                                          the set and the sync's progress

A menus file holds ``menus: [...]``, ``default:`` and ``rules: [...]``
(docs/rich-menus.md). A menu's ``image:`` is a PNG or JPEG path, relative to the file;
a menu without one gets an image drawn from its areas' labels. Each error names the
file, the line and the field; nothing is applied when any part of the file is invalid.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from linecrm_local.admin_cli import (
    AdminApiClient,
    AdminCliError,
    IncompleteResult,
    add_connection_options,
)
from linecrm_local.cli_scenarios import load_with_lines, located, put_document

COMMAND = "richmenus"
POLL_SECONDS = 1.0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    leaf = argparse.ArgumentParser(add_help=False)
    add_connection_options(leaf, on_command=True)
    richmenus = commands.add_parser("richmenus", help="rich menus as config (リッチメニュー)")
    actions = richmenus.add_subparsers(dest="action", required=True)
    apply = actions.add_parser(
        "apply", help="apply menus, images and assignment rules from a YAML file", parents=[leaf]
    )
    apply.add_argument("-f", "--file", type=Path, required=True)
    apply.add_argument(
        "--dry-run", action="store_true", help="validate and print the diff; apply nothing"
    )
    apply.add_argument(
        "--no-wait", action="store_true", help="return once applied; the sync job goes on"
    )
    apply.add_argument("--timeout", type=float, help="stop waiting after this many seconds")
    actions.add_parser("show", help="the applied set and the sync's progress", parents=[leaf])


def run(
    args: argparse.Namespace,
    *,
    client: AdminApiClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    client = client or AdminApiClient(
        args.api_url, args.channel, token=args.token, sigv4=bool(args.sigv4)
    )
    if args.action == "show":
        return client.call("GET", "/richmenus")
    state = apply_file(client, args.file, dry_run=args.dry_run)
    if args.dry_run or args.no_wait or state.get("status") != "syncing":
        return state
    return wait_for_sync(client, state, args.timeout, sleep=sleep)


def apply_file(client: AdminApiClient, path: Path, *, dry_run: bool) -> Any:
    document, lines = load_with_lines(path)
    if not isinstance(document, dict):
        raise AdminCliError(f"{path}:1: expected a mapping with `menus: [...]`")
    body = _request_body(path, document, lines)
    problems = _local_problems(body)
    if problems:
        raise AdminCliError(
            "invalid menus file:\n"
            + "\n".join(located(path, lines, field, reason, "menus") for field, reason in problems)
        )
    return _put(client, path, lines, body, dry_run=dry_run)


def _request_body(path: Path, document: dict[str, Any], lines: dict[str, int]) -> dict[str, Any]:
    """The admin API's body: the document, each menu's ``image`` file read and base64'd."""
    menus = document.get("menus")
    images: dict[str, str] = {}
    if isinstance(menus, list):
        stripped = []
        for index, menu in enumerate(menus):
            if isinstance(menu, dict) and "image" in menu:
                menu = dict(menu)
                image_path = path.parent / str(menu.pop("image"))
                try:
                    data = image_path.read_bytes()
                except OSError as error:
                    where = f"menus[{index}].image"
                    raise AdminCliError(
                        located(
                            path,
                            lines,
                            where,
                            f"cannot read {image_path}: {error.strerror}",
                            "menus",
                        )
                    ) from error
                images[str(menu.get("id"))] = base64.b64encode(data).decode("ascii")
            stripped.append(menu)
        menus = stripped
    return {**{k: v for k, v in document.items() if k != "menus"}, "menus": menus, "images": images}


def _local_problems(body: dict[str, Any]) -> list[tuple[str, str]]:
    """The checks that need no channel (LINE's rules, references within the file); the
    admin API checks the rules' segments against the channel's tags and fields."""
    from pydantic import ValidationError

    from linecrm.richmenus.model import MenuSet
    from linecrm.richmenus.service import problems_of

    unknown = sorted(set(body) - {"menus", "default", "rules", "images"})
    if unknown:
        return [(key, "not a key of a menus file (menus, default, rules)") for key in unknown]
    try:
        MenuSet.model_validate({k: v for k, v in body.items() if k != "images"})
    except ValidationError as error:
        return [(problem.path, problem.reason) for problem in problems_of(error)]
    return []


def _put(
    client: AdminApiClient,
    path: Path,
    lines: dict[str, int],
    body: dict[str, Any],
    *,
    dry_run: bool,
) -> Any:
    return put_document(
        client,
        "/richmenus",
        body,
        dry_run=dry_run,
        what="menus",
        locate=lambda field, reason: located(path, lines, field, reason, "menus"),
    )


def wait_for_sync(
    client: AdminApiClient,
    state: Any,
    timeout: float | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Any:
    """Poll until the sync job is ready or failed, showing its progress as it changes."""
    deadline = None if timeout is None else monotonic() + timeout
    shown = ""
    while True:
        counts = state.get("counts") or {}
        line = (
            f"rich menus v{state['version']} {state['status']} ({state.get('phase')}): "
            f"{counts.get('linked', 0):,} linked, {counts.get('unlinked', 0):,} unlinked, "
            f"{counts.get('bulk_calls', 0):,} bulk calls"
        )
        if line != shown:
            print(line, file=sys.stderr)
            shown = line
        if state["status"] == "failed":
            raise IncompleteResult(f"rich menu sync failed: {state.get('reason')}", state)
        if state["status"] != "syncing":
            return state
        if deadline is not None and monotonic() >= deadline:
            raise AdminCliError(
                f"rich menu sync still running after {timeout:g} s; see `linecrm richmenus show`"
            )
        sleep(POLL_SECONDS)
        state = client.call("GET", "/richmenus")
