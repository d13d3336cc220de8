"""Messaging API routes that send messages, and the quota, profile and follower routes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Response

from . import config as keys
from . import ids
from .http import (
    MSG_INVALID_REPLY_TOKEN,
    MSG_MONTHLY_LIMIT,
    MSG_NOT_FOUND,
    MSG_RETRY_KEY_ACCEPTED,
    ApiRequest,
    HttpError,
    json_response,
)
from .state import (
    Delivery,
    EmulatorState,
    InvalidReplyToken,
    NarrowcastJob,
    QuotaExceeded,
    RetryKeyAccepted,
)

FOLLOWERS_DEFAULT_LIMIT = 300
FOLLOWERS_MAX_LIMIT = 1000
# Below this many recipients after filtering, LINE refuses a filtered narrowcast.
NARROWCAST_MIN_TARGETS = 50


UNIT_NAME = re.compile(r"[a-zA-Z0-9_]{1,30}")


def _aggregation_unit(body: dict[str, Any], endpoint: str) -> str | None:
    """The request's custom aggregation unit (push and multicast only), checked as
    LINE documents it: one name of 1..30 characters [a-zA-Z0-9_]."""
    units = body.get("customAggregationUnits")
    if units is None or endpoint not in keys.AGGREGATION_UNIT_ENDPOINTS:
        return None
    problems = []
    if not isinstance(units, list) or len(units) > 1:
        problems.append(
            {"message": "Size must be between 0 and 1", "property": "customAggregationUnits"}
        )
    else:
        for index, unit in enumerate(units):
            if not isinstance(unit, str) or not UNIT_NAME.fullmatch(unit):
                problems.append(
                    {
                        "message": "Must be 1..30 characters of [a-zA-Z0-9_]",
                        "property": f"customAggregationUnits[{index}]",
                    }
                )
    if problems:
        raise HttpError(400, f"The request body has {len(problems)} error(s)", details=problems)
    return units[0] if units else None


def _sent_messages(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "sentMessages": [
            {"id": ids.message_id(), "quoteToken": ids.quote_token()} for _ in messages
        ]
    }


class MessagingRoutes:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def _deliver(
        self,
        api: ApiRequest,
        endpoint: str,
        recipients: list[str],
        *,
        before_commit: Any = None,
    ) -> Delivery:
        try:
            return self.state.deliver(
                channel_id=api.channel_id,
                endpoint=endpoint,
                recipients=recipients,
                messages=api.body["messages"],
                request_id=api.request_id,
                retry_key=api.retry_key,
                counts_against_quota=endpoint in keys.QUOTA_ENDPOINTS,
                before_commit=before_commit,
                aggregation_unit=_aggregation_unit(api.body, endpoint),
            )
        except RetryKeyAccepted as accepted:
            raise HttpError(
                409,
                MSG_RETRY_KEY_ACCEPTED,
                headers={"x-line-accepted-request-id": accepted.accepted_request_id},
            ) from accepted
        except QuotaExceeded as exceeded:
            raise HttpError(429, MSG_MONTHLY_LIMIT) from exceeded

    # ------------------------------------------------------------ sending
    def reply(self, api: ApiRequest) -> Response:
        token = api.body["replyToken"]
        try:
            user_id = self.state.check_reply_token(api.channel_id, token)
        except InvalidReplyToken as invalid:
            raise HttpError(400, MSG_INVALID_REPLY_TOKEN) from invalid
        self._deliver(
            api, keys.REPLY, [user_id], before_commit=lambda: self.state.use_reply_token(token)
        )
        return json_response(_sent_messages(api.body["messages"]))

    def push(self, api: ApiRequest) -> Response:
        to = api.body["to"]
        # LINE FAQ: a user id that does not exist answers 400 "Failed to send messages";
        # a user who blocked the account answers 200 and receives nothing.
        if self.state.friend(api.channel_id, to) is None:
            raise HttpError(400, "Failed to send messages")
        self._deliver(api, keys.PUSH, [to])
        return json_response(_sent_messages(api.body["messages"]))

    def multicast(self, api: ApiRequest) -> Response:
        self._deliver(api, keys.MULTICAST, list(api.body["to"]))
        return json_response({})

    def broadcast(self, api: ApiRequest) -> Response:
        everyone = [f.user_id for f in self.state.following_friends(api.channel_id)]
        self._deliver(api, keys.BROADCAST, everyone)
        return json_response({})

    def narrowcast(self, api: ApiRequest) -> Response:
        following = [f.user_id for f in self.state.following_friends(api.channel_id)]
        recipient = api.body.get("recipient")
        targets = following
        if recipient is not None:
            targets = sorted(self._recipients(api.channel_id, recipient, set(following)))
        # Demographic filters need data the emulator does not have: they match everyone.
        limit = api.body.get("limit") or {}
        if isinstance(limit.get("max"), int):
            targets = targets[: limit["max"]]
        filtered = recipient is not None or api.body.get("filter") is not None
        job = NarrowcastJob(api.request_id, self.state.clock(), len(targets), 0)
        if filtered and len(targets) < NARROWCAST_MIN_TARGETS:
            job.error_code = 2
            job.failed_description = "There weren't enough recipients."
            self._deliver(api, keys.NARROWCAST, [])
        else:
            job.success_count = len(self._deliver(api, keys.NARROWCAST, targets).recipients)
        with self.state.lock:
            self.state.narrowcasts[api.request_id] = job
        return json_response({}, 202)

    def _recipients(
        self, channel_id: str, recipient: dict[str, Any], everyone: set[str]
    ) -> set[str]:
        kind = recipient.get("type")
        if kind == "audience":
            audience = self.state.audiences.get(recipient.get("audienceGroupId", -1))
            if audience is None or audience.channel_id != channel_id:
                raise HttpError(400, "The audience group does not exist")
            return everyone & set(audience.user_ids)
        if kind == "redelivery":
            return everyone & set(
                self.state.recipients_by_request.get(recipient.get("requestId", ""), [])
            )
        result = set(everyone)
        if recipient.get("and"):
            for part in recipient["and"]:
                result &= self._recipients(channel_id, part, everyone)
        if recipient.get("or"):
            result &= set().union(
                *(self._recipients(channel_id, p, everyone) for p in recipient["or"])
            )
        if recipient.get("not"):
            result -= self._recipients(channel_id, recipient["not"], everyone)
        return result

    def narrowcast_progress(self, api: ApiRequest) -> Response:
        request_id = api.request.args.get("requestId")
        if not request_id:
            raise HttpError(400, "The request parameter, 'requestId', is required")
        with self.state.lock:
            job = self.state.narrowcasts.get(request_id)
        if job is None:
            raise HttpError(404, MSG_NOT_FOUND)
        stamp = datetime.fromtimestamp(job.accepted_at, UTC).isoformat(timespec="milliseconds")
        body: dict[str, Any] = {
            "phase": "failed" if job.error_code else "succeeded",
            "successCount": job.success_count,
            "failureCount": 0,
            "targetCount": job.target_count,
            "acceptedTime": stamp.replace("+00:00", "Z"),
            "completedTime": stamp.replace("+00:00", "Z"),
        }
        if job.error_code:
            body.update(errorCode=job.error_code, failedDescription=job.failed_description)
        return json_response(body)

    # ------------------------------------------------------------ reading
    def quota(self, api: ApiRequest) -> Response:
        return json_response({"type": "limited", "value": self.state.config.monthly_quota})

    def quota_consumption(self, api: ApiRequest) -> Response:
        return json_response({"totalUsage": self.state.usage_this_month(api.channel_id)})

    def profile(self, api: ApiRequest) -> Response:
        friend = self.state.friend(api.channel_id, api.path_params["userId"])
        if friend is None or not friend.following:
            raise HttpError(404, MSG_NOT_FOUND)
        return json_response(friend.profile())

    def followers_ids(self, api: ApiRequest) -> Response:
        raw_limit = api.request.args.get("limit", str(FOLLOWERS_DEFAULT_LIMIT))
        raw_start = api.request.args.get("start", "0")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= FOLLOWERS_MAX_LIMIT:
            raise HttpError(
                400, f"The value for the 'limit' parameter must be 1..{FOLLOWERS_MAX_LIMIT}"
            )
        if not raw_start.isdigit():
            raise HttpError(400, "The value for the 'start' parameter is invalid")
        limit, start = int(raw_limit), int(raw_start)
        following = [f.user_id for f in self.state.following_friends(api.channel_id)]
        body: dict[str, Any] = {"userIds": following[start : start + limit]}
        if start + limit < len(following):
            body["next"] = str(start + limit)
        return json_response(body)

    def link_token(self, api: ApiRequest) -> Response:
        """A link token bound to the user, single use, valid 10 minutes (as LINE's)."""
        user_id = api.path_params["userId"]
        friend = self.state.friend(api.channel_id, user_id)
        if friend is None or not friend.following:
            raise HttpError(400, "The user hasn't added the LINE Official Account as a friend.")
        return json_response({"linkToken": self.state.issue_link_token(api.channel_id, user_id)})
