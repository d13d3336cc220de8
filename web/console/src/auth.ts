// Signing in: staff through the managed login (Cognito's hosted UI on AWS, the local
// gateway's stand-in locally) with the authorization code flow and PKCE (S256), state
// and nonce; or, locally, the admin token as a machine (owner).
//
// The platform does the crypto (crypto.getRandomValues, crypto.subtle.digest); the
// browser checks no JWT signature: the ID token comes straight from the token endpoint
// over TLS (OpenID Connect Core 3.1.3.7) and the API's JWT authorizer verifies it on
// every call. The console reads its claims (role, email, nonce) only.
import type { ConsoleConfig, ManagedLoginAuth } from "./config";
import type { Role, Session } from "./session";

// A reason for the sign-in page: a catalogue key (the console's own checks) or the
// managed login's / the API's own words.
export class SignInError extends Error {
  constructor(
    message: string,
    readonly key?: "signin.stateMismatch" | "signin.nonceMismatch" | "signin.notStarted" | "signin.insecure",
  ) {
    super(message);
  }
}

const PENDING = "linecrm.console.signin";
const BASE = import.meta.env.BASE_URL; // "/console/"

interface PendingSignIn {
  state: string;
  nonce: string;
  verifier: string;
  redirectUri: string;
  returnTo: string;
}

export function managedLogin(config: ConsoleConfig): ManagedLoginAuth | null {
  return config.auth.mode === "cognito" || config.auth.mode === "local" ? config.auth : null;
}

export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// 32 random bytes: 43 characters of base64url (a PKCE verifier's shortest length).
export function randomString(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

// PKCE S256: base64url(SHA-256(verifier)).
export async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

// The console's callback and sign-out URLs (the app client's, in CDK and locally).
export const callbackUrl = (origin: string): string => `${origin}${BASE}callback`;
export const signOutUrl = (origin: string): string => `${origin}${BASE}`;

const endpoint = (auth: ManagedLoginAuth, path: string): string => `${auth.domain.replace(/\/$/, "")}${path}`;

// Where to send the browser to sign in; what the callback needs stays in the tab.
export async function startSignIn(
  auth: ManagedLoginAuth,
  options: { origin: string; returnTo: string; storage?: Storage },
): Promise<string> {
  if (!globalThis.crypto?.subtle) {
    throw new SignInError("crypto.subtle needs https or localhost", "signin.insecure");
  }
  const pending: PendingSignIn = {
    state: randomString(),
    nonce: randomString(),
    verifier: randomString(),
    redirectUri: callbackUrl(options.origin),
    returnTo: options.returnTo,
  };
  (options.storage ?? sessionStorage).setItem(PENDING, JSON.stringify(pending));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: auth.clientId,
    redirect_uri: pending.redirectUri,
    scope: "openid email",
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await challengeOf(pending.verifier),
    code_challenge_method: "S256",
  });
  return `${endpoint(auth, "/oauth2/authorize")}?${query}`;
}

interface TokenAnswer {
  id_token?: string;
  expires_in?: number;
  error?: string;
  error_description?: string;
}

// The callback (/console/callback?code=…&state=…): the state must be the one this tab
// sent; the code is exchanged once, with the verifier, for the ID token.
export async function finishSignIn(
  auth: ManagedLoginAuth,
  query: URLSearchParams,
  options: { storage?: Storage; fetcher?: typeof fetch } = {},
): Promise<{ session: Session; returnTo: string }> {
  const storage = options.storage ?? sessionStorage;
  const raw = storage.getItem(PENDING);
  storage.removeItem(PENDING); // one callback per sign-in, whatever it brings
  const error = query.get("error");
  if (error) {
    throw new SignInError([error, query.get("error_description")].filter(Boolean).join(": "));
  }
  const pending = raw ? (JSON.parse(raw) as PendingSignIn) : null;
  if (!pending) throw new SignInError("no sign-in was started in this tab", "signin.notStarted");
  if (!query.get("state") || query.get("state") !== pending.state) {
    throw new SignInError("the state does not match this tab's sign-in", "signin.stateMismatch");
  }
  const answer = await (options.fetcher ?? fetch)(endpoint(auth, "/oauth2/token"), {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: auth.clientId,
      code: query.get("code") ?? "",
      redirect_uri: pending.redirectUri,
      code_verifier: pending.verifier,
    }).toString(),
  });
  const payload = (await answer.json().catch(() => ({}))) as TokenAnswer;
  if (!answer.ok || !payload.id_token) {
    const reason = [payload.error, payload.error_description].filter(Boolean).join(": ");
    throw new SignInError(reason || `HTTP ${answer.status}`);
  }
  const claims = jwtClaims(payload.id_token);
  // Cognito puts the nonce in the ID token; the local stand-in issues moto's token,
  // which has none (its code is bound to this tab by the state and the verifier).
  if ((auth.mode === "cognito" || "nonce" in claims) && claims.nonce !== pending.nonce) {
    throw new SignInError("the ID token's nonce is not this sign-in's", "signin.nonceMismatch");
  }
  return {
    session: {
      token: payload.id_token,
      kind: "staff",
      role: roleFromGroups(claims["cognito:groups"]),
      email: typeof claims.email === "string" ? claims.email : null,
      expiresAt: Date.now() + (payload.expires_in ?? 3600) * 1000,
    },
    returnTo: pending.returnTo,
  };
}

// Signing out ends the managed login's session too, then comes back to the console.
export function signOutLocation(auth: ManagedLoginAuth, origin: string): string {
  const query = new URLSearchParams({ client_id: auth.clientId, logout_uri: signOutUrl(origin) });
  return `${endpoint(auth, "/logout")}?${query}`;
}

// One read with the token (the first channel's tags): a wrong token is refused here,
// not on every page.
export async function checkToken(config: ConsoleConfig, token: string): Promise<void> {
  const channel = config.channels[0];
  if (!channel) return;
  const answer = await fetch(`${config.apiBaseUrl}/admin/channels/${encodeURIComponent(channel)}/tags`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  if (!answer.ok) {
    const body = (await answer.json().catch(() => ({}))) as { message?: string };
    throw new SignInError(body.message ?? `HTTP ${answer.status}`);
  }
}

export function machineSession(token: string): Session {
  return { token: token.trim(), kind: "machine", role: "owner", email: null, expiresAt: null };
}

// The highest role among the token's groups (cognito:groups).
export function roleFromGroups(groups: unknown): Role {
  const list = Array.isArray(groups)
    ? groups.map(String)
    : typeof groups === "string"
      ? groups.replace(/^\[|\]$/g, "").split(/[\s,]+/)
      : [];
  for (const role of ["owner", "marketer", "operator", "viewer"] as const) {
    if (list.includes(role)) return role;
  }
  return "viewer";
}

export function jwtClaims(token: string): Record<string, unknown> {
  const part = token.split(".")[1] ?? "";
  const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
}
