import { describe, expect, it } from "vitest";
import { en } from "./en";
import { CATALOGUES, format, placeholders, translator } from "./index";
import { ja } from "./ja";

describe("the catalogues", () => {
  it("have the same keys, ja first and en second", () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(ja).sort());
  });

  it("have no empty message", () => {
    for (const [language, catalogue] of Object.entries(CATALOGUES)) {
      for (const [key, text] of Object.entries(catalogue)) {
        expect(text.trim(), `${language} ${key}`).not.toBe("");
      }
    }
  });

  it("fill in the same placeholders in both languages", () => {
    for (const key of Object.keys(ja) as (keyof typeof ja)[]) {
      expect(placeholders(en[key]), key).toEqual(placeholders(ja[key]));
    }
  });

  it("translate with values, leaving unknown names as they are", () => {
    expect(translator("en")("common.error", { reason: "boom" })).toBe("Error: boom");
    expect(translator("ja")("common.error", { reason: "boom" })).toBe("エラー: boom");
    expect(format("{a} {b}", { a: 1 })).toBe("1 {b}");
  });
});
