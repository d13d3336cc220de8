// Which deliveries did best and worst: those that sent something, by click-through
// then conversion rate (ties: more sent first).
import type { Schemas } from "../api/client";

type Campaign = Schemas["CampaignReport"];

export function rankCampaigns(campaigns: Campaign[], size = 5): { best: Campaign[]; worst: Campaign[] } {
  const sent = campaigns.filter((c) => c.sent > 0);
  const score = (c: Campaign) => [c.ctr ?? 0, c.cvr ?? 0, c.sent] as const;
  const better = (a: Campaign, b: Campaign) => {
    const [x, y] = [score(a), score(b)];
    for (let i = 0; i < x.length; i += 1) if (x[i] !== y[i]) return y[i] - x[i];
    return a.campaign.localeCompare(b.campaign);
  };
  const ranked = [...sent].sort(better);
  const best = ranked.slice(0, size);
  const worst = [...ranked].reverse().filter((c) => !best.includes(c) || ranked.length <= size).slice(0, size);
  return { best, worst };
}

const KINDS: Record<string, string> = {
  broadcast: "一斉配信",
  step: "ステップ",
  rule: "自動応答",
  richmenu: "リッチメニュー",
  welcome: "あいさつ",
  chat: "チャット",
};

export function campaignLabel(campaign: string, name?: string | null): string {
  if (name) return name;
  const [kind, ...rest] = campaign.split(":");
  const label = KINDS[kind] ?? kind;
  return rest.length ? `${label} ${rest.join(":")}` : label;
}
