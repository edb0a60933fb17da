// Every ballot method on one ballot (approval with its limit, score sliders, STV, Schulze,
// Borda), cast through the app by a voter, then the STV stages and the Schulze matrix shown
// on the results page checked against the API's.

import assert from "node:assert/strict";
import { axe, rest, restLogin, screenshot } from "./lib.mjs";

const Q = [
  { title: "Committee", method: "BALLOT_METHOD_APPROVAL", max_choices: 2, names: ["Ann", "Ben", "Cid"] },
  { title: "Venue", method: "BALLOT_METHOD_SCORE", max_score: 5, names: ["Hall", "Park"] },
  { title: "Council", method: "BALLOT_METHOD_STV", seats: 2, names: ["Dee", "Eve", "Fay", "Gus"] },
  { title: "Motto", method: "BALLOT_METHOD_SCHULZE", names: ["Pax", "Lux", "Rex"] },
  { title: "Mascot", method: "BALLOT_METHOD_BORDA", names: ["Owl", "Fox", "Elk"] },
];

export async function methodSteps({ step, ctx, app, server, state, admin, voter, voterPassword }) {
  let electionId = "";
  let token = "";
  await step("7a. a ballot with every method: approval limit, score sliders, STV/Schulze/Borda rankings", async () => {
    token = await restLogin(server, admin.email, admin.password);
    const iso = (ms) => new Date(Date.now() + ms).toISOString();
    const created = await rest(server, "POST", "/v1/elections", token, {
      election: {
        title: "Every method",
        opens_at: iso(3600_000),
        closes_at: iso(86400_000),
        results_visibility: "RESULTS_VISIBILITY_LIVE",
        eligibility: "ELIGIBILITY_ALL_VOTERS",
        questions: Q.map(({ names, ...q }) => q),
      },
    });
    electionId = created.election.election_id;
    for (const [i, q] of created.election.questions.entries()) {
      for (const name of Q[i].names) await rest(server, "POST", `/v1/elections/${electionId}/candidates`, token, { candidate: { name, question_id: q.question_id } });
    }
    await rest(server, "POST", `/v1/elections/${electionId}/transition`, token, { target: "ELECTION_STATUS_OPEN" });

    const c = await ctx("en-US");
    const p = await c.newPage();
    await p.goto(`${app.url}/#/signin?next=/elections/${electionId}/vote`);
    await p.getByLabel("Email address").fill(voter);
    await p.getByLabel("Password").fill(voterPassword);
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.getByRole("heading", { level: 1, name: "Ballot: Every method" }).waitFor();
    const q = (i) => p.locator("fieldset.question").nth(i);

    // Approval: at most two; the third box is disabled once two are ticked, and said so.
    await q(0).getByRole("checkbox", { name: "Ann" }).check();
    await q(0).getByRole("checkbox", { name: "Cid" }).check();
    assert.equal(await q(0).getByRole("checkbox", { name: "Ben" }).isDisabled(), true, "the approval limit is enforced");
    await q(0).getByText("You have chosen the most allowed: 2.").waitFor();
    // Score: sliders, moved with the keyboard.
    await q(1).getByRole("slider", { name: "Hall" }).focus();
    for (let i = 0; i < 4; i++) await p.keyboard.press("ArrowRight");
    await q(1).getByRole("slider", { name: "Park" }).fill("2");
    assert.equal(await q(1).locator("output").first().innerText(), "4");
    // Rankings.
    for (const [i, names] of [[2, ["Eve", "Dee", "Gus"]], [3, ["Lux", "Pax", "Rex"]], [4, ["Fox", "Owl"]]]) {
      for (const name of names) await q(i).getByRole("button", { name: `Add ${name}` }).click();
    }
    await q(2).getByText("2 seats are to be filled.").waitFor();
    await axe(p, "ballot with every method (en)");
    await screenshot(p, "ballot-every-method");
    await p.getByRole("button", { name: "Cast my ballot" }).click();
    await p.getByRole("heading", { level: 1, name: "Your ballot is cast" }).waitFor();
    state.methodsPage = p;
  });

  await step("7b. results for every method: STV stages and the Schulze matrix match the API", async () => {
    const p = state.methodsPage;
    if (state.sealed) await rest(server, "POST", `/v1/elections/${electionId}/transition`, token, { target: "ELECTION_STATUS_CLOSED" });
    await p.goto(`${app.url}/#/elections/${electionId}/results`);
    await p.locator("#total-ballots[data-total='1']").waitFor({ timeout: 15_000 });
    const api = await rest(server, "GET", `/v1/elections/${electionId}/results`, token);
    const [approval, score, stv, schulze, borda] = api.questions;
    const section = (x) => p.locator(`section[data-question='${x.question_id}']`);
    for (const x of [approval, score, borda]) {
      for (const tally of x.tallies) {
        const v = section(x).locator(`li[data-candidate='${tally.candidate_id}'] .bar-value`);
        assert.equal(await v.getAttribute("data-votes"), String(tally.votes));
      }
    }
    const stvTable = section(stv).locator(".rounds.stv table");
    assert.equal(Number(await stvTable.getAttribute("data-rounds")), stv.stv_rounds.length);
    for (const round of stv.stv_rounds) {
      for (const tally of round.tallies) {
        const cell = stvTable.locator(`td[data-round='${round.round}'][data-candidate='${tally.candidate_id}']`);
        assert.equal(await cell.evaluate((td) => td.firstChild.textContent), tally.votes, `STV stage ${round.round}`);
      }
    }
    assert.equal((await section(stv).locator(".winner-names").innerText()).split(", ").length, 2, "two elected");
    const ids = schulze.schulze.candidate_ids;
    for (const [i, row] of schulze.schulze.pairwise.entries()) {
      for (const [j, value] of row.values.entries()) {
        if (i === j) continue;
        const cell = section(schulze).locator(`table[data-matrix=pairwise] td[data-row='${ids[i]}'][data-col='${ids[j]}']`);
        assert.equal(Number(await cell.innerText()), Number(value), `pairwise ${i},${j}`);
      }
    }
    assert.deepEqual(await section(schulze).locator(".schulze-ranking li").allInnerTexts(), ["Lux", "Pax", "Rex"]);
    await axe(p, "results with every method (en)");
    await screenshot(p, "results-every-method");
    await p.context().close();
  });
}
