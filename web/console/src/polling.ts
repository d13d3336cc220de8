// Polling while the tab is visible: `tick` every `ms`, none while the document is
// hidden, and one at once when it is shown again (the chat page's 3 s refresh).
import { useEffect, useRef } from "react";

export interface Visibility {
  readonly hidden: boolean;
  addEventListener(type: "visibilitychange", listener: () => void): void;
  removeEventListener(type: "visibilitychange", listener: () => void): void;
}

export function startPolling(tick: () => void, ms: number, doc: Visibility = document): () => void {
  let timer: ReturnType<typeof setInterval> | null = null;
  const stop = () => {
    if (timer !== null) clearInterval(timer);
    timer = null;
  };
  const start = () => {
    if (timer === null) timer = setInterval(tick, ms);
  };
  const changed = () => {
    if (doc.hidden) stop();
    else {
      tick();
      start();
    }
  };
  if (!doc.hidden) start();
  doc.addEventListener("visibilitychange", changed);
  return () => {
    stop();
    doc.removeEventListener("visibilitychange", changed);
  };
}

// The hook: the latest `tick` every `ms` while visible (and `enabled`).
export function usePolling(tick: () => void, ms: number, enabled = true): void {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    if (!enabled) return;
    return startPolling(() => latest.current(), ms);
  }, [ms, enabled]);
}
