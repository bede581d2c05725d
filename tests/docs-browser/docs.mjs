// The Swagger UI at /docs in a real browser (headless Chromium, offline): every operation of
// the OpenAPI document is rendered, and "Try it out" on GET /products gets an answer.
// Any request that leaves the service under test is blocked and fails the test (the page
// must work without the network).
//
//   node tests/docs-browser/docs.mjs http://127.0.0.1:8080      (scripts/test part browser)
// Chromium: $CHROMIUM, else the first of /usr/bin/chromium, chromium-browser, google-chrome.
import { existsSync } from "node:fs";
import { chromium } from "playwright-core";

const base = (process.argv[2] || "http://127.0.0.1:8080").replace(/\/$/, "");
const executablePath =
  process.env.CHROMIUM ||
  ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find(existsSync);
if (!executablePath) {
  console.error("[browser] no Chromium found (Debian: apt-get install chromium; or set CHROMIUM)");
  process.exit(2);
}
const say = (m) => console.log(`[browser] ${m}`);
const fail = (m) => {
  console.error(`[browser] FAIL ${m}`);
  process.exitCode = 1;
};

// Playwright starts Chromium with a fresh temporary profile (its --user-data-dir) every time.
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const page = await browser.newPage();
  const origin = new URL(base).origin;
  const offsite = [];
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
    offsite.push(url);
    return route.abort();
  });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));

  const expected = await (await fetch(`${base}/openapi.json`)).json();
  const operations = Object.entries(expected.paths).flatMap(([path, item]) =>
    Object.keys(item).filter((m) => ["get", "post", "put", "delete", "patch"].includes(m)).map((m) => `${m.toUpperCase()} ${path}`));

  const response = await page.goto(`${base}/docs/`, { waitUntil: "load", timeout: 30000 });
  if (!response || response.status() !== 200) fail(`GET ${base}/docs/ answered ${response && response.status()}`);
  await page.waitForSelector(".opblock", { timeout: 30000 });
  const shown = await page.$$eval(".opblock", (blocks) => blocks.map((b) =>
    `${b.querySelector(".opblock-summary-method")?.textContent.trim()} ${b.querySelector(".opblock-summary-path")?.getAttribute("data-path") || b.querySelector(".opblock-summary-path")?.textContent.trim()}`));
  for (const op of operations) if (!shown.includes(op)) fail(`operation ${op} of /openapi.json is not rendered (shown: ${shown.join(", ")})`);
  say(`${shown.length} operations rendered: ${shown.join(", ")}`);

  const block = page.locator(".opblock.opblock-get", { has: page.locator('.opblock-summary-path[data-path="/products"]') }).first();
  await block.locator(".opblock-summary").click();
  await block.getByRole("button", { name: "Try it out" }).click();
  await block.getByRole("button", { name: "Execute" }).click();
  const status = block.locator(".live-responses-table .response .response-col_status").first();
  await status.waitFor({ timeout: 30000 });
  const code = (await status.textContent()).trim();
  const body = (await block.locator(".live-responses-table .response-col_description pre").first().textContent()) || "";
  if (code !== "200") fail(`Try it out on GET /products answered ${code}`);
  else if (!body.includes('"sku"')) fail(`Try it out on GET /products: no products in the answer: ${body.slice(0, 200)}`);
  else say(`Try it out on GET /products: ${code}, ${body.length} characters of products`);

  if (offsite.length) fail(`the page asked for what is not on ${origin} (it must work offline): ${offsite.join(", ")}`);
  if (errors.length) fail(`JavaScript errors on the page: ${errors.join("; ")}`);
} catch (err) {
  fail(String(err));
} finally {
  await browser.close();
}
if (!process.exitCode) say("OK: /docs renders every operation and Try it out works, offline");
