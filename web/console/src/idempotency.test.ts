import { describe, expect, it } from "vitest";
import { CompositionKey, stableJson } from "./idempotency";

describe("one Idempotency-Key per composition", () => {
  let n = 0;
  const make = () => `key-${(n += 1)}`;

  it("stays the same while the composition is unchanged (a double click sends once)", () => {
    const key = new CompositionKey(make);
    const composition = { name: "sale", messages: [{ type: "text", text: "hi" }] };
    const first = key.for(composition);
    expect(key.for({ messages: [{ text: "hi", type: "text" }], name: "sale" })).toBe(first);
  });

  it("changes with the composition and after a reset", () => {
    const key = new CompositionKey(make);
    const first = key.for({ name: "a" });
    const second = key.for({ name: "b" });
    expect(second).not.toBe(first);
    key.reset();
    expect(key.for({ name: "b" })).not.toBe(second);
  });

  it("compares compositions whatever their key order", () => {
    expect(stableJson({ b: 1, a: [1, { d: 2, c: undefined }] })).toBe('{"a":[1,{"d":2}],"b":1}');
  });
});
