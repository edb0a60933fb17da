// Helpers for the acceptance run: the votemesh server, its mail directory, the REST API (to
// check what the app shows against the API's own answers), axe, and a tiny step runner.

import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, openSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, homedir } from "node:os";
import { join } from "node:path";
import AxeBuilderDefault, * as axeModule from "@axe-core/playwright";

export const WEB_DIR = new URL("..", import.meta.url).pathname;
export const SHOTS = join(WEB_DIR, "test-results", "screenshots");
export const BUNDLE_DIR = join(WEB_DIR, "..", "crates", "edge", "webapp");

/** The votemesh binary: $VOTEMESH_BIN, else the cargo debug build. */
export function votemeshBin() {
  const candidates = [
    process.env.VOTEMESH_BIN,
    process.env.CARGO_TARGET_DIR && join(process.env.CARGO_TARGET_DIR, "debug", "votemesh"),
    join(homedir(), ".cache", "votemesh-target", "debug", "votemesh"),
  ].filter(Boolean);
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`no votemesh binary: set VOTEMESH_BIN (looked at ${candidates.join(", ")})`);
  return found;
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Starts `votemesh up` on a free port in a fresh data directory, k = 1 so every ballot shows. */
export async function startServer() {
  const bin = votemeshBin();
  const dataDir = mkdtempSync(join(tmpdir(), "votemesh-web-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log = openSync(join(dataDir, "server.log"), "w");
  const env = {
    ...process.env,
    VOTEMESH_MIX_MIN_BATCH: "1",
    // Several voters register and sign in from one address within a minute.
    VOTEMESH_EDGE_CREDENTIALS_BURST: "100",
    VOTEMESH_EDGE_CREDENTIALS_PER_MINUTE: "600",
  };
  const args = ["up", "--data-dir", dataDir, "--listen", `127.0.0.1:${port}`];
  // Pass k as a flag too where `up` has one (the environment alone may not reach the services).
  const help = execFileSync(bin, ["up", "--help"], { encoding: "utf8" });
  if (help.includes("--mix-min-batch")) args.push("--mix-min-batch", "1");
  // Test the bundle `npm run build` just wrote, served by the edge itself, unless asked to test
  // the copy built into the binary (VOTEMESH_WEB=embedded) or to serve it through Vite.
  const web = process.env.VOTEMESH_WEB ?? "dir";
  if (web === "dir" && help.includes("--web-dir")) args.push("--web-dir", BUNDLE_DIR);
  const child = spawn(bin, args, { env, stdio: ["ignore", log, log] });
  let exited = null;
  child.on("exit", (code) => (exited = code));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== null) throw new Error(`votemesh up exited with ${exited}; see ${join(dataDir, "server.log")}`);
    try {
      const r = await fetch(`${url}/v1/auth/keys`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`votemesh up did not serve within 60 s; see ${join(dataDir, "server.log")}`);
    await sleep(250);
  }
  const stop = async () => {
    if (exited !== null) return;
    child.kill("SIGTERM");
    for (let i = 0; i < 40 && exited === null; i++) await sleep(250);
    if (exited === null) child.kill("SIGKILL");
  };
  return { bin, dataDir, url, stop, cleanup: () => rmSync(dataDir, { recursive: true, force: true }) };
}

export function bootstrapAdmin(server, email, password) {
  execFileSync(server.bin, ["admin", "bootstrap", "--data-dir", server.dataDir, "--email", email, "--password", password], { stdio: "pipe" });
}

/**
 * Where the browser loads the app: the edge itself (the default; VOTEMESH_WEB=dir or
 * embedded), or, with VOTEMESH_WEB=preview, the built bundle served by Vite with grpc-web
 * proxied to the edge (for an edge that does not serve the app).
 */
export async function appUrl(server) {
  if (process.env.VOTEMESH_WEB === "preview") {
    const { preview } = await import("vite");
    const srv = await preview({
      root: WEB_DIR,
      logLevel: "warn",
      preview: { host: "127.0.0.1", port: await freePort(), strictPort: true, proxy: { "/votemesh.": { target: server.url } } },
    });
    return { url: srv.resolvedUrls.local[0].replace(/\/$/, ""), close: () => srv.close() };
  }
  const r = await fetch(`${server.url}/`);
  const html = await r.text();
  if (!r.ok || !html.includes("/assets/app.js")) {
    throw new Error(`the edge does not serve the web app at / (HTTP ${r.status}); run with VOTEMESH_WEB=preview to serve crates/edge/webapp through Vite`);
  }
  return { url: server.url, close: async () => {} };
}

/** A REST call as `token`; throws with the body on an error status. */
export async function rest(server, method, path, token, body) {
  const r = await fetch(`${server.url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: HTTP ${r.status} ${text}`);
  return text ? JSON.parse(text) : {};
}

const tokens = new Map();
/** An access token for `email`, reused for four minutes (sign-ins are rate limited). */
export async function restLogin(server, email, password) {
  const cached = tokens.get(email);
  if (cached && cached.until > Date.now()) return cached.token;
  const r = await rest(server, "POST", "/v1/auth/login", null, { email, password });
  tokens.set(email, { token: r.access_token, until: Date.now() + Math.min(240, r.expires_in - 30) * 1000 });
  return r.access_token;
}

/** The newest verification code mailed to `email` (polls the .eml outbox). */
export async function mailedCode(server, email, timeoutMs = 15_000) {
  const dir = join(server.dataDir, "outbox-mail");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".eml")) : [];
    const mine = files
      .map((f) => ({ f, text: readFileSync(join(dir, f), "utf8"), mtime: statSync(join(dir, f)).mtimeMs }))
      .filter((m) => new RegExp(`^To: ${email.replace(/[.+]/g, "\\$&")}\\s*$`, "mi").test(m.text))
      .map((m) => ({ ...m, code: /^Subject: .*?(\d{6})\s*$/m.exec(m.text)?.[1] }))
      .filter((m) => m.code)
      .sort((a, b) => b.mtime - a.mtime);
    if (mine.length) return mine[0].code;
    if (Date.now() > deadline) throw new Error(`no verification code mailed to ${email} in ${dir}`);
    await sleep(200);
  }
}

