"""The demo account's data: what `make dev` and the e2e tests start with."""

from __future__ import annotations

from typing import Any

import boto3

from linecrm.repositories.channel_config import ChannelConfigRepository

DEMO_WELCOME_MESSAGES: list[dict[str, Any]] = [
    {
        "type": "text",
        "text": "友だち追加ありがとうございます！linecrm デモアカウントです。",
    }
]


def seed_demo_account(channel_id: str, table_name: str, session: Any | None = None) -> None:
    """Give the demo channel a welcome message (the rest of the demo data lives in moto)."""
    client = (session or boto3.session.Session()).client("dynamodb")
    ChannelConfigRepository(client, table_name).set_welcome_messages(
        channel_id, DEMO_WELCOME_MESSAGES
    )
