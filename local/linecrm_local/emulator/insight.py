"""LINE's insight endpoints, computed from what the emulator delivered and from the
simulated friends' opens and URL taps (``linecrm simulate open``).

- ``GET /v2/bot/insight/message/event/aggregation``: per custom aggregation unit (the
  pushes and multicasts that carried it, sent ``from``..``to``, days in UTC+9);
- ``GET /v2/bot/insight/message/event``: per request id (a broadcast or narrowcast);
- ``GET /v2/bot/message/aggregation/info`` and ``/list``: the month's unit names.

As LINE does, a figure under 20 is ``null``, and so is a count (impressions, clicks)
whose users number under 20; interactions count for 14 days after the send; the
query parameters are checked against LINE's OpenAPI document (``specs/insight.yml``)
and a period longer than 30 days after ``from`` is refused. Rate limit: 60 requests
per hour per channel (``config.default_rate_limits``).
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from werkzeug.wrappers import Response

from .http import ApiRequest, HttpError, json_response
from .state import JST, EmulatorState, Interaction, SentRequest

PRIVACY_THRESHOLD = 20
INTERACTION_WINDOW_SECONDS = 14 * 86400
MAX_PERIOD_DAYS = 30
UNIT_LIST_DEFAULT_LIMIT = 100
UNIT_LIST_MAX_LIMIT = 100
_MEDIA_FIELDS = (
    "mediaPlayed",
    "mediaPlayed25Percent",
    "mediaPlayed50Percent",
    "mediaPlayed75Percent",
    "mediaPlayed100Percent",
    "uniqueMediaPlayed",
    "uniqueMediaPlayed25Percent",
    "uniqueMediaPlayed50Percent",
    "uniqueMediaPlayed75Percent",
    "uniqueMediaPlayed100Percent",
)


_URL = re.compile(r"https?://[^\s\"'<>]+")


class NoSuchMessage(LookupError):
    """A simulated open of a message the friend never received (or a URL not in it)."""


def _strings(node: Any) -> Iterable[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _urls_in(message: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()
    for text in _strings(message):
        found.update(_URL.findall(text))
    return found


def first_url_in(messages: list[dict[str, Any]]) -> str:
    for message in messages:
        for text in _strings(message):
            found = _URL.search(text)
            if found:
                return found.group(0)
    raise NoSuchMessage("the message has no URL")


def bubble_with_url(messages: list[dict[str, Any]], url: str) -> int:
    """The 1-based position of the first message (bubble) with ``url`` in it."""
    for seq, message in enumerate(messages, start=1):
        if url in _urls_in(message):
            return seq
    raise NoSuchMessage(f"the message has no URL {url}")


def _withheld(value: int) -> int | None:
    return value if value >= PRIVACY_THRESHOLD else None


def statistics(requests: list[SentRequest], interactions: list[Interaction]) -> dict[str, Any]:
    """LINE's ``overview``/``messages``/``clicks`` over ``requests``."""
    sent_at = {request.request_id: request.time for request in requests}
    counted = [
        interaction
        for interaction in interactions
        if interaction.request_id in sent_at
        and interaction.time - sent_at[interaction.request_id] <= INTERACTION_WINDOW_SECONDS
    ]
    opens = [i for i in counted if i.url is None]
    taps = [i for i in counted if i.url is not None]
    bubbles = max((len(request.messages) for request in requests), default=0)
    bubbles_of = {request.request_id: len(request.messages) for request in requests}
    messages = []
    for seq in range(1, bubbles + 1):
        shown = [i for i in opens if bubbles_of[i.request_id] >= seq]
        users = _withheld(len({i.user_id for i in shown}))
        messages.append(
            {
                "seq": seq,
                "impression": len(shown) if users is not None else None,
                "uniqueImpression": users,
                **dict.fromkeys(_MEDIA_FIELDS),
            }
        )
    by_url: dict[tuple[int, str], list[Interaction]] = defaultdict(list)
    for tap in taps:
        assert tap.url is not None
        by_url[(tap.seq, tap.url)].append(tap)
    users_of_url: dict[str, set[str]] = defaultdict(set)
    for tap in taps:
        assert tap.url is not None
        users_of_url[tap.url].add(tap.user_id)
    clicks = []
    for (seq, url), rows in sorted(by_url.items()):
        users = _withheld(len({row.user_id for row in rows}))
        clicks.append(
            {
                "seq": seq,
                "url": url,
                "click": len(rows) if users is not None else None,
                "uniqueClick": users,
                "uniqueClickOfRequest": _withheld(len(users_of_url[url])),
            }
        )
    return {
        "overview": {
            "uniqueImpression": _withheld(len({i.user_id for i in opens})),
            "uniqueClick": _withheld(len({i.user_id for i in taps})),
            "uniqueMediaPlayed": None,
            "uniqueMediaPlayed100Percent": None,
        },
        "messages": messages,
        "clicks": clicks,
    }


