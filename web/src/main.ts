// Entry point: the page frame (skip link, header, main, live region) and the routes.

import "./styles.css";
import { currentUser, onSessionChange, signOut } from "./api";
import { h, replace } from "./dom";
import { LANGS, currentLang, onLangChange, setLang, t, type Lang } from "./i18n";
import { navigate, render, route } from "./router";
import { registerPage, signInPage, verifyPage } from "./pages/auth";
import { homePage } from "./pages/home";
import { ballotPage } from "./pages/ballot";
import { receiptPage } from "./pages/receipt";
import { resultsPage } from "./pages/results";
import { adminListPage } from "./pages/admin-list";
import { electionEditPage } from "./pages/admin-edit";
import { adminElectionPage } from "./pages/admin-election";
import { adminResultsPage } from "./pages/admin-results";
import { deliveriesPage } from "./pages/admin-deliveries";

const ID = "([0-9a-fA-F-]{36})";
route(/^\/signin$/, "public", signInPage);
route(/^\/register$/, "public", registerPage);
route(/^\/verify$/, "user", verifyPage);
route(/^\/receipt$/, "public", receiptPage);
route(/^\/$/, "user", homePage);
route(new RegExp(`^/elections/${ID}/vote$`), "user", ballotPage);
route(new RegExp(`^/elections/${ID}/results$`), "user", resultsPage);
route(/^\/admin$/, "admin", adminListPage);
route(/^\/admin\/new$/, "admin", electionEditPage);
route(new RegExp(`^/admin/elections/${ID}$`), "admin", adminElectionPage);
route(new RegExp(`^/admin/elections/${ID}/edit$`), "admin", electionEditPage);
route(new RegExp(`^/admin/elections/${ID}/results$`), "admin", adminResultsPage);
route(/^\/admin\/deliveries$/, "admin", deliveriesPage);

const LANG_NAMES: Record<Lang, string> = { en: "English", fr: "Français" };

function header(): HTMLElement {
  const user = currentUser();
  const links: Array<[string, string]> = user
    ? [["#/", t("nav.elections")], ["#/receipt", t("nav.receipt")]]
    : [["#/signin", t("nav.signIn")], ["#/register", t("nav.register")], ["#/receipt", t("nav.receipt")]];
  if (user?.admin) links.push(["#/admin", t("nav.admin")], ["#/admin/deliveries", t("nav.deliveries")]);
  const here = location.hash.split("?")[0] || "#/";
  const langSelect = h(
    "select",
    { id: "lang", onchange: (e: Event) => setLang((e.target as HTMLSelectElement).value as Lang) },
    LANGS.map((l) => h("option", { value: l, lang: l, selected: l === currentLang() }, LANG_NAMES[l])),
  );
  return h(
    "header",
    { class: "site" },
    h("a", { class: "brand", href: "#/" }, "votemesh"),
    h(
      "nav",
      { "aria-label": t("nav.label") },
      h("ul", null, links.map(([href, text]) => h("li", null, h("a", { href, "aria-current": href === here ? "page" : null }, text)))),
    ),
    h(
      "div",
      { class: "tools" },
      h("label", { for: "lang", class: "lang-label" }, t("nav.language")),
      langSelect,
      user
        ? [
            h("span", { class: "who" }, t("nav.signedInAs", { name: user.displayName || user.email })),
            h("button", { type: "button", class: "secondary", onclick: () => void signOut().then(() => navigate("/signin")) }, t("nav.signOut")),
          ]
        : null,
    ),
  );
}

function frame(): void {
  const app = document.getElementById("app") as HTMLElement;
  const skip = h(
    "a",
    {
      class: "skip",
      href: "#main",
      // A plain #main would change the route; move focus instead.
      onclick: (e: Event) => {
        e.preventDefault();
        document.getElementById("main")?.focus();
      },
    },
    t("nav.skip"),
  );
  replace(
    app,
    skip,
    header(),
    h("main", { id: "main", tabindex: -1 }),
    h("div", { id: "live", class: "sr-only", "aria-live": "polite" }),
  );
}

function refreshHeader(): void {
  const old = document.querySelector("header.site");
  old?.replaceWith(header());
}

// The edge's emails link to server paths (/verify, /elections/<id>); where the edge serves the
// app there, land on the matching page of the app.
if (location.pathname !== "/" && !location.hash) {
  const election = new RegExp(`^/elections/${ID}/?$`).exec(location.pathname);
  const target = location.pathname === "/verify" ? "/verify" : election ? `/elections/${election[1]}/vote` : "/";
  history.replaceState(null, "", `/#${target}`);
}

frame();
window.addEventListener("hashchange", () => {
  refreshHeader();
  void render();
});
onSessionChange(refreshHeader);
onLangChange(() => {
  frame();
  void render().then(() => (document.getElementById("lang") as HTMLSelectElement | null)?.focus());
});
void render();
