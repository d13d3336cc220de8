// linecrm's analytics dashboard: the admin API's reports as charts (Apache ECharts).
// Every figure comes from the report routes; days and times are the account's.
import "./style.css";

import { BarChart, CustomChart, LineChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import type { EChartsCoreOption } from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";

import {
  ApiError,
  type CampaignReport,
  describe,
  type ExperimentReport,
  ReportsApi,
  type Timeline,
} from "./api";
import {
  authorizedFetch,
  forgetCredentials,
  likelyAuth,
  regionOfHost,
  storeCredentials,
  storedCredentials,
  type Credentials,
} from "./auth";
import {
  campaignFunnelOption,
  campaignRatesOption,
  experimentOption,
  scenarioFunnelOption,
  timelineOption,
} from "./charts";
import { readConfig } from "./config";
import { byId, element } from "./dom";
import {
  campaignLabel,
  count,
  dateTime,
  money,
  percent,
  variantLabel,
  verdictLabel,
} from "./format";
import { askForCredentials } from "./signin";

echarts.use([
  BarChart,
  LineChart,
  CustomChart,
  GridComponent,
  LegendComponent,
  TooltipComponent,
  CanvasRenderer,
]);

const DEFAULT_TIME_ZONE = "Asia/Tokyo";
const RECENT_CAMPAIGNS = 10;

type SectionState = "loading" | "ready" | "empty" | "error";

interface Section {
  root: HTMLElement;
  note: HTMLElement;
  chart: HTMLElement;
  controls: HTMLElement;
}

const charts = new Map<string, echarts.ECharts>();

function section(id: string, title: string, description: string): Section {
  const note = element("p", { class: "note" });
  const controls = element("div", { class: "controls" });
  const chart = element("div", { class: "chart", id: `chart-${id}` });
  const root = element(
    "section",
    { id: `section-${id}`, "data-state": "loading" },
    element("h2", {}, title),
    element("p", { class: "description" }, description),
    controls,
    chart,
    note,
  );
  return { root, note, chart, controls };
}

function setState(target: Section, state: SectionState, note = ""): void {
  target.root.dataset.state = state;
  target.note.textContent = note;
  target.chart.hidden = state !== "ready";
}

function draw(target: Section, option: EChartsCoreOption): void {
  setState(target, "ready");
  let chart = charts.get(target.chart.id);
  if (!chart) {
    chart = echarts.init(target.chart, undefined, { renderer: "canvas" });
    charts.set(target.chart.id, chart);
  }
  chart.setOption(option, { notMerge: true });
}

function select(
  target: Section,
  label: string,
  options: { value: string; label: string }[],
  onChange: (value: string) => void,
): void {
  const input = element("select", { id: `${target.chart.id}-select` });
  for (const option of options) input.append(element("option", { value: option.value }, option.label));
  input.addEventListener("change", () => onChange(input.value));
  target.controls.replaceChildren(element("label", {}, label, input));
}

function kpis(campaigns: CampaignReport[], timeline: Timeline | null): HTMLElement {
  const sum = (pick: (c: CampaignReport) => number): number =>
    campaigns.reduce((total, c) => total + pick(c), 0);
  const sent = sum((c) => c.sent);
  const card = (label: string, value: string): HTMLElement =>
    element("div", { class: "kpi" }, element("span", {}, label), element("strong", {}, value));
  const friends = timeline ? timeline.days.reduce((t, d) => t + d.friends_added, 0) : 0;
  return element(
    "div",
    { class: "kpis", id: "kpis" },
    card("配信数（直近の配信）", count(sent)),
    card("クリック率", percent(sent ? sum((c) => c.unique_clicks) / sent : null)),
    card("コンバージョン率", percent(sent ? sum((c) => c.conversions) / sent : null)),
    card("売上", money(sum((c) => c.revenue))),
    card("ブロック率", percent(sent ? sum((c) => c.blocks) / sent : null)),
    card(`友だち追加（${timeline?.days.length ?? 0}日間）`, count(friends)),
  );
}

function campaignTable(campaigns: CampaignReport[], timeZone: string): HTMLElement {
  const head = ["配信", "配信日時", "配信数", "ユニーククリック", "CTR", "CV", "CVR", "売上", "ブロック", "ブロック率"];
  const rows = campaigns.map((c) =>
    element(
      "tr",
      {},
      ...[
        campaignLabel(c.campaign, c.name),
        c.last_sent_at ? dateTime(c.last_sent_at, timeZone) : "—",
        count(c.sent),
        count(c.unique_clicks),
        percent(c.ctr),
        count(c.conversions),
        percent(c.cvr),
        money(c.revenue),
        count(c.blocks),
        percent(c.block_rate),
      ].map((text) => element("td", {}, text)),
    ),
  );
  return element(
    "table",
    { class: "figures", id: "campaign-table" },
    element("thead", {}, element("tr", {}, ...head.map((h) => element("th", {}, h)))),
    element("tbody", {}, ...rows),
  );
}

async function loadTimeline(api: ReportsApi, target: Section): Promise<Timeline> {
  const timeline = await api.timeline();
  draw(target, timelineOption(timeline));
  const first = timeline.days[0]?.date ?? "";
  const last = timeline.days[timeline.days.length - 1]?.date ?? "";
  target.note.textContent = `${first} 〜 ${last}（${timeline.time_zone} の暦日）`;
  return timeline;
}

function isExperiment(campaign: CampaignReport): boolean {
  return campaign.variants.some((v) => v.variant !== "-") || Boolean(campaign.holdout);
}

// The campaign report's own per-variant figures, for a build without the experiment
// route: CVR per variant and the holdout's, no interval and no verdict.
function experimentFromCampaign(campaign: CampaignReport): ExperimentReport {
  const variants = campaign.variants.filter((v) => v.variant !== "-");
  return {
    campaign: campaign.campaign,
    control: variants[0]?.variant ?? null,
    variants: variants.map((v) => ({
      variant: v.variant,
      sent: v.sent,
      conversions: v.conversions,
      cvr: v.cvr,
      ctr: v.ctr,
      revenue: v.revenue,
      block_rate: v.block_rate,
      cvr_ci_low: null,
      cvr_ci_high: null,
      lift_vs_control: null,
      p_value: null,
      verdict: "",
    })),
    holdout: campaign.holdout
      ? { ...campaign.holdout, incremental_conversions: null }
      : null,
    verdict: "信頼区間と判定は実験レポートの API から出ます（この環境にはまだありません）。",
  };
}

async function loadExperiment(
  api: ReportsApi,
  target: Section,
  campaign: CampaignReport,
): Promise<void> {
  let report: ExperimentReport;
  try {
    report = await api.experiment(campaign.campaign);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
    report = experimentFromCampaign(campaign);
  }
  draw(target, experimentOption(report));
  const holdout = report.holdout;
  const lines = [`判定: ${verdictLabel(report.verdict)}`];
  for (const variant of report.variants) {
    if (variant.variant === report.control || variant.lift_vs_control === null) continue;
    lines.push(
      `${variantLabel(variant.variant)}: 対照比 ${percent(variant.lift_vs_control)}` +
        `（p = ${variant.p_value === null ? "—" : variant.p_value.toFixed(3)}）${verdictLabel(variant.verdict)}`,
    );
  }
  if (holdout) {
    lines.push(
      `ホールドアウト ${count(holdout.held_out)} 人、CV ${count(holdout.conversions)}` +
        (holdout.incremental_conversions === null
          ? ""
          : `、増分コンバージョン ${count(holdout.incremental_conversions)}`),
    );
  }
  target.note.replaceChildren(...lines.map((line) => element("span", { class: "line" }, line)));
}

async function loadScenario(api: ReportsApi, target: Section, scenarioId: string): Promise<void> {
  const funnel = await api.funnel(scenarioId);
  if (!funnel.steps.some((step) => step.sent > 0)) {
    setState(target, "empty", "このシナリオにはまだ配信がありません。");
    return;
  }
  draw(target, scenarioFunnelOption(funnel));
}

async function guarded(target: Section, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) throw error;
    console.warn(error);
    setState(target, "error", describe(error));
  }
}

