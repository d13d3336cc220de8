"""The experiment report of a campaign: its variants and holdout compared.

Read from the report counters (``CampaignStatsRepository.campaign``: a few small
queries, no scan) and the campaign's definition (its broadcast or scenario step, one
or two items) for the variants' order: the first variant is the control.

The comparison uses the *exposed* conversions (purchases within the attribution
window after the friend was reached, clicked or not; for the holdout, after being
held out), so every arm is measured alike; the last-click conversions are shown too.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, Field

from linecrm.domain import stats
from linecrm.domain.experiment_stats import (
    MIN_EXPECTED,
    MIN_SENT,
    NOT_ENOUGH_DATA,
    Comparison,
    compare,
    overall_verdict,
    wilson_interval,
)
from linecrm.domain.experiments import Experiment
from linecrm.reports.service import CampaignNotFound
from linecrm.repositories.campaign_stats import NO_VARIANT, Counters

if TYPE_CHECKING:
    from linecrm.domain.broadcasts import Broadcast
    from linecrm.repositories.scenarios import ScenarioHead
    from linecrm.scenarios.model import ScenarioDefinition

RULE = (
    f"a comparison needs at least {MIN_SENT} friends reached per group and at least "
    f"{MIN_EXPECTED} expected conversions and non-conversions per group at the pooled "
    "rate; then a two-sided two-proportion z-test, a difference at p < 0.05; 95 % "
    "intervals are Wilson's"
)


class CampaignCounters(Protocol):
    def campaign(self, channel_id: str, campaign: str) -> dict[str, Counters]: ...


ExperimentOf = Callable[[str, str], Experiment | None]


class VariantResult(BaseModel):
    variant: str
    sent: int
    clicks: int
    unique_clicks: int
    ctr: float | None
    ctr_ci_low: float | None
    ctr_ci_high: float | None
    conversions: int = Field(description="exposed conversions (the comparison's)")
    cvr: float | None = Field(description="exposed conversions per friend reached")
    cvr_ci_low: float | None
    cvr_ci_high: float | None
    revenue: int = Field(description="exposed revenue, in the minor unit (yen)")
    last_click_conversions: int
    last_click_cvr: float | None
    last_click_revenue: int
    blocks: int
    block_rate: float | None
    block_rate_ci_low: float | None
    block_rate_ci_high: float | None
    lift_vs_control: float | None = Field(
        description="(cvr - control cvr) / control cvr; None for the control"
    )
    p_value: float | None = Field(description="two-proportion z-test against the control")
    verdict: str


class HoldoutResult(BaseModel):
    held_out: int
    conversions: int = Field(description="purchases within the window after being held out")
    cvr: float | None
    cvr_ci_low: float | None
    cvr_ci_high: float | None
    revenue: int
    incremental_conversions: float | None = Field(
        description="(treated exposed cvr - holdout cvr) x treated sent: what the "
        "campaign added over sending nothing"
    )
    p_value: float | None = Field(description="every variant together against the holdout")
    verdict: str


class ExperimentReport(BaseModel):
    campaign: str
    control: str | None
    variants: list[VariantResult]
    holdout: HoldoutResult | None
    verdict: str
    rule: str = RULE


def _interval(successes: int, trials: int) -> tuple[float | None, float | None]:
    found = wilson_interval(successes, trials)
    return (None, None) if found is None else found


def _variant_result(name: str, counts: Mapping[str, int]) -> VariantResult:
    sent = counts.get(stats.SENT, 0)
    unique = counts.get(stats.UNIQUE_CLICKS, 0)
    exposed = counts.get(stats.EXPOSED_CONVERSIONS, 0)
    blocks = counts.get(stats.BLOCKS, 0)
    ctr_low, ctr_high = _interval(unique, sent)
    cvr_low, cvr_high = _interval(exposed, sent)
    block_low, block_high = _interval(blocks, sent)
    return VariantResult(
        variant=name,
        sent=sent,
        clicks=counts.get(stats.CLICKS, 0),
        unique_clicks=unique,
        ctr=stats.ctr(counts),
        ctr_ci_low=ctr_low,
        ctr_ci_high=ctr_high,
        conversions=exposed,
        cvr=stats.rate(exposed, sent),
        cvr_ci_low=cvr_low,
        cvr_ci_high=cvr_high,
        revenue=counts.get(stats.EXPOSED_REVENUE, 0),
        last_click_conversions=counts.get(stats.CONVERSIONS, 0),
        last_click_cvr=stats.cvr(counts),
        last_click_revenue=counts.get(stats.REVENUE, 0),
        blocks=blocks,
        block_rate=stats.block_rate(counts),
        block_rate_ci_low=block_low,
        block_rate_ci_high=block_high,
        lift_vs_control=None,
        p_value=None,
        verdict="control",
    )


def _with_comparison(
    result: VariantResult, comparison: Comparison, control: VariantResult
) -> VariantResult:
    lift = None
    if result.cvr is not None and control.cvr:
        lift = (result.cvr - control.cvr) / control.cvr
    return result.model_copy(
        update={
            "lift_vs_control": lift,
            "p_value": comparison.test.p_value if comparison.test is not None else None,
            "verdict": comparison.verdict,
        }
    )


def build_report(
    campaign: str, counters: Mapping[str, Counters], order: list[str] | None = None
) -> ExperimentReport:
    """The report from a campaign's counters by variant; ``order`` lists the variants
    as defined (the control first), else they are taken by name."""
    holdout_counts = counters.get(stats.HOLDOUT_VARIANT)
    names = [name for name in (order or []) if name != stats.HOLDOUT_VARIANT]
    names += sorted(n for n in counters if n not in names and n != stats.HOLDOUT_VARIANT)
    if len(names) > 1 and NO_VARIANT in names and NO_VARIANT not in (order or []):
        names.remove(NO_VARIANT)  # sends from before the test (or without a variant)
    results = [_variant_result(name, counters.get(name, {})) for name in names]
    control = results[0] if results else None
    comparisons: list[Comparison] = []
    if control is not None:
        for index, result in enumerate(results[1:], start=1):
            comparison = compare(
                result.variant,
                result.conversions,
                result.sent,
                control.variant,
                control.conversions,
                control.sent,
            )
            comparisons.append(comparison)
            results[index] = _with_comparison(result, comparison, control)
    holdout = _holdout_result(holdout_counts, results) if holdout_counts is not None else None
    if comparisons:
        verdict = overall_verdict(comparisons)
    elif holdout is not None:
        verdict = holdout.verdict  # one variant: the campaign against sending nothing
    elif control is None:
        verdict = "no data yet: nothing was sent"
    else:
        verdict = "nothing to compare: one group and no holdout"
    return ExperimentReport(
        campaign=campaign,
        control=control.variant if control is not None else None,
        variants=results,
        holdout=holdout,
        verdict=verdict,
    )


def _holdout_result(counts: Mapping[str, int], treated: list[VariantResult]) -> HoldoutResult:
    held_out = counts.get(stats.HELD_OUT, 0)
    conversions = counts.get(stats.EXPOSED_CONVERSIONS, 0)
    treated_sent = sum(result.sent for result in treated)
    treated_conversions = sum(result.conversions for result in treated)
    holdout_cvr = stats.rate(conversions, held_out)
    treated_cvr = stats.rate(treated_conversions, treated_sent)
    incremental = None
    if holdout_cvr is not None and treated_cvr is not None:
        incremental = round((treated_cvr - holdout_cvr) * treated_sent, 1)
    name = treated[0].variant if len(treated) == 1 else "the campaign"
    comparison = compare(
        name, treated_conversions, treated_sent, "the holdout", conversions, held_out
    )
    low, high = _interval(conversions, held_out)
    return HoldoutResult(
        held_out=held_out,
        conversions=conversions,
        cvr=holdout_cvr,
        cvr_ci_low=low,
        cvr_ci_high=high,
        revenue=counts.get(stats.EXPOSED_REVENUE, 0),
        incremental_conversions=incremental,
        p_value=comparison.test.p_value if comparison.test is not None else None,
        verdict=comparison.verdict,
    )


class ExperimentReports:
    def __init__(self, counters: CampaignCounters, experiment_of: ExperimentOf) -> None:
        self._counters = counters
        self._experiment_of = experiment_of

    def report(self, channel_id: str, campaign: str) -> ExperimentReport:
        """The report; ``CampaignNotFound`` (404) when the broadcast or scenario step
        the key names does not exist and nothing was counted for it (a mistyped id)."""
        counters = self._counters.campaign(channel_id, campaign)
        try:
            experiment = self._experiment_of(channel_id, campaign)
        except CampaignNotFound:
            if not counters:
                raise
            experiment = None  # deleted since: its counters still tell
        order = [variant.name for variant in experiment.variants] if experiment else None
        return build_report(campaign, counters, order)


CSV_COLUMNS = (
    "campaign",
    "group",
    "sent",
    "unique_clicks",
    "ctr",
    "conversions",
    "cvr",
    "cvr_ci_low",
    "cvr_ci_high",
    "revenue",
    "last_click_conversions",
    "last_click_cvr",
    "blocks",
    "block_rate",
    "lift_vs_control",
    "p_value",
    "incremental_conversions",
    "verdict",
)


def report_csv(report: ExperimentReport) -> str:
    """The report as CSV (one row per variant, the holdout, then the verdict), with a
    byte-order mark so Excel opens it as UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for v in report.variants:
        writer.writerow(
            _cells(
                report.campaign,
                v.variant,
                v.sent,
                v.unique_clicks,
                v.ctr,
                v.conversions,
                v.cvr,
                v.cvr_ci_low,
                v.cvr_ci_high,
                v.revenue,
                v.last_click_conversions,
                v.last_click_cvr,
                v.blocks,
                v.block_rate,
                v.lift_vs_control,
                v.p_value,
                None,
                v.verdict,
            )
        )
    if (h := report.holdout) is not None:
        writer.writerow(
            _cells(
                report.campaign,
                stats.HOLDOUT_VARIANT,
                h.held_out,
                None,
                None,
                h.conversions,
                h.cvr,
                h.cvr_ci_low,
                h.cvr_ci_high,
                h.revenue,
                None,
                None,
                None,
                None,
                None,
                h.p_value,
                h.incremental_conversions,
                h.verdict,
            )
        )
    writer.writerow(_cells(report.campaign, "verdict", *([None] * 15), report.verdict))
    return "\ufeff" + out.getvalue()


