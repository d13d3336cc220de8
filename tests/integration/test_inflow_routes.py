"""Inflow routes end to end on the local stack: a route's QR URL → LINE Login's
authorize page (the emulator's, with ``bot_prompt=aggressive``) → consent (add the
friend, or not) → our callback → the follow is attributed to the route, in either
order: its tags, its scenario, a follow trigger naming the route, the report's
counters. Every AWS call is checked against the function's grants in the CDK template."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from PIL import Image

from linecrm.events.signature import compute_signature
from linecrm_local import cli
from linecrm_local.demo import (
    DEMO_ADMIN_TOKEN,
    DEMO_CHANNEL_ID,
    DEMO_EVENT_SOURCE,
    DEMO_EVENT_SOURCE_KEY,
    DEMO_LOGIN_CHANNEL_ID,
)
from linecrm_local.emulator import ids
from linecrm_local.stack import LocalStack
from tests.support.admin_http import READ, admin, eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def deliver_due(stack: LocalStack) -> None:
    """Scenario steps due now go out in their minute's bucket: move past it and fire."""
    stack.clock.advance(timedelta(seconds=61))
    stack.runner.run_due()
    stack.invoker.drain(timeout=60)
    stack.poller.drain(timeout=60)


def text(value: str) -> dict[str, str]:
    return {"type": "text", "text": value}


@pytest.fixture(scope="module")
def stack(local_stack: LocalStack) -> LocalStack:
    assert admin(local_stack, "POST", "/tags", {"name": "QR渋谷"}).status_code == 201
    assert admin(local_stack, "POST", "/tags", {"name": "広告B"}).status_code == 201
    for scenario_id, definition in {
        # Started by the route itself (no trigger of its own).
        "qr-welcome": {
            "name": "QR特典",
            "message_class": "transactional",
            "steps": [{"id": "gift", "timing": {"after": "0m"}, "messages": [text("QR特典です")]}],
        },
        # Started by a follow trigger that names the route.
        "shop-a-follow": {
            "name": "渋谷店から",
            "message_class": "transactional",
            "triggers": [{"type": "follow", "inflow_route": "shop_a"}],
            "steps": [
                {"id": "hi", "timing": {"after": "0m"}, "messages": [text("渋谷店へようこそ")]}
            ],
        },
    }.items():
        answer = admin(local_stack, "PUT", f"/scenarios/{scenario_id}", definition)
        assert answer.status_code == 200, answer.text
    return local_stack


def create_route(stack: LocalStack, route_id: str, **settings: Any) -> dict[str, Any]:
    answer = admin(stack, "POST", "/routes", {"route_id": route_id, "name": route_id, **settings})
    assert answer.status_code == 201, answer.text
    route: dict[str, Any] = answer.json()
    return route


def open_route(stack: LocalStack, browser: requests.Session, url: str) -> str:
    """The route's URL → LINE Login's authorize page; its consent form's request id."""
    to_login = browser.get(url, allow_redirects=False, timeout=READ)
    assert to_login.status_code == 302, to_login.text
    location = to_login.headers["Location"]
    assert location.startswith(f"{stack.emulator_url}/oauth2/v2.1/authorize?")
    query = parse_qs(urlsplit(location).query)
    assert query["bot_prompt"] == ["aggressive"]
    assert query["scope"] == ["openid profile"]
    assert query["client_id"] == [DEMO_LOGIN_CHANNEL_ID]
    assert query["redirect_uri"] == [f"{stack.gateway_url}/r/callback"]
    assert "linecrm_inflow" in browser.cookies
    consent = browser.get(location, timeout=READ)
    assert consent.status_code == 200
    found = re.search(r"name='request' value='([^']+)'", consent.text)
    assert found is not None, consent.text
    return found.group(1)


def consent(
    stack: LocalStack, browser: requests.Session, request_id: str, user_id: str, action: str
) -> requests.Response:
    return browser.post(
        f"{stack.emulator_url}/oauth2/v2.1/authorize/consent",
        data={"request": request_id, "user_id": user_id, "action": action},
        allow_redirects=False,
        timeout=READ,
    )


