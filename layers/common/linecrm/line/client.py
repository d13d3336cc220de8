"""The one wrapper around line-bot-sdk v3 that linecrm calls LINE through.

It adds what the SDK leaves to us: the X-Line-Retry-Key on every send, in-process
retries of transient failures with exponential backoff and jitter (same key, so LINE
deduplicates), and errors mapped to what the caller can act on. The SDK is imported
on first use: its messaging module alone takes about a second to import.
"""

from __future__ import annotations

import functools
import json
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from linecrm.config import LineEndpoints
from linecrm.domain.insight import MessageStatistics, statistics_from_line
from linecrm.line.errors import (
    LineApiError,
    LineAuthFailed,
    LineQuotaExceeded,
    LineRateLimited,
    LineRequestRejected,
    LineTransientError,
)

MONTHLY_LIMIT_MESSAGE = "monthly limit"
UNIT_LIST_PAGE = 100  # unit names per page of GET /v2/bot/message/aggregation/list
RICH_MENU_ID = re.compile(r"richmenu-[0-9a-f]{32}")
# After a 401 the token is read again (bypassing caches) at most this often per client,
# so a token that is really revoked costs one secret read per interval, not per call.
TOKEN_RELOAD_MIN_INTERVAL_SECONDS = 10.0

# Reads the channel's current access token from its source (Secrets Manager), uncached.
TokenReloader = Callable[[], str]


@dataclass(frozen=True)
class SendReceipt:
    request_id: str | None
    # True when LINE answered 409 to the retry key: an earlier attempt was accepted.
    already_accepted: bool = False


@dataclass(frozen=True)
class FollowersPage:
    """One page of GET /v2/bot/followers/ids; ``next`` continues it (None: the end)."""

    user_ids: list[str]
    next: str | None


@dataclass(frozen=True)
class MessageQuota:
    limit: int | None  # None: no monthly limit (LINE's "none")
    used: int

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    base_seconds: float = 1.0
    max_backoff_seconds: float = 8.0

    def backoff(self, attempt: int, jitter: float) -> float:
        """Full jitter: a random wait up to base * 2^(attempt-1), capped."""
        ceiling: float = min(self.max_backoff_seconds, self.base_seconds * 2 ** (attempt - 1))
        return ceiling * jitter


