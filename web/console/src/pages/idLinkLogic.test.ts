import { describe, expect, it } from "vitest";
import { parseFilters } from "./friendsLogic";
import {
  allowText,
  countPaged,
  keyState,
  keysNewestFirst,
  liffBody,
  liffForm,
  linkedFriendsRoute,
  otherProblems,
  parseAllow,
  problemsAt,
  problemsOf,
  type KeyListing,
} from "./idLinkLogic";

describe("the API's reasons by field", () => {
  it("puts a 422's errors on their fields and the sub-fields under their parent", () => {
    const problems = problemsOf({
      message: "invalid request: allow.0: a path starts with /",
      field: "allow.0",
      errors: [
        { field: "allow.0", type: "value_error", message: "a path starts with /" },
        { field: "base_url", type: "value_error", message: "https only" },
      ],
    });
    expect(problemsAt(problems, "base_url")).toBe("https only");
    expect(problemsAt(problems, "allow")).toBe("0: a path starts with /");
    expect(problemsAt(problems, "login_path")).toBeUndefined();
    expect(otherProblems(problems, ["base_url", "allow"])).toEqual([]);
  });

  it("keeps a reason without a field (or on one the form has not) for the note", () => {
    const problems = problemsOf({ message: "send the request body as application/json", field: "body", errors: [] });
    expect(otherProblems(problems, ["shop_login_url"])).toEqual(["send the request body as application/json"]);
    const elsewhere = problemsOf({ message: "x", errors: [{ field: "extra", type: "extra_forbidden", message: "not allowed" }] });
    expect(otherProblems(elsewhere, ["shop_login_url"])).toEqual(["extra: not allowed"]);
  });

  it("says HTTP <status> when the body has no reason", () => {
    expect(otherProblems(problemsOf(undefined, 500), [])).toEqual(["HTTP 500"]);
  });
});

describe("the allow-list", () => {
  it("reads one path a line (or comma-separated) and writes one a line", () => {
    expect(parseAllow(" /mypage\n\n/cart/ , /products/\n")).toEqual(["/mypage", "/cart/", "/products/"]);
    expect(allowText(["/mypage", "/cart/"])).toBe("/mypage\n/cart/");
    expect(allowText(undefined)).toBe("");
  });
});

describe("the signing keys", () => {
  const listing: KeyListing = {
    active_kid: "k3",
    signing_kid: "k2",
    keys: [
      { kid: "k1", created_at: "2026-12-04T09:00:00Z", retired_at: "2026-12-04T10:00:00Z", active: false },
      { kid: "k3", created_at: "2026-12-04T11:00:00Z", retired_at: null, active: true },
      { kid: "k2", created_at: "2026-12-04T10:00:00Z", retired_at: "2026-12-04T11:00:00Z", active: false },
    ],
  };

  it("names the signing key, the newest not yet signing, and the verifying-only ones", () => {
    expect(keyState("k2", listing)).toBe("signing");
    expect(keyState("k3", listing)).toBe("pending");
    expect(keyState("k1", listing)).toBe("verifying");
    expect(keyState("k3", { ...listing, signing_kid: "k3" })).toBe("signing");
  });

  it("lists the newest first", () => {
    expect(keysNewestFirst(listing.keys).map((k) => k.kid)).toEqual(["k3", "k2", "k1"]);
  });
});

describe("the LIFF form", () => {
  it("shows the API's defaults when nothing is set and sends empty keys as null", () => {
    expect(liffForm(null)).toEqual({ liff_id: "", rank: "rank", points: "points", shop_target: "/" });
    const form = liffForm({ liff_id: "2000000002-AbCd", member_card_fields: { rank: "rank", points: null }, shop_target: "/mypage" });
    expect(form.points).toBe("");
    expect(liffBody({ ...form, liff_id: " 2000000002-AbCd ", rank: " " })).toEqual({
      liff_id: "2000000002-AbCd",
      member_card_fields: { rank: null, points: null },
      shop_target: "/mypage",
    });
  });
});

describe("the linked friends", () => {
  it("links to the friends list filtered to the linked ones", () => {
    const route = linkedFriendsRoute();
    expect(route).toBe("/friends?linked=true");
    expect(parseFilters(route.slice(route.indexOf("?"))).linked).toBe("yes");
  });

  it("counts every page, and says when it stopped before the last", async () => {
    const pages: Record<string, { items: number; next: string | null }> = {
      start: { items: 200, next: "a" },
      a: { items: 200, next: "b" },
      b: { items: 17, next: null },
    };
    const asked: (string | undefined)[] = [];
    const read = async (cursor: string | undefined) => {
      asked.push(cursor);
      return pages[cursor ?? "start"];
    };
    expect(await countPaged(read, 5)).toEqual({ count: 417, more: false });
    expect(asked).toEqual([undefined, "a", "b"]);
    expect(await countPaged(read, 2)).toEqual({ count: 400, more: true });
  });
});
