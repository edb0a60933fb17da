// One question of a ballot as form controls, by method: radio buttons (plurality), checkboxes
// with the limit enforced (approval), a ranking (ranked methods) or sliders (score).

import { BallotMethod, type Candidate, type Question } from "@votemesh/sdk";
import { announce, h, uid, type Child } from "../dom";
import { t } from "../i18n";
import { isRanking, methodLabel } from "../labels";
import { ranking } from "./ranking";

export interface AnswerDraft {
  questionId: string;
  candidateIds: string[];
  scores: number[];
  abstain: boolean;
}

export interface QuestionInput {
  element: HTMLElement;
  /** The answer, or a translated reason it cannot be cast yet. */
  read(): { answer: AnswerDraft } | { error: string };
}

function candidateLabel(c: Candidate): Child[] {
  return [h("span", { class: "name" }, c.name), c.party ? h("span", { class: "party" }, ` (${c.party})`) : null];
}

export function questionInput(question: Question, title: string, index: number, count: number, candidates: Candidate[]): QuestionInput {
  const hintId = uid("hint");
  const base = { questionId: question.questionId, candidateIds: [] as string[], scores: [] as number[], abstain: false };
  const abstainOk = question.allowAbstain;
  let body: HTMLElement;
  let read: QuestionInput["read"];
  let hint = methodHint(question, candidates.length);

  if (question.method === BallotMethod.PLURALITY) {
    const name = uid("q");
    const options = candidates.map((c) => ({ id: c.candidateId, label: candidateLabel(c) }));
    if (abstainOk) options.push({ id: "", label: [t("ballot.abstain")] });
    body = h(
      "div",
      { class: "choices" },
      options.map((o) => {
        const id = uid("c");
        return h("div", { class: "choice" }, h("input", { type: "radio", name, id, value: o.id }), h("label", { for: id }, o.label));
      }),
    );
    read = () => {
      const chosen = body.querySelector<HTMLInputElement>("input:checked");
      if (!chosen) return { error: t("ballot.chooseOne", { title }) };
      return { answer: chosen.value ? { ...base, candidateIds: [chosen.value] } : { ...base, abstain: true } };
    };
  } else if (question.method === BallotMethod.APPROVAL) {
    const max = question.maxChoices > 0 ? question.maxChoices : candidates.length;
    const status = h("p", { class: "limit", "aria-live": "polite" });
    const boxes = candidates.map((c) => h("input", { type: "checkbox", value: c.candidateId, id: uid("c") }));
    // Enforce the limit: once it is reached the unchecked boxes are disabled, and said so.
    const enforce = () => {
      const checked = boxes.filter((b) => b.checked).length;
      for (const b of boxes) b.disabled = !b.checked && checked >= max;
      status.textContent = checked >= max && max < candidates.length ? t("ballot.limitReached", { n: max }) : "";
      if (status.textContent) announce(status.textContent);
    };
    boxes.forEach((b) => b.addEventListener("change", enforce));
    body = h(
      "div",
      { class: "choices" },
      boxes.map((b, i) => h("div", { class: "choice" }, b, h("label", { for: b.id }, candidateLabel(candidates[i])))),
      status,
    );
    read = () => {
      const ids = boxes.filter((b) => b.checked).map((b) => b.value);
      if (ids.length === 0) return abstainOk ? { answer: { ...base, abstain: true } } : { error: t("ballot.chooseAtLeastOne", { title }) };
      return { answer: { ...base, candidateIds: ids } };
    };
  } else if (isRanking(question.method)) {
    const r = ranking(candidates, question.maxChoices, hintId);
    body = r.element;
    read = () => {
      const ids = r.order();
      if (ids.length === 0) return abstainOk ? { answer: { ...base, abstain: true } } : { error: t("ballot.rankAtLeastOne", { title }) };
      return { answer: { ...base, candidateIds: ids } };
    };
  } else if (question.method === BallotMethod.SCORE) {
    const max = question.maxScore || 10;
    const sliders = candidates.map((c) => {
      const input = h("input", { type: "range", min: 0, max, step: 1, value: "0", id: uid("s") });
      const out = h("output", { for: input.id, class: "score" }, "0");
      input.addEventListener("input", () => (out.textContent = input.value));
      return { c, input, out };
    });
    const abstain = abstainOk ? h("input", { type: "checkbox", id: uid("c") }) : null;
    abstain?.addEventListener("change", () => sliders.forEach((s) => (s.input.disabled = abstain.checked)));
    body = h(
      "div",
      { class: "scores" },
      sliders.map((s) => h("div", { class: "score-row" }, h("label", { for: s.input.id }, candidateLabel(s.c)), s.input, s.out)),
      abstain ? h("div", { class: "choice" }, abstain, h("label", { for: abstain.id }, t("ballot.abstain"))) : null,
    );
    read = () => {
      if (abstain?.checked) return { answer: { ...base, abstain: true } };
      return { answer: { ...base, candidateIds: sliders.map((s) => s.c.candidateId), scores: sliders.map((s) => Number(s.input.value)) } };
    };
  } else {
    body = h("p", null, t("ballot.unsupported"));
    read = () => ({ error: t("ballot.unsupported") });
    hint = "";
  }

  const element = h(
    "fieldset",
    { class: "question", "data-question": question.questionId, "aria-describedby": hintId },
    h("legend", null, h("span", { class: "qnum" }, t("ballot.questionOf", { i: index + 1, n: count })), " ", title),
    question.description ? h("p", { class: "qdesc" }, question.description) : null,
    h("p", { class: "hint", id: hintId }, hint, abstainOk && question.method !== BallotMethod.PLURALITY && question.method !== BallotMethod.SCORE ? ` ${t("ballot.blankAbstains")}` : ""),
    body,
  );
  return { element, read };
}

/** How to fill in a question, in one sentence. */
function methodHint(q: Question, candidates: number): string {
  const max = q.maxChoices > 0 ? Math.min(q.maxChoices, candidates) : candidates;
  switch (q.method) {
    case BallotMethod.PLURALITY:
      return t("ballot.hintPlurality");
    case BallotMethod.APPROVAL:
      return t("ballot.hintApproval", { n: max });
    case BallotMethod.SCORE:
      return t("ballot.hintScore", { n: q.maxScore || 10 });
    case BallotMethod.STV:
      return `${t("ballot.hintRanking", { n: max })} ${t("ballot.hintSeats", { n: q.seats || 1 })}`;
    default:
      return `${t("ballot.hintRanking", { n: max })} ${t("ballot.countedBy", { method: methodLabel(q.method) })}`;
  }
}