def friend(stack: LocalStack, user_id: str) -> dict[str, Any]:
    answer = admin(stack, "GET", f"/friends/{user_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def inbox_texts(stack: LocalStack, user_id: str) -> list[str]:
    return [str(received.message.get("text", "")) for received in stack.emulator.inbox(user_id)]


def report(stack: LocalStack, route_id: str) -> dict[str, int]:
    answer = admin(stack, "GET", f"/routes/{route_id}")
    assert answer.status_code == 200, answer.text
    counters: dict[str, int] = answer.json()["report"]
    return counters


def test_qr_url_login_follow_is_attributed_with_tags_and_scenario(stack: LocalStack) -> None:
    route = create_route(
        stack,
        "shop_a",
        tags=["QR渋谷"],
        scenario="qr-welcome",
        utm={"source": "poster", "campaign": "open2026"},
        landing_url="https://shop.example/welcome?from=line",
    )
    assert route["url"] == f"{stack.gateway_url}/r/{route['code']}"
    png = admin(stack, "GET", "/routes/shop_a/qr.png")
    assert png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).format == "PNG"
    svg = admin(stack, "GET", "/routes/shop_a/qr.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in svg.text

    browser = requests.Session()
    user_id = ids.user_id()
    request_id = open_route(stack, browser, route["url"])
    # LINE's add-friend prompt inside the login: the follow webhook goes out first.
    back = consent(stack, browser, request_id, user_id, "allow_add")
    assert back.status_code == 302
    callback = back.headers["Location"]
    assert callback.startswith(f"{stack.gateway_url}/r/callback?")
    assert parse_qs(urlsplit(callback).query)["friendship_status_changed"] == ["true"]
    assert friend(stack, user_id)["inflow_route"] is None  # not attributed yet

    landed = browser.get(callback, allow_redirects=False, timeout=READ)
    assert landed.status_code == 302, landed.text
    landing = urlsplit(landed.headers["Location"])
    assert (landing.netloc, landing.path) == ("shop.example", "/welcome")
    assert parse_qs(landing.query) == {
        "from": ["line"],
        "utm_source": ["poster"],
        "utm_campaign": ["open2026"],
    }

    shown = friend(stack, user_id)
    assert shown["inflow_route"] == "shop_a"
    assert shown["last_inflow_route"] == "shop_a"
    assert [tag["name"] for tag in shown["tags"]] == ["QR渋谷"]
    deliver_due(stack)
    eventually(lambda: "QR特典です" in inbox_texts(stack, user_id), "the route's scenario")
    eventually(lambda: "渋谷店へようこそ" in inbox_texts(stack, user_id), "the follow trigger")
    assert report(stack, "shop_a") == {"friends": 1, "blocked": 0, "linked": 0, "converted": 0}

    # The code was spent and the cookie cleared: the same callback again is refused.
    again = browser.get(callback, allow_redirects=False, timeout=READ)
    assert again.status_code == 400
    assert stack.gateway.internal_errors == 0


def test_login_first_then_follow_on_the_add_friend_page(stack: LocalStack) -> None:
    route = create_route(stack, "ad_b", tags=["広告B"], scenario="qr-welcome")
    browser = requests.Session()
    user_id = ids.user_id()
    request_id = open_route(stack, browser, route["url"])
    back = consent(stack, browser, request_id, user_id, "allow")  # no friend add yet
    assert parse_qs(urlsplit(back.headers["Location"]).query)["friendship_status_changed"] == [
        "false"
    ]
    to_add = browser.get(back.headers["Location"], allow_redirects=False, timeout=READ)
    assert to_add.status_code == 302, to_add.text
    add_friend_url = to_add.headers["Location"]
    assert add_friend_url == f"{stack.emulator_url}/R/ti/p/%40linecrm-demo"
    assert admin(stack, "GET", f"/friends/{user_id}").status_code == 404

    page = browser.get(add_friend_url, timeout=READ)
    assert user_id in page.text  # the emulator knows who logged in
    added = browser.post(add_friend_url, data={"user_id": user_id}, timeout=READ)
    assert added.status_code == 200

    shown = eventually(
        lambda: (f := friend(stack, user_id)).get("inflow_route") == "ad_b" and f,
        "the follow attributed to ad_b",
    )
    assert [tag["name"] for tag in shown["tags"]] == ["広告B"]
    deliver_due(stack)
    eventually(lambda: "QR特典です" in inbox_texts(stack, user_id), "the route's scenario")
    assert "渋谷店へようこそ" not in inbox_texts(stack, user_id)  # another route's trigger
    assert report(stack, "ad_b")["friends"] == 1

    # Counters follow the friend: blocked, back, a purchase.
    stack.emulator.simulate_unfollow(DEMO_CHANNEL_ID, user_id)
    eventually(lambda: report(stack, "ad_b")["blocked"] == 1, "blocked counted")
    stack.emulator.simulate_follow(DEMO_CHANNEL_ID, user_id)
    eventually(lambda: report(stack, "ad_b")["blocked"] == 0, "back again")
    assert friend(stack, user_id)["inflow_route"] == "ad_b"  # first touch stays
    timestamp = str(int(stack.clock.now().timestamp()))
    event = {
        "name": "purchase",
        "user": user_id,
        "idempotency_key": "p-1",
        "occurred_at": stack.clock.now().isoformat(),
    }
    body = json.dumps({"events": [event]}).encode()
    sent = requests.post(
        stack.events_url(),
        data=body,
        headers={
            "content-type": "application/json",
            "x-linecrm-source": DEMO_EVENT_SOURCE,
            "x-linecrm-timestamp": timestamp,
            "x-linecrm-signature": compute_signature(DEMO_EVENT_SOURCE_KEY, timestamp, body),
        },
        timeout=READ,
    )
    assert sent.json()["applied"] == 1, sent.text
    assert report(stack, "ad_b") == {"friends": 1, "blocked": 0, "linked": 0, "converted": 1}
    assert stack.gateway.internal_errors == 0


def test_cancel_unknown_code_and_forged_state_get_clear_pages(stack: LocalStack) -> None:
    route = create_route(stack, "flyer_c")
    browser = requests.Session()
    request_id = open_route(stack, browser, route["url"])
    back = consent(stack, browser, request_id, ids.user_id(), "cancel")
    assert "error=access_denied" in back.headers["Location"]
    cancelled = browser.get(back.headers["Location"], allow_redirects=False, timeout=READ)
    assert cancelled.status_code == 200
    assert "Login cancelled" in cancelled.text
    assert route["url"] in cancelled.text  # try again

    unknown = requests.get(f"{stack.gateway_url}/r/zzzzzzzz", timeout=READ)
    assert unknown.status_code == 404
    assert "text/html" in unknown.headers["content-type"]
    forged = requests.get(
        f"{stack.gateway_url}/r/callback", params={"code": "x", "state": "e30.AAAA"}, timeout=READ
    )
    assert forged.status_code == 400
    as_json = requests.get(
        f"{stack.gateway_url}/r/callback",
        params={"code": "x", "state": "nope"},
        headers={"accept": "application/json"},
        timeout=READ,
    )
    assert as_json.status_code == 400
    assert set(as_json.json()) == {"message", "field", "errors"}

    # LINE checks the redirect URI against the registered Callback URL.
    wrong = requests.get(
        f"{stack.emulator_url}/oauth2/v2.1/authorize",
        params={
            "response_type": "code",
            "client_id": DEMO_LOGIN_CHANNEL_ID,
            "redirect_uri": "https://evil.example/cb",
            "state": "s",
            "scope": "openid",
        },
        allow_redirects=False,
        timeout=READ,
    )
    assert wrong.status_code == 400
    assert stack.gateway.internal_errors == 0


def test_route_admin_mistakes_are_4xx(stack: LocalStack) -> None:
    assert (
        admin(stack, "POST", "/routes", {"route_id": "x1", "name": "n", "tags": ["nope"]}).json()[
            "field"
        ]
        == "tags.0"
    )
    assert (
        admin(stack, "POST", "/routes", {"route_id": "x1", "name": "n", "scenario": "no"}).json()[
            "field"
        ]
        == "scenario"
    )
    create_route(stack, "dup")
    assert admin(stack, "POST", "/routes", {"route_id": "dup", "name": "n"}).status_code == 409
    assert admin(stack, "GET", "/routes/nothing").status_code == 404
    assert admin(stack, "GET", "/routes/nothing/qr.png").status_code == 404
    assert admin(stack, "DELETE", "/routes/dup").status_code == 204
    assert admin(stack, "DELETE", "/routes/dup").status_code == 404
    listed = admin(stack, "GET", "/routes").json()["routes"]
    assert "dup" not in [route["route_id"] for route in listed]


def test_the_cli_creates_lists_downloads_and_deletes_routes(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def linecrm(*argv: str, status: int = 0) -> Any:
        code = cli.main(
            [
                "routes",
                argv[0],
                "--api-url",
                stack.gateway_url,
                "--token",
                DEMO_ADMIN_TOKEN,
                *argv[1:],
            ]
        )
        out, err = capsys.readouterr()
        assert code == status, (out, err)
        return json.loads(out) if status == 0 else err

    created = linecrm(
        "create", "cli_poster", "--name", "CLIポスター", "--tag", "QR渋谷", "--utm-source", "poster"
    )
    assert (created["tags"], created["utm"]["source"]) == (["QR渋谷"], "poster")
    assert "cli_poster" in [route["route_id"] for route in linecrm("list")["routes"]]
    assert linecrm("show", "cli_poster")["report"]["friends"] == 0
    png, svg = tmp_path / "poster.png", tmp_path / "poster.svg"
    assert linecrm("qr", "cli_poster", "--format", "png", "-o", str(png))["bytes"] > 100
    assert Image.open(png).format == "PNG"
    linecrm("qr", "cli_poster", "--format", "svg", "-o", str(svg), "--scale", "4")
    assert svg.read_text().startswith("<?xml")

    # Mistakes: one line each, exit status 2.
    for argv in (
        ("show", "nothing"),
        ("qr", "nothing", "-o", str(tmp_path / "x.png")),
        ("qr", "cli_poster", "-o", str(tmp_path / "no" / "such" / "dir.png")),
        ("qr", "cli_poster", "--scale", "99", "-o", str(png)),
        ("create", "cli_poster", "--name", "again"),
        ("create", "bad id", "--name", "x"),
    ):
        err = linecrm(*argv, status=2)
        assert err.startswith("linecrm: ") and err.count("\n") == 1, err
    # A phone's walk through the emulator's LINE Login: login + friend add in one.
    visited = linecrm("visit", "cli_poster")
    assert visited["callback"] == 200  # a friend now, no landing page: thank-you page
    assert friend(stack, visited["userId"])["inflow_route"] == "cli_poster"
    declined = linecrm("visit", "cli_poster", "--no-add-friend")
    assert declined["next"] == f"{stack.emulator_url}/R/ti/p/%40linecrm-demo"
    assert linecrm("show", "cli_poster")["report"]["friends"] == 1
    assert linecrm("delete", "cli_poster") == {"route_id": "cli_poster", "deleted": True}
