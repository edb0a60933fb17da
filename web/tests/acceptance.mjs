// The web app's acceptance run (issue 13): a real headless Chromium against `votemesh up`.
// Self-contained: starts the server in a temp directory, runs every scenario in order,
// stops the server, exits non-zero on any failure. See tests/README.md.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";
import { appUrl, axe, bootstrapAdmin, mailedCode, mailsTo, rest, restLogin, runner, screenshot, startServer } from "./lib.mjs";
import { methodSteps } from "./methods.mjs";
import { ballotSteps, PASSWORD } from "./voters.mjs";

const ADMIN = { email: "admin@example.org", password: "admin-password-1234" };
const TITLE = "Board and bylaw 2027";
const VOTERS = ["voter1@example.org", "voter2@example.org", "voter3@example.org"];
const UNVERIFIED = "unverified@example.org";
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const started = Date.now();

const server = await startServer();
console.log(`votemesh up at ${server.url} (data in ${server.dataDir})`);
const { step, failures } = runner();
let app;
let browser;
const state = { electionId: "", admin: null, adminPage: null, resultsPage: null, receipts: [], sealed: false, deferred: [], pageErrors: [] };

try {
  bootstrapAdmin(server, ADMIN.email, ADMIN.password);
  app = await appUrl(server);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
  });
  // Every page of every context reports script errors and failed loads (a CSP refusal, say).
  const ctx = async (locale = "en-US", extra = {}) => {
    const c = await browser.newContext({ locale, viewport: { width: 1280, height: 900 }, ...extra });
    c.on("page", (page) => {
      page.on("pageerror", (e) => state.pageErrors.push(`${page.url()}: ${e.message}`));
      page.on("console", (m) => m.type() === "error" && state.pageErrors.push(`${page.url()}: console: ${m.text()}`));
    });
    return c;
  };
  console.log(`app at ${app.url}, ${await browser.version()}`);

  await step("0. sign-in page: language from the browser, axe in English and French", async () => {
    for (const [locale, heading] of [["en-US", "Sign in"], ["fr-FR", "Connexion"]]) {
      const c = await ctx(locale);
      const p = await c.newPage();
      await p.goto(`${app.url}/#/signin`);
      await p.getByRole("heading", { level: 1, name: heading }).waitFor();
      assert.equal(await p.getAttribute("html", "lang"), locale.slice(0, 2));
      await axe(p, `sign-in (${locale})`);
      await c.close();
    }
  });

  await step("1. admin creates a two-question election (ranked + yes/no), imports a roll, invites, opens", async () => {
    state.admin = await ctx("en-US", { acceptDownloads: true });
    const p = (state.adminPage = await state.admin.newPage());
    await p.goto(`${app.url}/#/signin`);
    await p.getByLabel("Email address").fill(ADMIN.email);
    await p.getByLabel("Password").fill(ADMIN.password);
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.getByRole("heading", { level: 1, name: "Elections" }).waitFor();
    await p.getByRole("link", { name: "Manage elections" }).click();
    await p.getByRole("heading", { level: 1, name: "Manage elections" }).waitFor();
    await axe(p, "admin list (en)");
    await p.getByRole("link", { name: "New election" }).click();
    await p.getByLabel("Title", { exact: true }).fill(TITLE);
    await p.getByLabel("Description").first().fill("Elect the board and vote on the bylaw.");
    await p.getByLabel("Results visible to voters").selectOption({ label: "Live, while voting is open" });
    await p.getByLabel("Who may vote").selectOption({ label: "Only the voter roll" });
    const q = p.locator("fieldset.question-editor");
    await q.nth(0).getByLabel("Question title (empty: the election's title)").fill("Board");
    await q.nth(0).getByLabel("Voting method").selectOption({ label: "Ranked (instant runoff)" });
    await p.getByRole("button", { name: "Add a question" }).click();
    await q.nth(1).getByLabel("Question title", { exact: true }).fill("Adopt the new bylaw?");
    await q.nth(1).getByLabel("Voting method").selectOption({ label: "Plurality (one choice)" });
    await q.nth(1).getByLabel("Voters may abstain on this question").check();
    await axe(p, "admin new election (en)");
    await p.getByRole("button", { name: "Create the election" }).click();
    await p.getByRole("heading", { level: 1, name: TITLE }).waitFor();
    state.electionId = /#\/admin\/elections\/([0-9a-f-]{36})/.exec(p.url())[1];

    // Candidates per question, then a reorder: Carol moves above Bob.
    const lists = p.locator(".question-candidates");
    for (const [qi, names, qTitle] of [[0, ["Alice", "Bob", "Carol"], "Board"], [1, ["Yes", "No"], "Adopt the new bylaw?"]]) {
      for (const name of names) {
        await lists.nth(qi).getByLabel("Name", { exact: true }).fill(name);
        await lists.nth(qi).getByRole("button", { name: `Add to ${qTitle}` }).click();
        await lists.nth(qi).locator("li .name", { hasText: name }).waitFor();
      }
    }
    await lists.nth(0).getByRole("button", { name: "Move up Carol" }).click();
    await p.waitForFunction(() => [...document.querySelector(".question-candidates").querySelectorAll("li .name")].map((n) => n.textContent).join() === "Alice,Carol,Bob");
    assert.equal(await p.evaluate(() => document.activeElement?.textContent), "Move up Carol", "focus stays on the moved candidate");

    // The roll, with a malformed and a duplicate row to show the per-row report.
    const csv = ["email", ...VOTERS, UNVERIFIED, "not-an-email", VOTERS[0]].join("\n");
    await p.getByLabel("Or paste the CSV").fill(csv);
    await p.getByRole("button", { name: "Import the roll" }).click();
    const report = p.locator(".import-report");
    await report.waitFor();
    assert.match(await report.innerText(), /4 rows added to the roll\./);
    const refused = report.locator("table[data-report=errors] tbody tr");
    assert.equal(await refused.count(), 2, "two refused rows");
    assert.match(await refused.nth(0).innerText(), /not-an-email/);
    assert.match(await p.locator("#roll-count").innerText(), /4 voters on the roll/);
    await axe(p, "admin election page (en)");
    await screenshot(p, "admin-election-en");

    await p.getByRole("button", { name: "Invite the roll" }).click();
    await p.locator("#main").getByText("4 invitations requested.").waitFor();
    await p.getByRole("button", { name: "Open now" }).click();
    await p.locator("#election-status", { hasText: "Open" }).waitFor();
    const api = await rest(server, "GET", `/v1/elections/${state.electionId}`, await restLogin(server, ADMIN.email, ADMIN.password));
    assert.equal(api.election.status, "ELECTION_STATUS_OPEN");
    assert.deepEqual(api.election.questions.map((x) => x.method), ["BALLOT_METHOD_RANKED", "BALLOT_METHOD_PLURALITY"]);
    // The invitations reach the outbox.
    for (let i = 0; i < 40 && mailsTo(server, VOTERS[0], /invit/i).length === 0; i++) await new Promise((r) => setTimeout(r, 250));
    assert.ok(mailsTo(server, VOTERS[0], /invit/i).length > 0, "an invitation was mailed to voter1");
  });

  await step("3a. a results page is left open before any ballot", async () => {
    const p = (state.resultsPage = await state.admin.newPage());
    await p.goto(`${app.url}/#/elections/${state.electionId}/results`);
    await p.locator("#total-ballots[data-total='0']").waitFor();
    await p.locator("#main").getByText("Live: results update as ballots are counted.").waitFor();
    // Survives only if the page is never reloaded.
    await p.evaluate(() => ((window).__noReload = true));
  });

  await ballotSteps({ step, ctx, app, server, state, voters: VOTERS, unverified: UNVERIFIED, title: TITLE });

  await methodSteps({ step, ctx, app, server, state, admin: ADMIN, voter: VOTERS[0], voterPassword: PASSWORD });

  await step("3b. the open results page updated without a reload; its rounds match the API's", async () => {
    const p = state.resultsPage;
    if (state.sealed) {
      // The mix releases everything at the close: the open page must still update by itself.
      await state.adminPage.goto(`${app.url}/#/admin/elections/${state.electionId}`);
      await state.adminPage.getByRole("button", { name: "Close now" }).click();
      await state.adminPage.locator("#election-status", { hasText: "Closed" }).waitFor();
    }
    await p.locator("#total-ballots[data-total='3']").waitFor({ timeout: 15_000 });
    assert.equal(await p.evaluate(() => (window).__noReload), true, "the results page was not reloaded");
    const token = await restLogin(server, ADMIN.email, ADMIN.password);
    const api = await rest(server, "GET", `/v1/elections/${state.electionId}/results`, token);
    const [board, bylaw] = api.questions;
    assert.ok(board.rounds.length >= 2, "the ranked question needed more than one round");
    const table = p.locator(`section[data-question='${board.question_id}'] .rounds.irv table`);
    assert.equal(Number(await table.getAttribute("data-rounds")), board.rounds.length);
    for (const round of board.rounds) {
      for (const tally of round.tallies) {
        const cell = table.locator(`td[data-round='${round.round}'][data-candidate='${tally.candidate_id}']`);
        assert.equal((await cell.innerText()).trim(), String(tally.votes), `round ${round.round}, ${tally.candidate_id}`);
      }
      const elim = table.locator(`td[data-round='${round.round}'][data-eliminated]`);
      assert.equal((await elim.getAttribute("data-eliminated")) ?? "", round.eliminated ?? "");
    }
    const names = await p.locator(`section[data-question='${board.question_id}'] .winner-names`).innerText();
    assert.equal(names, "Alice", "Alice wins the board after Bob's elimination");
    for (const tally of bylaw.tallies) {
      const v = p.locator(`section[data-question='${bylaw.question_id}'] li[data-candidate='${tally.candidate_id}'] .bar-value`);
      assert.equal(await v.getAttribute("data-votes"), String(tally.votes));
    }
    assert.match(await p.locator(`section[data-question='${bylaw.question_id}'] .winner-names`).innerText(), /^Yes$/);
    await axe(p, "results (en)");
    await screenshot(p, "results-en");
    await p.locator("#lang").selectOption("fr");
    await p.getByRole("heading", { level: 1, name: `Résultats : ${TITLE}` }).waitFor();
    await p.locator("#main").getByText("Tours du vote alternatif").first().waitFor();
    assert.match(await p.locator("#total-ballots").innerText(), /3 bulletins comptés/);
    await axe(p, "results (fr)");
    await screenshot(p, "results-fr");
  });

  await step("6. admin pages in French pass axe; audit, recount, delivery log, close and ballot export work", async () => {
    const p = state.adminPage;
    await p.goto(`${app.url}/#/admin/elections/${state.electionId}/results`);
    await p.getByRole("button", { name: "Audit" }).click();
    await p.locator("[data-audit=match]").waitFor();
    assert.match(await p.locator("[data-audit]").innerText(), /Recorded: 3\. Counted: 3\. Sealed: 0\./);
    await p.getByRole("button", { name: "Recount" }).click();
    await p.locator("[data-recount=match]").waitFor();
    await axe(p, "admin results (en)");
    await p.goto(`${app.url}/#/admin/deliveries?election=${state.electionId}`);
    await p.locator("table.deliveries").waitFor();
    const kinds = await p.locator("table.deliveries tbody td:nth-child(2)").allInnerTexts();
    assert.ok(kinds.includes("Invitation"), `the delivery log lists invitations (saw ${[...new Set(kinds)]})`);
    await axe(p, "delivery log (en)");

    await p.goto(`${app.url}/#/admin/elections/${state.electionId}`);
    if (!state.sealed) await p.getByRole("button", { name: "Close now" }).click();
    await p.locator("#election-status", { hasText: "Closed" }).waitFor();
    await p.goto(`${app.url}/#/admin/elections/${state.electionId}/results`);
    const [download] = await Promise.all([p.waitForEvent("download"), p.getByRole("button", { name: "Ballots as ABIF" }).click()]);
    const abif = readFileSync(await download.path(), "utf8");
    assert.match(abif, /Alice/, "the ABIF export names the candidates");
    await p.locator("#main").getByText(`Saved ${download.suggestedFilename()}.`).waitFor();

    await p.locator("#lang").selectOption("fr");
    await p.getByRole("heading", { level: 1, name: `Résultats : ${TITLE}` }).waitFor();
    await axe(p, "admin results (fr)");
    await p.goto(`${app.url}/#/admin/elections/${state.electionId}`);
    await p.getByRole("heading", { level: 2, name: "Liste électorale" }).waitFor();
    await axe(p, "admin election page (fr)");
    await p.goto(`${app.url}/#/admin`);
    await p.getByRole("heading", { level: 1, name: "Gérer les élections" }).waitFor();
    await axe(p, "admin list (fr)");
    await p.goto(`${app.url}/#/admin/new`);
    await p.getByRole("heading", { level: 1, name: "Nouvelle élection" }).waitFor();
    await axe(p, "admin new election (fr)");
  });
} catch (error) {
  failures.push({ name: "setup", error });
  console.log(`  ✘ setup\n    ${String(error?.stack ?? error)}`);
} finally {
  await browser?.close().catch(() => undefined);
  await app?.close().catch(() => undefined);
  await server.stop();
  if (failures.length === 0) server.cleanup();
  else console.log(`server log and data kept in ${server.dataDir}`);
}

for (const reason of state.deferred) failures.push({ name: reason, error: reason });
if (state.pageErrors.length) {
  console.log(`  ✘ the app logged errors:\n    ${state.pageErrors.join("\n    ")}`);
  failures.push({ name: "errors in the browser console", error: state.pageErrors.join("; ") });
}
const seconds = ((Date.now() - started) / 1000).toFixed(1);
if (failures.length) {
  console.error(`\nFAILED: ${failures.map((f) => f.name).join("; ")} (${seconds} s)`);
  process.exit(1);
}
console.log(`\nall acceptance scenarios passed (${seconds} s); screenshots in web/test-results/screenshots/`);
