// A small history router under /console/ (the gateway and CloudFront answer any client
// route with index.html).
import { useEffect, useState } from "react";

const BASE = import.meta.env.BASE_URL.replace(/\/$/, "");

export function currentRoute(): string {
  const path = window.location.pathname;
  const inside = path.startsWith(BASE) ? path.slice(BASE.length) : path;
  return inside.replace(/\/+$/, "") || "/";
}

export function navigate(route: string): void {
  window.history.pushState(null, "", `${BASE}${route}`);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function href(route: string): string {
  return `${BASE}${route}`;
}

export function useRoute(): string {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const changed = () => setRoute(currentRoute());
    window.addEventListener("popstate", changed);
    return () => window.removeEventListener("popstate", changed);
  }, []);
  return route;
}

// "/friends/U123" against "/friends/:id" -> {id: "U123"}; null when it does not match.
export function matchRoute(pattern: string, route: string): Record<string, string> | null {
  const want = pattern.split("/");
  const have = route.split("/");
  if (want.length !== have.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i += 1) {
    if (want[i].startsWith(":")) params[want[i].slice(1)] = decodeURIComponent(have[i]);
    else if (want[i] !== have[i]) return null;
  }
  return params;
}
