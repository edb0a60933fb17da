// The voters' scenarios: register, verify with the mailed code, vote (by mouse, by drag, and
// by keyboard only), see and verify the receipt; a second cast and an unverified voter.

import assert from "node:assert/strict";
import { axe, mailedCode, screenshot } from "./lib.mjs";

export const PASSWORD = "voter-password-1234";

/** Registers through the app and enters the mailed code; returns the signed-in page. */
async function registerAndVerify({ ctx, app, server }, email, name, verify = true) {
  const c = await ctx("en-US", { permissions: ["clipboard-read", "clipboard-write"] });
  const p = await c.newPage();
  await p.goto(`${app.url}/#/register`);
  await p.getByLabel("Your name").fill(name);
  await p.getByLabel("Email address").fill(email);
  await p.getByLabel("Password").fill(PASSWORD);
  await p.getByRole("button", { name: "Create my account" }).click();
  await p.getByRole("heading", { level: 1, name: "Verify your email address" }).waitFor();
  if (verify) {
    await p.getByLabel("Code from the email").fill(await mailedCode(server, email));
    await p.getByRole("button", { name: "Verify" }).click();
    await p.locator("#main").getByText("Your email address is verified. You can vote now.").waitFor();
  }
  return p;
}

/** The candidate names in the ranking, in order. */
const rankingOf = (p) => p.locator(".ranked li[data-id] .name").allInnerTexts();

/** Presses Tab (or Shift+Tab) until the focused control's name is `name`. */
async function tabTo(p, name, back = false, max = 60) {
  for (let i = 0; i < max; i++) {
    await p.keyboard.press(back ? "Shift+Tab" : "Tab");
    const focused = await p.evaluate(() => {
      const el = document.activeElement;
      return (el?.labels?.[0]?.textContent ?? el?.textContent ?? "").trim();
    });
    if (focused === name) return;
  }
  throw new Error(`could not reach "${name}" with ${back ? "Shift+Tab" : "Tab"}`);
}

const focusedName = (p) => p.evaluate(() => document.activeElement?.textContent?.trim());

/** Casts, then checks the receipt is shown prominently, copies it, and verifies it. */
async function castAndVerify(p, state, name) {
  await p.getByRole("button", { name: "Cast my ballot" }).click();
  await p.getByRole("heading", { level: 1, name: "Your ballot is cast" }).waitFor();
  const receipt = (await p.locator("#receipt-code").innerText()).trim();
  assert.match(receipt, /^[A-Za-z0-9_-]{16,}$/, `${name}'s receipt looks like a code: ${receipt}`);
  assert.ok((await p.locator("#receipt-code").evaluate((el) => parseFloat(getComputedStyle(el).fontSize))) >= 24, "the receipt is shown large");
  state.receipts.push(receipt);
  return receipt;
}

/**
 * Checks the receipt on the receipt page: recorded, and counted once it leaves the mix (at
 * once with k = 1). If the server keeps ballots sealed (k not in effect), notes it in `state`
 * so the run fails with that reason at the end, and carries on.
 */
async function verifyReceipt(p, receipt, state) {
  await p.getByRole("heading", { level: 1, name: "Verify a receipt" }).waitFor();
  assert.equal(await p.getByLabel("Receipt code").inputValue(), receipt);
  await p.locator(".receipt-result .alert").waitFor();
  for (let i = 0; i < (state.sealed ? 1 : 16); i++) {
    const text = await p.locator(".receipt-result").innerText();
    assert.doesNotMatch(text, /No ballot has this receipt/);
    assert.match(text, /This ballot is recorded/);
    if (/recorded and counted/.test(text)) return;
    await p.waitForTimeout(500);
    await p.getByRole("button", { name: "Check" }).click();
    await p.locator(".receipt-result .alert").waitFor();
  }
  if (!state.sealed) {
    state.sealed = true;
    state.deferred.push(
      "ballots stay sealed: the server does not release them one by one (k = 1 not in effect; `votemesh up` ignores VOTEMESH_MIX_MIN_BATCH), so live results cannot move per ballot",
    );
    console.log("    ! receipts stay sealed (k = 1 not in effect); live per-ballot checks wait for the close");
  }
}

