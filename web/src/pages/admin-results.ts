// Results for an admin: the live view plus audit, recount and the exports (results as JSON or
// CSV; ballots per question as ABIF or BLT, after the close).

import { BallotExportFormat, ElectionStatus, ResultsExportFormat } from "@votemesh/sdk";
import { api } from "../api";
import { download, field, h, replace } from "../dom";
import { loadBallot, questionTitle, type Ballot } from "../elections";
import { errorBox, noticeBox } from "../errors";
import { t } from "../i18n";
import type { PageContext } from "../router";
import { liveResults } from "./results";

export async function adminResultsPage({ main, params, signal }: PageContext): Promise<void> {
  let ballot: Ballot;
  try {
    ballot = await loadBallot(params[0], signal);
  } catch (error) {
    replace(main, h("h1", null, t("results.title")), errorBox(error));
    return;
  }
  if (signal.aborted) return;
  replace(
    main,
    h("h1", null, t("results.titleOf", { title: ballot.election.title })),
    h("p", null, h("a", { href: `#/admin/elections/${ballot.election.electionId}` }, t("admin.back"))),
    checks(ballot),
    exports(ballot),
    h("h2", null, t("results.current")),
    liveResults(ballot, signal),
  );
}

/** A button whose outcome (or error) appears in `out`. */
function action(label: string, id: string, out: HTMLElement, run: () => Promise<HTMLElement>): HTMLButtonElement {
  const button = h("button", { type: "button", id, class: "secondary" }, label);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      replace(out, await run());
    } catch (error) {
      replace(out, errorBox(error));
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

function checks(ballot: Ballot): HTMLElement {
  const electionId = ballot.election.electionId;
  const out = h("div", { class: "check-result", "aria-live": "polite" });
  return h(
    "section",
    { class: "admin-section", "aria-labelledby": "checks-heading" },
    h("h2", { id: "checks-heading" }, t("audit.title")),
    h("p", { class: "hint" }, t("audit.hint")),
    h(
      "p",
      { class: "actions" },
      action(t("audit.audit"), "audit", out, async () => {
        const r = await (await api()).results.audit({ electionId });
        return h(
          "div",
          { class: `alert ${r.matches ? "success" : "error"}`, "data-audit": r.matches ? "match" : "mismatch" },
          h("p", { class: "alert-title" }, r.matches ? t("audit.matches") : t("audit.differs")),
          h("p", null, t("audit.counts", { recorded: Number(r.recorded), counted: Number(r.counted), sealed: Number(r.sealed) })),
        );
      }),
      action(t("audit.recount"), "recount", out, async () => {
        const r = await (await api()).results.recount({ electionId });
        return h(
          "div",
          { class: `alert ${r.matches ? "success" : "error"}`, "data-recount": r.matches ? "match" : "mismatch" },
          h("p", { class: "alert-title" }, r.matches ? t("audit.recountMatches") : t("audit.recountDiffers")),
          r.differences.length ? h("ul", null, r.differences.map((d) => h("li", null, d))) : null,
        );
      }),
    ),
    out,
  );
}

function exports(ballot: Ballot): HTMLElement {
  const { election } = ballot;
  const electionId = election.electionId;
  const out = h("div", { "aria-live": "polite" });
  const saved = (file: string) => noticeBox(t("export.saved", { file }));
  const closed = election.status === ElectionStatus.CLOSED || election.status === ElectionStatus.ARCHIVED;
  const question = h(
    "select",
    { id: "export-question" },
    election.questions.map((q, i) => h("option", { value: i === 0 ? "" : q.questionId }, questionTitle(election, q))),
  );
  const resultsExport = (format: ResultsExportFormat, label: string, id: string) =>
    action(label, id, out, async () => {
      const r = await (await api()).results.exportResults({ electionId, format });
      download(r.fileName, r.mediaType, r.content);
      return saved(r.fileName);
    });
  const ballotsExport = (format: BallotExportFormat, label: string, id: string) =>
    action(label, id, out, async () => {
      const r = await (await api()).results.exportBallots({ electionId, format, questionId: question.value });
      download(r.fileName, r.mediaType, r.content);
      return saved(r.fileName);
    });
  return h(
    "section",
    { class: "admin-section", "aria-labelledby": "exports-heading" },
    h("h2", { id: "exports-heading" }, t("export.title")),
    h(
      "p",
      { class: "actions" },
      resultsExport(ResultsExportFormat.JSON, t("export.resultsJson"), "export-json"),
      resultsExport(ResultsExportFormat.CSV, t("export.resultsCsv"), "export-csv"),
    ),
    h("h3", null, t("export.ballots")),
    closed
      ? [
          field(t("export.question"), question),
          h(
            "p",
            { class: "actions" },
            ballotsExport(BallotExportFormat.ABIF, t("export.abif"), "export-abif"),
            ballotsExport(BallotExportFormat.BLT, t("export.blt"), "export-blt"),
          ),
        ]
      : h("p", { class: "hint" }, t("export.afterClose")),
    out,
  );
}
