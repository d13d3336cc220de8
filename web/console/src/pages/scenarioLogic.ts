// The scenario editor's pure logic (docs/scenarios.md). The editor edits the definition
// object itself (as `GET …/scenarios/{id}` returns it): every change replaces one key of
// one object and keeps all the others, so a field the form does not know survives a
// save; the keys the form has no input for are shown (and edited) as JSON.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Obj = { [key: string]: Json };
export type Definition = Obj;

export const END = "end";
export const TRIGGER_TYPES = ["follow", "tag_added", "field_set", "postback", "event", "id_linked"] as const;
export const EXIT_TYPES = ["event", "tag", "blocked", "unlinked"] as const;
export const RE_ENTRY = ["never", "after_completion", "always"] as const;
export const MESSAGE_CLASSES = ["marketing", "transactional"] as const;

// The keys the form edits, per object: the rest go to the "advanced" JSON box.
export const SCENARIO_KEYS = ["id", "name", "message_class", "re_entry", "triggers", "exit_when", "steps"];
export const STEP_KEYS = ["id", "timing", "condition", "if_clicked", "messages", "branches", "reminder", "next"];

export function isObj(value: unknown): value is Obj {
  return !!value && typeof value === "object" && !Array.isArray(value);
}

export function list(value: Json | undefined): Json[] {
  return Array.isArray(value) ? value : [];
}

export function objects(value: Json | undefined): Obj[] {
  return list(value).filter(isObj);
}

export function steps(definition: Definition): Obj[] {
  return objects(definition.steps);
}

export function stepIds(definition: Definition): string[] {
  return steps(definition).map((step) => String(step.id ?? ""));
}

// A copy of `object` with `key` set (undefined: removed), the key order kept.
export function withKey(object: Obj, key: string, value: Json | undefined): Obj {
  const out: Obj = {};
  let placed = false;
  for (const [k, v] of Object.entries(object)) {
    if (k === key) {
      placed = true;
      if (value !== undefined) out[k] = value;
    } else {
      out[k] = v;
    }
  }
  if (!placed && value !== undefined) out[key] = value;
  return out;
}

export function replaceAt<T>(items: T[], index: number, item: T): T[] {
  return items.map((x, i) => (i === index ? item : x));
}

export function removeAt<T>(items: T[], index: number): T[] {
  return items.filter((_, i) => i !== index);
}

export function moveAt<T>(items: T[], index: number, by: -1 | 1): T[] {
  const to = index + by;
  if (to < 0 || to >= items.length) return items;
  const out = [...items];
  [out[index], out[to]] = [out[to], out[index]];
  return out;
}

export function withStep(definition: Definition, index: number, step: Obj): Definition {
  return withKey(definition, "steps", replaceAt(list(definition.steps), index, step));
}

// The keys of `object` the form has no input for, as a JSON text ("" when none).
export function extraOf(object: Obj, known: string[]): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(object)) if (!known.includes(k)) out[k] = v;
  return out;
}

// `object` with its extra keys replaced by `extra` (the known keys kept).
export function withExtra(object: Obj, known: string[], extra: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(object)) {
    if (known.includes(k)) out[k] = v;
    else if (k in extra) out[k] = extra[k];
  }
  for (const [k, v] of Object.entries(extra)) if (!known.includes(k) && !(k in out)) out[k] = v;
  return out;
}

// ---------------------------------------------------------------- new things
export function newDefinition(id: string, name: string): Definition {
  return {
    id,
    name,
    message_class: "marketing",
    re_entry: "never",
    triggers: [{ type: "follow" }],
    exit_when: [{ type: "blocked" }],
    steps: [newStep("welcome", { after: "0m" })],
  };
}

export function newStep(id: string, timing: Obj = { after: "1d" }): Obj {
  return { id, timing, messages: [{ type: "text", text: "" }] };
}

// A step id not used yet: step-2, step-3, …
export function freshStepId(definition: Definition): string {
  const used = new Set(stepIds(definition));
  for (let n = steps(definition).length + 1; ; n += 1) {
    if (!used.has(`step-${n}`)) return `step-${n}`;
  }
}

// ---------------------------------------------------------------- timing
export type Unit = "m" | "h" | "d";
export interface TimingForm {
  mode: "after" | "after_enrollment" | "day";
  amount: number;
  unit: Unit;
  day: number;
  at: string; // "HH:MM" or "" (the preferred send hour)
}

const DURATION = /^\s*(\d{1,6})\s*(m|min|h|d)\s*$/;
const MINUTES: Record<string, number> = { m: 1, min: 1, h: 60, d: 1440 };

// Minutes of "30m", "2h", "3d" (null: not a duration).
export function durationMinutes(text: Json | undefined): number | null {
  if (typeof text !== "string") return null;
  const match = DURATION.exec(text);
  return match ? Number(match[1]) * MINUTES[match[2]] : null;
}

