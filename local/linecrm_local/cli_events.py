"""``linecrm events send``: sign and send one behaviour event to the events API, as the
shop's systems do (docs/events.md). Signs with the local demo source's key unless told
otherwise, so it works against ``make dev`` as written."""

from __future__ import annotations

import argparse
import json
import math
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import requests

from linecrm.events.signature import compute_signature
from linecrm_local import admin_cli
from linecrm_local.demo import DEMO_EVENT_SOURCE, DEMO_EVENT_SOURCE_KEY

COMMAND = "events"
TIMEOUT_SECONDS = 30


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser(COMMAND, help="send behaviour events (the events API)")
    actions = group.add_subparsers(dest="events_action", required=True)
    send = actions.add_parser("send", help="sign and send one event")
    send.add_argument("--name", required=True, help="event name, e.g. purchase, cart_updated")
    send.add_argument("--user", required=True, help="the friend's LINE user id (U + 32 hex)")
    send.add_argument(
        "--property",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a property (repeatable); numbers, true/false and JSON values are read as such",
    )
    send.add_argument("--value", type=float, help="the event's value, e.g. an amount")
    send.add_argument("--key", dest="idempotency_key", help="idempotency key (default: new)")
    send.add_argument("--occurred-at", help="ISO time with offset (default: now)")
    send.add_argument(
        "--source",
        default=os.environ.get("LINECRM_EVENTS_SOURCE", DEMO_EVENT_SOURCE),
        help="source id (env LINECRM_EVENTS_SOURCE; default the local demo source)",
    )
    send.add_argument(
        "--signing-key",
        default=os.environ.get("LINECRM_EVENTS_KEY", DEMO_EVENT_SOURCE_KEY),
        help="the source's key (env LINECRM_EVENTS_KEY; default the local demo key)",
    )
    send.add_argument(
        "--api-url",
        default=argparse.SUPPRESS,
        help="API base URL (env LINECRM_API_URL; default the local gateway)",
    )


def _property(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise admin_cli.AdminCliError(f"--property {text!r}: write KEY=VALUE, e.g. sku=A1")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    if isinstance(value, float) and not math.isfinite(value):
        value = raw
    return key, value


def run(args: argparse.Namespace) -> Any:
    base_url = admin_cli.checked_base_url(
        getattr(args, "api_url", None) or admin_cli.DEFAULT_API_URL
    )
    event: dict[str, Any] = {
        "name": args.name,
        "user": args.user,
        "occurred_at": args.occurred_at or datetime.now(UTC).isoformat(timespec="seconds"),
        "idempotency_key": args.idempotency_key or f"cli-{uuid.uuid4()}",
        "properties": dict(_property(text) for text in args.property),
    }
    if args.value is not None:
        event["value"] = args.value
    body = json.dumps({"events": [event]}, ensure_ascii=False).encode("utf-8")
    return post_signed(
        f"{base_url}/events/{args.channel}",
        body,
        source=args.source,
        signing_key=args.signing_key,
        api_name="events API",
    )


def post_signed(url: str, body: bytes, *, source: str, signing_key: str, api_name: str) -> Any:
    """POST ``body`` signed as the shop's source does (docs/events.md); the JSON answer,
    or AdminCliError naming ``api_name`` (the events API, the link API)."""
    timestamp = str(int(time.time()))
    try:
        response = requests.post(
            url,
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-Linecrm-Source": source,
                "X-Linecrm-Timestamp": timestamp,
                "X-Linecrm-Signature": compute_signature(signing_key, timestamp, body),
            },
            timeout=TIMEOUT_SECONDS,
        )
    except requests.RequestException as error:
        raise admin_cli.AdminCliError(
            f"cannot reach the {api_name} at {url} — is `make dev` running? ({error})"
        ) from error
    try:
        answer = response.json()
    except ValueError:
        answer = {"message": response.text.strip()[:300]}
    if response.status_code >= 400:
        message = answer.get("message") if isinstance(answer, dict) else answer
        raise admin_cli.AdminCliError(f"{api_name} answered {response.status_code}: {message}")
    return answer
