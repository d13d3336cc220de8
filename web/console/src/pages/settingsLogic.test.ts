import { describe, expect, it } from "vitest";
import { HoursError, intervalsText, parseDates, parseIntervals } from "./settingsLogic";

describe("business hours in the form", () => {
  it("read and write intervals", () => {
    expect(parseIntervals("mon", "9:00-12:00, 13:00〜19:00")).toEqual([
      ["09:00", "12:00"],
      ["13:00", "19:00"],
    ]);
    expect(parseIntervals("sun", " ")).toEqual([]);
    expect(intervalsText([["10:00", "19:00"]])).toBe("10:00-19:00");
    expect(() => parseIntervals("tue", "10-19")).toThrow(HoursError);
    expect(parseDates("2026-12-31, 2027-01-01")).toEqual(["2026-12-31", "2027-01-01"]);
  });
});
