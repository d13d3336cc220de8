"""The admin function on moto, called with API Gateway events as the gateway builds them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.friends import FriendRepository
from tests.support.lambda_support import FakeLambdaContext, http_event, load_handler, response_json
from tests.unit.conftest import CHANNEL_ID, AwsWorld

NOW = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)


def user(number: int) -> str:
    """A LINE-shaped user id (U + 32 hex digits), in the order of ``number``."""
    return f"U{number:032x}"


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class AdminApi:
    handler: Any
    aws: AwsWorld
    channel_id: str = CHANNEL_ID

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, Any] | None = None,
        raw_body: str | None = None,
        headers: dict[str, str] | None = None,
        authorizer: dict[str, Any] | None = None,
    ) -> Answer:
        """``path`` is relative to the channel (``/friends``) or absolute (``/admin/…``);
        the caller is a machine (IAM) unless ``authorizer`` says otherwise."""
        response = self.invoke(
            method,
            path,
            body,
            query=query,
            raw_body=raw_body,
            headers=headers,
            authorizer=authorizer,
        )
        return Answer(response["statusCode"], response_json(response), response.get("headers", {}))

    def invoke(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, Any] | None = None,
        raw_body: str | None = None,
        headers: dict[str, str] | None = None,
        authorizer: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The function's raw result for the request."""
        full = path if path.startswith("/admin/") else f"/admin/channels/{self.channel_id}{path}"
        if query:
            full += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        text = raw_body if raw_body is not None else None if body is None else json.dumps(body)
        headers = {
            **({"content-type": "application/json"} if text is not None else {}),
            **(headers or {}),
        }
        event = http_event(
            method,
            full,
            route="/admin/{proxy+}",
            body=text,
            headers=headers,
            path_parameters={"proxy": full.split("?", 1)[0].removeprefix("/admin/")},
            authorizer=authorizer,
        )
        response: dict[str, Any] = self.handler.lambda_handler(event, FakeLambdaContext())
        return response

    # ------------------------------------------------------------ state, straight to the table
    @property
    def friends(self) -> FriendRepository:
        return FriendRepository(self.aws.client("dynamodb"), self.aws.resources.table_names["Main"])

    @property
    def config(self) -> ChannelConfigRepository:
        return ChannelConfigRepository(
            self.aws.client("dynamodb"), self.aws.resources.table_names["Main"]
        )

    def follow(self, *user_ids: str) -> None:
        for user_id in user_ids:
            self.friends.record_follow(self.channel_id, user_id, NOW)

    def tag(self, name: str, folder_id: str | None = None) -> str:
        answer = self.call("POST", "/tags", {"name": name, "folder_id": folder_id})
        assert answer.status == 201, answer.body
        tag_id: str = answer.body["tag_id"]
        return tag_id

    def field(self, key: str, type_: str, choices: list[str] | None = None) -> None:
        body = {"key": key, "label": key.title(), "type": type_, "choices": choices or []}
        answer = self.call("POST", "/fields", body)
        assert answer.status == 201, answer.body


@pytest.fixture
def api(aws: AwsWorld) -> AdminApi:
    return AdminApi(load_handler("admin"), aws)


def assert_error(answer: Answer, status: int, field: str | None = None) -> None:
    assert answer.status == status, answer.body
    assert answer.body["message"], answer.body
    if field is not None:
        assert answer.body["field"] == field, answer.body
