import { describe, expect, it } from "vitest";
import { countersOf, createBody, emptyForm, isPng, isSvg, ROUTE_ID, settingsOf, toForm, type Route } from "./routesLogic";

const ROUTE: Route = {
  route_id: "qr_shop_a",
  name: "渋谷店ポスター",
  code: "Ab3dEf7h",
  url: "http://127.0.0.1:8080/r/Ab3dEf7h",
  tags: ["店頭QR"],
  scenario: null,
  utm: { source: "poster", campaign: "open2026" },
  landing_url: null,
  report: { friends: 4, blocked: 1, linked: 2, converted: 1 },
  created_at: "2026-12-04T00:00:00Z",
  updated_at: "2026-12-04T00:00:00Z",
};

describe("the route form", () => {
  it("sends the settings with blanks left out", () => {
    const form = toForm(ROUTE);
    expect(form.utm).toEqual({ source: "poster", medium: "", campaign: "open2026", content: "", term: "" });
    form.name = "  渋谷店ポスター v2 ";
    form.landing_url = " ";
    expect(settingsOf(form)).toEqual({
      name: "渋谷店ポスター v2",
      tags: ["店頭QR"],
      scenario: null,
      utm: { source: "poster", campaign: "open2026" },
      landing_url: null,
    });
    const created = { ...emptyForm(), route_id: " ad_b ", name: "広告", scenario: "welcome" };
    expect(createBody(created)).toEqual({ route_id: "ad_b", name: "広告", tags: [], scenario: "welcome", utm: {}, landing_url: null });
  });

  it("guides the route id as the API's pattern", () => {
    expect(ROUTE_ID.test("qr_shop_a")).toBe(true);
    expect(ROUTE_ID.test("QR")).toBe(false);
    expect(ROUTE_ID.test("_a")).toBe(false);
    expect(ROUTE_ID.test("a".repeat(65))).toBe(false);
  });
});

describe("the route counters", () => {
  it("come from the report when it lists the route, else from the route", () => {
    const report = [
      { route_id: "qr_shop_a", name: "x", friends: 10, blocked: 2, linked: 3, converted: 5, block_rate: 0.2, conversion_rate: 0.5 },
    ];
    expect(countersOf(ROUTE, report)).toEqual({ friends: 10, blocked: 2, linked: 3, converted: 5, conversion_rate: 0.5 });
    expect(countersOf(ROUTE, [])).toEqual({ friends: 4, blocked: 1, linked: 2, converted: 1, conversion_rate: 0.25 });
    const none = { ...ROUTE, report: { friends: 0, blocked: 0, linked: 0, converted: 0 } };
    expect(countersOf(none, null).conversion_rate).toBeNull();
  });
});

describe("the QR download", () => {
  it("knows a PNG by its signature and an SVG by its root", () => {
    expect(isPng(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]))).toBe(true);
    expect(isPng(new TextEncoder().encode("<svg"))).toBe(false);
    expect(isSvg("<?xml version='1.0' encoding='utf-8'?>\n<svg xmlns=\"http://www.w3.org/2000/svg\">")).toBe(true);
    expect(isSvg("<html>")).toBe(false);
  });
});
