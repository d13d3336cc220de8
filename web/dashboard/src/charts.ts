// The dashboard's chart options (Apache ECharts), from report figures: pure functions,
// so what a chart shows follows from the API's answer alone.
import type { EChartsCoreOption } from "echarts/core";
import type { CustomSeriesRenderItem } from "echarts";

import type { CampaignReport, ExperimentReport, ScenarioFunnel, Timeline } from "./api";
import { campaignLabel, count, money, percent, shortDay, variantLabel } from "./format";

const COLORS = ["#06c755", "#1f77b4", "#ff7f0e", "#d62728", "#9467bd", "#8c564b"];
const FONT = "'Noto Sans CJK JP', 'Hiragino Sans', 'Yu Gothic', sans-serif";

const base = {
  color: COLORS,
  textStyle: { fontFamily: FONT },
  animation: false,
  tooltip: { trigger: "axis" },
  legend: { top: 0 },
  grid: { left: 56, right: 56, top: 40, bottom: 56, containLabel: true },
};

function percentAxis(name: string): Record<string, unknown> {
  return {
    type: "value",
    name,
    min: 0,
    axisLabel: { formatter: (value: number) => percent(value, 0) },
  };
}

// Sent → unique clicks → conversions, per recent campaign.
export function campaignFunnelOption(campaigns: CampaignReport[]): EChartsCoreOption {
  const labels = campaigns.map((c) => campaignLabel(c.campaign, c.name));
  return {
    ...base,
    xAxis: { type: "category", data: labels, axisLabel: { interval: 0, rotate: 20 } },
    yAxis: { type: "value", name: "人数", minInterval: 1 },
    series: [
      { name: "配信数", type: "bar", data: campaigns.map((c) => c.sent) },
      { name: "クリック（ユニーク）", type: "bar", data: campaigns.map((c) => c.unique_clicks) },
      { name: "コンバージョン", type: "bar", data: campaigns.map((c) => c.conversions) },
    ],
  };
}

// CTR, CVR and block rate per recent campaign (rates with nothing sent are gaps).
export function campaignRatesOption(campaigns: CampaignReport[]): EChartsCoreOption {
  const labels = campaigns.map((c) => campaignLabel(c.campaign, c.name));
  const rateTooltip = (value: unknown): string => percent(value as number | null, 2);
  return {
    ...base,
    tooltip: { trigger: "axis", valueFormatter: rateTooltip },
    xAxis: { type: "category", data: labels, axisLabel: { interval: 0, rotate: 20 } },
    yAxis: percentAxis("率"),
    series: [
      { name: "クリック率 (CTR)", type: "bar", data: campaigns.map((c) => c.ctr) },
      { name: "コンバージョン率 (CVR)", type: "bar", data: campaigns.map((c) => c.cvr) },
      { name: "ブロック率", type: "bar", data: campaigns.map((c) => c.block_rate) },
    ],
  };
}

// A scenario's steps as a funnel: sent, unique clicks and conversions per step.
export function scenarioFunnelOption(funnel: ScenarioFunnel): EChartsCoreOption {
  const steps = funnel.steps.filter((step) => step.sends_messages);
  const labels = steps.map((step, index) => `${index + 1}. ${step.step_id}`);
  return {
    ...base,
    xAxis: { type: "category", data: labels },
    yAxis: { type: "value", name: "人数", minInterval: 1 },
    series: [
      { name: "配信数", type: "bar", data: steps.map((s) => s.sent) },
      { name: "クリック（ユニーク）", type: "bar", data: steps.map((s) => s.unique_clicks) },
      { name: "コンバージョン", type: "bar", data: steps.map((s) => s.conversions) },
      {
        name: "配信数の推移",
        type: "line",
        data: steps.map((s) => s.sent),
        symbolSize: 8,
        lineStyle: { type: "dashed" },
      },
    ],
  };
}

