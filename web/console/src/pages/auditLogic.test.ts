import { describe, expect, it } from "vitest";
import { diff, filledRoute, shown } from "./auditLogic";

describe("an audit entry's before and after", () => {
  it("lists what changed, was added or was removed, by path", () => {
    const before = { time_zone: "Asia/Tokyo", quiet_hours: { start: "21:00", end: "08:00" }, tags: ["a", "b"] };
    const after = { time_zone: "Asia/Tokyo", quiet_hours: { start: "22:00", end: "08:00" }, tags: ["a"], when_capped: "defer" };
    expect(diff(before, after)).toEqual([
      { path: "quiet_hours.start", before: "21:00", after: "22:00" },
      { path: "tags[1]", before: "b", after: undefined },
      { path: "when_capped", before: undefined, after: "defer" },
    ]);
  });
  it("a creation has nothing before; the same twice has no change", () => {
    expect(diff(null, { name: "x" })).toEqual([{ path: "name", before: undefined, after: "x" }]);
    expect(diff({ a: [1, { b: null }] }, { a: [1, { b: null }] })).toEqual([]);
    expect(diff(null, null)).toEqual([]);
  });
  it("shows values and fills the route", () => {
    expect(shown(undefined)).toBe("—");
    expect(shown({ a: 1 })).toBe('{"a":1}');
    expect(filledRoute("/admin/staff/{username}", { username: "sato@shop.example" })).toBe("/admin/staff/sato@shop.example");
    expect(filledRoute("/admin/staff/{username}", { username: "sato%40shop.example" })).toBe("/admin/staff/sato@shop.example");
    expect(filledRoute("/x/{a}/{b}", { a: "100%" })).toBe("/x/100%/{b}");
  });
});
