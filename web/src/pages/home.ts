// The voter's start page: open, upcoming and closed elections.

import { ElectionStatus, type Election } from "@votemesh/sdk";
import { api, currentUser } from "../api";
import { h, replace } from "../dom";
import { date, isLive, listAllElections } from "../elections";
import { errorBox } from "../errors";
import { formatDate, t } from "../i18n";
import { methodLabel, statusLabel } from "../labels";
import type { PageContext } from "../router";

export function unverifiedBanner(): HTMLElement | null {
  const user = currentUser();
  if (!user || user.emailVerified) return null;
  return h(
    "div",
    { class: "alert warning", role: "status" },
    h("p", { class: "alert-title" }, t("error.verifyFirst")),
    h("p", null, h("a", { href: "#/verify" }, t("auth.verifyLink"))),
  );
}

export async function homePage({ main, signal }: PageContext): Promise<void> {
  let elections: Election[];
  try {
    elections = await listAllElections(signal);
  } catch (error) {
    replace(main, h("h1", null, t("home.title")), errorBox(error));
    return;
  }
  const now = Date.now();
  const open = elections.filter((e) => e.status === ElectionStatus.OPEN);
  const upcoming = elections.filter((e) => e.status === ElectionStatus.DRAFT && (date(e.opensAt)?.getTime() ?? 0) > now);
  const closed = elections.filter((e) => e.status === ElectionStatus.CLOSED || e.status === ElectionStatus.ARCHIVED);
  // Which open elections the voter has already voted in, to say so on the card.
  const client = await api();
  const voted = new Set<string>();
  await Promise.all(
    open.map(async (e) => {
      const p = await client.voting.getMyParticipation({ electionId: e.electionId }, { signal }).catch(() => null);
      if (p?.voted) voted.add(e.electionId);
    }),
  );
  if (signal.aborted) return;
  replace(
    main,
    h("h1", null, t("home.title")),
    unverifiedBanner(),
    section(t("home.open"), open, t("home.noneOpen"), voted),
    section(t("home.upcoming"), upcoming, t("home.noneUpcoming"), voted),
    section(t("home.closed"), closed, t("home.noneClosed"), voted),
  );
}

function section(title: string, elections: Election[], empty: string, voted: Set<string>): HTMLElement {
  return h(
    "section",
    { class: "elections" },
    h("h2", null, title),
    elections.length === 0 ? h("p", null, empty) : h("ul", { class: "cards" }, elections.map((e) => card(e, voted.has(e.electionId)))),
  );
}

function card(e: Election, voted: boolean): HTMLElement {
  const open = e.status === ElectionStatus.OPEN;
  const resultsVisible = e.status !== ElectionStatus.DRAFT && (isLive(e) || !open);
  return h(
    "li",
    { class: "card", "data-election": e.electionId },
    h("h3", null, e.title),
    h(
      "p",
      { class: "meta" },
      h("span", { class: `badge status-${e.status}` }, statusLabel(e.status)),
      " ",
      e.questions.map((q) => methodLabel(q.method)).join(" · "),
    ),
    e.description ? h("p", null, e.description) : null,
    h(
      "p",
      { class: "dates" },
      open || e.status === ElectionStatus.DRAFT
        ? t("home.opensCloses", { opens: formatDate(date(e.opensAt)), closes: formatDate(date(e.closesAt)) })
        : t("home.closedAt", { closes: formatDate(date(e.closesAt)) }),
    ),
    voted ? h("p", { class: "voted" }, t("home.youVoted")) : null,
    h(
      "p",
      { class: "actions" },
      open && !voted ? h("a", { class: "button", href: `#/elections/${e.electionId}/vote` }, t("home.vote", { title: e.title })) : null,
      resultsVisible ? h("a", { class: "button secondary", href: `#/elections/${e.electionId}/results` }, t("home.results", { title: e.title })) : null,
    ),
  );
}
