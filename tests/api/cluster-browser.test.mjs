// cluster-browser.test.mjs - the Cluster tab as a person uses it, in headless
// Chromium (/usr/bin/chromium via playwright-core): paste posts, Run, and
// read back the map (one dot per post, coloured by the API's labels) and the
// topic lists (the API's clusters, members in its order, bars = scores); the
// example button on a phone; hovering a dot; a server without an embedder.
// Screenshots go to BUILD_DIR/screenshots/cluster-*.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";
import { startServer, post, BUILD_DIR, EMBED_MODEL } from "./harness.mjs";

const SHOTS = join(BUILD_DIR, "screenshots");
const CHROMIUM = process.env.QRANK_CHROMIUM || "/usr/bin/chromium";
const ROOT = resolve(import.meta.dirname, "..", "..");
const EXAMPLE = readFileSync(join(ROOT, "examples", "ai-drawing-200.txt"), "utf8")
  .split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
const QUERY = "Stable Diffusion vs Midjourney";
let browser;
let srv;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu"] });
  srv = await startServer(["--embed-model", EMBED_MODEL, "--demo"]);
});
after(async () => {
  await browser?.close();
  if (srv) await srv.stop();
});

async function newPage(base, viewport = { width: 1366, height: 850 }, mobile = false) {
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

// What the page shows, read back from the DOM.
async function readPage(page) {
  return page.evaluate(() => ({
    dots: [...document.querySelectorAll("#cluster-map .pt")].map((d) => ({
      index: Number(d.dataset.index), cluster: Number(d.dataset.cluster), fill: d.getAttribute("fill"),
    })),
    topics: [...document.querySelectorAll("#cluster-lists .topic")].map((t) => ({
      cluster: Number(t.dataset.cluster),
      size: t.querySelector(".size").textContent,
      central: [...t.querySelectorAll(".central li")].map((li) => Number(li.dataset.index)),
      members: [...t.querySelectorAll(".members li")].map((li) => ({
        index: Number(li.dataset.index),
        text: li.querySelector(".doc").textContent,
        value: Number(li.querySelector(".score").textContent),
        width: parseFloat(li.querySelector(".fill").style.width),
        shown: li.offsetParent !== null,
      })),
    })),
    legend: [...document.querySelectorAll("#cluster-legend .legend-item")].map((b) => b.textContent),
  }));
}

function assertMatchesApi(shown, api, texts, key) {
  assert.equal(shown.dots.length, texts.length, "one dot per post");
  assert.deepEqual(shown.dots.map((d) => d.index).sort((a, b) => a - b), texts.map((_, i) => i));
  for (const d of shown.dots) assert.equal(d.cluster, api.labels[d.index], `post ${d.index}'s colour is its topic`);
  // One colour per topic, different topics in different colours.
  const fills = new Map();
  for (const d of shown.dots) {
    if (fills.has(d.cluster)) assert.equal(fills.get(d.cluster), d.fill);
    fills.set(d.cluster, d.fill);
  }
  assert.equal(new Set(fills.values()).size, fills.size);

  assert.deepEqual(shown.topics.map((t) => t.cluster), api.clusters.map((c) => c.cluster));
  assert.deepEqual(shown.legend, api.clusters.map((c) => `Topic ${c.cluster + 1} (${c.size})`));
  shown.topics.forEach((t, i) => {
    const c = api.clusters[i];
    assert.match(t.size, new RegExp(`^${c.size} posts? ·`));
    assert.deepEqual(t.central, c.central.map((p) => p.index));
    assert.deepEqual(t.members.map((m) => m.index), c.members.map((m) => m.index), "members in the API's order");
    t.members.forEach((m, j) => {
      const want = c.members[j][key];
      assert.equal(m.text, texts[m.index]);
      assert.ok(Math.abs(m.value - want) < 5e-5, `${key} ${m.value} vs ${want}`);
      assert.ok(Math.abs(m.width - Math.max(0, Math.min(1, want)) * 100) < 1e-3, "the bar's length is the value");
      assert.equal(m.shown, j < 8, "the first 8 members are shown, the rest behind 'Show all'");
    });
  });
}

test("paste posts, set k, Run: one dot per post in its topic's colour, the lists are the API's", async () => {
  const posts = EXAMPLE.slice(0, 30);
  const { page, context, problems } = await newPage(srv.base);
  await page.goto(srv.base + "/");
  await page.click("#tabs button:has-text('Cluster')");
  assert.ok(await page.isHidden("#cluster-unavailable"), "this server has an embedder");
  await page.fill("#cluster-texts", "\n" + posts.join("\n") + "\n\n");
  assert.equal(await page.textContent("#cluster-count"), "30 posts");
  await page.fill("#cluster-k", "3");
  await page.click("#cluster-run");
  await page.waitForSelector("#cluster-map .pt");

  const api = await post(srv.base, "/v1/cluster", { texts: posts, k: 3 });
  assert.equal(api.status, 200, api.text);
  const shown = await readPage(page);
  assertMatchesApi(shown, api.json, posts, "similarity");
  assert.match(await page.textContent("#cluster-summary"), /^30 posts · 3 topics \(k given\) · silhouette -?[\d.]+ · \d+ tokens · [\d.]+ s$/);
  assert.match(await page.textContent("#cluster-lists"), /closeness to the topic's centre/);

  // "Show all" opens the rest of a topic.
  const big = page.locator("#cluster-lists .topic").filter({ has: page.locator(".more") }).first();
  if (await big.count()) {
    await big.locator(".more").click();
    assert.ok(await big.locator(".member.extra").first().isVisible());
  }

  // Hovering a dot shows its post; leaving the map hides it.
  const dot = page.locator('#cluster-map .pt[data-index="4"]');
  await dot.hover();
  await page.waitForSelector("#cluster-tip:not([hidden])");
  assert.match(await page.textContent("#cluster-tip"), new RegExp(`^Topic ${api.json.labels[4] + 1} · post #5`));
  assert.ok((await page.textContent("#cluster-tip")).endsWith(posts[4]));
  assert.ok(await page.locator('#cluster-lists li.hl[data-index="4"]').count() >= 1, "its list entry lights up");
  await page.mouse.move(5, 5);
  await page.waitForSelector("#cluster-tip", { state: "hidden" });
  await page.evaluate(() => window.scrollTo(0, 0)); // the map is sticky: shoot it at the top
  await page.screenshot({ path: join(SHOTS, "cluster-laptop.png"), fullPage: true });

  // A bad k is the server's 400, shown as a message.
  await page.fill("#cluster-k", "31");
  await page.click("#cluster-run");
  await page.waitForSelector("#cluster-error:not([hidden])");
  assert.match(await page.textContent("#cluster-error"), /only 30 texts/);
  assert.deepEqual(problems.filter((p) => !/status of 400/.test(p)), []);
  await context.close();
});

test("the example button on a phone: 200 posts, the query, topics ranked by P(yes)", async () => {
  const { page, context, problems } = await newPage(srv.base, { width: 390, height: 844 }, true);
  await page.goto(srv.base + "/#cluster");
  await page.tap("#cluster-example");
  await page.waitForSelector("#cluster-map .pt");
  assert.equal(await page.inputValue("#cluster-query"), QUERY);
  const texts = (await page.inputValue("#cluster-texts")).split("\n");
  assert.deepEqual(texts, EXAMPLE, "the page loads examples/ai-drawing-200.txt as it is in the repository");

  const api = await post(srv.base, "/v1/cluster", { texts: EXAMPLE, query: QUERY });
  assert.equal(api.status, 200, api.text);
  assertMatchesApi(await readPage(page), api.json, EXAMPLE, "score");
  assert.match(await page.textContent("#cluster-lists"), /relevance to the query/);
  // Nothing wider than the phone's screen.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone`);
  await page.waitForTimeout(800); // the results scroll into view smoothly
  await page.locator('#cluster-map .pt[data-index="0"]').tap();
  await page.waitForSelector("#cluster-tip:not([hidden])");
  await page.screenshot({ path: join(SHOTS, "cluster-phone.png") });
  assert.deepEqual(problems, []);
  await context.close();
});

test("without an embedding model the tab says so plainly and cannot run", async () => {
  const plain = await startServer();
  try {
    const { page, context, problems } = await newPage(plain.base);
    await page.goto(plain.base + "/#cluster");
    await page.waitForSelector("#cluster-unavailable:not([hidden])");
    assert.match(await page.textContent("#cluster-unavailable"), /no embedding model[\s\S]*--embed-model/);
    assert.ok(await page.isDisabled("#cluster-run"));
    assert.ok(await page.isDisabled("#cluster-example"));
    assert.ok(await page.isHidden("#cluster-output"));
    await page.screenshot({ path: join(SHOTS, "cluster-no-embedder.png") });
    // The rerank tab is unaffected.
    await page.click("#tabs button:has-text('Rerank')");
    assert.ok(await page.isVisible("#rerank-form"));
    assert.deepEqual(problems, []);
    await context.close();
  } finally {
    await plain.stop();
  }
});
