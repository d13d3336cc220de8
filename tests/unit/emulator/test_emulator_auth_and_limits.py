"""Authentication, rate limits and the monthly quota."""

from __future__ import annotations

from werkzeug.test import Client

from linecrm_local.emulator import LineEmulator

from .conftest import (
    CHANNEL_ID,
    OTHER_TOKEN,
    TOKEN,
    EmulatorFactory,
    FakeClock,
    auth,
    post,
    push,
    text,
)

AUTH_FAILED = {
    "message": "Authentication failed. Confirm that the access token in the authorization "
    "header is valid."
}


def test_missing_or_unknown_token_is_401(client: Client) -> None:
    body = {"to": "U" + "0" * 32, "messages": [text()]}
    assert client.post("/v2/bot/message/push", json=body).json == AUTH_FAILED
    response = client.post("/v2/bot/message/push", json=body, headers=auth("wrong"))
    assert (response.status_code, response.json) == (401, AUTH_FAILED)
    response = client.get("/v2/bot/message/quota", headers={"Authorization": "Basic abc"})
    assert response.status_code == 401


def test_the_token_identifies_the_channel(client: Client, emulator: LineEmulator) -> None:
    friend = emulator.add_friend(CHANNEL_ID)
    # A friend of channel 1 does not exist for channel 2.
    assert push(client, friend.user_id).status_code == 200
    response = post(
        client, "/v2/bot/message/push", {"to": friend.user_id, "messages": [text()]}, OTHER_TOKEN
    )
    assert response.status_code == 400


def test_rate_limit_answers_429_until_tokens_refill(
    make_emulator: EmulatorFactory, clock: FakeClock
) -> None:
    emulator = make_emulator(rate_limits={"push": 2.0})
    client = Client(emulator.wsgi_app)
    friend = emulator.add_friend(CHANNEL_ID)
    assert [push(client, friend.user_id).status_code for _ in range(3)] == [200, 200, 429]
    assert push(client, friend.user_id).json == {
        "message": "The API rate limit has been exceeded. Try again later."
    }
    clock.advance(0.5)
    assert push(client, friend.user_id).status_code == 200
    # Other endpoints have buckets of their own.
    assert client.get("/v2/bot/message/quota", headers=auth()).status_code == 200


def test_broadcast_limit_is_per_hour(make_emulator: EmulatorFactory, clock: FakeClock) -> None:
    emulator = make_emulator()
    client = Client(emulator.wsgi_app)
    statuses = [
        post(client, "/v2/bot/message/broadcast", {"messages": [text()]}).status_code
        for _ in range(61)
    ]
    assert statuses == [200] * 60 + [429]
    clock.advance(60)
    assert post(client, "/v2/bot/message/broadcast", {"messages": [text()]}).status_code == 200


def test_monthly_quota_counts_recipients_and_reply_is_free(make_emulator: EmulatorFactory) -> None:
    emulator = make_emulator(monthly_quota=3)
    client = Client(emulator.wsgi_app)
    a, b, c = (emulator.add_friend(CHANNEL_ID).user_id for _ in range(3))
    # Five message objects to one user count as one message.
    assert push(client, a, *[text()] * 5).status_code == 200
    assert (
        post(client, "/v2/bot/message/multicast", {"to": [b, c], "messages": [text()]}).status_code
        == 200
    )
    response = push(client, a)
    assert (response.status_code, response.json) == (
        429,
        {"message": "You have reached your monthly limit."},
    )
    assert client.get("/v2/bot/message/quota", headers=auth()).json == {
        "type": "limited",
        "value": 3,
    }
    usage = client.get("/v2/bot/message/quota/consumption", headers=auth()).json
    assert usage == {"totalUsage": 3}
    assert len(emulator.inbox(a)) == 5
    delivery = emulator.simulate_text(CHANNEL_ID, a, "hi")
    reply = {"replyToken": delivery.reply_token, "messages": [text("free")]}
    assert post(client, "/v2/bot/message/reply", reply).status_code == 200


def test_monthly_quota_starts_again_next_month(
    make_emulator: EmulatorFactory, clock: FakeClock
) -> None:
    emulator = make_emulator(monthly_quota=1)
    client = Client(emulator.wsgi_app)
    user = emulator.add_friend(CHANNEL_ID).user_id
    assert [push(client, user).status_code for _ in range(2)] == [200, 429]
    clock.advance(32 * 24 * 3600)
    assert client.get("/v2/bot/message/quota/consumption", headers=auth()).json == {"totalUsage": 0}
    assert push(client, user).status_code == 200


def test_a_rotated_token_makes_the_old_one_401_at_once(
    client: Client, emulator: LineEmulator
) -> None:
    friend = emulator.add_friend(CHANNEL_ID, "Taro").user_id
    response = client.post(f"/_emulator/channels/{CHANNEL_ID}/rotate-token", json={})
    assert response.status_code == 200
    new_token = response.json["channelAccessToken"]
    assert new_token != TOKEN
    assert push(client, friend).status_code == 401  # the old token, like LINE
    assert (
        post(
            client, "/v2/bot/message/push", {"to": friend, "messages": [text()]}, token=new_token
        ).status_code
        == 200
    )
    assert emulator.channel(CHANNEL_ID).channel_access_token == new_token


def test_rotation_can_keep_the_old_token_valid_for_a_while(
    client: Client, emulator: LineEmulator, clock: FakeClock
) -> None:
    friend = emulator.add_friend(CHANNEL_ID, "Taro").user_id
    response = client.post(
        f"/_emulator/channels/{CHANNEL_ID}/rotate-token",
        json={"channelAccessToken": "token-2", "oldTokenValidSeconds": 60},
    )
    assert response.json["channelAccessToken"] == "token-2"
    assert push(client, friend).status_code == 200
    clock.advance(61)
    assert push(client, friend).status_code == 401
    assert (
        post(
            client, "/v2/bot/message/push", {"to": friend, "messages": [text()]}, token="token-2"
        ).status_code
        == 200
    )


def test_rotation_refuses_a_token_used_before_or_bad_input(client: Client) -> None:
    path = f"/_emulator/channels/{CHANNEL_ID}/rotate-token"
    assert client.post(path, json={"channelAccessToken": TOKEN}).status_code == 400
    assert client.post(path, json={"channelAccessToken": OTHER_TOKEN}).status_code == 400
    assert client.post(path, json={"oldTokenValidSeconds": "soon"}).status_code == 400
    assert client.post(path, json={"ttl": 1}).status_code == 400
    assert client.post("/_emulator/channels/nope/rotate-token", json={}).status_code == 404


def test_rotation_can_keep_the_old_token_valid_for_a_number_of_calls(
    client: Client, emulator: LineEmulator
) -> None:
    friend = emulator.add_friend(CHANNEL_ID, "Taro").user_id
    emulator.rotate_token(CHANNEL_ID, "token-2", old_token_valid_calls=2)
    # Two calls with either token spend the grace; the third with the old one is refused.
    assert push(client, friend).status_code == 200
    assert (
        post(
            client, "/v2/bot/message/push", {"to": friend, "messages": [text()]}, token="token-2"
        ).status_code
        == 200
    )
    assert push(client, friend).status_code == 401
    assert emulator.channel(CHANNEL_ID).retired_token_calls == {}
