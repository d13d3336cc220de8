"""Delivery to inboxes, retry keys, reply tokens, narrowcast and broadcast."""

from __future__ import annotations

import uuid

from werkzeug.test import Client

from linecrm_local.emulator import LineEmulator

from .conftest import CHANNEL_ID, OTHER_TOKEN, FakeClock, auth, post, push, text


def test_push_lands_in_the_inbox_with_its_request_id(
    client: Client, emulator: LineEmulator
) -> None:
    friend = emulator.add_friend(CHANNEL_ID, "Hanako")
    key = str(uuid.uuid4())
    response = push(client, friend.user_id, text("one"), text("two"), **{"X-Line-Retry-Key": key})
    assert response.status_code == 200
    request_id = response.headers["x-line-request-id"]
    uuid.UUID(request_id)
    inbox = emulator.inbox(friend.user_id)
    assert [m.message["text"] for m in inbox] == ["one", "two"]
    assert {(m.endpoint, m.request_id, m.retry_key) for m in inbox} == {("push", request_id, key)}
    [call] = emulator.calls("push")
    assert (call.method, call.path, call.status, call.retry_key) == (
        "POST",
        "/v2/bot/message/push",
        200,
        key,
    )


def test_push_to_unknown_user_fails_and_to_blocked_user_is_dropped(
    client: Client, emulator: LineEmulator
) -> None:
    response = push(client, "U" + "9" * 32)
    assert (response.status_code, response.json) == (400, {"message": "Failed to send messages"})
    friend = emulator.add_friend(CHANNEL_ID)
    emulator.simulate_unfollow(CHANNEL_ID, friend.user_id)
    assert push(client, friend.user_id).status_code == 200
    assert emulator.inbox(friend.user_id) == []
    assert client.get("/v2/bot/message/quota/consumption", headers=auth()).json == {"totalUsage": 0}


def test_repeated_retry_key_is_409_with_the_first_request_id(
    client: Client, emulator: LineEmulator, clock: FakeClock
) -> None:
    friend = emulator.add_friend(CHANNEL_ID)
    key = str(uuid.uuid4())
    first = push(client, friend.user_id, **{"X-Line-Retry-Key": key})
    second = push(client, friend.user_id, **{"X-Line-Retry-Key": key})
    assert second.status_code == 409
    assert second.json == {"message": "The retry key is already accepted"}
    assert second.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert len(emulator.inbox(friend.user_id)) == 1
    # The key is per channel and lasts 24 hours.
    other = emulator.add_friend("2000000002", user_id=friend.user_id)
    body = {"to": other.user_id, "messages": [text()]}
    assert (
        post(
            client, "/v2/bot/message/push", body, OTHER_TOKEN, **{"X-Line-Retry-Key": key}
        ).status_code
        == 200
    )
    clock.advance(24 * 3600 + 1)
    assert push(client, friend.user_id, **{"X-Line-Retry-Key": key}).status_code == 200


def test_retry_key_must_be_a_uuid(client: Client, emulator: LineEmulator) -> None:
    friend = emulator.add_friend(CHANNEL_ID)
    response = push(client, friend.user_id, **{"X-Line-Retry-Key": "not-a-uuid"})
    assert response.status_code == 400
    assert emulator.inbox(friend.user_id) == []


def test_multicast_to_500_ids_drops_non_friends(client: Client, emulator: LineEmulator) -> None:
    friends = [emulator.add_friend(CHANNEL_ID).user_id for _ in range(450)]
    strangers = [f"U{i:032x}" for i in range(50)]
    body = {"to": friends + strangers, "messages": [text("sale")]}
    response = post(
        client, "/v2/bot/message/multicast", body, **{"X-Line-Retry-Key": str(uuid.uuid4())}
    )
    assert (response.status_code, response.json) == (200, {})
    assert all(len(emulator.inbox(user)) == 1 for user in friends)
    assert all(emulator.inbox(user) == [] for user in strangers)
    assert client.get("/v2/bot/message/quota/consumption", headers=auth()).json == {
        "totalUsage": 450
    }


def test_broadcast_reaches_following_friends_only(client: Client, emulator: LineEmulator) -> None:
    following = emulator.add_friend(CHANNEL_ID).user_id
    blocked = emulator.add_friend(CHANNEL_ID).user_id
    emulator.simulate_unfollow(CHANNEL_ID, blocked)
    assert post(client, "/v2/bot/message/broadcast", {"messages": [text()]}).status_code == 200
    assert [m.endpoint for m in emulator.inbox(following)] == ["broadcast"]
    assert emulator.inbox(blocked) == []