// CVR per variant with its confidence interval as an error bar; the holdout's CVR
// beside them (what the campaign's incremental conversions are measured against).
export function experimentOption(report: ExperimentReport): EChartsCoreOption {
  const rows = report.variants.map((v) => ({
    label: variantLabel(v.variant) + (v.variant === report.control ? "（対照）" : ""),
    cvr: v.cvr,
    low: v.cvr_ci_low,
    high: v.cvr_ci_high,
  }));
  if (report.holdout) {
    rows.push({ label: variantLabel("holdout"), cvr: report.holdout.cvr, low: null, high: null });
  }
  const renderErrorBar: CustomSeriesRenderItem = (_params, api) => {
    const index = api.value(0) as number;
    const low = api.value(1) as number;
    const high = api.value(2) as number;
    const bottom = api.coord([index, low]);
    const top = api.coord([index, high]);
    const half = 8;
    const style = { stroke: "#333", lineWidth: 1.5 };
    return {
      type: "group",
      children: [
        { type: "line", shape: { x1: top[0], y1: top[1], x2: bottom[0], y2: bottom[1] }, style },
        { type: "line", shape: { x1: top[0] - half, y1: top[1], x2: top[0] + half, y2: top[1] }, style },
        {
          type: "line",
          shape: { x1: bottom[0] - half, y1: bottom[1], x2: bottom[0] + half, y2: bottom[1] },
          style,
        },
      ],
    };
  };
  return {
    ...base,
    tooltip: { trigger: "item" },
    legend: { top: 0, data: ["CVR", "95% 信頼区間"] },
    xAxis: { type: "category", data: rows.map((r) => r.label) },
    yAxis: percentAxis("CVR"),
    series: [
      {
        name: "CVR",
        type: "bar",
        barMaxWidth: 64,
        data: rows.map((r, index) => ({
          value: r.cvr,
          itemStyle: index === rows.length - 1 && report.holdout ? { color: "#aaa" } : undefined,
        })),
        label: { show: true, position: "top", formatter: (p: { value: unknown }) => percent(p.value as number | null) },
        tooltip: { valueFormatter: (value: unknown) => percent(value as number | null, 2) },
      },
      {
        name: "95% 信頼区間",
        type: "custom",
        renderItem: renderErrorBar,
        encode: { x: 0, y: [1, 2] },
        z: 10,
        data: rows.flatMap((r, index) =>
          r.low === null || r.high === null ? [] : [[index, r.low, r.high]],
        ),
        tooltip: {
          formatter: (p: { value: unknown }) => {
            const [, low, high] = p.value as number[];
            return `95% 信頼区間: ${percent(low, 2)} 〜 ${percent(high, 2)}`;
          },
        },
      },
    ],
  };
}

// The daily timeline: friends added and unfollows, sent, clicks and conversions on the
// left axis; revenue (yen) on the right.
export function timelineOption(timeline: Timeline): EChartsCoreOption {
  const days = timeline.days;
  const line = (name: string, values: number[]) => ({
    name,
    type: "line",
    data: values,
    smooth: false,
    symbolSize: 5,
  });
  return {
    ...base,
    legend: { top: 0, type: "scroll" },
    xAxis: { type: "category", data: days.map((d) => shortDay(d.date)) },
    yAxis: [
      { type: "value", name: "件数", minInterval: 1, axisLabel: { formatter: (v: number) => count(v) } },
      {
        type: "value",
        name: "売上",
        minInterval: 1,
        splitLine: { show: false },
        axisLabel: { formatter: (v: number) => money(v) },
      },
    ],
    series: [
      line("友だち追加", days.map((d) => d.friends_added)),
      line("ブロック", days.map((d) => d.unfollows)),
      line("配信数", days.map((d) => d.sent)),
      line("クリック", days.map((d) => d.clicks)),
      line("コンバージョン", days.map((d) => d.conversions)),
      {
        name: "売上",
        type: "bar",
        yAxisIndex: 1,
        data: days.map((d) => d.revenue),
        itemStyle: { opacity: 0.35 },
        tooltip: { valueFormatter: (value: unknown) => money(value as number) },
      },
    ],
  };
}