/** Mails in the outbox addressed to `email` whose text matches `re`. */
export function mailsTo(server, email, re) {
  const dir = join(server.dataDir, "outbox-mail");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".eml"))
    .map((f) => readFileSync(join(dir, f), "utf8"))
    .filter((text) => text.toLowerCase().includes(`to: ${email}`) && re.test(text));
}

const AxeBuilder = axeModule.AxeBuilder ?? AxeBuilderDefault;

/** Fails on any serious or critical axe violation (WCAG 2.1 A and AA rules). */
export async function axe(page, label) {
  const result = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]).analyze();
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  if (bad.length) {
    const lines = bad.map((v) => `${v.impact} ${v.id}: ${v.help}\n      at ${v.nodes.map((n) => n.target.join(" ")).slice(0, 5).join(" | ")}`);
    throw new Error(`axe on ${label}: ${bad.length} serious/critical violation(s)\n    ${lines.join("\n    ")}`);
  }
  return result.violations.length;
}

export async function screenshot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs named steps in order; after a failure the rest are skipped. Returns the failures. */
export function runner() {
  const failures = [];
  let failed = false;
  return {
    failures,
    async step(name, fn) {
      if (failed) {
        console.log(`  - ${name} (skipped after an earlier failure)`);
        return;
      }
      const start = Date.now();
      try {
        await fn();
        console.log(`  ✔ ${name} (${((Date.now() - start) / 1000).toFixed(1)} s)`);
      } catch (error) {
        failed = true;
        failures.push({ name, error });
        console.log(`  ✘ ${name} (${((Date.now() - start) / 1000).toFixed(1)} s)\n    ${String(error?.stack ?? error).split("\n").join("\n    ")}`);
      }
    },
  };
}
