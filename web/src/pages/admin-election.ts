// One election for an admin: its settings, candidates, roll, invitations, and its lifecycle
// (open early, close, extend, archive). Every action reloads the page's data and shows its
// outcome beside the control that caused it, keeping keyboard focus there.

import { ElectionStatus, Eligibility, ResultsVisibility } from "@votemesh/sdk";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { api } from "../api";
import { announce, field, h, replace } from "../dom";
import { date, loadBallot, type Ballot } from "../elections";
import { errorBox, noticeBox } from "../errors";
import { formatDate, t } from "../i18n";
import { statusLabel } from "../labels";
import type { PageContext } from "../router";
import { toLocalInput } from "./admin-edit";
import { candidatesSection, type Client } from "./admin-candidates";
import { rollSection, type RollData } from "./admin-roll";

/** Runs an admin action; its message (or report) is shown in `section` after the reload. */
export type Act = (fn: (client: Client) => Promise<string | HTMLElement>, focusId?: string, section?: string) => Promise<void>;

export async function adminElectionPage({ main, params, signal }: PageContext): Promise<void> {
  const electionId = params[0];
  let flash: { section: string; node: HTMLElement } | null = null;

  const load = async (): Promise<[Ballot, RollData]> => {
    const client = await api();
    const [ballot, count, list] = await Promise.all([
      loadBallot(electionId, signal),
      client.elections.countRoll({ electionId }, { signal }),
      client.elections.listRoll({ electionId, pageSize: 1000 }, { signal }),
    ]);
    const entries = list.entries.length ? list.entries : list.emails.map((email) => ({ email, weight: "1" }));
    return [ballot, { count: count.count, entries }];
  };

  const act: Act = async (fn, focusId, section = "status") => {
    try {
      const out = await fn(await api());
      flash = { section, node: typeof out === "string" ? noticeBox(out) : out };
      announce(typeof out === "string" ? out : (out.textContent ?? ""));
    } catch (error) {
      flash = { section, node: errorBox(error) };
    }
    await draw();
    const target = (focusId && document.getElementById(focusId)) || null;
    if (target && !(target as HTMLButtonElement).disabled) target.focus();
    else (main.querySelector(".flash [role=alert], .flash [role=status]") as HTMLElement | null)?.focus();
  };

  const flashFor = (section: string) => (flash?.section === section ? h("div", { class: "flash" }, flash.node) : null);

  const draw = async () => {
    let ballot: Ballot;
    let roll: RollData;
    try {
      [ballot, roll] = await load();
    } catch (error) {
      replace(main, h("h1", null, t("admin.election")), errorBox(error));
      return;
    }
    if (signal.aborted) return;
    // Focusable alerts: the act() fallback moves focus there.
    flash?.node.setAttribute("tabindex", "-1");
    const e = ballot.election;
    replace(
      main,
      h("h1", null, e.title, " ", h("span", { class: `badge status-${e.status}`, id: "election-status" }, statusLabel(e.status))),
      h("p", null, h("a", { href: "#/admin" }, t("admin.back"))),
      h(
        "dl",
        { class: "summary-list" },
        h("dt", null, t("edit.opensAt")),
        h("dd", null, formatDate(date(e.opensAt))),
        h("dt", null, t("edit.closesAt")),
        h("dd", null, formatDate(date(e.closesAt))),
        h("dt", null, t("edit.visibility")),
        h("dd", null, e.resultsVisibility === ResultsVisibility.LIVE ? t("edit.visibilityLive") : t("edit.visibilityAfterClose")),
        h("dt", null, t("edit.eligibility")),
        h("dd", null, e.eligibility === Eligibility.ROLL ? t("edit.eligibilityRoll") : t("edit.eligibilityAll")),
      ),
      h(
        "p",
        { class: "actions" },
        e.status === ElectionStatus.DRAFT ? h("a", { class: "button secondary", href: `#/admin/elections/${electionId}/edit` }, t("admin.edit")) : null,
        h("a", { class: "button secondary", href: `#/admin/elections/${electionId}/results` }, t("admin.results")),
        h("a", { class: "button secondary", href: `#/admin/deliveries?election=${electionId}` }, t("nav.deliveries")),
      ),
      statusSection(ballot, act, flashFor("status")),
      candidatesSection(ballot, act, flashFor("candidates")),
      rollSection(ballot, roll, act, flashFor("roll")),
    );
  };
  await draw();
}

function statusSection(ballot: Ballot, act: Act, flash: HTMLElement | null): HTMLElement {
  const e = ballot.election;
  const electionId = e.electionId;
  const transition = (target: ElectionStatus, message: string, focusId: string, acknowledge = false) =>
    act(async (client) => {
      await client.elections.transitionElection({ electionId, target, expectedVersion: e.version, acknowledgeIdentifyingWeights: acknowledge });
      return message;
    }, focusId);
  const controls: Array<HTMLElement | null> = [];
  if (e.status === ElectionStatus.DRAFT) {
    const ack = h("input", { type: "checkbox", id: "ack-weights" });
    controls.push(
      h("p", { class: "hint" }, t("status.openHint")),
      h("div", { class: "choice" }, ack, h("label", { for: "ack-weights" }, t("status.acknowledge"))),
      h("button", { type: "button", id: "open-now", onclick: () => transition(ElectionStatus.OPEN, t("status.opened"), "close-now", ack.checked) }, t("status.openNow")),
    );
  }
  if (e.status === ElectionStatus.OPEN) {
    const closes = h("input", { type: "datetime-local", id: "extend-to", value: toLocalInput(new Date((date(e.closesAt)?.getTime() ?? Date.now()) + 86400_000)) });
    const extend = h("form", { class: "inline-form", novalidate: true }, field(t("status.extendTo"), closes), h("button", { type: "submit", id: "extend" }, t("status.extend")));
    extend.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void act(async (client) => {
        const r = await client.elections.extendElection({ electionId, closesAt: timestampFromDate(new Date(closes.value)), expectedVersion: e.version });
        return t("status.extended", { when: formatDate(date(r.election?.closesAt)) });
      }, "extend");
    });
    controls.push(
      h("button", { type: "button", id: "close-now", class: "danger", onclick: () => transition(ElectionStatus.CLOSED, t("status.closedMsg"), "archive-now") }, t("status.closeNow")),
      extend,
    );
  }
  if (e.status === ElectionStatus.CLOSED) {
    controls.push(h("button", { type: "button", id: "archive-now", class: "secondary", onclick: () => transition(ElectionStatus.ARCHIVED, t("status.archivedMsg"), "election-status") }, t("status.archive")));
  }
  return h(
    "section",
    { class: "admin-section", "aria-labelledby": "status-heading" },
    h("h2", { id: "status-heading" }, t("status.title")),
    flash,
    controls.length ? h("div", { class: "status-controls" }, controls) : h("p", null, t("status.nothing")),
  );
}
