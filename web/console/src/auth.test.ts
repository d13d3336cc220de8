import { describe, expect, it } from "vitest";
import { challengeOf, finishSignIn, signOutLocation, startSignIn } from "./auth";
import type { CognitoAuth, LocalAuth } from "./config";

class MemoryStorage implements Storage {
  private items = new Map<string, string>();
  get length() {
    return this.items.size;
  }
  clear() {
    this.items.clear();
  }
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  key(index: number) {
    return [...this.items.keys()][index] ?? null;
  }
  removeItem(key: string) {
    this.items.delete(key);
  }
  setItem(key: string, value: string) {
    this.items.set(key, value);
  }
}

const cognito: CognitoAuth = {
  mode: "cognito",
  region: "ap-northeast-1",
  userPoolId: "pool",
  clientId: "client-1",
  domain: "https://staff.auth.ap-northeast-1.amazoncognito.com",
};
const local: LocalAuth = { mode: "local", domain: "/local", clientId: "client-1" };
const origin = "https://d1.cloudfront.net";

const b64 = (value: object) => btoa(JSON.stringify(value)).replace(/=+$/, "");
const idToken = (claims: object) => `h.${b64(claims)}.s`;

async function started(auth: CognitoAuth | LocalAuth) {
  const storage = new MemoryStorage();
  const url = new URL(await startSignIn(auth, { origin, returnTo: "/friends", storage }), origin);
  return { storage, url, query: url.searchParams };
}

describe("the managed login's code flow with PKCE", () => {
  it("computes the S256 challenge (RFC 7636 appendix B)", async () => {
    expect(await challengeOf("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe(
      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
  });

  it("sends the browser to /oauth2/authorize with the challenge, state and nonce", async () => {
    const { url, query, storage } = await started(cognito);
    expect(`${url.origin}${url.pathname}`).toBe(`${cognito.domain}/oauth2/authorize`);
    expect(query.get("response_type")).toBe("code");
    expect(query.get("client_id")).toBe("client-1");
    expect(query.get("redirect_uri")).toBe(`${origin}${import.meta.env.BASE_URL}callback`);
    expect(query.get("code_challenge_method")).toBe("S256");
    expect(query.get("scope")).toBe("openid email");
    const pending = JSON.parse(storage.getItem("linecrm.console.signin")!);
    expect(query.get("code_challenge")).toBe(await challengeOf(pending.verifier));
    expect(query.get("state")).toBe(pending.state);
    expect(query.get("nonce")).toBe(pending.nonce);
    expect(pending.verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("exchanges the code with the verifier once, and keeps the ID token's role", async () => {
    const { query, storage } = await started(cognito);
    const pending = JSON.parse(storage.getItem("linecrm.console.signin")!);
    const sent: { url: string; body: URLSearchParams }[] = [];
    const fetcher = (async (url: string, init: RequestInit) => {
      sent.push({ url, body: new URLSearchParams(String(init.body)) });
      const token = idToken({ nonce: pending.nonce, email: "m@shop.example", "cognito:groups": ["marketer"] });
      return new Response(JSON.stringify({ id_token: token, expires_in: 3600 }));
    }) as typeof fetch;
    const callback = new URLSearchParams({ code: "the-code", state: query.get("state")! });
    const { session, returnTo } = await finishSignIn(cognito, callback, { storage, fetcher });
    expect(session).toMatchObject({ kind: "staff", role: "marketer", email: "m@shop.example" });
    expect(returnTo).toBe("/friends");
    expect(sent[0].url).toBe(`${cognito.domain}/oauth2/token`);
    expect(Object.fromEntries(sent[0].body)).toEqual({
      grant_type: "authorization_code",
      client_id: "client-1",
      code: "the-code",
      redirect_uri: `${origin}${import.meta.env.BASE_URL}callback`,
      code_verifier: pending.verifier,
    });
    // The pending sign-in is spent: the same callback again is refused.
    await expect(finishSignIn(cognito, callback, { storage, fetcher })).rejects.toMatchObject({
      key: "signin.notStarted",
    });
  });

  it("refuses a tampered state before any exchange", async () => {
    const { query, storage } = await started(local);
    let calls = 0;
    const fetcher = (async () => {
      calls += 1;
      return new Response("{}");
    }) as unknown as typeof fetch;
    const tampered = new URLSearchParams({ code: "c", state: `${query.get("state")}x` });
    await expect(finishSignIn(local, tampered, { storage, fetcher })).rejects.toMatchObject({
      key: "signin.stateMismatch",
    });
    expect(calls).toBe(0);
  });

  it("refuses another sign-in's nonce on AWS, and shows the token endpoint's reason", async () => {
    const { query, storage } = await started(cognito);
    const fetcher = (async () =>
      new Response(JSON.stringify({ id_token: idToken({ nonce: "other" }) }))) as unknown as typeof fetch;
    const callback = new URLSearchParams({ code: "c", state: query.get("state")! });
    await expect(finishSignIn(cognito, callback, { storage, fetcher })).rejects.toMatchObject({
      key: "signin.nonceMismatch",
    });

    const again = await started(local);
    const refusing = (async () =>
      new Response(JSON.stringify({ error: "invalid_grant", error_description: "used" }), {
        status: 400,
      })) as unknown as typeof fetch;
    const back = new URLSearchParams({ code: "c", state: again.query.get("state")! });
    await expect(finishSignIn(local, back, { storage: again.storage, fetcher: refusing })).rejects.toThrow(
      "invalid_grant: used",
    );
  });

  it("signs out at /logout, back to the console", () => {
    const url = new URL(signOutLocation(cognito, origin));
    expect(`${url.origin}${url.pathname}`).toBe(`${cognito.domain}/logout`);
    expect(url.searchParams.get("client_id")).toBe("client-1");
    expect(url.searchParams.get("logout_uri")).toBe(`${origin}${import.meta.env.BASE_URL}`);
  });
});
