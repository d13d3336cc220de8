import "./style.css";

import { renderCard } from "./card";
import { readConfig } from "./config";
import { status } from "./dom";
import { startLiff } from "./line";
import { renderOpen } from "./open";

async function main(): Promise<void> {
  const root = document.getElementById("app");
  if (!root) return;
  try {
    const config = readConfig();
    const idToken = await startLiff(config);
    if (idToken === null) {
      if (config.mock) status(root, "モック: ?mockIdToken=… を付けて開いてください（docs/liff.md）", true);
      return;
    }
    if (config.view === "open") await renderOpen(root, config, idToken);
    else await renderCard(root, config, idToken);
  } catch (error) {
    console.error(error);
    status(root, "LINEとの接続に失敗しました。もう一度開いてください。", true);
  } finally {
    root.setAttribute("data-ready", "true");
  }
}

void main();
