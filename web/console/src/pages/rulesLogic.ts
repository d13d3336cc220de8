// The rules editor's form values and the Rule objects the API takes.
import type { Schemas } from "../api/client";

export type Rule = Schemas["Rule"];
export type MatchKind = "keyword" | "postback" | "follow" | "default";
export type KeywordMode = Schemas["KeywordMode"];

export interface RuleForm {
  rule_id: string;
  name: string;
  priority: number;
  enabled: boolean;
  kind: MatchKind;
  mode: KeywordMode;
  patterns: string;
  case_sensitive: boolean;
  data_equals: string;
  data_prefix: string;
  business_hours: "any" | "open" | "closed";
  cooldown_seconds: number;
  actions: string; // JSON
  // What the form does not show, kept as it was.
  rest: Partial<Pick<Rule, "active_from" | "active_until" | "notify_staff">>;
}

export function toForm(rule: Rule): RuleForm {
  const match = rule.match as { kind: MatchKind; mode?: KeywordMode; patterns?: string[]; data_equals?: string | null; data_prefix?: string | null; case_sensitive?: boolean };
  return {
    rule_id: rule.rule_id,
    name: rule.name,
    priority: rule.priority ?? 100,
    enabled: rule.enabled ?? true,
    kind: match.kind,
    mode: match.mode ?? "contains",
    patterns: (match.patterns ?? []).join("\n"),
    case_sensitive: match.case_sensitive ?? false,
    data_equals: match.data_equals ?? "",
    data_prefix: match.data_prefix ?? "",
    business_hours: rule.business_hours ?? "any",
    cooldown_seconds: rule.cooldown_seconds ?? 0,
    actions: JSON.stringify(rule.actions, null, 2),
    rest: {
      active_from: rule.active_from ?? null,
      active_until: rule.active_until ?? null,
      notify_staff: rule.notify_staff ?? false,
    },
  };
}

export function newRuleForm(existing: string[]): RuleForm {
  let n = existing.length + 1;
  while (existing.includes(`rule-${n}`)) n += 1;
  return {
    rule_id: `rule-${n}`,
    name: "",
    priority: 100,
    enabled: true,
    kind: "keyword",
    mode: "contains",
    patterns: "",
    case_sensitive: false,
    data_equals: "",
    data_prefix: "",
    business_hours: "any",
    cooldown_seconds: 0,
    actions: JSON.stringify([{ type: "reply", messages: [{ type: "text", text: "" }] }], null, 2),
    rest: {},
  };
}

export class RuleFormError extends Error {}

export function fromForm(form: RuleForm): Rule {
  let actions: Rule["actions"];
  try {
    actions = JSON.parse(form.actions) as Rule["actions"];
  } catch (error) {
    throw new RuleFormError(`${form.rule_id}: ${(error as Error).message}`);
  }
  let match: Rule["match"];
  if (form.kind === "keyword") {
    match = {
      kind: "keyword",
      mode: form.mode,
      patterns: form.patterns.split("\n").map((p) => p.trim()).filter(Boolean),
      case_sensitive: form.case_sensitive,
    };
  } else if (form.kind === "postback") {
    match = {
      kind: "postback",
      data_equals: form.data_equals.trim() || null,
      data_prefix: form.data_prefix.trim() || null,
    };
  } else {
    match = { kind: form.kind } as Rule["match"];
  }
  return {
    rule_id: form.rule_id.trim(),
    name: form.name.trim(),
    priority: form.priority,
    enabled: form.enabled,
    match,
    active_from: form.rest.active_from ?? null,
    active_until: form.rest.active_until ?? null,
    // Kept as it was: a reply by this rule still leaves the conversation "needs reply".
    notify_staff: form.rest.notify_staff ?? false,
    business_hours: form.business_hours,
    cooldown_seconds: form.cooldown_seconds,
    actions,
  };
}

// The reply text of a rule's first reply action (the simple editor's field).
export function replyText(actions: string): string | null {
  try {
    const parsed = JSON.parse(actions) as { type: string; messages?: { type: string; text?: string }[] }[];
    const reply = parsed.find((a) => a.type === "reply");
    const first = reply?.messages?.[0];
    return first && first.type === "text" ? (first.text ?? "") : null;
  } catch {
    return null;
  }
}

export function withReplyText(actions: string, text: string): string {
  try {
    const parsed = JSON.parse(actions) as { type: string; messages?: { type: string; text?: string }[] }[];
    const reply = parsed.find((a) => a.type === "reply");
    if (reply?.messages?.[0]?.type === "text") reply.messages[0].text = text;
    return JSON.stringify(parsed, null, 2);
  } catch {
    return actions;
  }
}
