"""``linecrm report``: the reports (docs/reports.md) as tables in a terminal, or CSV.

linecrm report campaigns [--kind broadcast|step|rule|richmenu|welcome|chat] [--limit 50]
linecrm report campaign broadcast:<id>     one delivery, per A/B variant and holdout
linecrm report experiment broadcast:<id>   its A/B test: rates with 95 % intervals, verdict
linecrm report funnel <scenario id>        the scenario's steps in order
linecrm report routes                      per inflow route: friends, blocked, linked, converted
linecrm report timeline --from 2026-11-01 --to 2026-11-30   day by day (account time zone)

Add ``--csv FILE`` to write the report as CSV for Excel (UTF-8 with BOM) instead, or
``--json`` to print the admin API's JSON.
"""

from __future__ import annotations

import argparse
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from linecrm.domain.campaigns import CAMPAIGN_KINDS, RICHMENU_KIND
from linecrm_local.admin_cli import AdminApiClient, AdminCliError, add_connection_options

COMMAND = "report"
KINDS = CAMPAIGN_KINDS


class Printed(str):
    """Text the CLI prints as it is (a table), not as JSON."""


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    leaf = argparse.ArgumentParser(add_help=False)
    add_connection_options(leaf, on_command=True)
    output = leaf.add_mutually_exclusive_group()
    output.add_argument("--csv", type=Path, metavar="FILE", help="write CSV (UTF-8, BOM) here")
    output.add_argument("--json", action="store_true", help="print the admin API's JSON")
    group = commands.add_parser(COMMAND, help="reports: deliveries, funnels, routes, days")
    reports = group.add_subparsers(dest="report", required=True)
    campaigns = reports.add_parser("campaigns", help="recent campaigns, each a row", parents=[leaf])
    campaigns.add_argument("--kind", choices=KINDS, help="only this kind")
    campaigns.add_argument("--limit", type=int, help="at most this many (1-200; default 50)")
    campaign = reports.add_parser("campaign", help="one delivery's report", parents=[leaf])
    campaign.add_argument("key", help="campaign key: broadcast:<id>, step:<scenario>:<step>, …")
    experiment = reports.add_parser(
        "experiment", help="an A/B test: variants, holdout, verdict", parents=[leaf]
    )
    experiment.add_argument("key", help="campaign key: broadcast:<id>, step:<scenario>:<step>")
    funnel = reports.add_parser("funnel", help="a scenario's step funnel", parents=[leaf])
    funnel.add_argument("scenario", help="the scenario id")
    reports.add_parser("routes", help="per inflow route", parents=[leaf])
    timeline = reports.add_parser("timeline", help="day by day", parents=[leaf])
    timeline.add_argument(
        "--from", dest="first", help="first day, YYYY-MM-DD (default 30 days ago)"
    )
    timeline.add_argument(
        "--to", dest="last", help="last day, YYYY-MM-DD (default today, or --from's 30 days)"
    )


def run(args: argparse.Namespace) -> Any:
    client = AdminApiClient(args.api_url, args.channel, token=args.token, sigv4=bool(args.sigv4))
    path, params, render = _request(args)
    if args.csv is not None:
        return _write_csv(client, path, params, args.csv)
    report = client.call("GET", path, params=params)
    return report if args.json else Printed(render(report))


def _request(
    args: argparse.Namespace,
) -> tuple[str, dict[str, Any], Callable[[dict[str, Any]], str]]:
    if args.report == "campaigns":
        return "/reports/campaigns", {"kind": args.kind, "limit": args.limit}, campaign_list_table
    if args.report == "campaign":
        return f"/reports/campaigns/{quote(args.key, safe=':')}", {}, campaign_table
    if args.report == "experiment":
        return (
            f"/reports/campaigns/{quote(args.key, safe=':')}/experiment",
            {},
            experiment_table,
        )
    if args.report == "funnel":
        return f"/reports/scenarios/{quote(args.scenario, safe='')}/funnel", {}, funnel_table
    if args.report == "routes":
        return "/reports/routes", {}, routes_table
    return "/reports/timeline", {"from": args.first, "to": args.last}, timeline_table


