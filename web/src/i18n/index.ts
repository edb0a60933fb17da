// The message catalogue: every string the app shows comes through t(). English is the
// reference; other languages must have exactly its keys (the type and tests/catalogue.mjs
// check it).

import { en, type Messages } from "./en";
import { fr } from "./fr";

export type Key = keyof Messages;
export type Lang = "en" | "fr";

const catalogues: Record<Lang, Messages> = { en, fr };
export const LANGS: Lang[] = ["en", "fr"];
const STORE = "votemesh.lang";

/** The first of the browser's languages we have, unless the user chose one. */
function initialLang(): Lang {
  const stored = localStorage.getItem(STORE);
  if (stored === "en" || stored === "fr") return stored;
  for (const tag of navigator.languages ?? [navigator.language]) {
    const base = tag.toLowerCase().split("-")[0];
    if (base === "en" || base === "fr") return base;
  }
  return "en";
}

let lang: Lang = initialLang();
const listeners: Array<() => void> = [];

export function currentLang(): Lang {
  return lang;
}

/** Switches language, remembers the choice and re-renders whoever listens. */
export function setLang(next: Lang): void {
  lang = next;
  localStorage.setItem(STORE, next);
  document.documentElement.lang = next;
  for (const fn of listeners) fn();
}

export function onLangChange(fn: () => void): void {
  listeners.push(fn);
}

/**
 * A message with `{name}` placeholders filled. A message of the form `one|other` picks its
 * plural form by the number in `n`.
 */
export function t(key: Key, params: Record<string, string | number> = {}): string {
  let text: string = catalogues[lang][key] ?? en[key];
  if (text.includes("|") && typeof params.n === "number") {
    const [one, other] = text.split("|");
    text = new Intl.PluralRules(lang).select(params.n) === "one" ? one : other;
  }
  return text.replace(/\{(\w+)\}/g, (_, name: string) =>
    name in params ? formatParam(params[name]) : `{${name}}`,
  );
}

function formatParam(value: string | number): string {
  return typeof value === "number" ? new Intl.NumberFormat(lang).format(value) : value;
}

/** A date and time in the current language. */
export function formatDate(date: Date | undefined): string {
  if (!date) return "—";
  return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).format(date);
}

/** A number in the current language (accepts the API's exact decimals as strings). */
export function formatNumber(value: number | bigint | string, maxDigits = 5): string {
  const n = typeof value === "string" ? Number(value) : value;
  return new Intl.NumberFormat(lang, { maximumFractionDigits: maxDigits }).format(n);
}

document.documentElement.lang = lang;
