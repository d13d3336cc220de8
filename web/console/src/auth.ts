// Signing in: staff with email and password (locally POST /local/staff/login; on AWS
// Cognito's USER_PASSWORD_AUTH, whose ID token carries cognito:groups), or the admin
// token as a machine (owner) — the local stack's bearer token.
import type { CognitoAuth, ConsoleConfig } from "./config";
import { isRole, type Role, type Session } from "./session";

export class SignInError extends Error {}

interface LocalLoginAnswer {
  token: string;
  expires_in: number;
  role: string;
  email: string;
}

export async function signInWithPassword(
  config: ConsoleConfig,
  email: string,
  password: string,
): Promise<Session> {
  if (config.auth.mode === "cognito") return cognitoSignIn(config.auth, email, password);
  if (config.auth.mode !== "local") throw new SignInError("no staff sign-in configured");
  const answer = await fetch(`${config.apiBaseUrl}${config.auth.loginPath}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  const payload = (await answer.json().catch(() => ({}))) as Partial<LocalLoginAnswer> & {
    message?: string;
  };
  if (!answer.ok || !payload.token) {
    throw new SignInError(payload.message ?? `HTTP ${answer.status}`);
  }
  return {
    token: payload.token,
    kind: "staff",
    role: isRole(payload.role) ? payload.role : "viewer",
    email: payload.email ?? email,
    expiresAt: Date.now() + (payload.expires_in ?? 3600) * 1000,
  };
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

async function cognitoSignIn(auth: CognitoAuth, email: string, password: string): Promise<Session> {
  const answer = await fetch(`https://cognito-idp.${auth.region}.amazonaws.com/`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
    },
    body: JSON.stringify({
      AuthFlow: "USER_PASSWORD_AUTH",
      ClientId: auth.clientId,
      AuthParameters: { USERNAME: email, PASSWORD: password },
    }),
  });
  const payload = (await answer.json().catch(() => ({}))) as {
    AuthenticationResult?: { IdToken: string; ExpiresIn: number };
    ChallengeName?: string;
    message?: string;
  };
  const result = payload.AuthenticationResult;
  if (!answer.ok || !result) {
    throw new SignInError(
      payload.message ?? (payload.ChallengeName ? `challenge ${payload.ChallengeName}` : `HTTP ${answer.status}`),
    );
  }
  const claims = jwtClaims(result.IdToken);
  return {
    token: result.IdToken,
    kind: "staff",
    role: roleFromGroups(claims["cognito:groups"]),
    email: typeof claims.email === "string" ? claims.email : email,
    expiresAt: Date.now() + result.ExpiresIn * 1000,
  };
}