class LineMessagingClient:
    def __init__(
        self,
        access_token: str,
        endpoints: LineEndpoints,
        *,
        retry_policy: RetryPolicy | None = None,
        timeout_seconds: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        reload_token: TokenReloader | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        api_factory: Callable[[str], Any] | None = None,
        insight_api_factory: Callable[[str], Any] | None = None,
    ) -> None:
        """``reload_token``: on a 401, read the token again (it may have been rotated)
        and retry once with it; None: a 401 is final. ``api_factory``: builds the SDK's
        MessagingApi for a token (tests pass a fake); ``insight_api_factory`` the same
        for the SDK's Insight API."""
        self._access_token = access_token
        self._endpoints = endpoints
        self._retry_policy = retry_policy or RetryPolicy()
        self._timeout_seconds = timeout_seconds
        self._sleep = sleep
        self._jitter = jitter
        self._reload_token = reload_token
        self._monotonic = monotonic
        self._last_reload: float | None = None
        self._token_lock = threading.Lock()
        self._api_factory = api_factory or self._sdk_api
        self._api: Any = None
        self._blob: tuple[str, Any] | None = None  # (token, MessagingApiBlob)
        self._insight_api_factory = insight_api_factory or self._sdk_insight_api
        self._insight: tuple[str, Any] | None = None  # (token, Insight)

    @property
    def access_token(self) -> str:
        """The token this client sends now (a reload after a 401 may have replaced it)."""
        return self._access_token

    # ------------------------------------------------------------------ sends
    def push(
        self,
        to: str,
        messages: list[dict[str, Any]],
        retry_key: str,
        *,
        aggregation_unit: str | None = None,
    ) -> SendReceipt:
        """``aggregation_unit``: LINE's custom aggregation unit (linecrm.domain.insight),
        so the insight API reports opens and clicks of the campaign later."""
        from linebot.v3.messaging import PushMessageRequest

        request = PushMessageRequest.from_dict(
            _with_unit({"to": to, "messages": messages}, aggregation_unit)
        )
        return self._send(
            lambda api: api.push_message_with_http_info(
                request, x_line_retry_key=retry_key, _request_timeout=self._timeout_seconds
            )
        )

    def multicast(
        self,
        to: list[str],
        messages: list[dict[str, Any]],
        retry_key: str,
        *,
        aggregation_unit: str | None = None,
    ) -> SendReceipt:
        from linebot.v3.messaging import MulticastRequest

        request = MulticastRequest.from_dict(
            _with_unit({"to": to, "messages": messages}, aggregation_unit)
        )
        return self._send(
            lambda api: api.multicast_with_http_info(
                request, x_line_retry_key=retry_key, _request_timeout=self._timeout_seconds
            )
        )

    def broadcast(self, messages: list[dict[str, Any]], retry_key: str) -> SendReceipt:
        """Every friend of the channel (LINE's broadcast endpoint)."""
        from linebot.v3.messaging import BroadcastRequest

        request = BroadcastRequest.from_dict({"messages": messages})
        return self._send(
            lambda api: api.broadcast_with_http_info(
                request, x_line_retry_key=retry_key, _request_timeout=self._timeout_seconds
            )
        )

    def message_quota(self) -> MessageQuota:
        """This month's quota and what is used of it (two reads)."""
        quota = self._call(
            lambda api: api.get_message_quota(_request_timeout=self._timeout_seconds)
        )
        used = self._call(
            lambda api: api.get_message_quota_consumption(_request_timeout=self._timeout_seconds)
        )
        limit = int(quota.value) if quota.type == "limited" and quota.value is not None else None
        return MessageQuota(limit=limit, used=int(used.total_usage))

    def reply(self, reply_token: str, messages: list[dict[str, Any]]) -> SendReceipt:
        """One attempt only: LINE has no retry key for replies, and a token works once."""
        from linebot.v3.messaging import ReplyMessageRequest

        request = ReplyMessageRequest.from_dict({"replyToken": reply_token, "messages": messages})
        response = self._call(
            lambda api: api.reply_message_with_http_info(
                request, _request_timeout=self._timeout_seconds
            ),
            max_attempts=1,
        )
        return SendReceipt(request_id=_header(response.headers, "x-line-request-id"))

    # ------------------------------------------------------------------ insight
    def statistics_per_unit(self, unit: str, first: date, last: date) -> MessageStatistics:
        """Opens and clicks of the pushes and multicasts that carried ``unit``, sent
        ``first``..``last`` (days in UTC+9). One insight request (60 per hour)."""
        response = self._call(
            lambda api: api.get_statistics_per_unit_with_http_info(
                unit,
                first.strftime("%Y%m%d"),
                last.strftime("%Y%m%d"),
                _request_timeout=self._timeout_seconds,
            ),
            insight=True,
        )
        return statistics_from_line(response.data.to_dict())

    def statistics_per_request(self, request_id: str) -> MessageStatistics:
        """Opens and clicks of one broadcast (or narrowcast) request, by its
        x-line-request-id. One insight request (60 per hour)."""
        response = self._call(
            lambda api: api.get_message_event_with_http_info(
                request_id, _request_timeout=self._timeout_seconds
            ),
            insight=True,
        )
        return statistics_from_line(response.data.to_dict())

    def aggregation_units_used(self) -> int:
        """How many unit names the channel used this month (LINE allows 1,000)."""
        response = self._call(
            lambda api: api.get_aggregation_unit_usage(_request_timeout=self._timeout_seconds)
        )
        return int(response.num_of_custom_aggregation_units)

    def aggregation_unit_names(self) -> list[str]:
        """The unit names the channel used this month, every page."""
        names: list[str] = []
        start: str | None = None
        while True:
            page = self._call(functools.partial(self._unit_name_page, start=start))
            names.extend(page.custom_aggregation_units or [])
            start = page.next or None
            if start is None:
                return names

    def _unit_name_page(self, api: Any, *, start: str | None) -> Any:
        return api.get_aggregation_unit_name_list(
            limit=str(UNIT_LIST_PAGE), start=start, _request_timeout=self._timeout_seconds
        )

    # ------------------------------------------------------------------ friends
    def get_profile(self, user_id: str) -> dict[str, Any] | None:
        """The friend's LINE profile, or None when LINE does not know them (404)."""
        found = self._call(
            lambda api: api.get_profile(user_id, _request_timeout=self._timeout_seconds),
            not_found=True,
        )
        if found is None:
            return None
        result: dict[str, Any] = found.to_dict()
        return result

    def link_rich_menu(self, user_id: str, rich_menu: str) -> None:
        """Link a rich menu to the friend; ``rich_menu`` is a rich menu id or an alias id."""
        rich_menu_id = rich_menu
        # An alias may itself start with "richmenu-" (LINE's own example does).
        if not RICH_MENU_ID.fullmatch(rich_menu):
            alias = self._call(
                lambda api: api.get_rich_menu_alias(
                    rich_menu, _request_timeout=self._timeout_seconds
                )
            )
            rich_menu_id = alias.rich_menu_id
        self._call(
            lambda api: api.link_rich_menu_id_to_user_with_http_info(
                user_id, rich_menu_id, _request_timeout=self._timeout_seconds
            )
        )

    # ------------------------------------------------------------------ rich menus
    def create_rich_menu(self, menu: dict[str, Any]) -> str:
        """Create a rich menu (LINE's request body); its new id (``richmenu-…``)."""
        from linebot.v3.messaging import RichMenuRequest

        request = RichMenuRequest.from_dict(menu)
        response = self._call(
            lambda api: api.create_rich_menu(request, _request_timeout=self._timeout_seconds)
        )
        return str(response.rich_menu_id)

    def upload_rich_menu_image(self, rich_menu_id: str, image: bytes, content_type: str) -> None:
        """Upload the menu's image, to the data-API host (``api-data.line.me``)."""
        self._call(
            lambda _api: self._blob_api().set_rich_menu_image(
                rich_menu_id,
                image,
                _headers={"Content-Type": content_type},
                _request_timeout=self._timeout_seconds,
            )
        )

    def delete_rich_menu(self, rich_menu_id: str) -> None:
        """Delete a rich menu; one LINE no longer knows (404) is already gone."""
        self._call(
            lambda api: api.delete_rich_menu_with_http_info(
                rich_menu_id, _request_timeout=self._timeout_seconds
            ),
            not_found=True,
        )

    def find_rich_menus(self, menu: dict[str, Any]) -> list[str]:
        """The ids of the channel's rich menus whose body is ``menu`` (LINE's list, both
        sides read through the SDK's models so that absent fields compare equal)."""
        from linebot.v3.messaging import RichMenuRequest

        wanted = _without_none(RichMenuRequest.from_dict(menu).to_dict())
        listed = self._call(
            lambda api: api.get_rich_menu_list(_request_timeout=self._timeout_seconds)
        )
        found = []
        for held in listed.richmenus:
            body = _without_none(held.to_dict())
            rich_menu_id = body.pop("richMenuId", None)
            if body == wanted and rich_menu_id:
                found.append(str(rich_menu_id))
        return found

    def point_rich_menu_alias(self, alias_id: str, rich_menu_id: str) -> None:
        """Make ``alias_id`` name ``rich_menu_id``: update the alias if LINE has it (the
        alias list says), else create it. LINE's spec gives an unknown alias on update
        only a 400, so its absence is read from the list, not guessed from an error."""
        from linebot.v3.messaging import CreateRichMenuAliasRequest, UpdateRichMenuAliasRequest

        listed = self._call(
            lambda api: api.get_rich_menu_alias_list(_request_timeout=self._timeout_seconds)
        )
        if any(alias.rich_menu_alias_id == alias_id for alias in listed.aliases or []):
            update = UpdateRichMenuAliasRequest(richMenuId=rich_menu_id)
            self._call(
                lambda api: api.update_rich_menu_alias_with_http_info(
                    alias_id, update, _request_timeout=self._timeout_seconds
                )
            )
            return
        create = CreateRichMenuAliasRequest(richMenuAliasId=alias_id, richMenuId=rich_menu_id)
        self._call(
            lambda api: api.create_rich_menu_alias_with_http_info(
                create, _request_timeout=self._timeout_seconds
            )
        )

    def set_default_rich_menu(self, rich_menu_id: str | None) -> None:
        """LINE's default rich menu (every friend without one of their own); None clears."""
        if rich_menu_id is None:
            self._call(
                lambda api: api.cancel_default_rich_menu_with_http_info(
                    _request_timeout=self._timeout_seconds
                )
            )
            return
        self._call(
            lambda api: api.set_default_rich_menu_with_http_info(
                rich_menu_id, _request_timeout=self._timeout_seconds
            )
        )

    def bulk_link_rich_menu(self, rich_menu_id: str, user_ids: list[str]) -> None:
        """Link one rich menu to up to 500 friends (LINE's limit) in one call."""
        from linebot.v3.messaging import RichMenuBulkLinkRequest

        request = RichMenuBulkLinkRequest(richMenuId=rich_menu_id, userIds=user_ids)
        self._call(
            lambda api: api.link_rich_menu_id_to_users_with_http_info(
                request, _request_timeout=self._timeout_seconds
            )
        )

    def bulk_unlink_rich_menu(self, user_ids: list[str]) -> None:
        """Unlink their own rich menu from up to 500 friends: they see the default."""
        from linebot.v3.messaging import RichMenuBulkUnlinkRequest

        request = RichMenuBulkUnlinkRequest(userIds=user_ids)
        self._call(
            lambda api: api.unlink_rich_menu_id_from_users_with_http_info(
                request, _request_timeout=self._timeout_seconds
            )
        )

    def unlink_rich_menu(self, user_id: str) -> None:
        """Remove the friend's own rich menu: LINE shows them the default one."""
        self._call(
            lambda api: api.unlink_rich_menu_id_from_user_with_http_info(
                user_id, _request_timeout=self._timeout_seconds
            )
        )

    def issue_link_token(self, user_id: str) -> str:
        """A link token for ID linking (``POST /v2/bot/user/{userId}/linkToken``): LINE
        binds it to the user; it is valid for 10 minutes and works once. Not idempotent
        (each call issues a new token), so a retry costs only a token that expires."""
        response = self._call(
            lambda api: api.issue_link_token(user_id, _request_timeout=self._timeout_seconds)
        )
        return str(response.link_token)

    def followers_ids(self, start: str | None = None, limit: int = 1000) -> FollowersPage:
        """One page of the channel's followers' user ids (verified accounts only).

        ``start`` is the previous page's ``next`` token; ``limit`` is 1..1000.
        """
        response = self._call(
            lambda api: api.get_followers(
                start=start, limit=limit, _request_timeout=self._timeout_seconds
            )
        )
        return FollowersPage(user_ids=list(response.user_ids or []), next=response.next or None)

    # ------------------------------------------------------------------ internals
    def _send(self, call: Callable[[Any], Any]) -> SendReceipt:
        """A send with a retry key: 409 + x-line-accepted-request-id means already sent."""
        try:
            response = self._call(call, conflict_is_error=False)
        except _AlreadyAccepted as accepted:
            return SendReceipt(request_id=accepted.request_id, already_accepted=True)
        return SendReceipt(request_id=_header(response.headers, "x-line-request-id"))

    def _call(
        self,
        call: Callable[[Any], Any],
        *,
        max_attempts: int | None = None,
        not_found: bool = False,
        conflict_is_error: bool = True,
        insight: bool = False,
    ) -> Any:
        """Run ``call`` with in-process retries of transient failures; errors mapped.

        ``not_found``: a 404 returns None instead of raising. ``conflict_is_error`` off:
        a 409 carrying x-line-accepted-request-id raises ``_AlreadyAccepted``.
        ``insight``: ``call`` takes the SDK's Insight API (its own exception class).
        """
        from linebot.v3.messaging import ApiException

        api_errors: tuple[type[Exception], ...] = (ApiException,)
        if insight:
            from linebot.v3.insight import ApiException as InsightApiException

            api_errors = (ApiException, InsightApiException)
        api_for = self._insight_api if insight else self._messaging_api
        with self._token_lock:
            token, api = self._access_token, api_for()
        attempts = max_attempts or self._retry_policy.max_attempts
        reloaded = False
        attempt = 1
        while True:
            try:
                return call(api)
            except api_errors as raised:
                error: Any = raised  # the SDK's ApiException (status, headers, body)
                if not_found and error.status == 404:
                    return None
                if error.status == 409 and not conflict_is_error:
                    accepted = _header(error.headers, "x-line-accepted-request-id")
                    if accepted:
                        raise _AlreadyAccepted(accepted) from error
                if error.status == 401 and not reloaded:
                    # A rotated token: read it again and retry once (not an attempt).
                    reloaded = True
                    renewed = self._renewed_token(token)
                    if renewed is not None:
                        token, api = renewed[0], (api_for() if insight else renewed[1])
                        continue
                mapped = _map_api_exception(error)
            except _transport_errors() as error:
                mapped = _map_transport_error(error)
            self._wait_or_raise(mapped, attempt, attempts)
            attempt += 1

    def _renewed_token(self, refused: str) -> tuple[str, Any] | None:
        """The token and API to retry with after ``refused`` got a 401; None: no newer one.

        Concurrent callers that hit the same 401 share one reload: whoever comes second
        finds the token already replaced and retries with it.
        """
        with self._token_lock:
            if self._access_token != refused:
                return self._access_token, self._messaging_api()
            if self._reload_token is None:
                return None
            now = self._monotonic()
            if (
                self._last_reload is not None
                and now - self._last_reload < TOKEN_RELOAD_MIN_INTERVAL_SECONDS
            ):
                return None
            self._last_reload = now
            fresh = self._reload_token()
            if fresh == refused:
                return None
            self._access_token = fresh
            self._api = None
            return fresh, self._messaging_api()

    def _wait_or_raise(self, error: LineApiError, attempt: int, attempts: int) -> None:
        retryable = isinstance(error, LineTransientError)
        if not retryable or attempt >= attempts:
            raise error
        self._sleep(self._retry_policy.backoff(attempt, self._jitter()))

    def _messaging_api(self) -> Any:
        if self._api is None:
            self._api = self._api_factory(self._access_token)
        return self._api

    def _insight_api(self) -> Any:
        """The SDK's Insight API (api.line.me), for the token now."""
        token = self._access_token
        if self._insight is None or self._insight[0] != token:
            self._insight = (token, self._insight_api_factory(token))
        return self._insight[1]

    def _sdk_insight_api(self, access_token: str) -> Any:
        from linebot.v3.insight import ApiClient, Configuration, Insight

        configuration = Configuration(host=self._endpoints.api_base_url, access_token=access_token)
        return Insight(ApiClient(configuration))

    def _blob_api(self) -> Any:
        """The SDK's data-API client (uploads), on the data-API host, for the token now."""
        from linebot.v3.messaging import ApiClient, Configuration, MessagingApiBlob

        token = self._access_token
        if self._blob is None or self._blob[0] != token:
            configuration = Configuration(
                host=self._endpoints.data_api_base_url, access_token=token
            )
            self._blob = (token, MessagingApiBlob(ApiClient(configuration)))
        return self._blob[1]

    def _sdk_api(self, access_token: str) -> Any:
        from linebot.v3.messaging import ApiClient, Configuration, MessagingApi

        configuration = Configuration(host=self._endpoints.api_base_url, access_token=access_token)
        return MessagingApi(ApiClient(configuration))


