// Binary answers of the admin API (a QR code, a rich menu's image): fetched with the
// session's bearer token (an <img src> or a link could not send it), then shown
// through an object URL or saved as a file.
import { ApiError, reason, type ClientHooks } from "./api/client";

export async function fetchBlob(baseUrl: string, hooks: ClientHooks, path: string): Promise<Blob> {
  const headers = new Headers();
  const token = hooks.token();
  if (token) headers.set("Authorization", `Bearer ${token}`);
  const response = await fetch(`${baseUrl}${path}`, { headers });
  if (response.status === 401) hooks.onUnauthorized();
  if (!response.ok) {
    const body: unknown = await response.json().catch(() => null);
    throw new ApiError(response.status, reason(body, response.status));
  }
  return response.blob();
}

// Save a blob as a download named `name` (the browser's save, no new tab).
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
