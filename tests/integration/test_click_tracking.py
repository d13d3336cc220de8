"""Click tracking through the local stack: a tracked broadcast keeps its multicasts, a
tap redirects to the link's URL only, and clicks are counted (unique per friend).

The friend's taps go the way LINE and the LIFF click page would send them
(``linecrm_local.clicks.simulate_click``: the emulator's ID token, POST /t/<token>).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests

from linecrm.domain.stats import CLICKS, UNIQUE_CLICKS
from linecrm.domain.tracked_links import token_of
from linecrm.domain.visitor_ids import VISITOR_PARAMETER, verify_visitor_id
from linecrm.repositories.campaign_stats import CampaignStatsRepository
from linecrm.resources import DEFAULTS, MAIN_TABLE, VISITOR_KEY_SECRET_NAME
from linecrm_local.clicks import ClickFailed, simulate_click
from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID
from linecrm_local.seed import seed_friends
from linecrm_local.stack import LocalStack
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ADMIN = {"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}
BASE = f"/admin/channels/{DEMO_CHANNEL_ID}"
LIFF_ID = "2000000002-ClickTrk"
SALE_URL = "https://shop.example/sale?utm_source=line"
BUTTON_URL = "https://shop.example/items/42"
MESSAGES = [
    {"type": "text", "text": f"冬のセール開催中！ {SALE_URL}"},
    {
        "type": "template",
        "altText": "おすすめ",
        "template": {
            "type": "buttons",
            "text": "おすすめ商品",
            "actions": [{"type": "uri", "label": "見る", "uri": BUTTON_URL}],
        },
    },
]
READ_TIMEOUT = 300


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(visibility_timeout_seconds=120, scheduler_tick_seconds=0.2) as local:
        # Before anything reads (and caches) the channel's config: the LIFF app.
        admin(local, "PUT", "/liff", {"liff_id": LIFF_ID})
        yield local


def admin(stack: LocalStack, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(
        method,
        f"{stack.gateway_url}{BASE}{path}",
        json=body,
        headers=ADMIN,
        timeout=(10, READ_TIMEOUT),
    )
    assert response.status_code < 300, (response.status_code, response.text)
    return response.json() if response.content else None


def settled(stack: LocalStack, broadcast_id: str) -> dict[str, Any] | None:
    report = admin(stack, "GET", f"/broadcasts/{broadcast_id}")
    if report["broadcast"]["status"] in ("sent", "failed", "cancelled") and not report[
        "deliveries"
    ].get("queued"):
        return dict(report)
    return None


def click(stack: LocalStack, url: str, user_id: str | None, **extra: str) -> dict[str, Any]:
    return simulate_click(
        stack.gateway_url, stack.emulator_url, DEMO_CHANNEL_ID, url, user_id=user_id, **extra
    )


def counters(stack: LocalStack, campaign: str) -> tuple[dict[str, int], dict[str, int]]:
    repository = CampaignStatsRepository(
        stack.aws.session().client("dynamodb"), stack.resources.table_names[MAIN_TABLE.logical_id]
    )
    today = datetime.now(ZoneInfo(DEFAULTS.account_time_zone)).date()
    return (
        repository.campaign_total(DEMO_CHANNEL_ID, campaign),
        repository.days(DEMO_CHANNEL_ID, today, today).get(today, {}),
    )


@pytest.fixture(scope="module")
def broadcast(stack: LocalStack) -> dict[str, Any]:
    """A tracked 1,000-friend broadcast, sent: its id, recipients and multicast calls."""
    table = stack.resources.table_names[MAIN_TABLE.logical_id]
    tag = admin(stack, "POST", "/tags", {"name": "冬セール対象"})["tag_id"]
    friends = seed_friends(stack.emulator, DEMO_CHANNEL_ID, table, 1_000, tag_ids=(tag,))
    before = len(stack.emulator.calls("multicast"))
    body = {"name": "冬のセール", "messages": MESSAGES, "segment": {"match": {"tag": tag}}}
    created = admin(stack, "POST", "/broadcasts", body)
    report = wait_for(
        lambda: settled(stack, created["broadcast_id"]), timeout=READ_TIMEOUT, interval=0.2
    )
    stack.poller.drain(timeout=READ_TIMEOUT)
    assert report["broadcast"]["status"] == "sent"
    return {
        "id": created["broadcast_id"],
        "friends": friends,
        "multicasts": stack.emulator.calls("multicast")[before:],
    }


def test_a_tracked_1000_friend_broadcast_still_takes_2_multicasts(
    broadcast: dict[str, Any],
) -> None:
    multicasts = broadcast["multicasts"]
    assert len(multicasts) == 2  # ceil(1000 / 500): tracking kept the content identical
    assert sorted(len(call.body["to"]) for call in multicasts) == [500, 500]
    assert multicasts[0].body["messages"] == multicasts[1].body["messages"]
    text, template = multicasts[0].body["messages"]
    assert SALE_URL not in text["text"]
    assert f"https://liff.line.me/{LIFF_ID}/click?t=" in text["text"]
    assert template["template"]["actions"][0]["uri"].startswith(
        f"https://liff.line.me/{LIFF_ID}/click?t="
    )


def _links(stack: LocalStack, user_id: str) -> tuple[str, str]:
    """The friend's tracked URLs: the text's and the button's."""
    (text, template) = [received.message for received in stack.emulator.inbox(user_id)]
    text_url = text["text"].split()[-1]
    return text_url, template["template"]["actions"][0]["uri"]


