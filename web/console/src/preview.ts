// The broadcast composer's pieces that are pure logic: the messages a composition
// makes (LINE Messaging API message objects), placeholders filled in for a sample
// friend the way the API renders them (docs/broadcasts.md "Personalisation"), and the
// LINE-like bubbles the preview draws.

export interface SampleFriend {
  display_name?: string | null;
  fields?: Record<string, unknown>;
}

// {display_name|default}, {field.key}; {{ and }} are literal braces.
export function fillPlaceholders(text: string, friend: SampleFriend | null): string {
  let out = "";
  for (let i = 0; i < text.length; ) {
    if (text.startsWith("{{", i)) {
      out += "{";
      i += 2;
    } else if (text.startsWith("}}", i)) {
      out += "}";
      i += 2;
    } else if (text[i] === "{") {
      const end = text.indexOf("}", i);
      if (end < 0) {
        out += text.slice(i);
        break;
      }
      out += placeholder(text.slice(i + 1, end), friend);
      i = end + 1;
    } else {
      out += text[i];
      i += 1;
    }
  }
  return out;
}

function placeholder(inner: string, friend: SampleFriend | null): string {
  const [name, fallback = ""] = inner.split("|", 2);
  if (name === "display_name") return friend?.display_name || fallback;
  if (name.startsWith("field.")) {
    const value = friend?.fields?.[name.slice("field.".length)];
    if (value === undefined || value === null || value === "") return fallback;
    return Array.isArray(value) ? value.join(", ") : String(value);
  }
  return `{${inner}}`;
}

// ---------------------------------------------------------------- composition
export interface ButtonAction {
  label: string;
  uri: string;
}

export type Draft =
  | { kind: "text"; text: string }
  | { kind: "image"; url: string; previewUrl: string }
  | { kind: "buttons"; altText: string; title: string; text: string; imageUrl: string; actions: ButtonAction[] }
  | { kind: "flex"; altText: string; json: string };

export type LineMessage = Record<string, unknown> & { type: string };

export class DraftError extends Error {}

// The message objects the API receives; a DraftError names what is missing.
export function toMessages(drafts: Draft[]): LineMessage[] {
  return drafts.map((draft, index) => {
    const where = `#${index + 1}`;
    switch (draft.kind) {
      case "text":
        if (!draft.text.trim()) throw new DraftError(`${where}: text`);
        return { type: "text", text: draft.text };
      case "image":
        if (!draft.url.trim()) throw new DraftError(`${where}: image URL`);
        return {
          type: "image",
          originalContentUrl: draft.url.trim(),
          previewImageUrl: (draft.previewUrl || draft.url).trim(),
        };
      case "buttons": {
        const actions = draft.actions
          .filter((a) => a.label.trim() && a.uri.trim())
          .map((a) => ({ type: "uri", label: a.label.trim(), uri: a.uri.trim() }));
        if (!draft.text.trim() || !actions.length) throw new DraftError(`${where}: text and a button`);
        return {
          type: "template",
          altText: draft.altText.trim() || draft.text.trim(),
          template: {
            type: "buttons",
            ...(draft.title.trim() ? { title: draft.title.trim() } : {}),
            ...(draft.imageUrl.trim() ? { thumbnailImageUrl: draft.imageUrl.trim() } : {}),
            text: draft.text,
            actions,
          },
        };
      }
      case "flex": {
        let contents: unknown;
        try {
          contents = JSON.parse(draft.json);
        } catch (error) {
          throw new DraftError(`${where}: flex JSON: ${(error as Error).message}`);
        }
        // A whole flex message pasted in (from the Flex Simulator) or just its contents.
        const message = contents as Record<string, unknown>;
        if (message && message.type === "flex") return message as LineMessage;
        if (!draft.altText.trim()) throw new DraftError(`${where}: altText`);
        return { type: "flex", altText: draft.altText.trim(), contents };
      }
    }
  });
}

// ---------------------------------------------------------------- bubbles
export type Bubble =
  | { kind: "text"; text: string }
  | { kind: "image"; url: string }
  | { kind: "buttons"; title: string | null; text: string; imageUrl: string | null; buttons: string[] }
  | { kind: "flex"; altText: string; texts: string[] }
  | { kind: "other"; label: string };

// What a friend would see for `messages`, placeholders filled in for `friend` (the API's
// sample messages come filled in already: pass friend null).
export function bubbles(messages: LineMessage[], friend: SampleFriend | null): Bubble[] {
  const fill = (text: unknown) => fillPlaceholders(String(text ?? ""), friend);
  return messages.map((message): Bubble => {
    if (message.type === "text") return { kind: "text", text: fill(message.text) };
    if (message.type === "image") return { kind: "image", url: String(message.previewImageUrl ?? "") };
    if (message.type === "template") {
      const template = (message.template ?? {}) as Record<string, unknown>;
      if (template.type === "buttons" || template.type === "confirm") {
        const actions = (template.actions ?? []) as { label?: string }[];
        return {
          kind: "buttons",
          title: template.title ? String(template.title) : null,
          text: fill(template.text),
          imageUrl: template.thumbnailImageUrl ? String(template.thumbnailImageUrl) : null,
          buttons: actions.map((a) => a.label ?? ""),
        };
      }
      return { kind: "other", label: fill(message.altText) };
    }
    if (message.type === "flex") {
      return { kind: "flex", altText: fill(message.altText), texts: flexTexts(message.contents).map(fill) };
    }
    return { kind: "other", label: `[${message.type}]` };
  });
}

// The texts in a flex message's components, in order (the preview shows them stacked).
export function flexTexts(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const item of value) flexTexts(item, out);
  } else if (value && typeof value === "object") {
    const node = value as Record<string, unknown>;
    if ((node.type === "text" || node.type === "span") && typeof node.text === "string") out.push(node.text);
    if (node.type === "button" && node.action && typeof (node.action as { label?: unknown }).label === "string") {
      out.push(`[${(node.action as { label: string }).label}]`);
    }
    for (const key of ["header", "hero", "body", "footer", "contents"]) {
      if (key in node) flexTexts(node[key], out);
    }
  }
  return out;
}
