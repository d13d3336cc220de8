"""``linecrm segments``: saved segments (docs/segments.md#saved-segments) from a terminal.

linecrm segments list                          every saved segment, by name
linecrm segments save -f vip.yaml [--name VIPs]   save a segment document under its name
                                               (the same name again replaces it: its id stays)
linecrm segments show VIPs                     one segment (by name or seg_… id)
linecrm segments preview VIPs | -f vip.yaml    count, 10 friends, the under-20 warning
linecrm segments delete VIPs                   what still names it fails with the reason

A segment file is a segment document: ``match:`` (with ``name:`` and ``description:``
if you like). Broadcasts, enrolments and rich-menu rules name a saved one with
``segment: {segment: seg_…}``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any
from urllib.parse import quote

from linecrm_local.admin_cli import (
    AdminApiClient,
    AdminCliError,
    add_connection_options,
    load_document,
)

COMMAND = "segments"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    leaf = argparse.ArgumentParser(add_help=False)
    add_connection_options(leaf, on_command=True)
    group = commands.add_parser(COMMAND, help="saved segments: list, save, show, preview, delete")
    actions = group.add_subparsers(dest="segments_action", required=True)
    actions.add_parser("list", help="every saved segment, by name", parents=[leaf])
    save = actions.add_parser(
        "save",
        help="save a segment file under its name (replaces one of that name)",
        parents=[leaf],
    )
    save.add_argument("-f", "--file", type=Path, required=True, help="a segment document")
    save.add_argument("--name", help="the name (default: the file's name: key)")
    for name, text in (
        ("show", "one saved segment"),
        ("delete", "delete a saved segment"),
    ):
        actions.add_parser(name, help=text, parents=[leaf]).add_argument(
            "segment", help="its name or seg_… id"
        )
    preview = actions.add_parser(
        "preview", help="count and sample of a saved segment or a file", parents=[leaf]
    )
    preview.add_argument("segment", nargs="?", help="its name or seg_… id")
    preview.add_argument("-f", "--file", type=Path, help="a segment document, instead")


def run(args: argparse.Namespace, *, client: AdminApiClient | None = None) -> Any:
    client = client or AdminApiClient(
        args.api_url, args.channel, token=args.token, sigv4=bool(args.sigv4)
    )
    action = args.segments_action
    if action == "list":
        return client.call("GET", "/segments")
    if action == "save":
        return _save(client, args.file, args.name)
    if action == "preview":
        if (args.segment is None) == (args.file is None):
            raise AdminCliError(
                "preview takes a saved segment (name or id) or -f FILE, one of them"
            )
        if args.file is not None:
            return client.call("POST", "/segments/preview", {"definition": _definition(args.file)})
        segment_id = _find(client, args.segment)["segmentId"]
        return client.call("POST", "/segments/preview", {"segmentId": segment_id})
    segment = _find(client, args.segment)
    path = f"/segments/{quote(segment['segmentId'], safe='')}"
    if action == "show":
        return client.call("GET", path)
    client.call("DELETE", path)
    return {"segmentId": segment["segmentId"], "name": segment["name"], "deleted": True}


def _definition(path: Path) -> dict[str, Any]:
    document = load_document(path)
    if not isinstance(document, dict) or "match" not in document:
        raise AdminCliError(f"{path}: expected a segment document with match: (docs/segments.md)")
    return {key: value for key, value in document.items() if key not in ("name", "description")}


def _save(client: AdminApiClient, path: Path, name: str | None) -> Any:
    document = load_document(path)
    definition = _definition(path)
    name = name or (document.get("name") if isinstance(document.get("name"), str) else None)
    if not name:
        raise AdminCliError(f"{path}: no name: give --name or a name: key in the file")
    body: dict[str, Any] = {"name": name, "definition": definition}
    if isinstance(document.get("description"), str):
        body["description"] = document["description"]
    existing = _by_name(client, name)
    if existing is None:
        return client.call("POST", "/segments", body)
    return client.call("PUT", f"/segments/{quote(existing['segmentId'], safe='')}", body)


def _by_name(client: AdminApiClient, name: str) -> dict[str, Any] | None:
    wanted = name.strip().casefold()
    for item in client.call("GET", "/segments")["items"]:
        if item["name"].casefold() == wanted:
            found: dict[str, Any] = item
            return found
    return None


def _find(client: AdminApiClient, reference: str) -> dict[str, Any]:
    """A saved segment by id (seg_…) or name."""
    for item in client.call("GET", "/segments")["items"]:
        if item["segmentId"] == reference:
            found: dict[str, Any] = item
            return found
    by_name = _by_name(client, reference)
    if by_name is None:
        raise AdminCliError(f"no saved segment named or with id {reference!r} (see segments list)")
    return by_name
