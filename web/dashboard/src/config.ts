// The page config the admin function renders into the HTML shell (no data: the page
// is public; every figure comes from the admin API, with the admin's credentials).

export interface PageConfig {
  // The API's region (SigV4 signs for it on AWS).
  region: string;
  // The channel to open when the URL names none (?channel=…).
  defaultChannelId: string | null;
}

export function readConfig(doc: Document = document): PageConfig {
  const element = doc.getElementById("linecrm-dashboard-config");
  if (!element?.textContent) {
    throw new Error("ページの設定が見つかりません");
  }
  return JSON.parse(element.textContent) as PageConfig;
}
