import { describe, expect, it } from "vitest";
import { definition, fromDefinition, node, NotBuildable } from "./segmentsLogic";

describe("the segment builder", () => {
  it("makes all / any / not documents over the condition kinds", () => {
    const root = node("all", {
      children: [
        node("tag", { tags: ["VIP"] }),
        node("field", { key: "purchase_count", op: "gte", value: "3" }),
        node("field", { key: "rank", op: "in", value: "gold, silver" }),
        node("linked", { value: "true", negate: true }),
        node("any", {
          children: [
            node("status", { value: "active" }),
            node("last_interaction", { op: "not_within_days", value: "60" }),
            node("event", { key: "purchase", op: "count_gte", value: "3", withinDays: "90" }),
          ],
        }),
      ],
    });
    expect(definition(root, { purchase_count: "number", rank: "choice" })).toEqual({
      match: {
        all: [
          { tag: "VIP" },
          { field: { key: "purchase_count", op: "gte", value: 3 } },
          { field: { key: "rank", op: "in", value: ["gold", "silver"] } },
          { not: { linked: true } },
          {
            any: [
              { status: "active" },
              { last_interaction: { not_within_days: 60 } },
              { event: { name: "purchase", count: { gte: 3 }, within_days: 90 } },
            ],
          },
        ],
      },
    });
  });

  it("leaves incomplete conditions out, and an empty builder matches everyone", () => {
    expect(definition(node("all", { children: [node("tag"), node("field", { key: "x" })] }))).toEqual({
      match: { all: [] },
    });
    expect(definition(node("any", { children: [node("inflow_route", { value: "a, b" })] }))).toEqual({
      match: { any: [{ inflow_route: { in: ["a", "b"] } }] },
    });
    expect(definition(node("all", { children: [node("field", { key: "memo", op: "not_exists" })] }))).toEqual({
      match: { all: [{ field: { key: "memo", op: "not_exists" } }] },
    });
  });
});

describe("a saved segment back in the builder", () => {
  it("reads back what the builder made", () => {
    const document = {
      match: {
        all: [
          { tag: "VIP" },
          { field: { key: "purchase_count", op: "gte", value: 3 } },
          { field: { key: "rank", op: "in", value: ["gold", "silver"] } },
          { not: { linked: true } },
          { inflow_route: { in: ["qr", "web"] } },
          { language: { in: ["ja"] } },
          {
            any: [
              { status: "active" },
              { last_interaction: { not_within_days: 60 } },
              { event: { name: "purchase", count: { gte: 3 }, within_days: 90 } },
              { event: { name: "visit", last_within_days: 7 } },
            ],
          },
        ],
      },
    };
    const types = { purchase_count: "number", rank: "choice" } as const;
    expect(definition(fromDefinition(document), types)).toEqual(document);
  });
  it("puts a lone or negated condition in a group, refuses what it cannot show", () => {
    const lone = fromDefinition({ match: { not: { tag: "VIP" } } });
    expect(lone.kind).toBe("all");
    expect(definition(lone)).toEqual({ match: { all: [{ not: { tag: "VIP" } }] } });
    expect(() => fromDefinition({ match: { segment: "abc" } })).toThrow(NotBuildable);
    expect(() => fromDefinition({ match: { tag: "a", status: "active" } })).toThrow(NotBuildable);
    expect(() => fromDefinition({})).toThrow(NotBuildable);
  });
});
