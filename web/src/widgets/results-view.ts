// Results as the API gives them, per question: bars, winners, and the method's detail (IRV
// rounds, STV stages, the Schulze matrices). Numbers are shown exactly as counted.

import { BallotMethod, type GetResultsResponse, type QuestionResult } from "@votemesh/sdk";
import { h, scroller, type Child } from "../dom";
import { candidatesOf, namesOf, questionTitle, type Ballot } from "../elections";
import { formatDate, formatNumber, t } from "../i18n";
import { methodLabel } from "../labels";
import { timestampDate } from "@bufbuild/protobuf/wkt";

export function resultsView(results: GetResultsResponse, ballot: Ballot): HTMLElement {
  const names = namesOf(ballot.candidates);
  const asOf = results.asOf ? formatDate(timestampDate(results.asOf)) : "—";
  return h(
    "div",
    { class: "results" },
    h(
      "p",
      { class: "summary" },
      h("strong", { id: "total-ballots", "data-total": String(results.totalBallots) }, t("results.ballots", { n: Number(results.totalBallots) })),
      " · ",
      t("results.asOf", { when: asOf }),
    ),
    results.questions.map((q) => questionView(q, ballot, names)),
  );
}

function questionView(q: QuestionResult, ballot: Ballot, names: Map<string, string>): HTMLElement {
  const question = ballot.election.questions.find((x) => x.questionId === q.questionId);
  const title = question ? questionTitle(ballot.election, question) : q.questionId;
  const name = (id: string) => names.get(id) ?? id;
  const order = question ? candidatesOf(ballot, question).map((c) => c.candidateId) : q.tallies.map((x) => x.candidateId);
  const headingId = `q-${q.questionId}`;
  return h(
    "section",
    { class: "question-result", "data-question": q.questionId, "aria-labelledby": headingId },
    h("h2", { id: headingId }, title),
    h("p", { class: "meta" }, methodLabel(q.method), q.method === BallotMethod.STV ? ` · ${t("results.seats", { n: q.seats })}` : "", " · ", t("results.answered", { n: Number(q.answered) }), " · ", t("results.abstained", { n: Number(q.abstained) })),
    winners(q, name),
    bars(q, name),
    q.rounds.length > 0 ? irvRounds(q, order, name) : null,
    q.stvRounds.length > 0 ? stvRounds(q, order, name) : null,
    q.schulze && q.schulze.candidateIds.length > 0 ? schulze(q, name) : null,
  );
}

function winners(q: QuestionResult, name: (id: string) => string): HTMLElement {
  if (q.answered === 0n) return h("p", { class: "winner none" }, t("results.noBallots"));
  if (q.winnerCandidateIds.length === 0) return h("p", { class: "winner none" }, t("results.tie"));
  const label = q.method === BallotMethod.STV ? t("results.elected", { n: q.winnerCandidateIds.length }) : t("results.winner");
  return h("p", { class: "winner" }, h("strong", null, `${label} `), h("span", { class: "winner-names" }, q.winnerCandidateIds.map(name).join(", ")));
}

/** A bar per candidate on what decides: weighted votes, points or score totals. */
function bars(q: QuestionResult, name: (id: string) => string): HTMLElement {
  const values = q.tallies.map((x) => Number(x.weightedVotes || x.votes));
  // Where a share of the ballots means something the bar shows it; points and score totals
  // are drawn against the leader instead.
  const byShare = [BallotMethod.PLURALITY, BallotMethod.APPROVAL, BallotMethod.RANKED, BallotMethod.STV, BallotMethod.SCHULZE].includes(q.method);
  const max = Math.max(1e-9, ...values);
  const caption =
    q.method === BallotMethod.BORDA ? t("results.points") : q.method === BallotMethod.SCORE ? t("results.scoreTotals") : [BallotMethod.RANKED, BallotMethod.STV, BallotMethod.SCHULZE].includes(q.method) ? t("results.firstPreferences") : t("results.votes");
  return h(
    "figure",
    { class: "bars" },
    h("figcaption", null, caption),
    h(
      "ul",
      null,
      q.tallies.map((x, i) => {
        const fill = h("span", { class: "fill" });
        fill.style.width = `${Math.min(100, byShare ? x.share * 100 : (values[i] / max) * 100)}%`;
        const share = byShare ? ` (${formatNumber(x.share * 100, 1)} %)` : "";
        return h(
          "li",
          { "data-candidate": x.candidateId },
          h("span", { class: "bar-name" }, name(x.candidateId)),
          h("span", { class: "bar", "aria-hidden": "true" }, fill),
          h("span", { class: "bar-value", "data-votes": String(x.votes) }, `${formatNumber(x.weightedVotes || String(x.votes))}${share}`),
        );
      }),
    ),
  );
}

