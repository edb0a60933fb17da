// Create an election, or edit a DRAFT one: its settings and its questions (method, seats,
// choices, scores, abstention). Candidates are managed on the election's page.

import {
  BallotExport,
  BallotMethod,
  ElectionStatus,
  Eligibility,
  ResultsVisibility,
  type Election,
  type Question,
} from "@votemesh/sdk";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { api } from "../api";
import { field, h, replace, uid } from "../dom";
import { date } from "../elections";
import { errorBox, noticeBox } from "../errors";
import { t } from "../i18n";
import { METHOD_VALUES, methodLabel } from "../labels";
import { navigate, type PageContext } from "../router";
import { form } from "./auth";

/** A Date as a datetime-local value, in local time. */
export function toLocalInput(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function select(options: Array<[number, string]>, value: number): HTMLSelectElement {
  return h("select", null, options.map(([v, label]) => h("option", { value: String(v), selected: v === value }, label)));
}

function number(value: number, min: number, max: number): HTMLInputElement {
  return h("input", { type: "number", min, max, step: 1, value: String(value), inputmode: "numeric" });
}

/** A question as edited: the message's fields, without protobuf-es's bookkeeping. */
type QuestionDraft = Partial<Omit<Question, "$typeName" | "$unknown">>;

interface QuestionEditor {
  element: HTMLElement;
  read(): QuestionDraft;
}

function questionEditor(q: QuestionDraft, index: number, onRemove: (() => void) | null): QuestionEditor {
  const title = h("input", { type: "text", maxlength: 200, value: q.title ?? "" });
  const description = h("textarea", { rows: 2, maxlength: 2000 }, q.description ?? "");
  const method = select(METHOD_VALUES.map((m) => [m, methodLabel(m)]), q.method ?? BallotMethod.PLURALITY);
  const maxChoices = number(q.maxChoices ?? 0, 0, 1000);
  const seats = number(q.seats || 1, 1, 100);
  const maxScore = number(q.maxScore || 10, 1, 100);
  const abstain = h("input", { type: "checkbox", id: uid("c"), checked: q.allowAbstain ?? false });
  const choicesField = field(t("edit.maxChoices"), maxChoices, t("edit.maxChoicesHint"));
  const seatsField = field(t("edit.seats"), seats);
  const scoreField = field(t("edit.maxScore"), maxScore);
  // Show only the settings the chosen method uses.
  const sync = () => {
    const m = Number(method.value) as BallotMethod;
    choicesField.hidden = m === BallotMethod.PLURALITY || m === BallotMethod.SCORE;
    seatsField.hidden = m !== BallotMethod.STV;
    scoreField.hidden = m !== BallotMethod.SCORE;
  };
  method.addEventListener("change", sync);
  sync();
  const element = h(
    "fieldset",
    { class: "question-editor", "data-index": index },
    h("legend", null, t("edit.question", { n: index + 1 })),
    field(index === 0 ? t("edit.questionTitleFirst") : t("edit.questionTitle"), title),
    field(t("edit.description"), description),
    field(t("edit.method"), method),
    choicesField,
    seatsField,
    scoreField,
    h("div", { class: "choice" }, abstain, h("label", { for: abstain.id }, t("edit.allowAbstain"))),
    onRemove ? h("button", { type: "button", class: "secondary small", onclick: onRemove }, t("edit.removeQuestion", { n: index + 1 })) : null,
  );
  return {
    element,
    read: () => {
      const m = Number(method.value) as BallotMethod;
      return {
        questionId: q.questionId ?? "",
        title: title.value.trim(),
        description: description.value.trim(),
        method: m,
        maxChoices: m === BallotMethod.PLURALITY ? 1 : m === BallotMethod.SCORE ? 0 : Number(maxChoices.value) || 0,
        seats: m === BallotMethod.STV ? Number(seats.value) || 1 : 1,
        maxScore: m === BallotMethod.SCORE ? Number(maxScore.value) || 10 : 0,
        allowAbstain: abstain.checked,
      };
    },
  };
}

export async function electionEditPage({ main, params, signal }: PageContext): Promise<void> {
  const electionId = params[0];
  let existing: Election | undefined;
  if (electionId) {
    try {
      existing = (await (await api()).elections.getElection({ electionId }, { signal })).election;
    } catch (error) {
      replace(main, h("h1", null, t("edit.editTitle")), errorBox(error));
      return;
    }
    if (existing && existing.status !== ElectionStatus.DRAFT) {
      replace(main, h("h1", null, t("edit.editTitle")), noticeBox(t("edit.onlyDraft"), "info"), h("p", null, h("a", { href: `#/admin/elections/${electionId}` }, t("admin.back"))));
      return;
    }
  }
  if (signal.aborted) return;
  const now = Date.now();
  const title = h("input", { type: "text", required: true, maxlength: 200, value: existing?.title ?? "" });
  const description = h("textarea", { rows: 3, maxlength: 5000 }, existing?.description ?? "");
  const opens = h("input", { type: "datetime-local", required: true, value: toLocalInput(date(existing?.opensAt) ?? new Date(now + 3600_000)) });
  const closes = h("input", { type: "datetime-local", required: true, value: toLocalInput(date(existing?.closesAt) ?? new Date(now + 7 * 86400_000)) });
  const visibility = select([[ResultsVisibility.LIVE, t("edit.visibilityLive")], [ResultsVisibility.AFTER_CLOSE, t("edit.visibilityAfterClose")]], existing?.resultsVisibility || ResultsVisibility.AFTER_CLOSE);
  const eligibility = select([[Eligibility.ALL_VOTERS, t("edit.eligibilityAll")], [Eligibility.ROLL, t("edit.eligibilityRoll")]], existing?.eligibility || Eligibility.ALL_VOTERS);
  const ballotExport = select([[BallotExport.ADMINS, t("edit.exportAdmins")], [BallotExport.PUBLIC, t("edit.exportPublic")]], existing?.ballotExport || BallotExport.ADMINS);
  const remindHours = number(Number(existing?.remindBeforeClose?.seconds ?? 0n) / 3600, 0, 8760);

  const questions: QuestionDraft[] = existing?.questions.map((q) => ({ ...q })) ?? [{ method: BallotMethod.PLURALITY }];
  let editors: QuestionEditor[] = [];
  const list = h("div", { class: "questions" });
  const drawQuestions = (focusLast = false) => {
    // Keep what was typed before redrawing.
    editors.forEach((e, i) => (questions[i] = { ...questions[i], ...e.read() }));
    editors = questions.map((q, i) =>
      questionEditor(q, i, i === 0 ? null : () => {
        editors.forEach((e, j) => (questions[j] = { ...questions[j], ...e.read() }));
        questions.splice(i, 1);
        editors = editors.filter((_, j) => j !== i);
        drawQuestions();
        addButton.focus();
      }),
    );
    replace(list, editors.map((e) => e.element));
    if (focusLast) editors[editors.length - 1].element.querySelector("input")?.focus();
  };
  const addButton = h("button", { type: "button", class: "secondary", onclick: () => { editors.forEach((e, i) => (questions[i] = { ...questions[i], ...e.read() })); questions.push({ method: BallotMethod.PLURALITY }); editors = []; drawQuestions(true); } }, t("edit.addQuestion"));
  drawQuestions();

  const save = async () => {
    const qs = editors.map((e) => e.read());
    const common = {
      title: title.value.trim(),
      description: description.value.trim(),
      opensAt: timestampFromDate(new Date(opens.value)),
      closesAt: timestampFromDate(new Date(closes.value)),
      resultsVisibility: Number(visibility.value) as ResultsVisibility,
      eligibility: Number(eligibility.value) as Eligibility,
      ballotExport: Number(ballotExport.value) as BallotExport,
      // Zero turns reminders off on an edit; on a create it is simply left out.
      remindBeforeClose:
        Number(remindHours.value) > 0 || existing ? { seconds: BigInt(Math.round(Number(remindHours.value) * 3600)), nanos: 0 } : undefined,
    };
    const client = await api();
    if (existing) {
      await client.elections.updateElection({ electionId: existing.electionId, expectedVersion: existing.version, ...common, questions: { questions: qs } });
      navigate(`/admin/elections/${existing.electionId}`);
    } else {
      const r = await client.elections.createElection({ election: { ...common, method: qs[0].method, maxChoices: qs[0].maxChoices, questions: qs } });
      navigate(`/admin/elections/${r.election?.electionId}`);
    }
  };

  replace(
    main,
    h("h1", null, existing ? t("edit.editTitle") : t("edit.newTitle")),
    form(existing ? t("edit.save") : t("edit.create"), [
      field(t("edit.title"), title),
      field(t("edit.description"), description),
      h("div", { class: "row" }, field(t("edit.opensAt"), opens, t("edit.opensHint")), field(t("edit.closesAt"), closes)),
      field(t("edit.visibility"), visibility),
      field(t("edit.eligibility"), eligibility),
      field(t("edit.ballotExport"), ballotExport),
      field(t("edit.remindHours"), remindHours, t("edit.remindHint")),
      h("h2", null, t("edit.questions")),
      list,
      h("p", null, addButton),
    ], save),
    existing ? h("p", null, h("a", { href: `#/admin/elections/${existing.electionId}` }, t("admin.back"))) : null,
  );
}
