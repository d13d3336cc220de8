"""The A/B experiment report in the admin API: a campaign's variants and holdout
compared (rates with 95 % intervals, a z-test per variant, a verdict in words).
Guide: docs/experiments.md."""

from __future__ import annotations

import inspect
from http import HTTPStatus
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Depends, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query

from linecrm.admin.params import ChannelId, new_router, responses
from linecrm.admin.reports import CampaignKey, campaign_key
from linecrm.experiments.report import ExperimentReport, ExperimentReports, report_csv

router = new_router()
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"


def experiment_reports() -> ExperimentReports:
    """Replaced by ``api.build_app`` (``dependency_overrides``) with the real service."""
    raise NotImplementedError("build_app(..., experiment_reports=...) wires the reports")


Reports = Annotated[ExperimentReports, Depends(experiment_reports)]
Format = Annotated[Literal["json", "csv"], Query(description="csv: UTF-8 with a BOM (Excel)")]


def experiment_report(
    channel_id: ChannelId, campaign: CampaignKey, reports: Reports, format: Format = "json"
) -> Response[str]:
    """A campaign's A/B test: per variant sent, CTR, CVR, revenue and block rate with
    95 % Wilson intervals, each variant against the control (the first) by a
    two-proportion z-test, the holdout's CVR and the campaign's incremental
    conversions, and a verdict in words ("not enough data yet" on small samples)."""
    key = campaign_key(campaign)
    report = reports.report(channel_id, key)
    if format == "csv":
        filename = key.replace(":", "_")
        return Response(
            status_code=HTTPStatus.OK,
            content_type=CSV_CONTENT_TYPE,
            body=report_csv(report),
            headers={"Content-Disposition": f'attachment; filename="experiment_{filename}.csv"'},
        )
    return Response(
        status_code=HTTPStatus.OK,
        content_type=content_types.APPLICATION_JSON,
        body=report.model_dump_json(),
    )


# No return annotation for Powertools: the body is already JSON or CSV text.
experiment_report.__signature__ = inspect.signature(  # type: ignore[attr-defined]
    experiment_report
).replace(return_annotation=inspect.Signature.empty)
_documented = responses(200, "The experiment report")
_documented[200] = {
    "description": "The experiment report (JSON, or CSV with ?format=csv)",
    "content": {
        "application/json": {"model": ExperimentReport},
        CSV_CONTENT_TYPE: {"schema": {"type": "string"}},
    },
}
router.get("/reports/campaigns/<campaign>/experiment", tags=["reports"], responses=_documented)(
    experiment_report
)
