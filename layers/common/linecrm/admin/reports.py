"""Reports in the admin API, read from counters (never a scan): per delivery
(campaign), the campaign list, a scenario's step funnel, the inflow routes and a daily
timeline. Each answers JSON, or with ``?format=csv`` a CSV for Excel (UTF-8 with BOM).
Guide: docs/reports.md."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Depends, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel

from linecrm.admin.params import ChannelId, new_router, responses
from linecrm.domain.campaigns import CAMPAIGN_PATTERN
from linecrm.reports import csv_format
from linecrm.reports.models import (
    CampaignList,
    CampaignReport,
    RoutesReport,
    ScenarioFunnel,
    Timeline,
)
from linecrm.reports.service import DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, ReportService
from linecrm.scenarios.model import SCENARIO_SLUG

router = new_router()
_TAGS = ["reports"]


def report_service() -> ReportService:
    """Replaced by ``api.build_app`` (``dependency_overrides``) with the real service."""
    raise NotImplementedError("build_app(..., report_service=...) wires the reports")


Reports = Annotated[ReportService, Depends(report_service)]
Format = Annotated[
    Literal["json", "csv"],
    Query(description="json, or csv: text/csv; charset=utf-8, UTF-8 with BOM (for Excel)"),
]
# The key's colons as they are or percent-encoded (a browser's encodeURIComponent
# sends %3A, and API Gateway hands the path over undecoded).
CAMPAIGN_PATH_PATTERN = CAMPAIGN_PATTERN.replace(":", "(?::|%3[Aa])")
CampaignKey = Annotated[
    str,
    Path(
        pattern=CAMPAIGN_PATH_PATTERN,
        description="campaign key: broadcast:<id>, step:<scenario>:<step>, rule:<id>, "
        "welcome or chat (the colons may be percent-encoded)",
    ),
]


def campaign_key(path_value: str) -> str:
    """The campaign key of a ``CampaignKey`` path parameter (its colons decoded)."""
    return re.sub("%3[Aa]", ":", path_value)


ScenarioIdPath = Annotated[str, Path(pattern=SCENARIO_SLUG, description="scenario id")]
Kind = Annotated[
    Literal["broadcast", "step", "rule", "welcome", "chat"] | None,
    Query(description="only campaigns of this kind"),
]
Limit = Annotated[
    int, Query(ge=1, le=MAX_LIST_LIMIT, description="at most this many, most recent first")
]
_DAY = "YYYY-MM-DD in the account's time zone, inclusive"
FirstDay = Annotated[
    str | None, Query(alias="from", description=f"the first day: {_DAY}", max_length=40)
]
LastDay = Annotated[
    str | None, Query(alias="to", description=f"the last day: {_DAY}", max_length=40)
]


def _answer(report: BaseModel, csv: Callable[[], str], name: str, fmt: str) -> Response[Any]:
    if fmt == "csv":
        return Response(
            status_code=HTTPStatus.OK,
            content_type=csv_format.CONTENT_TYPE,
            body=csv(),
            headers={"Content-Disposition": f'attachment; filename="{_file_name(name)}.csv"'},
        )
    return Response(
        status_code=HTTPStatus.OK,
        content_type=content_types.APPLICATION_JSON,
        body=report.model_dump(mode="json"),
    )


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _documented(model: type[BaseModel], description: str, *errors: int) -> dict[int, Any]:
    documented: dict[int, Any] = responses(200, description, *errors)
    documented[200] = {
        "description": f"{description} (JSON, or CSV with ?format=csv)",
        "content": {
            content_types.APPLICATION_JSON: {"model": model},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
    return documented


_Route = Callable[..., Response[Any]]


def _route(
    path: str, model: type[BaseModel], description: str, *errors: int
) -> Callable[[_Route], _Route]:
    """Register a report route. It answers a Response (JSON or CSV), so it has no return
    annotation for Powertools (with one, a CSV body would be validated as the model)."""

    def register(func: _Route) -> _Route:
        func.__signature__ = inspect.signature(func).replace(  # type: ignore[attr-defined]
            return_annotation=inspect.Signature.empty
        )
        router.get(path, tags=_TAGS, responses=_documented(model, description, *errors))(func)
        return func

    return register


@_route("/reports/campaigns", CampaignList, "The campaigns with their figures")
def list_campaign_reports(
    channel_id: ChannelId,
    reports: Reports,
    kind: Kind = None,
    limit: Limit = DEFAULT_LIST_LIMIT,
    format: Format = "json",
) -> Response[Any]:
    """The channel's campaigns, most recently sent first, each with its report row: sent,
    clicks, unique clicks, CTR, conversions, CVR, revenue, blocks, block rate; a
    broadcast with its name and send times, a scenario step with the scenario's name."""
    listed = reports.campaigns(channel_id, kind, limit)
    return _answer(
        listed, lambda: csv_format.campaign_list_csv(listed), f"campaigns-{kind or 'all'}", format
    )


@_route("/reports/campaigns/<campaign>", CampaignReport, "The campaign's report", 404)
def get_campaign_report(
    channel_id: ChannelId,
    campaign: CampaignKey,
    reports: Reports,
    format: Format = "json",
) -> Response[Any]:
    """One delivery's report (a broadcast, a scenario step, a rule's message): sent,
    clicks, unique clicks, CTR, conversions (last click within the attribution window),
    CVR, revenue (yen), blocks (unfollows within 24 h), block rate, per A/B variant and
    for the holdout group. Rates are fractions, null when nothing was sent. 404 when
    nothing was sent for the campaign and what it names does not exist."""
    report = reports.campaign(channel_id, campaign_key(campaign))
    return _answer(report, lambda: csv_format.campaign_csv(report), report.campaign, format)


@_route("/reports/scenarios/<scenario_id>/funnel", ScenarioFunnel, "The scenario's funnel", 404)
def get_scenario_funnel(
    channel_id: ChannelId,
    scenario_id: ScenarioIdPath,
    reports: Reports,
    format: Format = "json",
) -> Response[Any]:
    """A scenario's step funnel: its steps in order, each with sent, unique clicks and
    conversions (and CTR, CVR). 404 for an unknown scenario."""
    funnel = reports.funnel(channel_id, scenario_id)
    return _answer(funnel, lambda: csv_format.funnel_csv(funnel), f"funnel-{scenario_id}", format)


@_route("/reports/routes", RoutesReport, "The inflow routes' report")
def get_route_reports(
    channel_id: ChannelId,
    reports: Reports,
    format: Format = "json",
) -> Response[Any]:
    """Per inflow route: friends it brought, and of them how many block the account,
    are ID-linked and bought (counters kept on the route)."""
    report = reports.routes(channel_id)
    return _answer(report, lambda: csv_format.routes_csv(report), "routes", format)


@_route("/reports/timeline", Timeline, "Day by day", 400)
def get_timeline(
    channel_id: ChannelId,
    reports: Reports,
    first: FirstDay = None,
    last: LastDay = None,
    format: Format = "json",
) -> Response[Any]:
    """Day by day in the account's time zone, from..to inclusive (default: the 30 days up
    to today; at most 366): sent, clicks, unique clicks, conversions, revenue, blocks,
    friends added, unfollows; days without activity as zeros. 400 for a date that is
    not YYYY-MM-DD, from after to, or a longer range."""
    timeline = reports.timeline(channel_id, first, last)
    name = f"timeline-{timeline.days[0].date}-{timeline.days[-1].date}"
    return _answer(timeline, lambda: csv_format.timeline_csv(timeline), name, format)
