// The segment builder's model and the segment document it makes (docs/segments.md):
// groups (all / any) of conditions, each of which may be negated (not), over the
// condition kinds the API accepts.

export type Kind =
  | "all"
  | "any"
  | "tag"
  | "tags_any"
  | "tags_all"
  | "field"
  | "status"
  | "linked"
  | "inflow_route"
  | "language"
  | "followed"
  | "last_interaction"
  | "blocked"
  | "event";

export const CONDITION_KINDS: Kind[] = [
  "tag",
  "tags_any",
  "tags_all",
  "field",
  "status",
  "linked",
  "inflow_route",
  "language",
  "followed",
  "last_interaction",
  "blocked",
  "event",
];

export type FieldType = "text" | "number" | "date" | "choice";

export const FIELD_OPS: Record<FieldType, string[]> = {
  text: ["eq", "ne", "in", "not_in", "contains", "exists", "not_exists"],
  number: ["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "exists", "not_exists"],
  date: ["eq", "ne", "in", "not_in", "before", "after", "within_days", "exists", "not_exists"],
  choice: ["eq", "ne", "in", "not_in", "exists", "not_exists"],
};

// followed / blocked take after, before, within_days; last_interaction within_days or
// not_within_days.
export const TIME_TESTS: Record<"followed" | "last_interaction" | "blocked", string[]> = {
  followed: ["within_days", "after", "before"],
  last_interaction: ["within_days", "not_within_days"],
  blocked: ["within_days", "after", "before"],
};

export const EVENT_TESTS = ["any", "count_gte", "count_eq", "count_lt", "last_within_days"] as const;

export interface Node {
  id: number;
  kind: Kind;
  negate: boolean;
  // all / any
  children: Node[];
  // the condition's inputs, as typed
  tags: string[];
  key: string;
  op: string;
  value: string;
  withinDays: string;
}

let serial = 0;

export function node(kind: Kind, init: Partial<Node> = {}): Node {
  serial += 1;
  const defaults: Partial<Record<Kind, Partial<Node>>> = {
    status: { value: "active" },
    linked: { value: "true" },
    followed: { op: "within_days", value: "7" },
    last_interaction: { op: "not_within_days", value: "60" },
    blocked: { op: "within_days", value: "7" },
    event: { op: "any" },
    field: { op: "eq" },
  };
  return {
    id: serial,
    kind,
    negate: false,
    children: [],
    tags: [],
    key: "",
    op: "",
    value: "",
    withinDays: "",
    ...defaults[kind],
    ...init,
  };
}

const list = (text: string): string[] =>
  text
    .split(/[,、]/)
    .map((x) => x.trim())
    .filter(Boolean);

const numberOr = (text: string): number | string => {
  const trimmed = text.trim();
  return trimmed !== "" && Number.isFinite(Number(trimmed)) ? Number(trimmed) : trimmed;
};

function fieldValue(op: string, value: string, type: FieldType | undefined): unknown {
  const one = (x: string) => (type === "number" || op === "within_days" ? numberOr(x) : x.trim());
  if (op === "in" || op === "not_in") return list(value).map(one);
  return one(value);
}

// One node as a condition (null while it is incomplete: left out of the document).
export function condition(n: Node, fieldTypes: Record<string, FieldType> = {}): unknown {
  const plain = bare(n, fieldTypes);
  if (plain === null) return null;
  return n.negate ? { not: plain } : plain;
}

function bare(n: Node, fieldTypes: Record<string, FieldType>): unknown {
  switch (n.kind) {
    case "all":
    case "any":
      return {
        [n.kind]: n.children.map((c) => condition(c, fieldTypes)).filter((c) => c !== null),
      };
    case "tag":
      return n.tags[0] ? { tag: n.tags[0] } : null;
    case "tags_any":
    case "tags_all":
      return n.tags.length ? { [n.kind]: n.tags } : null;
    case "field": {
      if (!n.key || !n.op) return null;
      if (n.op === "exists" || n.op === "not_exists") return { field: { key: n.key, op: n.op } };
      if (!n.value.trim()) return null;
      return { field: { key: n.key, op: n.op, value: fieldValue(n.op, n.value, fieldTypes[n.key]) } };
    }
    case "status":
      return n.value ? { status: n.value } : null;
    case "linked":
      return { linked: n.value !== "false" };
    case "inflow_route": {
      const routes = list(n.value);
      if (!routes.length) return null;
      return { inflow_route: routes.length === 1 ? routes[0] : { in: routes } };
    }
    case "language": {
      const languages = list(n.value);
      return languages.length ? { language: { in: languages } } : null;
    }
    case "followed":
    case "last_interaction":
    case "blocked": {
      if (!n.op || !n.value.trim()) return null;
      const days = n.op.endsWith("within_days");
      return { [n.kind]: { [n.op]: days ? numberOr(n.value) : n.value.trim() } };
    }
    case "event": {
      if (!n.key.trim()) return null;
      const event: Record<string, unknown> = { name: n.key.trim() };
      if (n.op.startsWith("count_")) {
        if (!n.value.trim()) return null;
        event.count = { [n.op.slice("count_".length)]: numberOr(n.value) };
      } else if (n.op === "last_within_days") {
        if (!n.value.trim()) return null;
        event.last_within_days = numberOr(n.value);
      }
      if (n.op !== "last_within_days" && n.withinDays.trim()) event.within_days = numberOr(n.withinDays);
      return { event };
    }
  }
}

// The segment document for the root group.
export function definition(root: Node, fieldTypes: Record<string, FieldType> = {}): { match: unknown } {
  return { match: condition(root, fieldTypes) ?? { all: [] } };
}

// How many conditions (groups included) the tree holds (the API allows 100).
export function size(n: Node): number {
  return 1 + n.children.reduce((total, c) => total + size(c), 0);
}

export const SMALL_AUDIENCE = 20;

// A saved segment's document back into the builder's tree (to edit it): the inverse
// of `definition`. A document the builder cannot show (a kind or shape it does not
// make) raises NotBuildable, with what it met.
export class NotBuildable extends Error {}

const text = (value: unknown): string =>
  Array.isArray(value) ? value.map(String).join(", ") : value === undefined || value === null ? "" : String(value);

function only(value: unknown, what: string): [string, unknown] {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new NotBuildable(what);
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length !== 1) throw new NotBuildable(what);
  return entries[0];
}