def test_a_click_redirects_to_its_url_and_repeats_count_once_per_friend(
    stack: LocalStack, broadcast: dict[str, Any]
) -> None:
    campaign = f"broadcast:{broadcast['id']}"
    hanako, taro = broadcast["friends"][:2]
    text_url, button_url = _links(stack, hanako)
    assert _links(stack, taro) == (text_url, button_url)  # the same URLs for every friend
    before, day_before = counters(stack, campaign)

    first = click(stack, button_url, hanako)
    again = click(stack, button_url, hanako)
    other_link = click(stack, text_url, hanako)
    by_taro = click(stack, button_url, taro)
    outside_line = click(stack, text_url, None)

    assert first == {"identified": True, "user": hanako, "first": True, "url": BUTTON_URL}
    assert (again["first"], again["url"]) == (False, BUTTON_URL)
    assert (other_link["first"], other_link["url"]) == (False, SALE_URL)  # same campaign
    assert (by_taro["first"], by_taro["url"]) == (True, BUTTON_URL)
    assert outside_line == {"identified": False, "status": 302, "url": SALE_URL}
    after, day_after = counters(stack, campaign)
    assert after.get(CLICKS, 0) - before.get(CLICKS, 0) == 5
    assert after.get(UNIQUE_CLICKS, 0) - before.get(UNIQUE_CLICKS, 0) == 2
    assert day_after.get(CLICKS, 0) - day_before.get(CLICKS, 0) == 5
    assert day_after.get(UNIQUE_CLICKS, 0) - day_before.get(UNIQUE_CLICKS, 0) == 2


def test_link_preview_fetchers_are_redirected_but_not_counted(
    stack: LocalStack, broadcast: dict[str, Any]
) -> None:
    campaign = f"broadcast:{broadcast['id']}"
    text_url, _ = _links(stack, broadcast["friends"][2])
    before, _ = counters(stack, campaign)
    for agent in ("facebookexternalhit/1.1;line-poker/1.0", "Twitterbot/1.0", "curl/8.5.0"):
        assert click(stack, text_url, None, user_agent=agent)["url"] == SALE_URL
    after, _ = counters(stack, campaign)
    assert after.get(CLICKS, 0) == before.get(CLICKS, 0)


def test_foreign_urls_and_tampered_tokens_are_404(
    stack: LocalStack, broadcast: dict[str, Any]
) -> None:
    text_url, _ = _links(stack, broadcast["friends"][3])
    token = token_of(text_url)
    assert token is not None
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    api = stack.gateway_url
    for path in (
        f"/t/{tampered}",
        f"/t/{token}?url=https://evil.example/",
        f"/t/{token}?t={token}",
        "/t/short",
        f"/t/{token}x",
    ):
        response = requests.get(f"{api}{path}", allow_redirects=False, timeout=30)
        assert response.status_code == 404, (path, response.status_code)
        assert "Location" not in response.headers
    posted = requests.post(f"{api}/t/{tampered}", json={"idToken": "x"}, timeout=30)
    assert posted.status_code == 404
    with pytest.raises(ClickFailed, match="404"):
        click(stack, text_url.replace(token, tampered), broadcast["friends"][3])


def test_a_bad_id_token_is_401_and_counts_nothing(
    stack: LocalStack, broadcast: dict[str, Any]
) -> None:
    campaign = f"broadcast:{broadcast['id']}"
    text_url, _ = _links(stack, broadcast["friends"][4])
    before, _ = counters(stack, campaign)
    response = requests.post(
        f"{stack.gateway_url}/t/{token_of(text_url)}", json={"idToken": "forged"}, timeout=30
    )
    assert response.status_code == 401
    bad_body = requests.post(f"{stack.gateway_url}/t/{token_of(text_url)}", json={}, timeout=30)
    assert bad_body.status_code == 422
    after, _ = counters(stack, campaign)
    assert after == before


def test_a_friends_click_into_the_shop_lands_with_their_visitor_id(
    stack: LocalStack, broadcast: dict[str, Any]
) -> None:
    """Once the shop's site has a web tag key, an identified click into it carries the
    friend's visitor id (?lcv=) and the web tag accepts it as that friend; a click from
    outside LINE does not (nobody is known)."""
    hanako = broadcast["friends"][2]
    text_url, button_url = _links(stack, hanako)
    admin(stack, "POST", "/web-tag/keys", {"origins": ["https://shop.example"]})
    # The redirector reads the channel's keys at most once a minute: a fresh read here.
    landed = wait_for(
        lambda: (answer := click(stack, button_url, hanako))["url"] != BUTTON_URL and answer,
        timeout=READ_TIMEOUT,
        interval=2,
    )
    parts = urlsplit(landed["url"])
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == BUTTON_URL
    visitor = parse_qs(parts.query)[VISITOR_PARAMETER][0]
    assert hanako not in landed["url"]
    secret = (
        stack.aws.session()
        .client("secretsmanager")
        .get_secret_value(SecretId=VISITOR_KEY_SECRET_NAME)
    )
    key = json.loads(secret["SecretString"])["current"].encode()
    found = verify_visitor_id(key, visitor, datetime.now(UTC))
    assert found is not None and (found.channel_id, found.user_id) == (DEMO_CHANNEL_ID, hanako)
    assert click(stack, text_url, None)["url"] == SALE_URL  # anonymous: as it is
