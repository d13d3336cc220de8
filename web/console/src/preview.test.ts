import { describe, expect, it } from "vitest";
import { bubbles, DraftError, fillPlaceholders, toMessages } from "./preview";

const friend = { display_name: "山田", fields: { rank: "gold", visits: 3 } };

describe("placeholders", () => {
  it("fill in the name, a default, fields and literal braces", () => {
    expect(fillPlaceholders("{display_name|お客様}さん", friend)).toBe("山田さん");
    expect(fillPlaceholders("{display_name|お客様}さん", null)).toBe("お客様さん");
    expect(fillPlaceholders("rank {field.rank}, {field.visits} visits", friend)).toBe("rank gold, 3 visits");
    expect(fillPlaceholders("{field.missing}", friend)).toBe("");
    expect(fillPlaceholders("{{literal}}", friend)).toBe("{literal}");
    expect(fillPlaceholders("{unknown}", friend)).toBe("{unknown}");
  });
});

describe("the composition", () => {
  it("makes LINE message objects for text, image, buttons and flex", () => {
    const messages = toMessages([
      { kind: "text", text: "こんにちは {display_name}" },
      { kind: "image", url: "https://example.com/a.png", previewUrl: "" },
      {
        kind: "buttons",
        altText: "",
        title: "セール",
        text: "見てね",
        imageUrl: "",
        actions: [
          { label: "開く", uri: "https://example.com" },
          { label: "", uri: "" },
        ],
      },
      { kind: "flex", altText: "お知らせ", json: '{"type":"bubble","body":{"type":"box","layout":"vertical","contents":[{"type":"text","text":"Hi {display_name}"}]}}' },
    ]);
    expect(messages[0]).toEqual({ type: "text", text: "こんにちは {display_name}" });
    expect(messages[1]).toEqual({
      type: "image",
      originalContentUrl: "https://example.com/a.png",
      previewImageUrl: "https://example.com/a.png",
    });
    expect(messages[2]).toMatchObject({
      type: "template",
      altText: "見てね",
      template: { type: "buttons", title: "セール", actions: [{ type: "uri", label: "開く" }] },
    });
    expect(messages[3]).toMatchObject({ type: "flex", altText: "お知らせ", contents: { type: "bubble" } });
  });

  it("names what is missing", () => {
    expect(() => toMessages([{ kind: "text", text: " " }])).toThrow(DraftError);
    expect(() => toMessages([{ kind: "flex", altText: "x", json: "{" }])).toThrow(/flex JSON/);
  });
});

describe("the preview bubbles", () => {
  it("render what the sample friend sees", () => {
    const shown = bubbles(
      toMessages([
        { kind: "text", text: "{display_name|お客様}さん、セールです" },
        { kind: "flex", altText: "alt", json: '{"type":"bubble","body":{"type":"box","layout":"vertical","contents":[{"type":"text","text":"Hi {display_name}"},{"type":"button","action":{"type":"uri","label":"Go","uri":"https://x"}}]}}' },
        { kind: "buttons", altText: "", title: "", text: "押してね", imageUrl: "", actions: [{ label: "はい", uri: "https://x" }] },
      ]),
      friend,
    );
    expect(shown[0]).toEqual({ kind: "text", text: "山田さん、セールです" });
    expect(shown[1]).toEqual({ kind: "flex", altText: "alt", texts: ["Hi 山田", "[Go]"] });
    expect(shown[2]).toEqual({ kind: "buttons", title: null, text: "押してね", imageUrl: null, buttons: ["はい"] });
  });
});
