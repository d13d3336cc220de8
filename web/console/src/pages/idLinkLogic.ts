// The ID-link page's logic: the API's 4xx reasons by field, the allow-list as text,
// the signing keys' states, the LIFF body and counting the linked friends.
import { filtersSearch, NO_FILTERS } from "./friendsLogic";

// ---------------------------------------------------------------- the API's reasons
// A 4xx body ({message, field, errors: [{field, message}]}) as reasons by field:
// "allow.0" and "member_card_fields.rank" are kept as the API names them; "" is the
// request as a whole (no field, or "body").
export type Problems = Record<string, string[]>;

export function problemsOf(body: unknown, status?: number): Problems {
  const found: Problems = {};
  const add = (field: unknown, message: unknown) => {
    const name = typeof field === "string" && field !== "body" && field !== "request" ? field : "";
    const text = String(message ?? "").trim();
    if (!text) return;
    (found[name] ??= []).push(text);
  };
  if (body && typeof body === "object") {
    const b = body as { message?: unknown; field?: unknown; errors?: unknown };
    if (Array.isArray(b.errors) && b.errors.length) {
      for (const e of b.errors as { field?: unknown; message?: unknown }[]) add(e.field, e.message);
    } else if (typeof b.message === "string") {
      add(b.field, b.message);
    }
  }
  if (!Object.keys(found).length) add("", status ? `HTTP ${status}` : "the request failed");
  return found;
}

// The reasons for `field` and every field under it ("allow" has "allow.0"'s).
export function problemsAt(problems: Problems, field: string): string | undefined {
  const lines = Object.entries(problems)
    .filter(([name]) => name === field || name.startsWith(`${field}.`))
    .flatMap(([name, messages]) => messages.map((m) => (name === field ? m : `${name.slice(field.length + 1)}: ${m}`)));
  return lines.length ? lines.join("; ") : undefined;
}

// The reasons no field of the form shows (so none is lost).
export function otherProblems(problems: Problems, shown: readonly string[]): string[] {
  return Object.entries(problems)
    .filter(([name]) => !shown.some((field) => name === field || name.startsWith(`${field}.`)))
    .flatMap(([name, messages]) => messages.map((m) => (name ? `${name}: ${m}` : m)));
}

// ---------------------------------------------------------------- the allow-list
// One path a line (commas and spaces separate too); blanks dropped, order kept.
export function parseAllow(text: string): string[] {
  return text
    .split(/[\s,、]+/)
    .map((path) => path.trim())
    .filter(Boolean);
}

export function allowText(allow: readonly string[] | undefined): string {
  return (allow ?? []).join("\n");
}

// ---------------------------------------------------------------- the signing keys
export type KeyState = "signing" | "pending" | "verifying";

export interface KeyListing {
  active_kid: string | null;
  signing_kid: string | null;
  keys: { kid: string; created_at: string; retired_at: string | null; active: boolean }[];
}

// signing: the key that signs now; pending: the newest key, not yet signing (two
// minutes after a rotation); verifying: a retired key that still verifies what it signed.
export function keyState(kid: string, listing: KeyListing): KeyState {
  if (kid === listing.signing_kid) return "signing";
  const key = listing.keys.find((k) => k.kid === kid);
  if (key && key.active && key.retired_at === null) return "pending";
  return "verifying";
}

// The newest first.
export function keysNewestFirst<K extends { created_at: string }>(keys: readonly K[]): K[] {
  return [...keys].sort((a, b) => b.created_at.localeCompare(a.created_at));
}

// ---------------------------------------------------------------- LIFF
export interface LiffForm {
  liff_id: string;
  rank: string;
  points: string;
  shop_target: string;
}

export function liffForm(settings: {
  liff_id: string;
  member_card_fields?: { rank?: string | null; points?: string | null };
  shop_target?: string;
} | null): LiffForm {
  const fields = settings?.member_card_fields;
  return {
    liff_id: settings?.liff_id ?? "",
    // A missing field map means the API's defaults; null hides the value on the card.
    rank: fields ? (fields.rank ?? "") : "rank",
    points: fields ? (fields.points ?? "") : "points",
    shop_target: settings?.shop_target ?? "/",
  };
}

// The PUT body: an empty field key is null (the card hides it).
export function liffBody(form: LiffForm): {
  liff_id: string;
  member_card_fields: { rank: string | null; points: string | null };
  shop_target: string;
} {
  return {
    liff_id: form.liff_id.trim(),
    member_card_fields: { rank: form.rank.trim() || null, points: form.points.trim() || null },
    shop_target: form.shop_target.trim() || "/",
  };
}

// ---------------------------------------------------------------- linked friends
// The console route of the friends list filtered to the ID-linked friends.
export function linkedFriendsRoute(): string {
  return `/friends${filtersSearch({ ...NO_FILTERS, linked: "yes" })}`;
}

export interface Counted {
  count: number;
  // true: stopped after `maxPages` pages, there are more (the count is a lower bound).
  more: boolean;
}

// Count a paged list: read pages (GET …/friends?linked=true&limit=…) until the last
// or `maxPages`.
export async function countPaged(
  page: (cursor: string | undefined) => Promise<{ items: number; next: string | null | undefined }>,
  maxPages: number,
): Promise<Counted> {
  let count = 0;
  let cursor: string | undefined;
  for (let read = 0; read < maxPages; read += 1) {
    const { items, next } = await page(cursor);
    count += items;
    if (!next) return { count, more: false };
    cursor = next;
  }
  return { count, more: true };
}
