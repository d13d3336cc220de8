// The inflow routes page's logic: the form ↔ the API's route body, the report's
// counters by route, and the QR download's checks (docs/inflow-routes.md).
import type { Schemas } from "../api/client";

export type Route = Schemas["RouteResponse"];
export type RouteReport = Schemas["RouteReport"];
export type RouteSettings = Schemas["RouteSettings"];

export const UTM_KEYS = ["source", "medium", "campaign", "content", "term"] as const;
export type UtmKey = (typeof UTM_KEYS)[number];

// As the API's ROUTE_ID_PATTERN (a slug); the API decides, this only guides the form.
export const ROUTE_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export interface RouteForm {
  route_id: string;
  name: string;
  tags: string[];
  scenario: string | null;
  utm: Record<UtmKey, string>;
  landing_url: string;
}

export function emptyForm(): RouteForm {
  return {
    route_id: "",
    name: "",
    tags: [],
    scenario: null,
    utm: { source: "", medium: "", campaign: "", content: "", term: "" },
    landing_url: "",
  };
}

export function toForm(route: Route): RouteForm {
  const utm = emptyForm().utm;
  for (const key of UTM_KEYS) utm[key] = route.utm[key] ?? "";
  return {
    route_id: route.route_id,
    name: route.name,
    tags: [...route.tags],
    scenario: route.scenario ?? null,
    utm,
    landing_url: route.landing_url ?? "",
  };
}

// The settings PUT takes (and POST, with the route id): blanks left out.
export function settingsOf(form: RouteForm): RouteSettings {
  const utm: Schemas["Utm"] = {};
  for (const key of UTM_KEYS) {
    const value = form.utm[key].trim();
    if (value) utm[key] = value;
  }
  return {
    name: form.name.trim(),
    tags: form.tags,
    scenario: form.scenario || null,
    utm,
    landing_url: form.landing_url.trim() || null,
  };
}

export function createBody(form: RouteForm): RouteSettings & { route_id: string } {
  return { route_id: form.route_id.trim(), ...settingsOf(form) };
}

export interface Counters {
  friends: number;
  blocked: number;
  linked: number;
  converted: number;
  conversion_rate: number | null;
}

// Each route's counters: from …/reports/routes when it lists the route, else the
// route's own report (a route created since the report was read).
export function countersOf(route: Route, report: RouteReport[] | null | undefined): Counters {
  const row = report?.find((r) => r.route_id === route.route_id);
  if (row) {
    return {
      friends: row.friends,
      blocked: row.blocked,
      linked: row.linked,
      converted: row.converted,
      conversion_rate: row.conversion_rate,
    };
  }
  const own = route.report;
  return {
    friends: own.friends,
    blocked: own.blocked,
    linked: own.linked,
    converted: own.converted,
    conversion_rate: own.friends ? own.converted / own.friends : null,
  };
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

export function isSvg(text: string): boolean {
  return /^\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*<svg[\s>]/.test(text);
}

export function qrFileName(routeId: string, format: "png" | "svg"): string {
  return `${routeId}.${format}`;
}
