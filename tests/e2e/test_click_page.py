"""The LIFF click page in a real browser (Debian's chromium, Playwright): a friend taps a
tracked link of a broadcast, the page (liff-mock, carrying a real ID token from the LINE
emulator) records their click and lands on the link's URL; a browser whose ID token the
server refuses falls back to the anonymous redirect and lands there too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from linecrm.domain.stats import CLICKS, UNIQUE_CLICKS
from linecrm.domain.tracked_links import token_of
from linecrm.repositories.campaign_stats import CampaignStatsRepository
from linecrm.resources import MAIN_TABLE
from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID, DEMO_LIFF_ID
from linecrm_local.stack import LocalStack
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

CHROMIUM = Path("/usr/bin/chromium")
ADMIN = {"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}
BASE = f"/admin/channels/{DEMO_CHANNEL_ID}"
READ = (10, 120)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # The demo shop seeds the demo channel's LIFF app (and is a page to land on).
    with LocalStack(
        scheduler_tick_seconds=0.2,
        poll_interval_seconds=0.02,
        batching_window_seconds=0.05,
        visibility_timeout_seconds=1,
        demo_shop_port=0,
    ) as local:
        yield local


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "no /usr/bin/chromium: `make test` installs Debian's chromium"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()


def tracked_broadcast(stack: LocalStack, target: str) -> tuple[str, str, str]:
    """A friend, the tracking URL they received for ``target``, and its campaign."""
    user_id = stack.emulator.simulate_follow(DEMO_CHANNEL_ID, display_name="山田花子").user_id
    wait_for(lambda: requests.get(
        f"{stack.gateway_url}{BASE}/friends/{user_id}", headers=ADMIN, timeout=READ
    ).ok)  # fmt: skip
    body = {"name": "会員ページ", "messages": [{"type": "text", "text": f"こちら {target}"}]}
    created = requests.post(
        f"{stack.gateway_url}{BASE}/broadcasts", json=body, headers=ADMIN, timeout=READ
    )
    assert created.status_code < 300, created.text
    text = wait_for(
        lambda: next(
            (
                m.message["text"]
                for m in stack.emulator.inbox(user_id)
                if m.message.get("text", "").startswith("こちら")
            ),
            None,
        ),
        timeout=120,
    )
    url = text.split()[-1]
    assert url.startswith(f"https://liff.line.me/{DEMO_LIFF_ID}/click?t="), text
    return user_id, url, f"broadcast:{created.json()['broadcast_id']}"


def counts(stack: LocalStack, campaign: str) -> dict[str, int]:
    repository = CampaignStatsRepository(
        stack.aws.session().client("dynamodb"), stack.resources.table_names[MAIN_TABLE.logical_id]
    )
    return repository.campaign_total(DEMO_CHANNEL_ID, campaign)


def test_the_click_page_records_the_friend_and_lands_on_the_link(
    stack: LocalStack, browser: Any
) -> None:
    target = f"{stack.demo_shop.url}/"
    user_id, tracking_url, campaign = tracked_broadcast(stack, target)
    token = token_of(tracking_url)
    # What LINE opens for liff.line.me/<liff id>/click?t=…: the endpoint's sub-path.
    page_url = f"{stack.gateway_url}/liff/{DEMO_CHANNEL_ID}/click?t={token}"

    in_line = browser.new_context()
    page = in_line.new_page()
    id_token = stack.emulator.issue_id_token(DEMO_CHANNEL_ID, user_id)
    page.goto(f"{page_url}&mockIdToken={id_token}")
    page.wait_for_url(lambda url: url.startswith(target), timeout=60_000)
    in_line.close()
    assert counts(stack, campaign) == {CLICKS: 1, UNIQUE_CLICKS: 1}

    # liff-mock's fixed token, which this stack does not accept: the page falls back to
    # GET /t/<token> (an anonymous click) and still lands on the link.
    refused = browser.new_context()
    page = refused.new_page()
    page.goto(page_url)
    page.wait_for_url(lambda url: url.startswith(target), timeout=60_000)
    assert urlsplit(page.url).netloc == urlsplit(target).netloc
    refused.close()
    assert counts(stack, campaign) == {CLICKS: 2, UNIQUE_CLICKS: 1}


def test_a_click_page_with_a_bad_token_goes_nowhere(stack: LocalStack, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{stack.gateway_url}/liff/{DEMO_CHANNEL_ID}/click?t=not-a-token")
    page.wait_for_selector("#app[data-ready=true]", timeout=60_000)
    assert "リンクが正しくありません" in page.inner_text("#app")
    assert page.url.startswith(stack.gateway_url)
    context.close()