async function render(api: ReportsApi, root: HTMLElement): Promise<void> {
  const overview = element("div", { id: "overview" });
  const funnel = section("funnel", "ファネル（配信 → クリック → コンバージョン）", "直近の配信ごとの人数");
  const rates = section("rates", "配信ごとの率", "クリック率・コンバージョン率・ブロック率（配信 24 時間以内のブロック）");
  const experiment = section("experiment", "A/B テスト", "バリアントごとの CVR と 95% 信頼区間、ホールドアウト");
  const scenario = section("scenario", "シナリオのステップファネル", "ステップごとの配信・クリック・コンバージョン");
  const timeline = section("timeline", "日別の推移", "友だち追加・ブロック・配信・クリック・コンバージョン・売上");
  root.replaceChildren(
    overview,
    element("div", { class: "grid" }, funnel.root, rates.root, experiment.root, scenario.root),
    timeline.root,
  );

  let days: Timeline | null = null;
  let campaigns: CampaignReport[] = [];
  await guarded(timeline, async () => {
    days = await loadTimeline(api, timeline);
  });
  const timeZone = (days as Timeline | null)?.time_zone ?? DEFAULT_TIME_ZONE;
  byId("time-zone").textContent = `タイムゾーン: ${timeZone}（${dateTime(new Date().toISOString(), timeZone)} 現在）`;

  await guarded(funnel, async () => {
    // Oldest first, left to right.
    campaigns = (await api.campaigns(RECENT_CAMPAIGNS)).reverse();
    if (!campaigns.length) {
      setState(funnel, "empty", "まだ配信がありません。");
      setState(rates, "empty", "まだ配信がありません。");
      return;
    }
    draw(funnel, campaignFunnelOption(campaigns));
    draw(rates, campaignRatesOption(campaigns));
    rates.note.replaceChildren(campaignTable(campaigns, timeZone));
  });
  overview.replaceChildren(kpis(campaigns, days));

  const experiments = campaigns.filter(isExperiment).reverse(); // newest first
  await guarded(experiment, async () => {
    if (!experiments.length) {
      setState(experiment, "empty", "A/B テストやホールドアウトのある配信はまだありません。");
      return;
    }
    select(
      experiment,
      "配信: ",
      experiments.map((c) => ({ value: c.campaign, label: campaignLabel(c.campaign, c.name) })),
      (value) =>
        void guarded(experiment, () =>
          loadExperiment(api, experiment, experiments.find((c) => c.campaign === value)!),
        ),
    );
    await loadExperiment(api, experiment, experiments[0]);
  });

  await guarded(scenario, async () => {
    const scenarios = await api.scenarios();
    if (!scenarios.length) {
      setState(scenario, "empty", "シナリオはまだありません。");
      return;
    }
    select(
      scenario,
      "シナリオ: ",
      scenarios.map((s) => ({ value: s.scenario_id, label: s.name || s.scenario_id })),
      (value) => void guarded(scenario, () => loadScenario(api, scenario, value)),
    );
    await loadScenario(api, scenario, scenarios[0].scenario_id);
  });
  document.body.dataset.loaded = "true";
}

