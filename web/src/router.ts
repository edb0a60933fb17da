// Hash routing (#/…) so no app path ever clashes with the edge's own (/v1/…, /votemesh.…).

import { currentUser } from "./api";
import { h, replace } from "./dom";
import { t } from "./i18n";

export interface PageContext {
  main: HTMLElement;
  /** Aborted when the user leaves the page: streams and timers stop with it. */
  signal: AbortSignal;
  params: string[];
  query: URLSearchParams;
}

export type Page = (ctx: PageContext) => Promise<void> | void;

interface Route {
  pattern: RegExp;
  page: Page;
  access: "public" | "user" | "admin";
}

const routes: Route[] = [];
let controller: AbortController | null = null;

export function route(pattern: RegExp, access: Route["access"], page: Page): void {
  routes.push({ pattern, page, access });
}

export function navigate(path: string): void {
  if (location.hash === `#${path}`) void render();
  else location.hash = path;
}

/** The current path, without the leading `#` and query. */
function currentPath(): [string, URLSearchParams] {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  return [path, new URLSearchParams(query)];
}

/** Renders the page for the current hash into <main>. */
export async function render(): Promise<void> {
  controller?.abort();
  controller = new AbortController();
  const main = document.getElementById("main") as HTMLElement;
  const [path, query] = currentPath();
  const user = currentUser();
  for (const r of routes) {
    const match = r.pattern.exec(path);
    if (!match) continue;
    if (r.access !== "public" && !user) {
      // Come back here after signing in.
      navigate(`/signin?next=${encodeURIComponent(path)}`);
      return;
    }
    replace(main);
    main.setAttribute("aria-busy", "true");
    if (r.access === "admin" && !user?.admin) {
      replace(main, h("h1", { tabindex: -1 }, t("error.adminOnly")));
    } else {
      try {
        await r.page({ main, signal: controller.signal, params: match.slice(1), query });
      } catch (error) {
        replace(main, h("h1", { tabindex: -1 }, t("error.generic")), h("p", null, String(error)));
      }
    }
    main.removeAttribute("aria-busy");
    focusHeading(main);
    return;
  }
  replace(main, h("h1", { tabindex: -1 }, t("error.pageNotFound")), h("p", null, h("a", { href: "#/" }, t("nav.elections"))));
  focusHeading(main);
}

/** Moves focus to the new page's heading so keyboard and screen-reader users start there. */
function focusHeading(main: HTMLElement): void {
  const heading = main.querySelector("h1");
  if (!heading) return;
  heading.setAttribute("tabindex", "-1");
  document.title = `${heading.textContent} · votemesh`;
  heading.focus();
}