export function parseDuration(text: Json | undefined): { amount: number; unit: Unit } {
  const match = typeof text === "string" ? DURATION.exec(text) : null;
  if (!match) return { amount: 0, unit: "m" };
  return { amount: Number(match[1]), unit: (match[2] === "min" ? "m" : match[2]) as Unit };
}

export function timingForm(timing: Json | undefined): TimingForm {
  const t = isObj(timing) ? timing : {};
  if (t.day !== undefined && t.day !== null) {
    return { mode: "day", amount: 0, unit: "d", day: Number(t.day), at: typeof t.at === "string" ? t.at : "" };
  }
  const mode = t.after_enrollment !== undefined ? "after_enrollment" : "after";
  return { mode, ...parseDuration(t[mode]), day: 0, at: "" };
}

export function toTiming(form: TimingForm): Obj {
  if (form.mode === "day") return form.at ? { day: form.day, at: form.at } : { day: form.day };
  return { [form.mode]: `${Math.max(0, Math.floor(form.amount))}${form.unit}` };
}

// ---------------------------------------------------------------- the timeline
export interface TimelineEntry {
  stepId: string;
  index: number;
  // Minutes after the enrolment (reached by falling through, or after the reminder's
  // wait); for a step reached by a tap, from the earliest the tap can be: the branching
  // step's time.
  minutes: number;
  day: number;
  at: string | null; // a fixed time of day (day N at HH:MM)
  via: "start" | "next" | "branch" | "reminder";
  from: string | null;
  branches: { when: string; goto: string }[];
  reminder: { after: string; goto: string } | null;
  next: string | null; // the step after it when nothing branches (null: the end)
  condition: boolean;
  ifClicked: { step: string; clicked: boolean } | null;
}

function branchLabel(branch: Obj): string {
  if (typeof branch.postback === "string") return `postback ${branch.postback}`;
  if (typeof branch.tag === "string") return `tag ${branch.tag}`;
  return JSON.stringify(branch);
}

export function nextOf(definition: Definition, index: number): string | null {
  const all = steps(definition);
  const next = all[index]?.next;
  if (next === END) return null;
  if (typeof next === "string") return next;
  return index + 1 < all.length ? String(all[index + 1].id) : null;
}

function dueMinutes(timing: Json | undefined, previous: number): number {
  const t = isObj(timing) ? timing : {};
  if (t.day !== undefined && t.day !== null) {
    const [hour, minute] = typeof t.at === "string" ? t.at.split(":").map(Number) : [0, 0];
    return Number(t.day) * 1440 + hour * 60 + minute;
  }
  if (t.after_enrollment !== undefined) return durationMinutes(t.after_enrollment) ?? 0;
  return previous + (durationMinutes(t.after) ?? 0);
}

// The steps laid out by their delays: each step once, at the earliest it can come due
// (day 0 is the enrolment's day), with its branches and reminder.
export function timeline(definition: Definition): TimelineEntry[] {
  const all = steps(definition);
  const ids = all.map((s) => String(s.id ?? ""));
  const placed = new Map<string, TimelineEntry>();
  const queue: { index: number; minutes: number; via: TimelineEntry["via"]; from: string | null }[] = [];
  if (all.length) queue.push({ index: 0, minutes: dueMinutes(all[0].timing, 0), via: "start", from: null });
  while (queue.length) {
    const item = queue.shift()!;
    const step = all[item.index];
    const id = ids[item.index];
    const seen = placed.get(id);
    if (seen && seen.minutes <= item.minutes) continue;
    const timing = isObj(step.timing) ? step.timing : {};
    const reminder = isObj(step.reminder) ? step.reminder : null;
    const clicked = isObj(step.if_clicked) ? step.if_clicked : null;
    const entry: TimelineEntry = {
      stepId: id,
      index: item.index,
      minutes: item.minutes,
      day: Math.floor(item.minutes / 1440),
      at: timing.day !== undefined && typeof timing.at === "string" ? timing.at : null,
      via: item.via,
      from: item.from,
      branches: objects(step.branches).map((b) => ({ when: branchLabel(b), goto: String(b.goto ?? "") })),
      reminder: reminder ? { after: String(reminder.after ?? ""), goto: String(reminder.goto ?? "") } : null,
      // With a reminder, the reminder's target comes next (the engine's order).
      next: reminder ? null : nextOf(definition, item.index),
      condition: isObj(step.condition),
      ifClicked: clicked ? { step: String(clicked.step ?? ""), clicked: clicked.clicked !== false } : null,
    };
    placed.set(id, entry);
    const go = (target: string | null, via: TimelineEntry["via"], minutes: number) => {
      const index = target === null ? -1 : ids.indexOf(target);
      if (index >= 0) queue.push({ index, minutes, via, from: id });
    };
    // A step's own timing applies when reached by falling through or by a tap (the
    // tap's time: at the earliest, when this step was sent); a reminder's wait instead.
    const nextId = entry.next;
    const nextIndex = nextId === null ? -1 : ids.indexOf(nextId);
    if (nextIndex >= 0) go(nextId, "next", dueMinutes(all[nextIndex].timing, item.minutes));
    for (const branch of entry.branches) {
      const index = ids.indexOf(branch.goto);
      if (index >= 0) go(branch.goto, "branch", dueMinutes(all[index].timing, item.minutes));
    }
    if (entry.reminder) go(entry.reminder.goto, "reminder", item.minutes + (durationMinutes(entry.reminder.after) ?? 0));
  }
  const unreachable = all
    .map((s, index) => ({ s, index }))
    .filter(({ index }) => !placed.has(ids[index]))
    .map(({ index }): TimelineEntry => ({
      stepId: ids[index],
      index,
      minutes: -1,
      day: -1,
      at: null,
      via: "next",
      from: null,
      branches: [],
      reminder: null,
      next: nextOf(definition, index),
      condition: false,
      ifClicked: null,
    }));
  return [...[...placed.values()].sort((a, b) => a.minutes - b.minutes || a.index - b.index), ...unreachable];
}

