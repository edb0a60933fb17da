// Live results: a first snapshot from GetResults, then every new one from WatchResults,
// redrawn in place without a reload. The stream is reopened if it drops.

import { Code, ConnectError, ElectionStatus, type GetResultsResponse } from "@votemesh/sdk";
import { api } from "../api";
import { announce, h, replace } from "../dom";
import { isLive, isOpen, loadBallot, type Ballot } from "../elections";
import { errorBox } from "../errors";
import { t } from "../i18n";
import type { PageContext } from "../router";
import { resultsView } from "../widgets/results-view";

export async function resultsPage(ctx: PageContext): Promise<void> {
  const { main, params, signal } = ctx;
  let ballot: Ballot;
  try {
    ballot = await loadBallot(params[0], signal);
  } catch (error) {
    replace(main, h("h1", null, t("results.title")), errorBox(error));
    return;
  }
  replace(main, h("h1", null, t("results.titleOf", { title: ballot.election.title })), liveResults(ballot, signal));
}

/** The results block, kept current while `signal` is not aborted. */
export function liveResults(ballot: Ballot, signal: AbortSignal): HTMLElement {
  const electionId = ballot.election.electionId;
  const open = isOpen(ballot.election);
  // Closed elections are watched too: the mix releases its last sealed ballots at the close,
  // so the count can still move for a moment after it.
  const live = open || ballot.election.status === ElectionStatus.CLOSED;
  const state = h("p", { class: "live-state", role: "status" }, open ? t("results.connecting") : t("results.final"));
  const body = h("div", { class: "results-body" });
  let total: bigint | null = null;

  const draw = (results: GetResultsResponse | undefined) => {
    if (!results || signal.aborted) return;
    // Keep keyboard focus on the same table across redraws.
    const focused = document.activeElement?.getAttribute("aria-label");
    replace(body, resultsView(results, ballot));
    if (focused) body.querySelector<HTMLElement>(`[aria-label="${CSS.escape(focused)}"]`)?.focus();
    if (total !== null && total !== results.totalBallots) announce(t("results.updated", { n: Number(results.totalBallots) }));
    total = results.totalBallots;
  };

  const notVisible = (error: unknown) =>
    error instanceof ConnectError && (error.code === Code.PermissionDenied || error.code === Code.FailedPrecondition);

  const run = async () => {
    try {
      draw(await (await api()).results.getResults({ electionId }, { signal }));
    } catch (error) {
      if (signal.aborted) return;
      replace(body, notVisible(error) && !isLive(ballot.election) ? h("p", { class: "alert info" }, t("results.afterClose")) : errorBox(error));
      replace(state);
      return;
    }
    if (!live) return;
    let failures = 0;
    while (!signal.aborted) {
      try {
        const stream = (await api()).results.watchResults({ electionId }, { signal });
        if (open) {
          state.textContent = t("results.live");
          state.classList.add("on");
        }
        for await (const message of stream) {
          failures = 0;
          draw(message.results);
        }
      } catch (error) {
        if (signal.aborted) return;
        if (notVisible(error)) {
          replace(body, errorBox(error));
          return;
        }
        failures += 1;
      }
      // The stream ended or dropped: say so and reopen it, backing off up to ten seconds.
      if (open) {
        state.textContent = t("results.reconnecting");
        state.classList.remove("on");
      }
      await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** failures)));
    }
  };
  void run();
  return h("div", { class: "live-results" }, state, body);
}
