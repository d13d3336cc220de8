// The admin API client: openapi-fetch over the types openapi-typescript generates from
// docs/admin-openapi.json (src/api/schema.d.ts, made by `npm run gen` before tsc), so a
// route or shape change breaks the type check, not a page at run time.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Api = ReturnType<typeof createClient<paths>>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ClientHooks {
  token: () => string | null;
  // 401: the session is over (back to sign-in).
  onUnauthorized: () => void;
}

export function makeClient(baseUrl: string, hooks: ClientHooks): Api {
  const client = createClient<paths>({ baseUrl });
  const auth: Middleware = {
    onRequest({ request }) {
      const token = hooks.token();
      if (token) request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    },
    onResponse({ response }) {
      if (response.status === 401) hooks.onUnauthorized();
      return response;
    },
  };
  client.use(auth);
  return client;
}

// The API's reason for a failed call: {"message": ...} or FastAPI's {"detail": ...}.
export function reason(error: unknown, status?: number): string {
  if (error instanceof Error) return error.message;
  if (error && typeof error === "object") {
    const body = error as { message?: unknown; detail?: unknown };
    if (typeof body.message === "string") return body.message;
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail)) {
      return body.detail
        .map((d: { loc?: unknown[]; msg?: string }) => `${(d.loc ?? []).join(".")}: ${d.msg ?? ""}`)
        .join("; ");
    }
  }
  return status ? `HTTP ${status}` : String(error);
}

// Unwrap an openapi-fetch answer: the data, or an ApiError with the API's reason.
// (Routes that also answer text/csv type their data as JSON | string: the console
// asks for JSON, so the string is left out.)
export async function ok<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<Exclude<T, string>> {
  const { data, error, response } = await call;
  if (error !== undefined || !response.ok) {
    throw new ApiError(response.status, reason(error, response.status));
  }
  return data as Exclude<T, string>;
}

// A call the typed client cannot make (a raw text/csv body): same base URL and token.
export async function rawCall(
  baseUrl: string,
  hooks: ClientHooks,
  path: string,
  init: RequestInit,
): Promise<unknown> {
  const headers = new Headers(init.headers);
  const token = hooks.token();
  if (token) headers.set("Authorization", `Bearer ${token}`);
  const response = await fetch(`${baseUrl}${path}`, { ...init, headers });
  if (response.status === 401) hooks.onUnauthorized();
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, reason(body, response.status));
  return body;
}
