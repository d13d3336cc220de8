"""Fixtures for the LINE emulator's unit tests: a channel, a movable clock, a client."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.test import Client, TestResponse
from werkzeug.wrappers import Request, Response

from linecrm_local.emulator import EmulatedChannel, EmulatorConfig, LineEmulator

CHANNEL_ID = "2000000001"
OTHER_CHANNEL_ID = "2000000002"
SECRET = "0123456789abcdef0123456789abcdef"
TOKEN = "emulator-token-1"
OTHER_TOKEN = "emulator-token-2"
BOT_USER_ID = "U" + "b" * 32


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class WebhookReceiver:
    """A tiny webhook endpoint: records each request, answers the queued statuses."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.requests]


def make_config(webhook_url: str | None = None, **overrides: Any) -> EmulatorConfig:
    channels = [
        EmulatedChannel(CHANNEL_ID, SECRET, TOKEN, webhook_url, BOT_USER_ID),
        EmulatedChannel(OTHER_CHANNEL_ID, "f" * 32, OTHER_TOKEN, None, "U" + "c" * 32),
    ]
    overrides.setdefault("redelivery_delays_seconds", (0.01, 0.01))
    return EmulatorConfig(channels=channels, **overrides)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()

    def app(environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        receiver.requests.append((dict(request.headers), request.get_data()))
        status = receiver.statuses.pop(0) if receiver.statuses else 200
        return Response("{}", status=status, content_type="application/json")(
            environ, start_response
        )

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_port}/webhook/{CHANNEL_ID}"
    yield receiver
    server.shutdown()
    server.server_close()


EmulatorFactory = Callable[..., LineEmulator]


@pytest.fixture
def make_emulator(clock: FakeClock) -> Iterator[EmulatorFactory]:
    created: list[LineEmulator] = []

    def factory(webhook_url: str | None = None, **overrides: Any) -> LineEmulator:
        emulator = LineEmulator(make_config(webhook_url, **overrides), clock=clock)
        created.append(emulator)
        return emulator

    yield factory
    for emulator in created:
        emulator.stop()


@pytest.fixture
def emulator(make_emulator: EmulatorFactory) -> LineEmulator:
    return make_emulator()


@pytest.fixture
def client(emulator: LineEmulator) -> Client:
    return Client(emulator.wsgi_app)


def auth(token: str = TOKEN, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def text(value: str = "hello") -> dict[str, str]:
    return {"type": "text", "text": value}


def post(client: Client, path: str, body: Any, token: str = TOKEN, **headers: str) -> TestResponse:
    return client.post(path, json=body, headers=auth(token, **headers))


def push(client: Client, to: str, *messages: dict[str, Any], **headers: str) -> TestResponse:
    return post(
        client,
        "/v2/bot/message/push",
        {"to": to, "messages": list(messages) or [text()]},
        **headers,
    )
