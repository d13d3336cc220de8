"""The container's LINE clients are keyed on the token, and a client's 401 reload
reads Secrets Manager past Powertools' cache."""

from __future__ import annotations

import json

from linecrm.config.sender import SenderSettings
from linecrm.wiring import Container
from tests.unit.conftest import ACCESS_TOKEN, CHANNEL_ID, CHANNEL_SECRET, AwsWorld


def put_token(aws: AwsWorld, token: str) -> None:
    aws.client("secretsmanager").put_secret_value(
        SecretId=f"linecrm/channel/{CHANNEL_ID}",
        SecretString=json.dumps({"channel_secret": CHANNEL_SECRET, "channel_access_token": token}),
    )


def test_a_rotated_secret_is_read_past_the_cache_and_gets_a_client_of_its_own(
    aws: AwsWorld,
) -> None:
    container = Container(SenderSettings)
    first = container.line_client(CHANNEL_ID)
    assert first.access_token == ACCESS_TOKEN
    assert container.line_client(CHANNEL_ID) is first

    put_token(aws, "rotated-token")
    # Within the cache's max age the cached token is still handed out...
    assert container.line_client(CHANNEL_ID) is first
    assert container.channels.credentials(CHANNEL_ID).channel_access_token == ACCESS_TOKEN
    # ...until a 401 makes the client reload it, past the cache (what _renewed_token does).
    assert first._renewed_token(ACCESS_TOKEN) is not None
    assert first.access_token == "rotated-token"

    second = container.line_client(CHANNEL_ID)
    assert second is not first and second.access_token == "rotated-token"
    assert list(container._line_clients) == [(CHANNEL_ID, "rotated-token")]
