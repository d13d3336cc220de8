import { describe, expect, it } from "vitest";
import { dateTime, zonedIso } from "./format";

describe("times in the account's time zone", () => {
  it("send a typed wall-clock time with the zone's offset", () => {
    expect(zonedIso("2026-12-04T09:30", "Asia/Tokyo")).toBe("2026-12-04T09:30:00+09:00");
    expect(zonedIso("2026-07-01T10:00", "Europe/London")).toBe("2026-07-01T10:00:00+01:00");
    expect(zonedIso("2026-01-15T10:00", "Europe/London")).toBe("2026-01-15T10:00:00+00:00");
    expect(zonedIso("2026-03-10T08:15", "America/New_York")).toBe("2026-03-10T08:15:00-04:00");
  });

  it("show instants in the zone, not the browser's", () => {
    expect(dateTime("2026-12-04T00:30:00Z", "Asia/Tokyo", "ja")).toBe("2026/12/04 09:30");
    expect(dateTime(null, "Asia/Tokyo")).toBe("—");
    expect(dateTime("2026-12-05T03:51+09:00 (Asia/Tokyo)", "Asia/Tokyo")).toBe(
      "2026-12-05T03:51+09:00 (Asia/Tokyo)",
    );
  });
});