@functools.cache
def _insight_parameters() -> dict[str, list[dict[str, Any]]]:
    from .validation import _load_yaml

    document = _load_yaml("insight.yml")
    return {
        path: operations["get"].get("parameters", [])
        for path, operations in document["paths"].items()
        if "get" in operations
    }


def _checked_query(api: ApiRequest, spec_path: str) -> dict[str, str]:
    """The query parameters, as LINE's OpenAPI document defines them; 400 otherwise."""
    values: dict[str, str] = {}
    for parameter in _insight_parameters()[spec_path]:
        name = parameter["name"]
        value = api.request.args.get(name)
        schema = parameter.get("schema", {})
        if value is None or value == "":
            if parameter.get("required"):
                raise HttpError(400, f"The request parameter, '{name}', is required")
            continue
        too_short = len(value) < schema.get("minLength", 0)
        too_long = len(value) > schema.get("maxLength", len(value))
        pattern = schema.get("pattern")
        if too_short or too_long or (pattern and not re.fullmatch(pattern, value)):
            raise HttpError(400, f"The value for the '{name}' parameter is invalid")
        values[name] = value
    return values


def _day(value: str, name: str) -> date:
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError as bad:
        raise HttpError(400, f"The value for the '{name}' parameter is invalid") from bad


class InsightRoutes:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def per_unit(self, api: ApiRequest) -> Response:
        query = _checked_query(api, "/v2/bot/insight/message/event/aggregation")
        first, last = _day(query["from"], "from"), _day(query["to"], "to")
        if last < first:
            raise HttpError(400, "The 'to' date must not be earlier than the 'from' date")
        if last > first + timedelta(days=MAX_PERIOD_DAYS):
            raise HttpError(
                400, f"The 'to' date can be at most {MAX_PERIOD_DAYS} days after 'from'"
            )
        unit = query["customAggregationUnit"]
        with self.state.lock:
            requests = [
                sent
                for sent in self.state.sent_requests.values()
                if sent.channel_id == api.channel_id
                and sent.unit == unit
                and first <= datetime.fromtimestamp(sent.time, JST).date() <= last
            ]
            interactions = list(self.state.interactions)
        return json_response(statistics(requests, interactions))

    def per_request(self, api: ApiRequest) -> Response:
        query = _checked_query(api, "/v2/bot/insight/message/event")
        with self.state.lock:
            sent = self.state.sent_requests.get(query["requestId"])
            interactions = list(self.state.interactions)
        if sent is None or sent.channel_id != api.channel_id:
            raise HttpError(404, "Not found")
        body = statistics([sent], interactions)
        body["overview"] = {
            "requestId": sent.request_id,
            "timestamp": int(sent.time),
            "delivered": len(sent.recipients),
            **body["overview"],
        }
        return json_response(body)

    def unit_usage(self, api: ApiRequest) -> Response:
        units = self.state.units_this_month(api.channel_id)
        return json_response({"numOfCustomAggregationUnits": len(units)})

    def unit_names(self, api: ApiRequest) -> Response:
        raw_limit = api.request.args.get("limit", str(UNIT_LIST_DEFAULT_LIMIT))
        raw_start = api.request.args.get("start", "0")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= UNIT_LIST_MAX_LIMIT:
            raise HttpError(
                400, f"The value for the 'limit' parameter must be 1..{UNIT_LIST_MAX_LIMIT}"
            )
        if not raw_start.isdigit():
            raise HttpError(400, "The value for the 'start' parameter is invalid")
        limit, start = int(raw_limit), int(raw_start)
        units = self.state.units_this_month(api.channel_id)
        body: dict[str, Any] = {"customAggregationUnits": units[start : start + limit]}
        if start + limit < len(units):
            body["next"] = str(start + limit)
        return json_response(body)
