// An audit entry's before and after as a readable diff: every leaf that differs, by
// its path ("quiet_hours.start", "rules[1].reply"), with the value before and after.

export interface Change {
  path: string;
  before: unknown;
  after: unknown;
}

const MISSING = Symbol("missing");

function leaves(value: unknown, path: string, into: Map<string, unknown>): Map<string, unknown> {
  if (Array.isArray(value) && value.length) {
    value.forEach((item, i) => leaves(item, `${path}[${i}]`, into));
  } else if (value !== null && typeof value === "object" && Object.keys(value).length) {
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      leaves(item, path ? `${path}.${key}` : key, into);
    }
  } else {
    into.set(path, value);
  }
  return into;
}

export function diff(before: unknown, after: unknown): Change[] {
  const old = before === null || before === undefined ? new Map<string, unknown>() : leaves(before, "", new Map());
  const now = after === null || after === undefined ? new Map<string, unknown>() : leaves(after, "", new Map());
  const paths = [...new Set([...old.keys(), ...now.keys()])];
  return paths
    .map((path) => ({
      path,
      before: old.has(path) ? old.get(path) : MISSING,
      after: now.has(path) ? now.get(path) : MISSING,
    }))
    // Leaves are primitives or empty {} / []: their JSON compares them (the marker's is undefined).
    .filter((c) => JSON.stringify(c.before) !== JSON.stringify(c.after))
    .map((c) => ({
      path: c.path || "(value)",
      before: c.before === MISSING ? undefined : c.before,
      after: c.after === MISSING ? undefined : c.after,
    }));
}

// A value in a diff row: undefined (not there) as an em dash, anything else as JSON.
export function shown(value: unknown): string {
  return value === undefined ? "—" : typeof value === "string" ? value : JSON.stringify(value);
}

// The route with its path parameters filled in ("/admin/staff/{username}" + username),
// as people read them: the raw path's "%40" kept in the entry shown as "@".
export function filledRoute(route: string, path: Record<string, string>): string {
  return route.replace(/\{(\w+)\}/g, (whole, name: string) => (name in path ? decoded(path[name]) : whole));
}

function decoded(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value; // a stray "%": as it is
  }
}
