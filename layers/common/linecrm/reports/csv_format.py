"""Reports as CSV that opens cleanly in Excel: UTF-8 with a byte order mark (Excel
reads BOM-less UTF-8 as Shift_JIS and garbles Japanese names), CRLF line ends, one
header row.

Each header is ``<Japanese label> (<key>)``, e.g. ``配信数 (sent)``: readable in a
Japanese spreadsheet and stable for scripts (the key is the JSON field's name and
never changes; docs/reports.md lists them). Counts and yen amounts are integers;
rates are fractions with four decimals (``0.1250`` = 12.5 %), empty when there is no
denominator; times are ISO 8601 in the account's time zone. A name (typed by a
person) that begins like a formula (``=``, ``+``, ``-``, ``@``) gets a leading ``'``
so a spreadsheet shows it as text instead of running it (CSV injection).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from linecrm.reports.models import (
    CampaignList,
    CampaignReport,
    Figures,
    HoldoutReport,
    RoutesReport,
    ScenarioFunnel,
    Timeline,
)

BOM = "\ufeff"
# Free text a person typed (a broadcast's, scenario's, rule's or route's name); the
# other text columns are keys and ids of restricted patterns.
FREE_TEXT_COLUMNS = frozenset({"name"})
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CONTENT_TYPE = "text/csv; charset=utf-8"
ALL_VARIANTS = "*"  # the variant column of a campaign's total row

LABELS: dict[str, str] = {
    "campaign": "キャンペーン",
    "kind": "種類",
    "name": "名前",
    "variant": "パターン",
    "scenario_id": "シナリオ",
    "step_id": "ステップ",
    "first_sent_at": "初回配信日時",
    "last_sent_at": "最終配信日時",
    "sent": "配信数",
    "clicks": "クリック数",
    "unique_clicks": "ユニーククリック数",
    "ctr": "クリック率",
    "conversions": "コンバージョン数",
    "cvr": "コンバージョン率",
    "revenue": "売上",
    "blocks": "ブロック数",
    "block_rate": "ブロック率",
    "held_out": "ホールドアウト数",
    "opens": "開封数",
    "open_rate": "開封率",
    "sends_messages": "メッセージ送信",
    "route_id": "流入経路",
    "friends": "友だち数",
    "blocked": "ブロック中",
    "linked": "ID連携済み",
    "converted": "購入あり",
    "conversion_rate": "購入率",
    "date": "日付",
    "friends_added": "友だち追加数",
    "unfollows": "ブロック・削除数",
}

_FIGURES = (
    "sent",
    "clicks",
    "unique_clicks",
    "ctr",
    "conversions",
    "cvr",
    "revenue",
    "blocks",
    "block_rate",
)
# LINE's opens (insight) are per campaign only (LINE counts no variants): the total row.
CAMPAIGN_COLUMNS = (
    "campaign",
    "kind",
    "name",
    "variant",
    *_FIGURES,
    "held_out",
    "opens",
    "open_rate",
)
CAMPAIGN_LIST_COLUMNS = (
    "campaign",
    "kind",
    "name",
    "first_sent_at",
    "last_sent_at",
    *_FIGURES,
    "opens",
    "open_rate",
)
FUNNEL_COLUMNS = (
    "scenario_id",
    "step_id",
    "campaign",
    "sends_messages",
    "sent",
    "unique_clicks",
    "ctr",
    "conversions",
    "cvr",
)
ROUTE_COLUMNS = (
    "route_id",
    "name",
    "friends",
    "blocked",
    "linked",
    "converted",
    "block_rate",
    "conversion_rate",
)
TIMELINE_COLUMNS = (
    "date",
    "sent",
    "clicks",
    "unique_clicks",
    "conversions",
    "revenue",
    "blocks",
    "friends_added",
    "unfollows",
)


def header(key: str) -> str:
    return f"{LABELS[key]} ({key})"


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def text_cell(value: Any) -> str:
    """A free-text cell, never read as a formula."""
    text = cell(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def render(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    """The CSV text, BOM first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([header(key) for key in columns])
    for row in rows:
        writer.writerow(
            [
                text_cell(row.get(key)) if key in FREE_TEXT_COLUMNS else cell(row.get(key))
                for key in columns
            ]
        )
    return BOM + out.getvalue()


def _figures(figures: Figures) -> dict[str, Any]:
    return {key: getattr(figures, key) for key in _FIGURES}


def _opens(report: CampaignReport) -> dict[str, Any]:
    line = report.line
    return {"opens": line.opens, "open_rate": line.open_rate} if line else {}


def _holdout_row(report: CampaignReport, holdout: HoldoutReport) -> dict[str, Any]:
    return {
        "campaign": report.campaign,
        "kind": report.kind,
        "name": report.name,
        "variant": "holdout",
        "sent": 0,
        "conversions": holdout.conversions,
        "cvr": holdout.cvr,
        "revenue": holdout.revenue,
        "held_out": holdout.held_out,
    }


def campaign_csv(report: CampaignReport) -> str:
    """The total (variant ``*``), then a row per variant and one for the holdout."""
    base = {"campaign": report.campaign, "kind": report.kind, "name": report.name}
    rows = [{**base, "variant": ALL_VARIANTS, **_figures(report), **_opens(report)}]
    rows += [{**base, "variant": v.variant, **_figures(v)} for v in report.variants]
    if report.holdout is not None:
        rows.append(_holdout_row(report, report.holdout))
    return render(CAMPAIGN_COLUMNS, rows)


def campaign_list_csv(listed: CampaignList) -> str:
    return render(
        CAMPAIGN_LIST_COLUMNS,
        (
            {
                "campaign": report.campaign,
                "kind": report.kind,
                "name": report.name,
                "first_sent_at": report.first_sent_at,
                "last_sent_at": report.last_sent_at,
                **_figures(report),
                **_opens(report),
            }
            for report in listed.campaigns
        ),
    )


def funnel_csv(funnel: ScenarioFunnel) -> str:
    return render(
        FUNNEL_COLUMNS,
        ({"scenario_id": funnel.scenario_id, **step.model_dump()} for step in funnel.steps),
    )


def routes_csv(report: RoutesReport) -> str:
    return render(ROUTE_COLUMNS, (route.model_dump() for route in report.routes))


def timeline_csv(timeline: Timeline) -> str:
    return render(TIMELINE_COLUMNS, (day.model_dump() for day in timeline.days))
