// The candidates of each question: add, remove and reorder them while the election is DRAFT.

import { ElectionStatus, type Candidate } from "@votemesh/sdk";
import { api } from "../api";
import { field, h } from "../dom";
import { candidatesOf, questionTitle, type Ballot } from "../elections";
import { t } from "../i18n";
import { methodLabel } from "../labels";
import type { Act } from "./admin-election";

export function candidatesSection(ballot: Ballot, act: Act, flash: HTMLElement | null): HTMLElement {
  const { election } = ballot;
  const draft = election.status === ElectionStatus.DRAFT;
  const electionId = election.electionId;

  /** Every candidate of the election in ballot order, with one question's list replaced. */
  const fullOrder = (questionId: string, reordered: Candidate[]) =>
    election.questions.flatMap((q) => (q.questionId === questionId ? reordered : candidatesOf(ballot, q))).map((c) => c.candidateId);

  return h(
    "section",
    { class: "admin-section", "aria-labelledby": "candidates-heading" },
    h("h2", { id: "candidates-heading" }, t("cand.title")),
    draft ? null : h("p", { class: "hint" }, t("cand.frozen")),
    flash,
    election.questions.map((q, qi) => {
      const list = candidatesOf(ballot, q);
      const qTitle = questionTitle(election, q);
      const move = (i: number, delta: number) => {
        const next = [...list];
        const [c] = next.splice(i, 1);
        next.splice(i + delta, 0, c);
        return act(
          async (client) => {
            await client.elections.reorderCandidates({ electionId, candidateIds: fullOrder(q.questionId, next), expectedVersion: election.version });
            return t("cand.moved", { name: c.name, n: i + delta + 1 });
          },
          `cand-${c.candidateId}-${delta < 0 ? "up" : "down"}`,
          "candidates",
        );
      };
      const name = h("input", { type: "text", required: true, maxlength: 200, id: `cand-name-${qi}` });
      const party = h("input", { type: "text", maxlength: 200, id: `cand-party-${qi}` });
      const add = h("form", { class: "inline-form", novalidate: true }, field(t("cand.name"), name), field(t("cand.party"), party), h("button", { type: "submit", id: `cand-add-${qi}` }, t("cand.add", { title: qTitle })));
      add.addEventListener("submit", (e) => {
        e.preventDefault();
        void act(async (client) => {
          await client.elections.addCandidate({
            electionId,
            candidate: { name: name.value.trim(), party: party.value.trim(), questionId: q.questionId },
            expectedVersion: election.version,
          });
          return t("cand.added", { name: name.value.trim() });
        }, `cand-name-${qi}`, "candidates");
      });
      return h(
        "div",
        { class: "question-candidates", "data-question": q.questionId },
        h("h3", null, t("ballot.questionOf", { i: qi + 1, n: election.questions.length }), " ", qTitle, h("span", { class: "meta" }, ` · ${methodLabel(q.method)}`)),
        list.length === 0
          ? h("p", null, t("cand.none"))
          : h(
              "ol",
              { class: "candidate-list" },
              list.map((c, i) =>
                h(
                  "li",
                  { "data-candidate": c.candidateId },
                  h("span", { class: "position" }, `${i + 1}.`),
                  h("span", { class: "name" }, c.name),
                  c.party ? h("span", { class: "party" }, ` (${c.party})`) : null,
                  draft
                    ? h(
                        "span",
                        { class: "item-actions" },
                        h("button", { type: "button", class: "small", id: `cand-${c.candidateId}-up`, disabled: i === 0, onclick: () => move(i, -1) }, t("ballot.moveUp"), h("span", { class: "sr-only" }, ` ${c.name}`)),
                        h("button", { type: "button", class: "small", id: `cand-${c.candidateId}-down`, disabled: i === list.length - 1, onclick: () => move(i, 1) }, t("ballot.moveDown"), h("span", { class: "sr-only" }, ` ${c.name}`)),
                        h(
                          "button",
                          {
                            type: "button",
                            class: "small danger",
                            onclick: () =>
                              act(async (client) => {
                                await client.elections.removeCandidate({ electionId, candidateId: c.candidateId, expectedVersion: election.version });
                                return t("cand.removed", { name: c.name });
                              }, `cand-name-${qi}`, "candidates"),
                          },
                          t("ballot.remove"),
                          h("span", { class: "sr-only" }, ` ${c.name}`),
                        ),
                      )
                    : null,
                ),
              ),
            ),
        draft ? add : null,
      );
    }),
  );
}

export type Client = Awaited<ReturnType<typeof api>>;