async function credentialsFor(
  root: HTMLElement,
  region: string,
  problem: string | null,
): Promise<Credentials> {
  const stored = problem ? null : storedCredentials();
  if (stored) return stored;
  const credentials = await askForCredentials(root, likelyAuth(location.hostname), region, problem);
  storeCredentials(credentials);
  return credentials;
}

async function start(): Promise<void> {
  const config = readConfig();
  const root = byId("app");
  const params = new URLSearchParams(location.search);
  const channelId = params.get("channel") ?? config.defaultChannelId;
  if (!channelId) {
    root.replaceChildren(
      element("p", { class: "problem" }, "URL にチャネル ID を付けてください（例: ?channel=2000000001）。"),
    );
    return;
  }
  byId("channel").textContent = `チャネル ${channelId}`;
  const region = regionOfHost(location.hostname) ?? config.region;
  let problem: string | null = null;
  for (;;) {
    const credentials = await credentialsFor(root, region, problem);
    const api = new ReportsApi(authorizedFetch(credentials), channelId);
    root.replaceChildren(element("p", { class: "loading" }, "読み込み中…"));
    try {
      await render(api, root);
      return;
    } catch (error) {
      forgetCredentials();
      problem = describe(error);
    }
  }
}

byId("sign-out").addEventListener("click", () => {
  forgetCredentials();
  location.reload();
});
window.addEventListener("resize", () => charts.forEach((chart) => chart.resize()));
start().catch((error: unknown) => {
  console.error(error);
  byId("app").replaceChildren(element("p", { class: "problem" }, String(error)));
});
