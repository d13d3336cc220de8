// The admin API's report routes (the dashboard reads nothing else). Shapes: the
// reports and experiment routes of docs/admin-openapi.json.

export type Rate = number | null;

export interface Figures {
  sent: number;
  clicks: number;
  unique_clicks: number;
  ctr: Rate;
  conversions: number;
  cvr: Rate;
  revenue: number;
  blocks: number;
  block_rate: Rate;
}

export interface VariantReport extends Figures {
  variant: string;
}

export interface HoldoutFigures {
  held_out: number;
  conversions: number;
  revenue: number;
  cvr: Rate;
}

export interface CampaignReport extends Figures {
  campaign: string;
  kind: string;
  name: string | null;
  scenario_id?: string | null;
  step_id?: string | null;
  // ISO 8601 with the account's offset.
  first_sent_at?: string | null;
  last_sent_at?: string | null;
  // Per A/B variant (empty without variants), the holdout apart.
  variants: VariantReport[];
  holdout?: HoldoutFigures | null;
}

export interface CampaignList {
  kind: string | null;
  campaigns: CampaignReport[];
}

export interface ExperimentVariant {
  variant: string;
  sent: number;
  conversions: number;
  cvr: Rate;
  ctr: Rate;
  revenue: number;
  block_rate: Rate;
  cvr_ci_low: Rate;
  cvr_ci_high: Rate;
  lift_vs_control: Rate;
  p_value: Rate;
  verdict: string;
}

export interface ExperimentReport {
  campaign: string;
  control: string | null;
  variants: ExperimentVariant[];
  holdout: {
    held_out: number;
    conversions: number;
    cvr: Rate;
    incremental_conversions: number | null;
  } | null;
  verdict: string;
}

export interface FunnelStep {
  step_id: string;
  campaign: string;
  sends_messages: boolean;
  sent: number;
  unique_clicks: number;
  ctr: Rate;
  conversions: number;
  cvr: Rate;
}

export interface ScenarioFunnel {
  scenario_id: string;
  name: string;
  steps: FunnelStep[];
}

export interface TimelineDay {
  date: string; // YYYY-MM-DD in the account's time zone
  sent: number;
  clicks: number;
  unique_clicks: number;
  conversions: number;
  revenue: number;
  blocks: number;
  friends_added: number;
  unfollows: number;
}

export interface Timeline {
  time_zone: string;
  days: TimelineDay[];
}

export interface ScenarioSummary {
  scenario_id: string;
  name: string;
  status: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Fetcher = (url: string) => Promise<Response>;

export class ReportsApi {
  constructor(
    private readonly fetcher: Fetcher,
    readonly channelId: string,
    private readonly origin: string = location.origin,
  ) {}

  url(path: string, query: Record<string, string> = {}): string {
    const url = new URL(
      `/admin/channels/${encodeURIComponent(this.channelId)}${path}`,
      this.origin,
    );
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    return url.toString();
  }

  private async get<T>(path: string, query: Record<string, string> = {}): Promise<T> {
    const response = await this.fetcher(this.url(path, query));
    const body = (await response.json().catch(() => ({}))) as { message?: string };
    if (!response.ok) {
      throw new ApiError(response.status, body.message ?? `HTTP ${response.status}`);
    }
    return body as T;
  }

  async campaigns(limit: number): Promise<CampaignReport[]> {
    const answer = await this.get<CampaignList>("/reports/campaigns", { limit: String(limit) });
    return answer.campaigns;
  }

  experiment(campaign: string): Promise<ExperimentReport> {
    return this.get(`/reports/campaigns/${encodeURIComponent(campaign)}/experiment`);
  }

  funnel(scenarioId: string): Promise<ScenarioFunnel> {
    return this.get(`/reports/scenarios/${encodeURIComponent(scenarioId)}/funnel`);
  }

  // Without from/to: the server's default, the 30 days up to today in the account's
  // time zone (so "today" is the account's, not the browser's).
  timeline(): Promise<Timeline> {
    return this.get("/reports/timeline");
  }

  async scenarios(): Promise<ScenarioSummary[]> {
    return (await this.get<{ scenarios: ScenarioSummary[] }>("/scenarios")).scenarios;
  }
}

export function describe(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 401 || error.status === 403) {
      return "認証に失敗しました。認証情報を確認してください。";
    }
    if (error.status === 404) return `見つかりません: ${error.message}`;
    return `エラー (${error.status}): ${error.message}`;
  }
  return "管理 API に接続できませんでした。";
}
