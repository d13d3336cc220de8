import "./style.css";

import { renderCard } from "./card";
import { runClick } from "./click";
import { readConfig } from "./config";
import { status } from "./dom";
import { startLiff } from "./line";
import { renderOpen } from "./open";

async function main(): Promise<void> {
  const root = document.getElementById("app");
  if (!root) return;
  try {
    const config = readConfig();
    if (config.view === "click") {
      await runClick(root, config); // never asks for a login: falls back to /t/<token>
      return;
    }
    const idToken = await startLiff(config);
    if (idToken === null) return; // LIFF is on its way to LINE Login or the sub-path
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