def _cells(*values: object) -> list[str]:
    cells = []
    for value in values:
        if value is None:
            cells.append("")
        elif isinstance(value, float):
            cells.append(f"{value:.6g}")
        else:
            cells.append(str(value))
    return cells


__all__ = ["NOT_ENOUGH_DATA", "ExperimentReport", "ExperimentReports", "build_report"]


class BroadcastLookup(Protocol):
    def get(self, channel_id: str, broadcast_id: str) -> Broadcast | None: ...


class ScenarioLookup(Protocol):
    def head(self, channel_id: str, scenario_id: str) -> ScenarioHead | None: ...
    def version(
        self, channel_id: str, scenario_id: str, version: int
    ) -> ScenarioDefinition | None: ...


class CampaignExperiments:
    """A campaign's experiment as defined: its broadcast's, or its scenario step's
    (the scenario's current version)."""

    def __init__(self, broadcasts: BroadcastLookup, scenarios: ScenarioLookup) -> None:
        self._broadcasts = broadcasts
        self._scenarios = scenarios

    def __call__(self, channel_id: str, campaign: str) -> Experiment | None:
        """The experiment, None without one; ``CampaignNotFound`` when the broadcast or
        the scenario step does not exist (other kinds have no experiment)."""
        kind, _, rest = campaign.partition(":")
        if kind == "broadcast":
            broadcast = self._broadcasts.get(channel_id, rest)
            if broadcast is None:
                raise CampaignNotFound(campaign)
            return broadcast.experiment
        if kind == "step":
            scenario_id, _, step_id = rest.partition(":")
            head = self._scenarios.head(channel_id, scenario_id)
            definition = (
                self._scenarios.version(channel_id, scenario_id, head.version)
                if head is not None
                else None
            )
            step = definition.step(step_id) if definition is not None else None
            if step is None:
                raise CampaignNotFound(campaign)
            return step.experiment
        return None
