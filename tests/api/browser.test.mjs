// browser.test.mjs - the page as a person uses it, in headless Chromium
// (Debian's /usr/bin/chromium, driven by playwright-core): fill the form,
// click Run, read the ranked list; one click on an example; the demo notice;
// the API-key prompt. Screenshots (laptop and phone) go to
// BUILD_DIR/screenshots/ for a person to look at.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { startServer, post, QUERY, DOCS, BUILD_DIR } from "./harness.mjs";

const SHOTS = join(BUILD_DIR, "screenshots");
const CHROMIUM = process.env.QRANK_CHROMIUM || "/usr/bin/chromium";
let browser;
let srv;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu"] });
  srv = await startServer(["--demo"]);
});
after(async () => {
  await browser?.close();
  if (srv) await srv.stop();
});

async function newPage(viewport = { width: 1366, height: 850 }, mobile = false, base = srv.base) {
  const context = await browser.newContext({ viewport, isMobile: mobile, hasTouch: mobile, deviceScaleFactor: mobile ? 2 : 1 });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("console", (m) => m.type() === "error" && problems.push("console error: " + m.text()));
  page.on("request", (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith("data:")) problems.push("external request: " + r.url());
  });
  return { page, context, problems };
}

test("fill the form, click Run: the ranked list matches the API, with bars, positions and time", async () => {
  const { page, context, problems } = await newPage();
  await page.goto(srv.base + "/");
  await page.fill("#query", QUERY);
  await page.fill("#documents", DOCS.join("\n") + "\n\n");
  await page.fill("#instruction", "Rank Weibo posts about the fireworks show");
  await page.click("#run");
  await page.waitForSelector("#results li");

  const items = await page.$$eval("#results li", (lis) => lis.map((li) => ({
    index: Number(li.dataset.index),
    text: li.querySelector(".doc").textContent,
    score: Number(li.querySelector(".score").textContent),
    width: parseFloat(li.querySelector(".fill").style.width),
    orig: li.querySelector(".orig").textContent,
  })));
  const api = await post(srv.base, "/v1/rerank", { query: QUERY, documents: DOCS, instruction: "Rank Weibo posts about the fireworks show" });
  assert.equal(api.status, 200);
  assert.deepEqual(items.map((x) => x.index), api.json.results.map((r) => r.index), "the page's order is the API's");
  items.forEach((x, rank) => {
    const r = api.json.results[rank];
    assert.equal(x.text, DOCS[x.index]);
    assert.ok(Math.abs(x.score - r.relevance_score) < 5e-5);
    assert.ok(Math.abs(x.width - r.relevance_score * 100) < 1e-3, "the bar's length is the score");
    assert.equal(x.orig, "input #" + (x.index + 1));
  });
  assert.match(await page.textContent("#timing"), /6 documents · \d+ tokens · [\d.]+ s/);
  assert.ok(await page.isVisible("#demo-banner"), "the demo notice is shown");
  assert.match(await page.textContent("#demo-banner"), /random-weight/);
  await page.screenshot({ path: join(SHOTS, "page-laptop.png"), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
});

test("an example is one click away and runs; switching instruction shows the moves", async () => {
  const { page, context, problems } = await newPage({ width: 390, height: 844 }, true);
  await page.goto(srv.base + "/");
  const chips = await page.$$eval("#example-list .chip", (b) => b.map((x) => x.textContent));
  for (const label of ["杭州亚运会闭幕式烟花秀", "China's new EV battery breakthrough", "这剧太上头了停不下来", "上海哪里可以看樱花?"]) {
    assert.ok(chips.includes(label), `example ${label} in ${chips}`);
  }
  await page.getByRole("button", { name: "上海哪里可以看樱花?" }).click();
  await page.waitForSelector("#results li");
  assert.equal(await page.inputValue("#instruction"),
    "Given a location-based query, rank documents by relevance to cherry blossom viewing in Shanghai");
  const n = await page.$$eval("#results li", (l) => l.length);
  assert.ok(n >= 8 && n <= 20, `${n} posts`);
  await page.waitForTimeout(800); // the list scrolls into view smoothly on a phone
  await page.screenshot({ path: join(SHOTS, "page-phone.png") });

  await page.getByRole("button", { name: /factual accuracy/ }).click();
  await page.waitForFunction(() => document.querySelectorAll("#results li").length === 12);
  const first = await page.$$eval("#results li", (l) => l.map((li) => li.dataset.index));
  await page.getByRole("button", { name: /emotional resonance/ }).click();
  await page.waitForFunction((before) => {
    const now = [...document.querySelectorAll("#results li")].map((li) => li.dataset.index);
    return now.join() !== before.join();
  }, first);
  assert.ok(await page.locator(".moved").count() > 0, "rank moves are shown for the same posts");
  assert.deepEqual(problems, []);
  await context.close();
});

test("an empty query shows a message instead of calling the API", async () => {
  const { page, context } = await newPage();
  await page.goto(srv.base + "/");
  await page.fill("#documents", "a\nb");
  await page.evaluate(() => document.getElementById("query").removeAttribute("required"));
  await page.click("#run");
  assert.match(await page.textContent("#error"), /query/i);
  assert.equal(await page.$$eval("#results li", (l) => l.length), 0);
  await context.close();
});

test("with --api-key the page asks for the key once, then runs", async () => {
  const keyed = await startServer(["--api-key", "page-key"]);
  try {
    const { page, context, problems } = await newPage(undefined, false, keyed.base);
    await page.goto(keyed.base + "/");
    await page.waitForSelector("#key-form:not([hidden])");
    await page.fill("#api-key", "page-key");
    await page.click("#key-form button");
    await page.waitForSelector("#model-badge:not([hidden])");
    await page.fill("#query", QUERY);
    await page.fill("#documents", DOCS.join("\n"));
    await page.click("#run");
    await page.waitForSelector("#results li");
    assert.equal(await page.$$eval("#results li", (l) => l.length), DOCS.length);
    assert.ok(!(await page.isVisible("#demo-banner")), "no demo notice for a real model");
    // Reloading keeps the key: no second prompt.
    await page.reload();
    await page.waitForSelector("#model-badge:not([hidden])");
    assert.ok(await page.isHidden("#key-form"));
    // The first load's 401 is the page discovering that a key is needed.
    assert.deepEqual(problems.filter((p) => !/401/.test(p)), []);
    await context.close();
  } finally {
    await keyed.stop();
  }
});