class _AlreadyAccepted(Exception):
    def __init__(self, request_id: str) -> None:
        super().__init__(request_id)
        self.request_id = request_id


def _transport_errors() -> tuple[type[Exception], ...]:
    from urllib3.exceptions import HTTPError

    return (HTTPError, OSError)


def _with_unit(body: dict[str, Any], unit: str | None) -> dict[str, Any]:
    return {**body, "customAggregationUnits": [unit]} if unit else body


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _body_text(body: Any) -> str:
    if isinstance(body, bytes):
        return body.decode("utf-8", errors="replace")
    return "" if body is None else str(body)


def _map_api_exception(error: Any) -> LineApiError:
    status: int = error.status or 0
    body = _body_text(error.body)
    message = _line_message(body) or str(error.reason or "")
    if status == 401:
        return LineAuthFailed(
            f"LINE answered 401: {message} (the channel access token was refused)",
            status=status,
            body=body,
        )
    if status == 429:
        if MONTHLY_LIMIT_MESSAGE in message.lower():
            return LineQuotaExceeded(message, status=status, body=body)
        return LineRateLimited(message, status=status, body=body)
    if status >= 500 or status == 0:
        return LineTransientError(f"LINE answered {status}: {message}", status=status, body=body)
    return LineRequestRejected(f"LINE answered {status}: {message}", status=status, body=body)


def _map_transport_error(error: Exception) -> LineApiError:
    """Timeouts and connection errors from urllib3 (under the SDK) are transient."""
    return LineTransientError(f"{type(error).__name__}: {error}")


def _line_message(body: str) -> str:
    try:
        parsed = json.loads(body)
    except ValueError:
        return ""
    if isinstance(parsed, dict):
        details = parsed.get("details") or []
        text = str(parsed.get("message", ""))
        if details:
            text += " " + json.dumps(details, ensure_ascii=False)
        return text
    return ""


def _without_none(value: Any) -> Any:
    """``value`` without the None members the SDK's ``to_dict`` keeps for absent fields."""
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value]
    return value
