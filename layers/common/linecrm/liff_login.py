"""LIFF / LINE Login: who the verified LINE user is to this channel.

``POST /liff/login`` (functions/liff_login) hands the ID token from
``liff.getIDToken()`` here: it is verified (``linecrm.line.login``), then the friend
is found (its last login time is recorded, nothing else changes) or, for a LINE user
who never followed, created as ``login_only`` with the token's display name. A friend
with an ID link answers with the shop's member id.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from linecrm.channels import ChannelCredentials
from linecrm.domain.friends import Friend
from linecrm.line.login import IdTokenVerifier, LoginChannel


class LoginFriends(Protocol):
    def record_login(
        self, channel_id: str, user_id: str, display_name: str | None, at: datetime
    ) -> tuple[Friend, bool]: ...


class LoginResult(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    user_id: str = Field(serialization_alias="userId")
    display_name: str | None = Field(serialization_alias="displayName")
    is_friend: bool = Field(serialization_alias="isFriend")
    linked: bool
    member_id: str | None = Field(default=None, serialization_alias="memberId")
    # Not in the response: whether this login created the (login-only) friend.
    created: bool = Field(default=False, exclude=True)

    def to_json(self) -> dict[str, object]:
        return self.model_dump(by_alias=True, exclude_none=True)


def login_channel(channel_id: str, credentials: ChannelCredentials) -> LoginChannel:
    """The LINE Login channel the channel's LIFF tokens are issued for: its own
    ``login_channel_id`` (with its secret for HS256), else the channel itself."""
    if credentials.login_channel_id:
        return LoginChannel(credentials.login_channel_id, credentials.login_channel_secret)
    return LoginChannel(channel_id, credentials.channel_secret)


class LiffLogin:
    def __init__(
        self,
        verifier: IdTokenVerifier,
        friends: LoginFriends,
        clock: Callable[[], datetime],
    ) -> None:
        self._verifier = verifier
        self._friends = friends
        self._clock = clock

    def login(
        self,
        channel_id: str,
        credentials: ChannelCredentials,
        id_token: str,
        nonce: str | None = None,
    ) -> LoginResult:
        """``IdTokenRejected`` / ``LoginServiceUnavailable`` from the verifier."""
        token = self._verifier.verify(id_token, login_channel(channel_id, credentials), nonce)
        friend, created = self._friends.record_login(
            channel_id, token.user_id, token.name, self._clock()
        )
        return LoginResult(
            user_id=token.user_id,
            display_name=friend.display_name or token.name,
            is_friend=friend.status == "active",
            linked=friend.member_id is not None,
            member_id=friend.member_id,
            created=created,
        )
