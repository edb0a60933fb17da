// Checks that every catalogue has exactly the English keys, the same placeholders, and the
// same plural shape, and that every key the code uses exists. Run by `npm test`.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const dir = new URL("../src/", import.meta.url).pathname;
function entries(file) {
  const text = readFileSync(join(dir, "i18n", file), "utf8");
  return new Map([...text.matchAll(/^\s+"([\w.]+)":\s*"((?:[^"\\]|\\.)*)",?$/gm)].map((m) => [m[1], m[2]]));
}
const en = entries("en.ts");
const failures = [];
for (const lang of ["fr.ts"]) {
  const other = entries(lang);
  for (const key of en.keys()) if (!other.has(key)) failures.push(`${lang}: missing ${key}`);
  for (const key of other.keys()) if (!en.has(key)) failures.push(`${lang}: extra ${key}`);
  for (const [key, value] of en) {
    const o = other.get(key);
    if (o === undefined) continue;
    const holes = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(",");
    if (holes(value) !== holes(o)) failures.push(`${lang}: ${key} placeholders differ`);
    if (value.includes("|") !== o.includes("|")) failures.push(`${lang}: ${key} plural forms differ`);
  }
}
// Keys used in the code (t("…") and catalogue keys held in tables) must exist.
function walk(d) {
  return readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));
}
for (const file of walk(dir).filter((f) => f.endsWith(".ts") && !f.includes("/i18n/"))) {
  const text = readFileSync(file, "utf8");
  for (const m of text.matchAll(/\bt\("([\w.]+)"/g)) if (!en.has(m[1])) failures.push(`${file}: unknown key ${m[1]}`);
  for (const m of text.matchAll(/"((?:auth|ballot|error|method|status|delivery|results)\.[\w.]+)"/g))
    if (!en.has(m[1])) failures.push(`${file}: unknown key ${m[1]}`);
}
if (failures.length) {
  console.error(`catalogue check failed:\n  ${failures.join("\n  ")}`);
  process.exit(1);
}
console.log(`catalogue check: ${en.size} keys, en and fr agree`);
