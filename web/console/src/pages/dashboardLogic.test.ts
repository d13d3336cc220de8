import { describe, expect, it } from "vitest";
import { quotaShare } from "./dashboardLogic";

describe("the message quota", () => {
  const quota = { type: "limited", limit: 1000, used: 250, remaining: 750, fetchedAt: "2026-12-04T00:00:00Z" };

  it("is a share of LINE's monthly limit", () => {
    expect(quotaShare(quota)).toBe(0.25);
    expect(quotaShare({ ...quota, used: 1200 })).toBe(1.2);
  });

  it("has no share without a limit", () => {
    expect(quotaShare({ ...quota, type: "none", limit: null, remaining: null })).toBeNull();
    expect(quotaShare({ ...quota, limit: 0 })).toBeNull();
  });
});
