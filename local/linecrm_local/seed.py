"""The demo account's data: what `make dev` and the e2e tests start with."""

from __future__ import annotations

from datetime import UTC, datetime
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


def seed_demo_shop(
    channel_id: str, table_name: str, shop_url: str, liff_id: str, session: Any | None = None
) -> str:
    """Point the demo channel's ID linking and auto-login at the demo shop and set up its
    LIFF app (the member card), so ``make dev`` can be clicked through. Creates a web
    tag key for the shop's pages (docs/web-tag.md) and returns it."""
    from linecrm.liff.settings import LIFF_SETTING

    client = (session or boto3.session.Session()).client("dynamodb")
    config = ChannelConfigRepository(client, table_name)
    config.set_setting(
        channel_id,
        "account_link",
        {
            "shop_login_url": f"{shop_url}/login",
            "text": "ショップの会員情報と連携すると、LINEで会員証が使えます。",
            "button_label": "会員連携する",
        },
    )
    config.set_setting(channel_id, LIFF_SETTING, {"liff_id": liff_id, "shop_target": "/mypage"})
    # Auto-login (docs/auto-login.md) into the demo shop, with its allow-list.
    from linecrm.domain.shop_login import SHOP_LOGIN_SETTING, ShopLoginSettings
    from linecrm_local.demo_shop.server import ALLOWED_TARGETS, LOGIN_PATH

    shop_login = ShopLoginSettings.model_validate(
        {"base_url": shop_url, "login_path": LOGIN_PATH, "allow": list(ALLOWED_TARGETS)}
    )
    config.set_setting(channel_id, SHOP_LOGIN_SETTING, shop_login.model_dump())
    # The web tag on the shop's pages: a key for its origin (127.0.0.1 and localhost).
    from linecrm.domain.web_tag import WebTagKeySpec, new_web_tag_key
    from linecrm.repositories.web_tag_keys import WebTagKeyRepository

    origins = [shop_url, shop_url.replace("://127.0.0.1:", "://localhost:")]
    key = new_web_tag_key(
        channel_id,
        WebTagKeySpec(origins=origins, label="demo shop"),
        datetime.now(UTC),
    )
    WebTagKeyRepository(client, table_name).create(key)
    return key.key


def seed_friends(
    emulator: Any,
    channel_id: str,
    table_name: str,
    count: int,
    *,
    tag_ids: tuple[str, ...] = (),
    session: Any | None = None,
    followed_at: str = "2026-01-05T00:00:00.000+00:00",
) -> list[str]:
    """``count`` friends who follow the channel: in the LINE emulator and as friend rows
    (what the webhook would have written), for demos, benchmarks and large tests.

    Rows go in with BatchWriteItem (25 at a time): 10,000 friends take seconds, where
    10,000 simulated follows would take minutes.
    """
    from linecrm.repositories.dynamo import to_item
    from linecrm.repositories.friends import friend_key, friends_list_key, tag_membership_item

    client = (session or boto3.session.Session()).client("dynamodb")
    user_ids = [
        emulator.add_friend(channel_id, display_name=f"Friend {n:05d}").user_id
        for n in range(count)
    ]
    tags = dict.fromkeys(tag_ids, followed_at)
    items: list[dict[str, Any]] = []
    for user_id in user_ids:
        items.append(
            {
                **friend_key(channel_id, user_id),
                "channel_id": channel_id,
                "user_id": user_id,
                "gsi1pk": friends_list_key(channel_id, user_id),
                "gsi1sk": user_id,
                "status": "active",
                "status_at": followed_at,
                "first_followed_at": followed_at,
                "last_followed_at": followed_at,
                "last_interaction_at": followed_at,
                "tags": tags,
                "fields": {},
                "rule_fired_at": {},
            }
        )
        # Each tag held is also a membership item (the tag's friend list).
        items.extend(
            tag_membership_item(channel_id, user_id, tag_id, followed_at) for tag_id in tags
        )
    for start in range(0, len(items), 25):
        requests: list[Any] = [
            {"PutRequest": {"Item": to_item(item)}} for item in items[start : start + 25]
        ]
        while requests:
            response = client.batch_write_item(RequestItems={table_name: requests})
            requests = list(response.get("UnprocessedItems", {}).get(table_name, []))
    return user_ids
