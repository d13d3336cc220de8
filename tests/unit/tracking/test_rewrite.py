"""Every tappable URL of a message becomes a tracking URL; the same for every friend."""

from __future__ import annotations

import copy
from typing import Any

from linecrm.domain.tracked_links import (
    click_url,
    is_bot,
    link_token,
    rewrite_actions,
    rewrite_messages,
    token_of,
)

LIFF = "2000000002-AbCdEfGh"


def _rewrite(url: str) -> str:
    return click_url(LIFF, link_token("1650000000", "broadcast:b1", None, url))


def _uris(value: Any) -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("uri", "linkUri", "desktop") and isinstance(item, str):
                found.append(item)
            found += _uris(item)
    elif isinstance(value, list):
        for item in value:
            found += _uris(item)
    return found


MESSAGES: list[dict[str, Any]] = [
    {
        "type": "text",
        "text": "セール開始 https://shop.example/sale?a=1. 詳しくは https://shop.example/faq）",
        "quickReply": {
            "items": [
                {
                    "type": "action",
                    "action": {"type": "uri", "label": "見る", "uri": "https://shop.example/q"},
                },
                {"type": "action", "action": {"type": "message", "label": "x", "text": "x"}},
            ]
        },
    },
    {
        "type": "template",
        "altText": "ボタン",
        "template": {
            "type": "buttons",
            "thumbnailImageUrl": "https://cdn.example/t.jpg",
            "text": "どうぞ",
            "actions": [
                {
                    "type": "uri",
                    "label": "開く",
                    "uri": "https://shop.example/b",
                    "altUri": {"desktop": "https://shop.example/desktop"},
                },
                {"type": "uri", "label": "電話", "uri": "tel:0312345678"},
            ],
        },
    },
    {
        "type": "imagemap",
        "baseUrl": "https://cdn.example/map",
        "altText": "map",
        "baseSize": {"width": 1040, "height": 1040},
        "actions": [
            {
                "type": "uri",
                "linkUri": "https://shop.example/map",
                "area": {"x": 0, "y": 0, "width": 520, "height": 1040},
            }
        ],
    },
    {
        "type": "flex",
        "altText": "flex",
        "contents": {
            "type": "bubble",
            "hero": {
                "type": "image",
                "url": "https://cdn.example/hero.jpg",
                "action": {"type": "uri", "uri": "https://shop.example/hero"},
            },
            "footer": {
                "type": "box",
                "layout": "vertical",
                "contents": [
                    {
                        "type": "button",
                        "action": {
                            "type": "uri",
                            "label": "買う",
                            "uri": "https://shop.example/buy",
                        },
                    }
                ],
            },
        },
    },
]


def test_every_tappable_url_is_tracked_and_media_urls_are_not() -> None:
    original = copy.deepcopy(MESSAGES)
    tracked = rewrite_messages(MESSAGES, _rewrite)

    assert original == MESSAGES  # the input is not changed
    uris = _uris(tracked)
    assert "tel:0312345678" in uris
    assert all(
        uri.startswith(f"https://liff.line.me/{LIFF}/click?t=")
        for uri in uris
        if uri != "tel:0312345678"
    )
    assert len(uris) == 7
    text = tracked[0]["text"]
    assert text == (
        f"セール開始 {_rewrite('https://shop.example/sale?a=1')}. "
        f"詳しくは {_rewrite('https://shop.example/faq')}）"
    )
    # images LINE fetches stay as they were
    assert tracked[1]["template"]["thumbnailImageUrl"] == "https://cdn.example/t.jpg"
    assert tracked[2]["baseUrl"] == "https://cdn.example/map"
    assert tracked[3]["contents"]["hero"]["url"] == "https://cdn.example/hero.jpg"


def test_the_same_content_gives_the_same_tracked_content() -> None:
    assert rewrite_messages(MESSAGES, _rewrite) == rewrite_messages(
        copy.deepcopy(MESSAGES), _rewrite
    )


def test_a_tracked_message_is_not_tracked_twice() -> None:
    once = rewrite_messages(MESSAGES, _rewrite)
    assert rewrite_messages(once, _rewrite) == once


def test_tokens_differ_per_campaign_variant_and_url() -> None:
    tokens = {
        link_token("c", "broadcast:b1", None, "https://a.example/"),
        link_token("c", "broadcast:b1", "A", "https://a.example/"),
        link_token("c", "broadcast:b2", None, "https://a.example/"),
        link_token("c", "broadcast:b1", None, "https://a.example/x"),
    }
    assert len(tokens) == 4


def test_text_with_line_emojis_keeps_its_text() -> None:
    message = {
        "type": "text",
        "text": "$ https://shop.example/",
        "emojis": [{"index": 0, "productId": "5ac1bfd5040ab15980c9b435", "emojiId": "001"}],
    }
    assert rewrite_messages([message], _rewrite) == [message]


def test_a_text_the_rewrite_would_make_too_long_stays() -> None:
    text = "https://a.jp " * 380  # 4,940 units; tracked it would pass 5,000
    assert rewrite_messages([{"type": "text", "text": text}], _rewrite)[0]["text"] == text


def test_rich_menu_areas_are_rewritten_too() -> None:
    areas = [{"bounds": {}, "action": {"type": "uri", "uri": "https://shop.example/menu"}}]
    assert rewrite_actions(areas, _rewrite)[0]["action"]["uri"] == _rewrite(
        "https://shop.example/menu"
    )


def test_token_of_reads_both_tracking_url_forms_only() -> None:
    token = link_token("c", "broadcast:b1", None, "https://a.example/")
    assert token_of(click_url(LIFF, token)) == token
    assert token_of(f"https://api.example/t/{token}") == token
    assert token_of(f"https://api.example/t/{token}?url=https://evil.example") is None
    assert token_of("https://shop.example/?t=" + token) is None
    assert token_of(click_url(LIFF, "short")) is None


def test_link_preview_fetchers_and_bots_are_recognised() -> None:
    for agent in (
        "facebookexternalhit/1.1;line-poker/1.0",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Twitterbot/1.0",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "WhatsApp/2.23.20.0",
        "TelegramBot (like TwitterBot)",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "curl/8.5.0",
        "",
        None,
    ):
        assert is_bot(agent), agent
    for agent in (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 Safari Line/13.19.0",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0 Mobile Safari/537.36 Line/13.19.0/IAB",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0 Safari/537.36",
    ):
        assert not is_bot(agent), agent
