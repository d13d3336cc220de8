// A typed catalogue (ja first, en second) and the language switch.
import { createContext, useContext } from "react";
import { en } from "./en";
import { ja, type MessageKey } from "./ja";

export type Language = "ja" | "en";
export type { MessageKey };
export const CATALOGUES: Record<Language, Record<MessageKey, string>> = { ja, en };
export type Translate = (key: MessageKey, values?: Record<string, string | number>) => string;

export function format(template: string, values: Record<string, string | number> = {}): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in values ? String(values[name]) : whole,
  );
}

export function translator(language: Language): Translate {
  const catalogue = CATALOGUES[language];
  return (key, values) => format(catalogue[key] ?? ja[key] ?? key, values);
}

// The names a template fills in: {name} (for the completeness test).
export function placeholders(template: string): string[] {
  return [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
}

const LANGUAGE_KEY = "linecrm.console.language";

export function storedLanguage(): Language {
  const stored = typeof localStorage === "undefined" ? null : localStorage.getItem(LANGUAGE_KEY);
  return stored === "en" ? "en" : "ja";
}

export function storeLanguage(language: Language): void {
  localStorage.setItem(LANGUAGE_KEY, language);
}

export interface I18n {
  language: Language;
  t: Translate;
  setLanguage: (language: Language) => void;
}

export const I18nContext = createContext<I18n>({
  language: "ja",
  t: translator("ja"),
  setLanguage: () => undefined,
});

export function useI18n(): I18n {
  return useContext(I18nContext);
}