async function expectTotal(state, n) {
  if (state.sealed) return;
  await state.resultsPage.locator(`#total-ballots[data-total='${n}']`).waitFor({ timeout: 15_000 });
}

export async function ballotSteps({ step, ctx, app, server, state, voters, unverified, title }) {
  const env = { ctx, app, server };
  const voteLink = (p) => p.getByRole("link", { name: `Vote in ${title}` });
  let voter1Second;

  await step("2. voter 1 registers, verifies, ranks by mouse, casts; the receipt verifies; results move to 1", async () => {
    const p = await registerAndVerify(env, voters[0], "Voter One");
    await p.getByRole("link", { name: "Go to the elections" }).click();
    await voteLink(p).click();
    await p.getByRole("heading", { level: 1, name: `Ballot: ${title}` }).waitFor();
    // A second tab with the same ballot, still open when the first one casts (scenario 4).
    voter1Second = await p.context().newPage();
    await voter1Second.goto(p.url());
    await voter1Second.getByRole("button", { name: "Cast my ballot" }).waitFor();
    for (const name of ["Alice", "Bob", "Carol"]) await p.getByRole("button", { name: `Add ${name}` }).click();
    assert.deepEqual(await rankingOf(p), ["Alice", "Bob", "Carol"]);
    await p.getByRole("radio", { name: "Yes" }).check();
    const receipt = await castAndVerify(p, state, "voter 1");
    await p.getByRole("button", { name: "Copy the receipt" }).click();
    await p.locator("#main").getByText("Copied.").waitFor();
    assert.equal(await p.evaluate(() => navigator.clipboard.readText()), receipt, "the copy button copies the receipt");
    await screenshot(p, "receipt-en");
    await p.getByRole("link", { name: "Verify my receipt" }).click();
    await verifyReceipt(p, receipt, state);
    await expectTotal(state, 1);
  });

  await step("4a. a second cast by voter 1 says clearly they already voted", async () => {
    const p = voter1Second;
    await p.getByRole("button", { name: "Add Bob" }).click();
    await p.getByRole("radio", { name: "No" }).check();
    await p.getByRole("button", { name: "Cast my ballot" }).click();
    const alert = p.getByRole("alert");
    await alert.getByText("You have already voted in this election. Each voter votes once.").waitFor();
    assert.equal(await alert.getAttribute("data-code"), "AlreadyExists");
    // Opened afresh, the ballot says so up front and offers no form.
    await p.reload();
    await p.locator(".already-voted").getByText("You have already voted in this election.").waitFor();
    assert.equal(await p.getByRole("button", { name: "Cast my ballot" }).count(), 0);
    await p.context().close();
  });

  await step("2b. voter 2 ranks by drag and drop, casts; the receipt verifies; results move to 2", async () => {
    const p = await registerAndVerify(env, voters[1], "Voter Two");
    await p.goto(`${app.url}/#/`);
    await voteLink(p).click();
    // Drops: below the last candidate appends; on a candidate's upper half takes its place.
    const end = async () => {
      const box = await p.locator("ol.ranked").boundingBox();
      return { x: 20, y: box.height - 3 };
    };
    await p.locator(".unranked li[data-id]", { hasText: "Bob" }).dragTo(p.locator("ol.ranked"), { targetPosition: await end() });
    await p.locator(".unranked li[data-id]", { hasText: "Alice" }).dragTo(p.locator("ol.ranked"), { targetPosition: await end() });
    assert.deepEqual(await rankingOf(p), ["Bob", "Alice"], "dragging ranks candidates in order");
    await p.locator(".unranked li[data-id]", { hasText: "Carol" }).dragTo(p.locator("ol.ranked li[data-id]", { hasText: "Bob" }), { targetPosition: { x: 20, y: 4 } });
    assert.deepEqual(await rankingOf(p), ["Carol", "Bob", "Alice"], "dropping on a candidate takes its place");
    await p.locator("ol.ranked li[data-id]", { hasText: "Carol" }).dragTo(p.locator("ul.unranked"));
    assert.deepEqual(await rankingOf(p), ["Bob", "Alice"], "dragging back out unranks");
    await p.getByRole("radio", { name: "No" }).check();
    assert.equal(await p.getByRole("radio", { name: "No" }).isChecked(), true);
    await screenshot(p, "ballot-en");
    const receipt = await castAndVerify(p, state, "voter 2");
    await p.getByRole("link", { name: "Verify my receipt" }).click();
    await verifyReceipt(p, receipt, state);
    await expectTotal(state, 2);
  });

  await step("5. voter 3 completes a ranked ballot with the keyboard only; results move to 3", async () => {
    const p = await registerAndVerify(env, voters[2], "Voter Three");
    await p.goto(`${app.url}/#/elections/${state.electionId}/vote`);
    await p.getByRole("heading", { level: 1, name: `Ballot: ${title}` }).waitFor();
    await tabTo(p, "Add Alice");
    await p.keyboard.press("Enter");
    // Focus stays in the unranked list, on the next candidate.
    assert.equal(await focusedName(p), "Add Carol");
    await p.keyboard.press("Enter");
    assert.equal(await focusedName(p), "Add Bob");
    await p.keyboard.press("Space");
    assert.deepEqual(await rankingOf(p), ["Alice", "Carol", "Bob"]);
    await tabTo(p, "Move down Alice", true);
    await p.keyboard.press("Enter");
    assert.equal(await focusedName(p), "Move down Alice", "focus follows the moved candidate");
    await p.keyboard.press("Enter");
    assert.deepEqual(await rankingOf(p), ["Carol", "Bob", "Alice"]);
    const outline = await p.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.equal(outline, "solid", "the focused control shows a visible outline");
    await tabTo(p, "Yes");
    await p.keyboard.press("Space");
    assert.equal(await p.getByRole("radio", { name: "Yes" }).isChecked(), true);
    await screenshot(p, "ballot-keyboard");
    await tabTo(p, "Cast my ballot");
    await p.keyboard.press("Enter");
    await p.getByRole("heading", { level: 1, name: "Your ballot is cast" }).waitFor();
    const receipt = (await p.locator("#receipt-code").innerText()).trim();
    state.receipts.push(receipt);
    await tabTo(p, "Verify my receipt");
    await p.keyboard.press("Enter");
    await verifyReceipt(p, receipt, state);
    await expectTotal(state, 3);
    assert.equal(new Set(state.receipts).size, 3, "three distinct receipts");
  });

  await step("4b/6. an unverified voter is told to verify first (en, fr); ballot page passes axe; fits a phone", async () => {
    const p = await registerAndVerify(env, unverified, "Not Yet", false);
    await p.goto(`${app.url}/#/elections/${state.electionId}/vote`);
    await p.getByRole("heading", { level: 1, name: `Ballot: ${title}` }).waitFor();
    await p.locator(".alert.warning").getByText("Verify your email address before voting.").waitFor();
    await axe(p, "ballot (en)");
    await p.getByRole("button", { name: "Add Carol" }).click();
    await p.getByRole("radio", { name: "Abstain on this question" }).check();
    await p.getByRole("button", { name: "Cast my ballot" }).click();
    const alert = p.getByRole("alert");
    await alert.getByText("Verify your email address before voting.").waitFor();
    await alert.getByRole("link", { name: "Verify my email address" }).waitFor();

    await p.locator("#lang").selectOption("fr");
    await p.getByRole("heading", { level: 1, name: `Bulletin : ${title}` }).waitFor();
    assert.equal(await p.getAttribute("html", "lang"), "fr");
    await p.getByRole("button", { name: "Ajouter Alice" }).click();
    await p.getByRole("radio", { name: "Non" }).count(); // candidates' names are data, not translated
    await p.getByRole("radio", { name: "No" }).check();
    await axe(p, "ballot (fr)");
    await screenshot(p, "ballot-fr");
    await p.getByRole("button", { name: "Déposer mon bulletin" }).click();
    await p.getByRole("alert").getByText("Vérifiez votre adresse e-mail avant de voter.").waitFor();

    // Phone-sized: nothing wider than the screen, and the ranking still works.
    await p.setViewportSize({ width: 375, height: 740 });
    await p.reload();
    await p.getByRole("button", { name: "Ajouter Bob" }).click();
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no sideways scrolling on a phone (overflow ${overflow}px)`);
    await screenshot(p, "ballot-phone-fr");
    await p.context().close();
  });
}