function fromCondition(value: unknown, negate = false): Node {
  const [kind, body] = only(value, JSON.stringify(value));
  const at = (shape: boolean) => {
    if (!shape) throw new NotBuildable(JSON.stringify(value));
  };
  switch (kind) {
    case "not":
      return fromCondition(body, !negate);
    case "all":
    case "any":
      at(Array.isArray(body));
      return node(kind, { negate, children: (body as unknown[]).map((c) => fromCondition(c)) });
    case "tag":
      at(typeof body === "string");
      return node("tag", { negate, tags: [body as string] });
    case "tags_any":
    case "tags_all":
      at(Array.isArray(body));
      return node(kind, { negate, tags: (body as unknown[]).map(String) });
    case "field": {
      const field = body as { key?: unknown; op?: unknown; value?: unknown };
      at(typeof field?.key === "string" && typeof field?.op === "string");
      return node("field", { negate, key: field.key as string, op: field.op as string, value: text(field.value) });
    }
    case "status":
      at(typeof body === "string");
      return node("status", { negate, value: body as string });
    case "linked":
      at(typeof body === "boolean");
      return node("linked", { negate, value: body ? "true" : "false" });
    case "inflow_route":
    case "language": {
      if (typeof body === "string") return node(kind, { negate, value: body });
      const [op, list] = only(body, JSON.stringify(value));
      at(op === "in" && Array.isArray(list));
      return node(kind, { negate, value: text(list) });
    }
    case "followed":
    case "last_interaction":
    case "blocked": {
      const [op, test] = only(body, JSON.stringify(value));
      at(TIME_TESTS[kind].includes(op));
      return node(kind, { negate, op, value: text(test) });
    }
    case "event": {
      const event = body as { name?: unknown; count?: unknown; last_within_days?: unknown; within_days?: unknown };
      at(typeof event?.name === "string");
      const withinDays = text(event.within_days);
      if (event.count !== undefined) {
        const [op, n] = only(event.count, JSON.stringify(value));
        const test = `count_${op}`;
        at((EVENT_TESTS as readonly string[]).includes(test));
        return node("event", { negate, key: event.name as string, op: test, value: text(n), withinDays });
      }
      if (event.last_within_days !== undefined) {
        return node("event", { negate, key: event.name as string, op: "last_within_days", value: text(event.last_within_days) });
      }
      return node("event", { negate, key: event.name as string, op: "any", withinDays });
    }
    default:
      throw new NotBuildable(kind);
  }
}

export function fromDefinition(document: { match?: unknown } | Record<string, unknown>): Node {
  const match = (document as { match?: unknown }).match;
  if (match === undefined) throw new NotBuildable("match");
  const root = fromCondition(match);
  // The builder's root is a group that is not negated: anything else goes inside one.
  return (root.kind === "all" || root.kind === "any") && !root.negate ? root : node("all", { children: [root] });
}
