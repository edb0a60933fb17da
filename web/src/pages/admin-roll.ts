// The voter roll: import from CSV with the per-row report, see and prune it, invite it and
// remind those who have not voted.

import { ElectionStatus, Eligibility, type ImportRollCsvResponse, type RollRowError } from "@votemesh/sdk";
import { field, h, scroller, uid } from "../dom";
import type { Ballot } from "../elections";
import { noticeBox } from "../errors";
import { t } from "../i18n";
import type { Act } from "./admin-election";

export interface RollData {
  count: bigint;
  entries: Array<{ email: string; weight: string }>;
}

function rowsTable(caption: string, rows: RollRowError[], kind: string): HTMLElement {
  return scroller(
    caption,
    h(
      "table",
      { "data-report": kind },
      h("caption", null, caption),
      h("thead", null, h("tr", null, h("th", { scope: "col" }, t("roll.row")), h("th", { scope: "col" }, t("roll.value")), h("th", { scope: "col" }, t("roll.reason")))),
      h("tbody", null, rows.map((r) => h("tr", null, h("td", null, String(r.row)), h("td", null, r.value), h("td", null, r.reason)))),
    ),
  );
}

/** The per-row report of an import. */
export function importReport(r: ImportRollCsvResponse): HTMLElement {
  return h(
    "div",
    { class: "import-report", "data-accepted": r.accepted },
    noticeBox(t("roll.accepted", { n: r.accepted }), r.errors.length ? "info" : "success"),
    r.errors.length ? rowsTable(t("roll.refused", { n: r.errors.length }), r.errors, "errors") : null,
    r.identifyingWeights.length ? [h("p", null, t("roll.identifyingHint")), rowsTable(t("roll.identifying", { n: r.identifyingWeights.length }), r.identifyingWeights, "identifying")] : null,
  );
}

export function rollSection(ballot: Ballot, roll: RollData, act: Act, flash: HTMLElement | null): HTMLElement {
  const { election } = ballot;
  const electionId = election.electionId;
  const draft = election.status === ElectionStatus.DRAFT;
  const open = election.status === ElectionStatus.OPEN;
  const csv = h("textarea", { rows: 6, id: "roll-csv", spellcheck: "false", placeholder: "email,weight\nada@example.org,1" });
  const file = h("input", { type: "file", accept: ".csv,text/csv,text/plain", id: "roll-file" });
  // Reading the chosen file fills the text area, so the admin sees what will be sent.
  file.addEventListener("change", async () => {
    const f = file.files?.[0];
    if (f) csv.value = await f.text();
  });
  const importForm = h(
    "form",
    { novalidate: true },
    field(t("roll.file"), file),
    field(t("roll.csv"), csv, t("roll.csvHint")),
    h("button", { type: "submit", id: "roll-import" }, t("roll.import")),
  );
  importForm.addEventListener("submit", (e) => {
    e.preventDefault();
    void act(async (client) => importReport(await client.elections.importRollCsv({ electionId, csv: csv.value })), "roll-import", "roll");
  });
  const round = h("input", { type: "number", min: 1, max: 1000, step: 1, value: "1", id: uid("round") });

  return h(
    "section",
    { class: "admin-section", "aria-labelledby": "roll-heading" },
    h("h2", { id: "roll-heading" }, t("roll.title")),
    election.eligibility !== Eligibility.ROLL ? h("p", { class: "hint" }, t("roll.notRollElection")) : null,
    h("p", { id: "roll-count", "data-count": String(roll.count) }, t("roll.count", { n: Number(roll.count) })),
    flash,
    election.status !== ElectionStatus.CLOSED && election.status !== ElectionStatus.ARCHIVED ? importForm : null,
    roll.entries.length
      ? h(
          "details",
          null,
          h("summary", null, t("roll.show", { n: roll.entries.length })),
          h(
            "ul",
            { class: "roll-list" },
            roll.entries.map((r) =>
              h(
                "li",
                null,
                r.email,
                r.weight && r.weight !== "1" ? ` · ${t("roll.weight", { weight: r.weight })}` : "",
                draft
                  ? h(
                      "button",
                      {
                        type: "button",
                        class: "small danger",
                        onclick: () =>
                          act(async (client) => {
                            await client.elections.removeRollEntry({ electionId, email: r.email });
                            return t("roll.removed", { email: r.email });
                          }, "roll-import", "roll"),
                      },
                      t("ballot.remove"),
                      h("span", { class: "sr-only" }, ` ${r.email}`),
                    )
                  : null,
              ),
            ),
          ),
        )
      : null,
    h("h3", null, t("roll.inviteTitle")),
    h("p", { class: "hint" }, t("roll.inviteHint")),
    h(
      "p",
      null,
      h(
        "button",
        {
          type: "button",
          id: "roll-invite",
          disabled: !(draft || open),
          onclick: () =>
            act(async (client) => {
              const r = await client.elections.inviteRoll({ electionId });
              return t("roll.invited", { n: Number(r.requested) });
            }, "roll-invite", "roll"),
        },
        t("roll.invite"),
      ),
    ),
    open
      ? h(
          "form",
          {
            class: "inline-form",
            novalidate: true,
            onsubmit: (e: Event) => {
              e.preventDefault();
              void act(async (client) => {
                const r = await client.elections.remindNonVoters({ electionId, round: Number(round.value) || 1 });
                return t("roll.reminded", { n: Number(r.requested), round: r.round });
              }, "roll-remind", "roll");
            },
          },
          field(t("roll.round"), round, t("roll.roundHint")),
          h("button", { type: "submit", id: "roll-remind" }, t("roll.remind")),
        )
      : null,
  );
}
