// Which deliveries did best and worst: those that sent something, by click-through
// then conversion rate (ties: more sent first).
import type { Schemas } from "../api/client";
import type { MessageKey, Translate } from "../i18n";

type Campaign = Schemas["CampaignReport"];
type Quota = Schemas["Quota"];

// How much of this month's quota is used (0..1+); null without a monthly limit.
export function quotaShare(quota: Quota): number | null {
  if (quota.type !== "limited" || quota.limit == null || quota.limit <= 0) return null;
  return quota.used / quota.limit;
}

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

const KINDS = ["broadcast", "step", "rule", "richmenu", "welcome", "chat"] as const;

// A campaign key (broadcast:<id>, step:<scenario>:<step>, rule:<id>, …) for people.
export function campaignLabel(campaign: string, name: string | null | undefined, t: Translate): string {
  if (name) return name;
  const [kind, ...rest] = campaign.split(":");
  const label = (KINDS as readonly string[]).includes(kind) ? t(`kind.${kind}` as MessageKey) : kind;
  return rest.length ? `${label} ${rest.join(":")}` : label;
}
