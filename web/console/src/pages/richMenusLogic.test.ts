import { describe, expect, it } from "vitest";
import {
  describeAction,
  parseSpec,
  problemLines,
  ruleLines,
  scaledBox,
  shownHeight,
  specText,
  SpecError,
  tabsOf,
  type MenuSet,
} from "./richMenusLogic";

const SET: MenuSet = {
  menus: [
    {
      id: "main",
      name: "メイン",
      size: { width: 2500, height: 843 },
      chat_bar_text: "メニュー",
      selected: false,
      areas: [
        { bounds: { x: 0, y: 0, width: 1250, height: 843 }, label: "会員", action: { type: "richmenuswitch", to: "member" } },
        { bounds: { x: 1250, y: 0, width: 1250, height: 843 }, label: null, action: { type: "uri", uri: "https://shop.example/" } },
      ],
    },
    {
      id: "member",
      name: "会員",
      size: { width: 2500, height: 1686 },
      chat_bar_text: "会員",
      selected: false,
      areas: [
        {
          bounds: { x: 0, y: 843, width: 2500, height: 843 },
          action: { type: "postback", data: "linecrm=1&tag.add=特典", display_text: "特典" },
        },
      ],
    },
  ],
  default: "main",
  rules: [{ menu: "member", segment: { match: { linked: true } } }],
};

describe("the rich menu preview", () => {
  it("scales LINE's pixel bounds to the displayed width, both ways alike", () => {
    const size = SET.menus[0].size;
    const near = (box: Record<string, number>, want: Record<string, number>) => {
      for (const key of Object.keys(want)) expect(box[key], key).toBeCloseTo(want[key], 6);
    };
    near({ ...scaledBox(SET.menus[0].areas[1].bounds, size, 500) }, { left: 250, top: 0, width: 250, height: 168.6 });
    near(
      { ...scaledBox({ x: 0, y: 843, width: 2500, height: 843 }, { width: 2500, height: 1686 }, 1000) },
      { left: 0, top: 337.2, width: 1000, height: 337.2 },
    );
    expect(shownHeight(size, 500)).toBeCloseTo(168.6);
  });

  it("says what each action does", () => {
    expect(describeAction(SET.menus[0].areas[0].action)).toEqual({ kind: "richmenuswitch", detail: "member" });
    expect(describeAction(SET.menus[0].areas[1].action)).toEqual({ kind: "uri", detail: "https://shop.example/" });
    expect(describeAction(SET.menus[1].areas[0].action)).toEqual({ kind: "postback", detail: "linecrm=1&tag.add=特典 (特典)" });
    expect(describeAction({ type: "message", text: "こんにちは" })).toEqual({ kind: "message", detail: "こんにちは" });
  });

  it("lists the tabs and the rules, the default last", () => {
    expect(tabsOf(SET)).toEqual([{ from: "main", area: 0, label: "会員", to: "member" }]);
    expect(ruleLines(SET)).toEqual([
      { order: 1, menu: "member", segment: '{"match":{"linked":true}}' },
      { order: null, menu: "main", segment: null },
    ]);
    expect(ruleLines({ ...SET, default: null, rules: [] })).toEqual([]);
  });
});

describe("the rich menu spec", () => {
  it("round-trips the applied set as the PUT body", () => {
    const body = parseSpec(specText(SET));
    expect(body.menus).toEqual(SET.menus);
    expect(body.default).toBe("main");
    expect(body.rules).toEqual(SET.rules);
    expect(parseSpec(specText(null)).menus).toEqual([]);
  });

  it("refuses text that is not a set before any call", () => {
    expect(() => parseSpec("{menus: ")).toThrow(SpecError);
    expect(() => parseSpec("[]")).toThrow(/JSON object/);
    expect(() => parseSpec('{"menus": {}}')).toThrow(/menus/);
    expect(() => parseSpec('{"menus": [], "rules": 3}')).toThrow(/rules/);
  });

  it("shows each of the API's problems with its field", () => {
    const body = {
      message: "…",
      errors: [
        { field: "menus[0].areas[0]", type: "invalid", message: "bounds go past the menu" },
        { field: "rules[0].segment.match.tag", type: "invalid", message: "unknown tag" },
      ],
    };
    expect(problemLines(body)).toEqual([
      "menus[0].areas[0]: bounds go past the menu",
      "rules[0].segment.match.tag: unknown tag",
    ]);
    expect(problemLines({ message: "forbidden" })).toEqual(["forbidden"]);
    expect(problemLines(null)).toEqual([]);
  });
});
