// LIFF start-up: the real SDK in LINE, @line/liff-mock in the local stack.

import liff from "@line/liff";

import type { PageConfig } from "./config";

const MOCK_TOKEN_KEY = "linecrm.mockIdToken";

export type Liff = typeof liff;

/** The logged-in user's ID token (null while LIFF redirects to LINE Login). */
export async function startLiff(config: PageConfig): Promise<string | null> {
  if (!(await initLiff(config))) return null;
  if (!liff.isLoggedIn()) {
    liff.login({ redirectUri: location.href });
    return null;
  }
  return liff.getIDToken();
}

/** The ID token when LINE has a logged-in user here (in LINE), null otherwise (never
 * asks to log in); "" while LIFF moves on to the page's sub-path. */
export async function idTokenIfLoggedIn(config: PageConfig): Promise<string | null> {
  if (!(await initLiff(config))) return "";
  return liff.isLoggedIn() ? liff.getIDToken() : null;
}

/** false while LIFF moves on to the page's sub-path (liff.state). */
async function initLiff(config: PageConfig): Promise<boolean> {
  if (config.mock) {
    // A chunk of its own: LINE's real pages never load the mock.
    const { LiffMockPlugin } = await import("@line/liff-mock");
    liff.use(new LiffMockPlugin());
    // A real ID token from the LINE emulator (POST /_emulator/channels/{id}/id-token),
    // given once as ?mockIdToken=…, so the server verifies it as it would LINE's.
    // Without one, liff-mock's fixed token: accepted only by a stack started with
    // LINECRM_LIFF_MOCK_ID_TOKENS (docs/liff-login.md).
    const token = takeMockIdToken();
    await liff.init({ liffId: config.liffId, mock: true } as Parameters<Liff["init"]>[0]);
    const mocked = liff as unknown as { $mock: { set: (data: Record<string, unknown>) => void } };
    mocked.$mock.set(token ? { isLoggedIn: true, getIDToken: token } : { isLoggedIn: true });
  } else {
    await liff.init({ liffId: config.liffId });
  }
  // LIFF moves on to the page's sub-path (/card, /open?target=…, /click?t=…).
  return !new URLSearchParams(location.search).has("liff.state");
}

function takeMockIdToken(): string | null {
  const url = new URL(location.href);
  const given = url.searchParams.get("mockIdToken");
  if (given) {
    sessionStorage.setItem(MOCK_TOKEN_KEY, given);
    url.searchParams.delete("mockIdToken");
    history.replaceState(null, "", url.toString());
  }
  return sessionStorage.getItem(MOCK_TOKEN_KEY);
}
