// A tracked link (docs/tracking.md): https://liff.line.me/{liffId}/click?t=<token>.
// In LINE: the friend's ID token goes to POST /t/<token>, which records their click and
// answers the link's URL; we go there. Outside LINE (or when LINE gives no token), the
// anonymous redirect GET /t/<token> counts the click and sends the browser on.

import { ApiError, recordClick } from "./api";
import type { PageConfig } from "./config";
import { status } from "./dom";
import { idTokenIfLoggedIn } from "./line";

const TOKEN = /^[A-Za-z0-9_-]{22}$/;

export function clickToken(search: string): string | null {
  const token = new URLSearchParams(search).get("t");
  return token !== null && TOKEN.test(token) ? token : null;
}

export async function runClick(root: HTMLElement, config: PageConfig): Promise<void> {
  const token = clickToken(location.search);
  if (token === null) {
    status(root, "リンクが正しくありません。", true);
    return;
  }
  const anonymous = `/t/${token}`;
  let idToken: string | null = null;
  try {
    idToken = await idTokenIfLoggedIn(config);
  } catch (error) {
    console.warn("LIFF unavailable; opening the link anonymously", error);
  }
  if (idToken === "") return; // LIFF moves on to the sub-path first
  if (idToken !== null) {
    try {
      const click = await recordClick(token, idToken);
      location.replace(click.url);
      return;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        status(root, "このリンクは使えません。", true);
        return;
      }
      console.warn("click not recorded for the friend; opening the link anonymously", error);
    }
  }
  location.replace(anonymous);
}
