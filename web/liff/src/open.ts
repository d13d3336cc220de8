// 「ショップをログイン状態で開く」: rich-menu and message URI actions open
// https://liff.line.me/{liffId}/open?target=/path; this mints a login URL and goes there.

import { goToShop } from "./card";
import type { PageConfig } from "./config";
import { status } from "./dom";

export function shopTarget(search: string): string | null {
  const target = new URLSearchParams(search).get("target") ?? "/";
  // A path on the shop only; linecrm checks it against the shop's allow-list as well.
  if (!target.startsWith("/") || target.startsWith("//") || target.includes("\\")) return null;
  return target;
}

export async function renderOpen(root: HTMLElement, config: PageConfig, idToken: string): Promise<void> {
  const target = shopTarget(location.search);
  if (target === null) {
    status(root, "移動先が正しくありません。", true);
    return;
  }
  await goToShop(root, config, idToken, target);
}
