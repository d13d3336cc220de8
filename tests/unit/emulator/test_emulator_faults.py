"""Injected faults: seeded, deterministic, and a held request ends when the emulator stops."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import requests
from werkzeug.test import Client

from linecrm_local.emulator import InvalidFault, LineEmulator

from .conftest import CHANNEL_ID, TOKEN, EmulatorFactory, auth, push, text


def statuses(client: Client, user_id: str, count: int) -> list[int]:
    return [push(client, user_id).status_code for _ in range(count)]


def test_seeded_faults_repeat_exactly(client: Client, emulator: LineEmulator) -> None:
    friend = emulator.add_friend(CHANNEL_ID).user_id
    emulator.set_faults("push", error_500=0.3, error_429=0.3, seed=42)
    first = statuses(client, friend, 30)
    emulator.set_faults("push", error_500=0.3, error_429=0.3, seed=42)
    assert statuses(client, friend, 30) == first
    assert set(first) == {200, 429, 500}
    emulator.clear_faults()
    assert statuses(client, friend, 3) == [200, 200, 200]


def test_faults_apply_to_their_endpoint_or_all(client: Client, emulator: LineEmulator) -> None:
    friend = emulator.add_friend(CHANNEL_ID).user_id
    emulator.set_faults("multicast", error_500=1.0)
    assert push(client, friend).status_code == 200
    emulator.set_faults("*", error_429=1.0)
    assert push(client, friend).status_code == 429
    assert client.get("/v2/bot/message/quota", headers=auth()).status_code == 429


def test_plain_500_delivers_nothing(client: Client, emulator: LineEmulator) -> None:
    friend = emulator.add_friend(CHANNEL_ID).user_id
    emulator.set_faults("push", error_500=1.0)
    response = push(client, friend)
    assert (response.status_code, response.json) == (500, {"message": "Internal server error"})
    assert emulator.inbox(friend) == []


def test_500_after_delivery_accepts_the_retry_key(client: Client, emulator: LineEmulator) -> None:
    friend = emulator.add_friend(CHANNEL_ID).user_id
    key = {"X-Line-Retry-Key": str(uuid.uuid4())}
    emulator.set_faults("push", error_500_after_delivery=1.0)
    first = push(client, friend, text("once"), **key)
    assert first.status_code == 500
    assert [m.message["text"] for m in emulator.inbox(friend)] == ["once"]
    emulator.clear_faults()
    retry = push(client, friend, text("once"), **key)
    assert retry.status_code == 409
    assert retry.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert len(emulator.inbox(friend)) == 1


def test_delay_slows_the_answer(client: Client, emulator: LineEmulator) -> None:
    friend = emulator.add_friend(CHANNEL_ID).user_id
    emulator.set_faults("push", delay_seconds=0.2)
    started = time.monotonic()
    assert push(client, friend).status_code == 200
    assert time.monotonic() - started >= 0.2


def test_invalid_fault_settings_are_refused(emulator: LineEmulator) -> None:
    with pytest.raises(InvalidFault):
        emulator.set_faults("push", error_500=0.7, error_429=0.7)
    with pytest.raises(InvalidFault):
        emulator.set_faults("teleport", error_500=0.1)


def test_held_request_times_out_the_client_and_ends_when_stopped(
    make_emulator: EmulatorFactory,
) -> None:
    emulator = make_emulator(fault_timeout_hold_seconds=30.0)
    emulator.start()
    friend = emulator.add_friend(CHANNEL_ID).user_id
    emulator.set_faults("push", timeout=1.0)
    url = f"{emulator.base_url}/v2/bot/message/push"
    body = {"to": friend, "messages": [text()]}
    with pytest.raises(requests.Timeout):
        requests.post(url, json=body, headers=auth(TOKEN), timeout=0.3)
    # A second held request is still waiting when we stop: stop must not wait 30 s.
    held = threading.Thread(
        target=lambda: requests.post(url, json=body, headers=auth(TOKEN), timeout=10),
        daemon=True,
    )
    held.start()
    time.sleep(0.1)
    started = time.monotonic()
    emulator.stop()
    held.join(timeout=5)
    assert time.monotonic() - started < 20  # not the 30 s a held request has
    assert not held.is_alive()
    assert emulator.inbox(friend) == []