// The timeline's days, in order, each with its steps (day -1: never reached).
export function timelineDays(entries: TimelineEntry[]): { day: number; entries: TimelineEntry[] }[] {
  const days: { day: number; entries: TimelineEntry[] }[] = [];
  for (const entry of entries) {
    const last = days[days.length - 1];
    if (last && last.day === entry.day) last.entries.push(entry);
    else days.push({ day: entry.day, entries: [entry] });
  }
  return days;
}

// "HH:MM" of the minutes into a day (for a step due at a fixed offset).
export function clock(minutes: number): string {
  const inDay = ((minutes % 1440) + 1440) % 1440;
  return `${String(Math.floor(inDay / 60)).padStart(2, "0")}:${String(inDay % 60).padStart(2, "0")}`;
}

// ---------------------------------------------------------------- the API's reasons
export interface FieldProblem {
  field: string;
  message: string;
}

// A 4xx body's problems, by field ("steps[0].timing"; "" for the scenario as a whole).
export function problemsOf(body: unknown): FieldProblem[] {
  if (!isObj(body as Json)) return [];
  const b = body as { message?: unknown; field?: unknown; errors?: unknown; detail?: unknown };
  const found: FieldProblem[] = [];
  if (Array.isArray(b.errors)) {
    for (const e of b.errors as { field?: unknown; message?: unknown }[]) {
      found.push({ field: normalise(String(e.field ?? "")), message: String(e.message ?? "") });
    }
  }
  if (!found.length && typeof b.message === "string") {
    found.push({ field: normalise(typeof b.field === "string" ? b.field : ""), message: b.message });
  }
  return found;
}

// "steps.0.timing" (a FastAPI location) and "steps[0].timing" name the same field;
// "scenario" (the API's name for the whole document) is "".
export function normalise(field: string): string {
  if (field === "scenario" || field === "body") return "";
  if (field === "scenario_id") return "id";
  return field.replace(/\.(\d+)(?=\.|$)/g, "[$1]").replace(/^body\./, "");
}

// The problems at `path` or under it (steps[0] has steps[0].timing's).
export function problemsAt(problems: FieldProblem[], path: string, exact = false): string[] {
  return problems
    .filter((p) => p.field === path || (!exact && (p.field.startsWith(`${path}.`) || p.field.startsWith(`${path}[`))))
    .map((p) => (p.field === path ? p.message : `${p.field.slice(path.length).replace(/^\./, "")}: ${p.message}`));
}

// Problems no input shows (the form shows the others next to their field).
export function unplaced(problems: FieldProblem[], placed: string[]): FieldProblem[] {
  return problems.filter((p) => !placed.some((path) => p.field === path || p.field.startsWith(`${path}.`) || p.field.startsWith(`${path}[`)));
}

// ---------------------------------------------------------------- enrolment
export type EnrollSource = { kind: "segment"; segmentId: string } | { kind: "tag"; tag: string };

export function enrollBody(source: EnrollSource): { segment: Obj } {
  return source.kind === "segment"
    ? { segment: { segment: source.segmentId } }
    : { segment: { match: { tags_any: [source.tag] } } };
}

// A plan's due time ("2026-12-05T07:05+09:00 (Asia/Tokyo)") as an ISO instant.
export function planInstant(dueAt: string): string {
  return dueAt.replace(/\s*\([^)]*\)\s*$/, "");
}
