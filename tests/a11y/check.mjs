// Run axe-core (WCAG 2.0/2.1 A and AA rules) on local HTML files in Debian's headless chromium.
// Usage: node check.mjs file.html [...]; prints one JSON object: {file: [violations...]}. Exit 0 unless it
// could not run. Never downloads a browser: CHROMIUM (default /usr/bin/chromium) is launched directly.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);
// WCAG 2.0 and 2.1 level A and AA, plus axe best practices (heading order, landmarks, one h1).
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"];
const { chromium } = require("playwright-core");
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const profile = mkdtempSync(join(tmpdir(), "axe-chromium-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  offline: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const results = {};
try {
  for (const file of process.argv.slice(2)) {
    const page = await browser.newPage();
    await page.goto(pathToFileURL(resolve(file)).href);
    await page.addScriptTag({ content: axeSource });
    const outcome = await page.evaluate(
      // eslint-disable-next-line no-undef
      async (tags) => await axe.run(document, { runOnly: { type: "tag", values: tags } }),
      TAGS,
    );
    results[file] = {
      lang: await page.evaluate(() => document.documentElement.lang),
      passes: outcome.passes.map((r) => r.id),
      incomplete: outcome.incomplete.map((r) => ({ id: r.id, nodes: r.nodes.slice(0, 3).map((n) => [n.html, n.any.map((a) => a.message)]) })),
      violations: outcome.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.html),
      })),
    };
    await page.close();
  }
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(results));
