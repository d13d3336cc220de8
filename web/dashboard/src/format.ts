// Numbers, rates and times the Japanese way, times in the account's time zone.

const integer = new Intl.NumberFormat("ja-JP");
const yen = new Intl.NumberFormat("ja-JP", { style: "currency", currency: "JPY" });

export function count(value: number): string {
  return integer.format(value);
}

export function money(value: number): string {
  return yen.format(value);
}

// A fraction 0..1 as a percentage; a missing rate (nothing sent) as "—".
export function percent(value: number | null | undefined, digits = 1): string {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(digits)}%`;
}

export function dateTime(iso: string, timeZone: string): string {
  return new Intl.DateTimeFormat("ja-JP", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  }).format(new Date(iso));
}

// The calendar date (YYYY-MM-DD) of `instant` in `timeZone`.
export function dayIn(instant: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).formatToParts(instant);
  const part = (type: string): string => parts.find((p) => p.type === type)?.value ?? "";
  return `${part("year")}-${part("month")}-${part("day")}`;
}

// `date` (YYYY-MM-DD) moved by `days` calendar days.
export function addDays(date: string, days: number): string {
  const [year, month, day] = date.split("-").map(Number);
  const moved = new Date(Date.UTC(year, month - 1, day + days));
  return moved.toISOString().slice(0, 10);
}

// "2026-12-03" -> "12/3"
export function shortDay(date: string): string {
  const [, month, day] = date.split("-").map(Number);
  return `${month}/${day}`;
}

const KINDS: Record<string, string> = {
  broadcast: "一斉配信",
  step: "ステップ",
  rule: "自動応答",
  welcome: "あいさつ",
  chat: "チャット",
};

// A campaign key (broadcast:<id>, step:<scenario>:<step>, rule:<id>, …) for people.
export function campaignLabel(campaign: string, name?: string | null): string {
  if (name) return name;
  const [kind, ...rest] = campaign.split(":");
  const label = KINDS[kind] ?? kind;
  return rest.length ? `${label} ${rest.join(":")}` : label;
}

export function variantLabel(variant: string): string {
  if (variant === "-") return "（なし）";
  if (variant === "holdout") return "ホールドアウト";
  return variant;
}

// The experiment report's verdict is in English words; its "cannot decide" in Japanese.
export function verdictLabel(verdict: string): string {
  return verdict === "not enough data yet" ? "まだデータが足りません（not enough data yet）" : verdict;
}
