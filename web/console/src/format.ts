// Numbers and times for people; times in the account's time zone (the delivery
// policy's time_zone, as the dashboard shows the timeline's).
import type { Language } from "./i18n";

const LOCALES: Record<Language, string> = { ja: "ja-JP", en: "en-GB" };

export function count(value: number | null | undefined, language: Language = "ja"): string {
  return value === null || value === undefined ? "—" : new Intl.NumberFormat(LOCALES[language]).format(value);
}

export function money(value: number, language: Language = "ja"): string {
  return new Intl.NumberFormat(LOCALES[language], { style: "currency", currency: "JPY" }).format(value);
}

export function percent(value: number | null | undefined, digits = 1): string {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(digits)}%`;
}

export function dateTime(
  iso: string | null | undefined,
  timeZone: string,
  language: Language = "ja",
): string {
  if (!iso) return "—";
  const instant = new Date(iso);
  if (Number.isNaN(instant.getTime())) return iso;
  return new Intl.DateTimeFormat(LOCALES[language], {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  }).format(instant);
}

// "2026-12-03" -> "12/3"
export function shortDay(date: string): string {
  const [, month, day] = date.split("-").map(Number);
  return `${month}/${day}`;
}

// A wall-clock time typed in the account's time zone ("2026-12-04T09:30") as an ISO
// 8601 instant with that zone's offset at that moment ("2026-12-04T09:30:00+09:00").
export function zonedIso(local: string, timeZone: string): string {
  const [datePart, timePart = "00:00"] = local.split("T");
  const [year, month, day] = datePart.split("-").map(Number);
  const [hour, minute] = timePart.split(":").map(Number);
  const guess = Date.UTC(year, month - 1, day, hour, minute);
  // The zone's offset at the guessed instant, applied twice to land on DST edges.
  let utc = guess - offsetMinutes(new Date(guess), timeZone) * 60_000;
  utc = guess - offsetMinutes(new Date(utc), timeZone) * 60_000;
  const offset = offsetMinutes(new Date(utc), timeZone);
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${datePart}T${pad(hour)}:${pad(minute)}:00${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

export function offsetMinutes(instant: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(instant);
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const asUtc = Date.UTC(part("year"), part("month") - 1, part("day"), part("hour"), part("minute"), part("second"));
  return Math.round((asUtc - Math.floor(instant.getTime() / 1000) * 1000) / 60_000);
}
