// The friends list's filters, kept in the URL query (?tag=&status=&field=key=value&route=
// &linked=true|false&segment=) so a reload or a shared link shows the same list.

export type Status = "active" | "blocked" | "login_only";
export type Linked = "yes" | "no" | "any";

export interface FriendFilters {
  tag: string | null;
  status: Status | null;
  fieldKey: string | null;
  fieldValue: string;
  route: string | null;
  linked: Linked;
  segment: string | null;
}

export const NO_FILTERS: FriendFilters = {
  tag: null,
  status: null,
  fieldKey: null,
  fieldValue: "",
  route: null,
  linked: "any",
  segment: null,
};

const STATUSES: readonly string[] = ["active", "blocked", "login_only"];

export function parseFilters(search: string): FriendFilters {
  const query = new URLSearchParams(search);
  const text = (name: string) => query.get(name) || null;
  const status = text("status");
  const field = query.get("field") ?? "";
  const split = field.indexOf("=");
  const linked = query.get("linked");
  return {
    tag: text("tag"),
    status: status && STATUSES.includes(status) ? (status as Status) : null,
    fieldKey: split > 0 ? field.slice(0, split) : null,
    fieldValue: split > 0 ? field.slice(split + 1) : "",
    route: text("route"),
    linked: linked === "true" ? "yes" : linked === "false" ? "no" : "any",
    segment: text("segment"),
  };
}

// The API's query (also the URL's): only the filters that are set.
export function apiQuery(filters: FriendFilters): {
  tag?: string;
  status?: Status;
  field?: string;
  route?: string;
  linked?: boolean;
  segment?: string;
} {
  return {
    ...(filters.tag ? { tag: filters.tag } : {}),
    ...(filters.status ? { status: filters.status } : {}),
    ...(filters.fieldKey ? { field: `${filters.fieldKey}=${filters.fieldValue}` } : {}),
    ...(filters.route ? { route: filters.route } : {}),
    ...(filters.linked !== "any" ? { linked: filters.linked === "yes" } : {}),
    ...(filters.segment ? { segment: filters.segment } : {}),
  };
}

export function filtersSearch(filters: FriendFilters): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(apiQuery(filters))) query.set(name, String(value));
  const text = query.toString();
  return text ? `?${text}` : "";
}
