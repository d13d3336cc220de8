import { describe, expect, it } from "vitest";
import { apiQuery, filtersSearch, NO_FILTERS, parseFilters } from "./friendsLogic";

describe("the friends list's filters", () => {
  it("go to the URL and come back the same", () => {
    const filters = {
      ...NO_FILTERS,
      tag: "VIP",
      status: "active" as const,
      fieldKey: "rank",
      fieldValue: "gold=1",
      route: "poster",
      linked: "no" as const,
      segment: "seg_abc",
    };
    const search = filtersSearch(filters);
    expect(search).toBe("?tag=VIP&status=active&field=rank%3Dgold%3D1&route=poster&linked=false&segment=seg_abc");
    expect(parseFilters(search)).toEqual(filters);
  });

  it("leave out what is not set, and ignore what the API would refuse", () => {
    expect(filtersSearch(NO_FILTERS)).toBe("");
    expect(apiQuery({ ...NO_FILTERS, linked: "yes" })).toEqual({ linked: true });
    expect(parseFilters("?status=gone&linked=maybe&field=novalue")).toEqual(NO_FILTERS);
    expect(apiQuery({ ...NO_FILTERS, fieldKey: "rank" })).toEqual({ field: "rank=" });
  });
});
