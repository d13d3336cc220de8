// How the page calls the admin API: exactly as any other admin client does.
// - Local stack (`make dev`): `Authorization: Bearer <admin token>`.
// - AWS: the /admin routes are IAM-authorized, so each request is signed with SigV4
//   (service execute-api) from the admin's AWS credentials (e.g. from
//   `aws configure export-credentials`).
// The credentials are asked for once and kept in this tab's sessionStorage only.
import { AwsClient } from "aws4fetch";

export type Credentials =
  | { kind: "bearer"; token: string }
  | {
      kind: "sigv4";
      accessKeyId: string;
      secretAccessKey: string;
      sessionToken?: string;
      region: string;
    };

export type AuthKind = Credentials["kind"];

const STORAGE_KEY = "linecrm-dashboard-credentials";

export function storedCredentials(storage: Storage = sessionStorage): Credentials | null {
  const raw = storage.getItem(STORAGE_KEY);
  if (!raw) return null;
  try {
    const parsed = JSON.parse(raw) as Credentials;
    return parsed.kind === "bearer" || parsed.kind === "sigv4" ? parsed : null;
  } catch {
    return null;
  }
}

export function storeCredentials(credentials: Credentials, storage: Storage = sessionStorage): void {
  storage.setItem(STORAGE_KEY, JSON.stringify(credentials));
}

export function forgetCredentials(storage: Storage = sessionStorage): void {
  storage.removeItem(STORAGE_KEY);
}

// Which credentials to ask for first: the admin token on this machine (the local
// stack), SigV4 anywhere else (API Gateway's IAM authorizer). The form offers both.
export function likelyAuth(host: string): AuthKind {
  return ["localhost", "127.0.0.1", "[::1]", "::1"].includes(host) ? "bearer" : "sigv4";
}

// The region of an execute-api host name (…execute-api.<region>.amazonaws.com).
export function regionOfHost(host: string): string | null {
  const match = /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/.exec(host);
  return match ? match[1] : null;
}

export function authorizedFetch(credentials: Credentials): (url: string) => Promise<Response> {
  if (credentials.kind === "bearer") {
    return (url) =>
      fetch(url, {
        headers: { Authorization: `Bearer ${credentials.token}`, Accept: "application/json" },
        credentials: "omit",
      });
  }
  const client = new AwsClient({
    accessKeyId: credentials.accessKeyId,
    secretAccessKey: credentials.secretAccessKey,
    sessionToken: credentials.sessionToken || undefined,
    service: "execute-api",
    region: credentials.region,
    retries: 0,
  });
  return (url) => client.fetch(url, { headers: { Accept: "application/json" } });
}