/** Instant-runoff rounds: a column per round, a row per candidate. */
function irvRounds(q: QuestionResult, order: string[], name: (id: string) => string): HTMLElement {
  const rows: Child[] = order.map((id) =>
    h(
      "tr",
      null,
      h("th", { scope: "row" }, name(id)),
      q.rounds.map((r) => {
        const tally = r.tallies.find((x) => x.candidateId === id);
        return h("td", { "data-round": r.round, "data-candidate": id, class: r.eliminated === id ? "eliminated" : null }, tally ? String(tally.votes) : "—");
      }),
    ),
  );
  rows.push(
    h("tr", { class: "exhausted" }, h("th", { scope: "row" }, t("results.exhausted")), q.rounds.map((r) => h("td", { "data-round": r.round, "data-exhausted": "" }, String(r.exhausted)))),
    h("tr", null, h("th", { scope: "row" }, t("results.eliminated")), q.rounds.map((r) => h("td", { "data-round": r.round, "data-eliminated": r.eliminated }, r.eliminated ? name(r.eliminated) : "—"))),
  );
  return h(
    "div",
    { class: "rounds irv" },
    h("h3", null, t("results.irvRounds")),
    scroller(
      t("results.irvRounds"),
      h(
        "table",
        { "data-rounds": q.rounds.length },
        h("caption", { class: "sr-only" }, t("results.irvRounds")),
        h("thead", null, h("tr", null, h("th", { scope: "col" }, t("results.candidate")), q.rounds.map((r) => h("th", { scope: "col" }, t("results.round", { n: r.round }))))),
        h("tbody", null, rows),
      ),
    ),
  );
}

/** Scottish STV stages: votes per candidate, then what happened at each stage. */
function stvRounds(q: QuestionResult, order: string[], name: (id: string) => string): HTMLElement {
  const stages = q.stvRounds;
  const quota = stages[0]?.quota ?? "";
  const row = (label: string, cell: (s: (typeof stages)[number]) => string, attr: string) =>
    h("tr", null, h("th", { scope: "row" }, label), stages.map((s) => h("td", { "data-round": s.round, [attr]: "" }, cell(s))));
  return h(
    "div",
    { class: "rounds stv" },
    h("h3", null, t("results.stvRounds")),
    h("p", null, t("results.quota", { quota: formatNumber(quota) })),
    scroller(
      t("results.stvRounds"),
      h(
        "table",
        { "data-rounds": stages.length },
        h("caption", { class: "sr-only" }, t("results.stvRounds")),
        h("thead", null, h("tr", null, h("th", { scope: "col" }, t("results.candidate")), stages.map((s) => h("th", { scope: "col" }, t("results.stage", { n: s.round }))))),
        h(
          "tbody",
          null,
          order.map((id) =>
            h(
              "tr",
              null,
              h("th", { scope: "row" }, name(id)),
              stages.map((s) => {
                const tally = s.tallies.find((x) => x.candidateId === id);
                const moved = s.transfers[id];
                return h(
                  "td",
                  { "data-round": s.round, "data-candidate": id, class: s.elected.includes(id) ? "elected" : s.excluded === id ? "eliminated" : null },
                  tally ? tally.votes : "—",
                  moved && Number(moved) !== 0 ? h("span", { class: "transfer" }, ` (${moved.startsWith("-") ? "" : "+"}${moved})`) : null,
                );
              }),
            ),
          ),
          row(t("results.elected", { n: 2 }), (s) => s.elected.map(name).join(", ") || "—", "data-elected"),
          row(t("results.excluded"), (s) => (s.excluded ? name(s.excluded) : "—"), "data-excluded"),
          row(t("results.surplus"), (s) => (s.surplusFrom ? t("results.surplusFrom", { name: name(s.surplusFrom), value: s.transferValue }) : "—"), "data-surplus"),
          row(t("results.nonTransferable"), (s) => s.exhausted || "0", "data-exhausted"),
        ),
      ),
    ),
  );
}

/** Schulze: the pairwise matrix, the strongest paths and the ranking they give. */
function schulze(q: QuestionResult, name: (id: string) => string): HTMLElement {
  const s = q.schulze!;
  const matrix = (title: string, rows: { values: string[] }[], kind: string) =>
    h(
      "div",
      { class: "matrix" },
      h("h3", null, title),
      scroller(
        title,
        h(
          "table",
          { "data-matrix": kind },
          h("caption", { class: "sr-only" }, title),
          h("thead", null, h("tr", null, h("td", null), s.candidateIds.map((id) => h("th", { scope: "col" }, name(id))))),
          h(
            "tbody",
            null,
            rows.map((r, i) =>
              h(
                "tr",
                null,
                h("th", { scope: "row" }, name(s.candidateIds[i])),
                r.values.map((v, j) => h("td", { class: i === j ? "diagonal" : null, "data-row": s.candidateIds[i], "data-col": s.candidateIds[j] }, i === j ? "—" : formatNumber(v))),
              ),
            ),
          ),
        ),
      ),
    );
  return h(
    "div",
    { class: "schulze" },
    h("p", { class: "hint" }, t("results.pairwiseHint")),
    matrix(t("results.pairwise"), s.pairwise, "pairwise"),
    matrix(t("results.strongest"), s.strongest, "strongest"),
    h("h3", null, t("results.schulzeRanking")),
    h("ol", { class: "schulze-ranking" }, s.ranking.map((id) => h("li", null, name(id)))),
  );
}