def _write_csv(
    client: AdminApiClient, path: str, params: dict[str, Any], output: Path
) -> dict[str, Any]:
    if output.is_dir():
        raise AdminCliError(f"cannot write {output}: it is a directory")
    url = f"{client.base_url}/admin/channels/{quote(client.channel_id, safe='')}{path}"
    query = {key: value for key, value in {**params, "format": "csv"}.items() if value is not None}
    response = client.send(requests.Request("GET", url, params=query))
    if response.status_code >= 400:
        client.call("GET", path, params=params)  # the same request's error, in one line
        raise AdminCliError(f"the report was refused ({response.status_code})")
    try:
        output.write_bytes(response.content)
    except OSError as error:
        raise AdminCliError(f"cannot write {output}: {error.strerror or error}") from None
    lines = response.content.count(b"\n")
    return {"file": str(output), "rows": max(lines - 1, 0), "bytes": len(response.content)}


# ---------------------------------------------------------------------- tables
def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - _width(text))
    return gap + text if right else text + gap


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right_from: int = 1) -> str:
    """Columns aligned for a terminal (CJK characters count two); columns from
    ``right_from`` on (the numbers) right-aligned."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [
        max(_width(str(text)) for text in column) for column in zip(headers, *cells, strict=True)
    ]
    lines = []
    for row in [list(headers), *cells]:
        padded = [
            _pad(text, width, index >= right_from)
            for index, (text, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(padded).rstrip())
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def yen(value: int) -> str:
    return f"¥{value:,}"


_FIGURE_HEADERS = ("sent", "clicks", "unique", "CTR", "conv", "CVR", "revenue", "blocks", "block%")


def _figures(row: dict[str, Any]) -> list[str]:
    return [
        count(row["sent"]),
        count(row["clicks"]),
        count(row["unique_clicks"]),
        percent(row["ctr"]),
        count(row["conversions"]),
        percent(row["cvr"]),
        yen(row["revenue"]),
        count(row["blocks"]),
        percent(row["block_rate"]),
    ]


def _when(value: str | None) -> str:
    return "-" if value is None else value[:16].replace("T", " ")


def campaign_table(report: dict[str, Any]) -> str:
    title = f"{report['campaign']}  {report.get('name') or '(no name)'}  [{report['kind']}]"
    first, last = _when(report.get("first_sent_at")), _when(report.get("last_sent_at"))
    menu = report["kind"] == RICHMENU_KIND
    sent = (
        f"links live since {first}, last applied {last}"
        if menu
        else f"first sent {first}, last {last}"
    )
    rows = [["all", *_figures(report)]]
    rows += [[variant["variant"], *_figures(variant)] for variant in report["variants"]]
    lines = [title, sent, "", table(("variant", *_FIGURE_HEADERS), rows)]
    if menu:
        lines += ["", "a rich menu sends nothing: taps only, no rates (no sent to divide by)"]
        return "\n".join(lines)
    line = report.get("line")
    lines += ["", _line_figures(line)]
    holdout = report.get("holdout")
    if holdout:
        lines += [
            "",
            f"holdout: {count(holdout['held_out'])} friends held out (sent nothing); "
            f"{count(holdout['conversions'])} bought within the window "
            f"(CVR {percent(holdout['cvr'])}, {yen(holdout['revenue'])})",
        ]
    return "\n".join(lines)


def _line_figures(line: dict[str, Any] | None) -> str:
    if line is None:
        return "LINE: opens not fetched yet (hourly)"
    if line.get("error"):
        return f"LINE: no figures ({line['error']})"
    if line["withheld"]:
        why = "its 1,000 units this month were used" if line["over_unit_limit"] else "under 20"
        return f"LINE: opens withheld ({why})"
    return (
        f"LINE: {count(line['opens'])} opened ({percent(line['open_rate'])}), "
        f"{count(line['line_unique_clicks'])} tapped a URL"
        + ("" if line["final"] else f" (as of {_when(line['fetched_at'])})")
    )


def _opens(campaign: dict[str, Any]) -> str:
    line = campaign.get("line")
    if line is None:
        return "-"
    return "withheld" if line["withheld"] else percent(line["open_rate"])


def campaign_list_table(listed: dict[str, Any]) -> str:
    campaigns = listed["campaigns"]
    if not campaigns:
        kind = f" of kind {listed['kind']}" if listed.get("kind") else ""
        return f"no campaigns{kind} have sent yet"
    rows = [
        [
            c["campaign"],
            c.get("name") or "-",
            _when(c.get("last_sent_at")),
            *_figures(c),
            _opens(c),
        ]
        for c in campaigns
    ]
    headers = ("campaign", "name", "last sent", *_FIGURE_HEADERS, "opened")
    return table(headers, rows, right_from=3)


def funnel_table(funnel: dict[str, Any]) -> str:
    rows = [
        [
            step["step_id"] + ("" if step["sends_messages"] else " (actions only)"),
            count(step["sent"]),
            count(step["unique_clicks"]),
            percent(step["ctr"]),
            count(step["conversions"]),
            percent(step["cvr"]),
        ]
        for step in funnel["steps"]
    ]
    header = f"{funnel['scenario_id']}  {funnel['name']}"
    return header + "\n\n" + table(("step", "sent", "unique", "CTR", "conv", "CVR"), rows)


def routes_table(report: dict[str, Any]) -> str:
    if not report["routes"]:
        return "no inflow routes (create one: linecrm routes create …)"
    rows = [
        [
            route["route_id"],
            route["name"],
            count(route["friends"]),
            count(route["blocked"]),
            count(route["linked"]),
            count(route["converted"]),
            percent(route["conversion_rate"]),
        ]
        for route in report["routes"]
    ]
    headers = ("route", "name", "friends", "blocked", "linked", "converted", "conv%")
    return table(headers, rows, right_from=2)


def timeline_table(timeline: dict[str, Any]) -> str:
    rows = [
        [
            day["date"],
            count(day["sent"]),
            count(day["clicks"]),
            count(day["unique_clicks"]),
            count(day["conversions"]),
            yen(day["revenue"]),
            count(day["blocks"]),
            count(day["friends_added"]),
            count(day["unfollows"]),
        ]
        for day in timeline["days"]
    ]
    headers = (
        "date",
        "sent",
        "clicks",
        "unique",
        "conv",
        "revenue",
        "blocks",
        "added",
        "unfollows",
    )
    return f"days in {timeline['time_zone']}\n\n" + table(headers, rows)


def _interval(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return "–"
    return f"{low * 100:.1f}–{high * 100:.1f}%"


def _p_value(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def experiment_table(report: dict[str, Any]) -> str:
    rows = [
        [
            variant["variant"],
            count(variant["sent"]),
            percent(variant["ctr"]),
            percent(variant["cvr"]),
            _interval(variant["cvr_ci_low"], variant["cvr_ci_high"]),
            yen(variant["revenue"]),
            percent(variant["block_rate"]),
            _p_value(variant["p_value"]),
        ]
        for variant in report["variants"]
    ]
    verdicts = [
        f"{variant['variant']}: {variant['verdict']}"
        for variant in report["variants"][1:]  # the first is the control
    ]
    holdout = report.get("holdout")
    if holdout is not None:
        rows.append(
            [
                "holdout",
                f"({count(holdout['held_out'])})",
                "–",
                percent(holdout["cvr"]),
                _interval(holdout["cvr_ci_low"], holdout["cvr_ci_high"]),
                yen(holdout["revenue"]),
                "–",
                _p_value(holdout["p_value"]),
            ]
        )
        verdicts.append(f"holdout: {holdout['verdict']}")
    headers = ("variant", "sent", "CTR", "CVR", "CVR 95%", "revenue", "block%", "p")
    lines = [f"{report['campaign']}  control: {report['control'] or '–'}", ""]
    lines += [table(headers, rows), "", *verdicts]
    if holdout is not None and holdout["incremental_conversions"] is not None:
        lines.append(
            "incremental conversions over sending nothing: "
            f"{holdout['incremental_conversions']:.1f}"
        )
    lines += ["", f"verdict: {report['verdict']}", f"rule: {report['rule']}"]
    return "\n".join(lines)
