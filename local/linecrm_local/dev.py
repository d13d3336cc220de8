"""``make dev``: the local stack in the foreground, until Ctrl-C.

Ports come from LINECRM_PORT (gateway, default 8080), LINECRM_EMULATOR_PORT (8090),
LINECRM_MOTO_PORT (5000) and LINECRM_SHOP_PORT (the demo shop, 8070);
LINECRM_ADMIN_TOKEN sets the admin bearer token.
LINECRM_CLOCK_SPEED (default 1) speeds the stack's clock up for demos: 60 makes a
scenario's "day 1" step come after 24 real minutes. LINECRM_LIFF_MOCK_ID_TOKENS (JSON,
e.g. '{"id_token": {"userId": "U…", "displayName": "Brown"}}') makes /liff/login accept
the fixed tokens of @line/liff-mock as those users (local only; off when unset).
LINECRM_DEMO_ACTIVITY=0 skips the dashboard's demo activity (follows, a broadcast,
clicks, purchases and blocks run through the stack in the background at start).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping
from types import FrameType

from linecrm import resources
from linecrm_local import demo, demo_activity
from linecrm_local.clock import MovableClock
from linecrm_local.serving import PortInUseError
from linecrm_local.stack import LocalStack
from linecrm_local.staff_auth import LOGIN_PATH

DEFAULT_GATEWAY_PORT = 8080
DEFAULT_EMULATOR_PORT = 8090
DEFAULT_MOTO_PORT = 5000


class ConfigError(ValueError):
    """A malformed LINECRM_* setting."""


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        raise ConfigError(f"{name}={raw!r} is not a port number (0-65535)")
    return int(raw)


def banner(stack: LocalStack) -> str:
    webhook = stack.webhook_url(demo.DEMO_CHANNEL_ID)
    lines = [
        "",
        "linecrm local stack is running (Ctrl-C to stop)",
        "",
        f"  API gateway      {stack.gateway_url}",
        f"  webhook URL      {webhook}",
        f"  LINE emulator    {stack.emulator_url}/_emulator/",
        f"  AWS (moto)       {stack.moto_url}",
        "",
        "  demo channel",
        f"    channel id     {demo.DEMO_CHANNEL_ID}",
        f"    secret         {demo.DEMO_CHANNEL_SECRET}",
        f"    access token   {demo.DEMO_CHANNEL_ACCESS_TOKEN}",
        f"    bot user id    {demo.DEMO_BOT_USER_ID}",
        f"  admin API        {stack.gateway_url}/admin/channels/{demo.DEMO_CHANNEL_ID}/…",
        f"  admin Swagger    {stack.gateway_url}/admin/swagger  (Authorize: the admin token)",
        f"  admin token      {stack.admin_token}  (Authorization: Bearer …)",
        *_staff_lines(stack),
        f"  dashboard        {dashboard_url(stack)}  (docs/dashboard.md)",
        f"  admin console    {stack.gateway_url}/console/  (docs/console.md; a demo staff user"
        " above signs in on the local managed login, or the admin token)",
        f"  events API       {stack.events_url(demo.DEMO_CHANNEL_ID)}  (docs/events.md)",
        f"    source         {demo.DEMO_EVENT_SOURCE}  (X-Linecrm-Source)",
        f"    key            {demo.DEMO_EVENT_SOURCE_KEY}",
        "    signature      hex HMAC-SHA256(key, <X-Linecrm-Timestamp>.<raw body>)",
        f"  inflow routes    {stack.gateway_url}/r/<code>  (docs/inflow-routes.md)",
        f"    LINE Login     channel {demo.DEMO_LOGIN_CHANNEL_ID}, callback "
        f"{stack.gateway_url}/r/callback",
        f"    add friend     {stack.emulator_url}/R/ti/p/%40{demo.DEMO_BOT_BASIC_ID[1:]}",
        *_shop_lines(stack),
        "",
        "  in another terminal:",
        f"    export LINECRM_EMULATOR_URL={stack.emulator_url}",
        f"    export LINECRM_API_URL={stack.gateway_url}",
        f"    export LINECRM_CHANNEL_ID={demo.DEMO_CHANNEL_ID}",
        f"    export LINECRM_ADMIN_TOKEN={stack.admin_token}",
        f"    export AWS_ENDPOINT_URL={stack.moto_url}",
        "    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
        f"    export AWS_DEFAULT_REGION={stack.resources.region}",
        "",
        "  then try:",
        "    .venv/bin/linecrm simulate follow",
        "    .venv/bin/linecrm inbox <user id printed by the command above>",
        "    .venv/bin/linecrm friends list",
        "    .venv/bin/linecrm events send --name purchase --user <user id> --value 4200",
        "",
    ]
    return "\n".join(lines)


def _staff_lines(stack: LocalStack) -> list[str]:
    """The demo staff (one per role) and where they sign in (docs/staff.md)."""
    if not stack.demo_staff:
        return []
    width = max(len(email) for email, _role in stack.demo_staff)
    return [
        f"  staff login      POST {stack.gateway_url}{LOGIN_PATH}  "
        '{"email": …, "password": …} -> a Bearer token (docs/staff.md)',
        f"    password       {demo.DEMO_STAFF_PASSWORD}  (every demo staff user)",
        *(f"    {role.value:<14} {email:<{width}}" for email, role in stack.demo_staff),
    ]


def dashboard_url(stack: LocalStack) -> str:
    return f"{stack.gateway_url}/admin/dashboard?channel={demo.DEMO_CHANNEL_ID}"


def _shop_lines(stack: LocalStack) -> list[str]:
    from linecrm_local.demo_shop.members import DEMO_MEMBERS

    if stack.demo_shop_port is None:
        return []
    members = ", ".join(f"{email} / {password}" for _, email, _, password in DEMO_MEMBERS)
    return [
        f"  demo shop        {stack.demo_shop.url}  (members: {members})",
        f"  LIFF member card {stack.gateway_url}/liff/{demo.DEMO_CHANNEL_ID}/card"
        "?mockIdToken=<ID token>  (docs/liff.md)",
        f"  web tag          {stack.gateway_url}/web/tag.js  (docs/web-tag.md)",
        f"    shop's key     {stack.demo_shop.app.web_tag_key}  (on the demo shop's pages)",
    ]


def _clock_speed(env: Mapping[str, str]) -> float:
    raw = env.get("LINECRM_CLOCK_SPEED", "1")
    try:
        speed = float(raw)
    except ValueError:
        raise ConfigError(f"LINECRM_CLOCK_SPEED={raw!r} is not a number (e.g. 60)") from None
    if not 1 <= speed <= 10_000:
        raise ConfigError(f"LINECRM_CLOCK_SPEED={raw!r}: use 1 (real time) to 10000")
    return speed


def _local_only_settings(env: Mapping[str, str]) -> dict[str, str]:
    """The local-only settings the developer turned on (validated by the function)."""
    return {name: env[name] for name in resources.LOCAL_ONLY_SETTINGS if env.get(name)}


def main(environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    logging.basicConfig(
        level=env.get("LINECRM_LOCAL_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # boto3 announces every client it creates at INFO; keep the terminal for our lines.
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        stack = LocalStack(
            gateway_port=_port(env, "LINECRM_PORT", DEFAULT_GATEWAY_PORT),
            emulator_port=_port(env, "LINECRM_EMULATOR_PORT", DEFAULT_EMULATOR_PORT),
            moto_port=_port(env, "LINECRM_MOTO_PORT", DEFAULT_MOTO_PORT),
            log_level=env.get("POWERTOOLS_LOG_LEVEL", "INFO"),
            admin_token=env.get("LINECRM_ADMIN_TOKEN") or demo.DEMO_ADMIN_TOKEN,
            clock=MovableClock(rate=_clock_speed(env)),
            settings=_local_only_settings(env),
            demo_shop_port=_port(env, "LINECRM_SHOP_PORT", demo.DEMO_SHOP_PORT),
        )
    except ConfigError as error:
        print(f"linecrm dev: {error}", file=sys.stderr)
        return 1

    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
    except PortInUseError as error:
        print(
            f"linecrm dev: {error} (set the LINECRM_*_PORT variables to move it)", file=sys.stderr
        )
        return 1
    try:
        print(banner(stack), flush=True)
        if env.get("LINECRM_DEMO_ACTIVITY", "1") != "0":
            demo_activity.seed_in_background(
                stack.gateway_url, stack.emulator, stack.admin_token, stopping
            )
        while not stopping.wait(0.5):
            pass
        print("linecrm dev: stopping…", flush=True)
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
