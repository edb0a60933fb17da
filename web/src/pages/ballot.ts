// The ballot: every question of an election on one form, cast once, then the receipt.

import { Code, ElectionStatus } from "@votemesh/sdk";
import { api } from "../api";
import { announce, h, replace } from "../dom";
import { candidatesOf, date, isLive, loadBallot, questionTitle } from "../elections";
import { errorBox, noticeBox } from "../errors";
import { formatDate, t } from "../i18n";
import type { PageContext } from "../router";
import { questionInput, type AnswerDraft } from "../widgets/question";
import { unverifiedBanner } from "./home";

export async function ballotPage({ main, params, signal }: PageContext): Promise<void> {
  const [electionId] = params;
  let ballot;
  let participation;
  try {
    ballot = await loadBallot(electionId, signal);
    participation = await (await api()).voting.getMyParticipation({ electionId }, { signal });
  } catch (error) {
    replace(main, h("h1", null, t("ballot.title")), errorBox(error));
    return;
  }
  if (signal.aborted) return;
  const { election } = ballot;
  const heading = h("h1", null, t("ballot.titleOf", { title: election.title }));
  const resultsLink = isLive(election)
    ? h("p", null, h("a", { href: `#/elections/${electionId}/results` }, t("ballot.seeResults")))
    : null;

  if (participation.voted) {
    replace(
      main,
      heading,
      h(
        "div",
        { class: "alert info already-voted", role: "status" },
        h("p", { class: "alert-title" }, t("ballot.alreadyVoted")),
        h("p", null, t("ballot.votedAt", { when: formatDate(date(participation.castAt)) })),
      ),
      h("p", null, h("a", { href: "#/receipt" }, t("receipt.checkLink"))),
      resultsLink,
    );
    return;
  }
  if (election.status !== ElectionStatus.OPEN) {
    replace(main, heading, noticeBox(t("ballot.notOpen"), "info"), resultsLink);
    return;
  }

  const inputs = election.questions.map((q, i) =>
    questionInput(q, questionTitle(election, q), i, election.questions.length, candidatesOf(ballot, q)),
  );
  const status = h("div", { class: "form-status" });
  const submit = h("button", { type: "submit", class: "primary cast" }, t("ballot.cast"));
  const form = h(
    "form",
    { novalidate: true, "aria-labelledby": "ballot-heading" },
    inputs.map((i) => i.element),
    h("p", { class: "hint" }, t("ballot.final")),
    status,
    h("div", { class: "actions" }, submit),
  );
  heading.id = "ballot-heading";

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(status);
    const answers: AnswerDraft[] = [];
    const problems: string[] = [];
    for (const input of inputs) {
      const r = input.read();
      if ("error" in r) problems.push(r.error);
      else answers.push(r.answer);
    }
    if (problems.length > 0) {
      replace(status, h("div", { class: "alert error", role: "alert", tabindex: -1 }, h("p", { class: "alert-title" }, t("ballot.incomplete")), h("ul", null, problems.map((p) => h("li", null, p)))));
      (status.firstElementChild as HTMLElement).focus();
      return;
    }
    submit.disabled = true;
    try {
      const receipt = await (await api()).voting.castBallot({ electionId, answers });
      showReceipt(main, election.title, receipt.receiptCode, resultsLink);
    } catch (error) {
      replace(status, errorBox(error, { [Code.AlreadyExists]: "ballot.alreadyVoted", [Code.PermissionDenied]: "ballot.notEligible" }));
      const alert = status.firstElementChild as HTMLElement;
      alert.tabIndex = -1;
      alert.focus();
      submit.disabled = false;
    }
  });

  replace(
    main,
    heading,
    election.description ? h("p", { class: "lead" }, election.description) : null,
    h("p", { class: "dates" }, t("home.opensCloses", { opens: formatDate(date(election.opensAt)), closes: formatDate(date(election.closesAt)) })),
    unverifiedBanner(),
    form,
  );
}

/** The receipt, shown prominently with a copy button and the way to check it. */
export function showReceipt(main: HTMLElement, title: string, code: string, resultsLink: HTMLElement | null): void {
  const copied = h("span", { class: "copied", role: "status" });
  const codeEl = h("code", { id: "receipt-code", class: "receipt-code" }, code);
  const copy = h(
    "button",
    {
      type: "button",
      class: "secondary",
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(code);
        } catch {
          // Without clipboard permission, select the code so the user can copy it themselves.
          const range = document.createRange();
          range.selectNodeContents(codeEl);
          getSelection()?.removeAllRanges();
          getSelection()?.addRange(range);
          document.execCommand?.("copy");
        }
        copied.textContent = t("receipt.copied");
      },
    },
    t("receipt.copy"),
  );
  replace(
    main,
    h("h1", null, t("receipt.castTitle")),
    h("p", { class: "lead" }, t("receipt.castIntro", { title })),
    h(
      "section",
      { class: "receipt", "aria-labelledby": "receipt-label" },
      h("h2", { id: "receipt-label" }, t("receipt.yours")),
      codeEl,
      h("p", null, copy, " ", copied),
      h("p", { class: "hint" }, t("receipt.keep")),
    ),
    h("p", null, h("a", { class: "button", href: `#/receipt?code=${encodeURIComponent(code)}` }, t("receipt.verifyMine"))),
    resultsLink,
  );
  main.querySelector("h1")?.focus();
  announce(t("receipt.castTitle"));
}
