// One Idempotency-Key per composition: the key is made when a composition starts and
// kept until its content changes, so a double click (or a retry after a timeout) sends
// the same key and the API creates the broadcast once. Changing the composition after
// a send makes a new key (it is a new broadcast).

export function newKey(): string {
  return typeof crypto !== "undefined" && "randomUUID" in crypto
    ? crypto.randomUUID()
    : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

export class CompositionKey {
  private key: string;
  private fingerprint: string | null = null;

  constructor(private readonly make: () => string = newKey) {
    this.key = make();
  }

  // The key for sending `composition`: the same while the composition is unchanged.
  for(composition: unknown): string {
    const fingerprint = stableJson(composition);
    if (this.fingerprint !== null && this.fingerprint !== fingerprint) this.key = this.make();
    this.fingerprint = fingerprint;
    return this.key;
  }

  // A new composition (after "new broadcast"): a new key.
  reset(): void {
    this.key = this.make();
    this.fingerprint = null;
  }
}

export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}
