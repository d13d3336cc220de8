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
