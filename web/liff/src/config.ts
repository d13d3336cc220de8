// The page config the liff_login function renders into the HTML shell.

export type View = "card" | "open" | "click";

export interface PageConfig {
  channelId: string;
  liffId: string;
  view: View;
  // Local stack only (LINECRM_LIFF_MOCK_SDK): @line/liff-mock replaces the LINE client.
  mock: boolean;
  // Where 「ショップにログイン」 lands (a path on the shop's auto-login allow-list).
  shopTarget: string;
}

export function readConfig(doc: Document = document): PageConfig {
  const element = doc.getElementById("linecrm-liff-config");
  if (!element?.textContent) {
    throw new Error("ページの設定が見つかりません");
  }
  return JSON.parse(element.textContent) as PageConfig;
}
