// Business hours as the settings form shows them: "10:00-19:00, 20:00-22:00" a day.
export const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export type Day = (typeof DAYS)[number];
export type Weekly = Partial<Record<Day, [string, string][]>>;

export function intervalsText(intervals: [string, string][] | undefined): string {
  return (intervals ?? []).map(([from, to]) => `${from}-${to}`).join(", ");
}

export class HoursError extends Error {}

export function parseIntervals(day: string, text: string): [string, string][] {
  return text
    .split(/[,、]/)
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const found = /^(\d{1,2}:\d{2})\s*[-–〜~]\s*(\d{1,2}:\d{2})$/.exec(part);
      if (!found) throw new HoursError(`${day}: "${part}" (HH:MM-HH:MM)`);
      const pad = (time: string) => time.padStart(5, "0");
      return [pad(found[1]), pad(found[2])];
    });
}

export function parseDates(text: string): string[] {
  return text
    .split(/[,、\s]+/)
    .map((d) => d.trim())
    .filter(Boolean);
}