def test_narrowcast_to_an_audience_and_its_progress(client: Client, emulator: LineEmulator) -> None:
    members = [emulator.add_friend(CHANNEL_ID).user_id for _ in range(60)]
    outsider = emulator.add_friend(CHANNEL_ID).user_id
    upload = post(
        client,
        "/v2/bot/audienceGroup/upload",
        {"description": "vip", "audiences": [{"id": user} for user in members]},
    )
    assert upload.status_code == 202
    audience_id = upload.json["audienceGroupId"]
    body = {
        "messages": [text("vip only")],
        "recipient": {"type": "audience", "audienceGroupId": audience_id},
    }
    response = post(client, "/v2/bot/message/narrowcast", body)
    assert response.status_code == 202
    request_id = response.headers["x-line-request-id"]
    assert all(len(emulator.inbox(user)) == 1 for user in members)
    assert emulator.inbox(outsider) == []
    progress = client.get(
        f"/v2/bot/message/progress/narrowcast?requestId={request_id}", headers=auth()
    ).json
    assert (progress["phase"], progress["successCount"], progress["targetCount"]) == (
        "succeeded",
        60,
        60,
    )


def test_filtered_narrowcast_below_50_recipients_fails(
    client: Client, emulator: LineEmulator
) -> None:
    members = [emulator.add_friend(CHANNEL_ID).user_id for _ in range(3)]
    upload = post(
        client,
        "/v2/bot/audienceGroup/upload",
        {"description": "few", "audiences": [{"id": u} for u in members]},
    )
    recipient = {"type": "audience", "audienceGroupId": upload.json["audienceGroupId"]}
    response = post(
        client, "/v2/bot/message/narrowcast", {"messages": [text()], "recipient": recipient}
    )
    progress = client.get(
        "/v2/bot/message/progress/narrowcast",
        query_string={"requestId": response.headers["x-line-request-id"]},
        headers=auth(),
    ).json
    assert (progress["phase"], progress["errorCode"]) == ("failed", 2)
    assert all(emulator.inbox(user) == [] for user in members)


def test_reply_token_is_single_use_and_expires(
    client: Client, emulator: LineEmulator, clock: FakeClock
) -> None:
    friend = emulator.add_friend(CHANNEL_ID)
    token = emulator.simulate_text(CHANNEL_ID, friend.user_id, "hi").reply_token
    assert token
    reply = {"replyToken": token, "messages": [text("welcome")]}
    assert post(client, "/v2/bot/message/reply", reply).status_code == 200
    assert [m.endpoint for m in emulator.inbox(friend.user_id)] == ["reply"]
    again = post(client, "/v2/bot/message/reply", reply)
    assert (again.status_code, again.json) == (400, {"message": "Invalid reply token"})

    late = emulator.simulate_postback(CHANNEL_ID, friend.user_id, "a=1").reply_token
    clock.advance(61)
    assert (
        post(
            client, "/v2/bot/message/reply", {"replyToken": late, "messages": [text()]}
        ).status_code
        == 400
    )

    foreign = emulator.simulate_text(CHANNEL_ID, friend.user_id, "x").reply_token
    body = {"replyToken": foreign, "messages": [text()]}
    assert post(client, "/v2/bot/message/reply", body, OTHER_TOKEN).status_code == 400
    assert (
        post(
            client, "/v2/bot/message/reply", {"replyToken": "nope", "messages": [text()]}
        ).status_code
        == 400
    )


def test_profile_and_followers(client: Client, emulator: LineEmulator) -> None:
    friends = [emulator.add_friend(CHANNEL_ID, f"F{i}").user_id for i in range(5)]
    profile = client.get(f"/v2/bot/profile/{friends[0]}", headers=auth()).json
    assert (profile["displayName"], profile["userId"], profile["language"]) == (
        "F0",
        friends[0],
        "ja",
    )
    assert "pictureUrl" in profile
    assert "statusMessage" in profile
    missing = client.get(f"/v2/bot/profile/U{'1' * 32}", headers=auth())
    assert (missing.status_code, missing.json) == (404, {"message": "Not found"})

    page = client.get("/v2/bot/followers/ids?limit=2", headers=auth()).json
    seen = list(page["userIds"])
    while "next" in page:
        page = client.get(
            f"/v2/bot/followers/ids?limit=2&start={page['next']}", headers=auth()
        ).json
        seen += page["userIds"]
    assert seen == friends
    assert client.get("/v2/bot/followers/ids?limit=5000", headers=auth()).status_code == 400


def test_link_token(client: Client, emulator: LineEmulator) -> None:
    friend = emulator.add_friend(CHANNEL_ID)
    response = client.post(f"/v2/bot/user/{friend.user_id}/linkToken", headers=auth())
    assert response.status_code == 200
    assert len(response.json["linkToken"]) == 32
