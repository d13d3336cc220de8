"""``linecrm simulate click``: what LINE and the LIFF click page do when a friend taps a
tracked link (docs/tracking.md), against the local stack.

With a friend (``--user U…``): LINE opens ``liff.line.me/<liff id>/click?t=<token>`` in
the LIFF browser, the page gets the friend's ID token (here: minted by the emulator,
as LINE would issue it) and posts it to ``POST /t/<token>``, which records the click and
answers the link's URL. Without one (``--anonymous``): a browser outside LINE, which the
page sends to ``GET /t/<token>`` (a 302). ``--user-agent`` plays a link-preview fetcher.
"""

from __future__ import annotations

from typing import Any

import requests

from linecrm.domain.tracked_links import token_of

# LINE's in-app browser on iOS, as a server sees it.
LINE_APP_USER_AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Safari Line/14.10.0"
)
TIMEOUT_SECONDS = 30


class ClickFailed(Exception):
    """The click could not be made; the message says why."""


def simulate_click(
    api_url: str,
    emulator_url: str,
    channel_id: str,
    tracking_url: str,
    *,
    user_id: str | None,
    user_agent: str = LINE_APP_USER_AGENT,
) -> dict[str, Any]:
    """Tap ``tracking_url`` as ``user_id`` (None: anonymously); what happened."""
    token = token_of(tracking_url)
    if token is None:
        raise ClickFailed(
            f"{tracking_url!r} is no tracking URL (https://liff.line.me/<liff id>/click?t=… "
            "or …/t/<token>): copy one from `linecrm inbox U…`"
        )
    api = api_url.rstrip("/")
    headers = {"User-Agent": user_agent}
    try:
        if user_id is None:
            response = requests.get(
                f"{api}/t/{token}", headers=headers, allow_redirects=False, timeout=TIMEOUT_SECONDS
            )
            if response.status_code != 302:
                raise ClickFailed(_refusal(response))
            return {"identified": False, "status": 302, "url": response.headers["Location"]}
        minted = requests.post(
            f"{emulator_url.rstrip('/')}/_emulator/channels/{channel_id}/id-token",
            json={"userId": user_id},
            timeout=TIMEOUT_SECONDS,
        )
        if minted.status_code != 200:
            raise ClickFailed(f"the emulator gave no ID token: {_refusal(minted)}")
        response = requests.post(
            f"{api}/t/{token}",
            json={"idToken": minted.json()["idToken"]},
            headers=headers,
            timeout=TIMEOUT_SECONDS,
        )
    except requests.RequestException as error:
        raise ClickFailed(f"cannot reach the local stack at {api}: {error}") from error
    if response.status_code != 200:
        raise ClickFailed(_refusal(response))
    answer = response.json()
    return {"identified": True, "user": user_id, "first": answer["first"], "url": answer["url"]}


def _refusal(response: requests.Response) -> str:
    try:
        message = response.json().get("message", response.text)
    except ValueError:
        message = response.text
    return f"HTTP {response.status_code}: {message}"
