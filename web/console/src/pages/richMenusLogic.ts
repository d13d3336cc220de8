// The rich menus page's logic: the tap areas over the menu's image (LINE's pixel
// bounds scaled to the displayed image), what each area does, the tabs between
// menus, and the JSON spec the editor checks and applies (docs/rich-menus.md).
import type { Schemas } from "../api/client";

export type MenuSet = Schemas["MenuSet"];
export type Menu = Schemas["Menu"];
export type Area = Schemas["Area"];
export type Action = Area["action"];
export type ApplyRequest = Schemas["ApplyRequest"];

export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

// An area's bounds (pixels of the menu's size, 2500 wide) on an image displayed
// `shownWidth` pixels wide: the same scale both ways, so the overlay sits on the tile.
export function scaledBox(bounds: Schemas["Bounds"], size: Schemas["Size"], shownWidth: number): Box {
  const scale = shownWidth / size.width;
  return {
    left: bounds.x * scale,
    top: bounds.y * scale,
    width: bounds.width * scale,
    height: bounds.height * scale,
  };
}

// The displayed height of a menu `shownWidth` pixels wide.
export function shownHeight(size: Schemas["Size"], shownWidth: number): number {
  return (size.height * shownWidth) / size.width;
}

export interface ActionText {
  kind: "postback" | "uri" | "message" | "richmenuswitch";
  detail: string;
}

// What tapping the area does, as a kind and its detail (the console words the kind).
export function describeAction(action: Action): ActionText {
  switch (action.type) {
    case "postback":
      return {
        kind: "postback",
        detail: action.display_text ? `${action.data} (${action.display_text})` : action.data,
      };
    case "uri":
      return { kind: "uri", detail: action.uri };
    case "message":
      return { kind: "message", detail: action.text };
    case "richmenuswitch":
      return { kind: "richmenuswitch", detail: action.to };
  }
}

export interface Tab {
  from: string;
  area: number;
  label: string | null;
  to: string;
}

// The tabs: areas that switch to another menu of the set (through its alias, the id).
export function tabsOf(set: MenuSet): Tab[] {
  return set.menus.flatMap((menu) =>
    menu.areas.flatMap((area, index) =>
      area.action.type === "richmenuswitch"
        ? [{ from: menu.id, area: index, label: area.label ?? null, to: area.action.to }]
        : [],
    ),
  );
}

// Who sees which menu: each rule in order, then the default for everyone else.
export interface RuleLine {
  order: number | null;
  menu: string;
  segment: string | null;
}

export function ruleLines(set: MenuSet): RuleLine[] {
  const rules = (set.rules ?? []).map((rule, index) => ({
    order: index + 1,
    menu: rule.menu,
    segment: JSON.stringify(rule.segment),
  }));
  return set.default ? [...rules, { order: null, menu: set.default, segment: null }] : rules;
}

// The editor's text for the applied set (the same shape PUT takes).
export function specText(set: MenuSet | null | undefined): string {
  if (!set) return JSON.stringify({ menus: [], default: null, rules: [] }, null, 2);
  return JSON.stringify({ menus: set.menus, default: set.default ?? null, rules: set.rules ?? [] }, null, 2);
}

export class SpecError extends Error {}

// The editor's text as the PUT body; a SpecError says what is wrong with it before any
// call (the API's own checks come back as its 422 reasons).
export function parseSpec(text: string): ApplyRequest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SpecError((error as Error).message);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new SpecError("the spec is a JSON object: {menus, default, rules}");
  }
  const body = value as Record<string, unknown>;
  if (!Array.isArray(body.menus)) throw new SpecError("menus: a list of menus");
  if (body.rules !== undefined && !Array.isArray(body.rules)) throw new SpecError("rules: a list of rules");
  return body as unknown as ApplyRequest;
}

// A 422's problems, one line each ("menus[0].areas[1]: …"), or the message alone.
export function problemLines(body: unknown): string[] {
  if (body && typeof body === "object") {
    const errors = (body as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length) {
      return errors.map((e: { field?: string; message?: string }) =>
        e.field ? `${e.field}: ${e.message ?? ""}` : String(e.message ?? ""),
      );
    }
    const message = (body as { message?: unknown }).message;
    if (typeof message === "string") return [message];
  }
  return [];
}
