// cluster.test.mjs - POST /v1/cluster on a real server with the synthetic
// reranker and embedder: every error code, the structure of an answer
// (recomputed from its own parts), determinism for a seed, and agreement
// number for number with `qrank cluster --json` on the same models.
// The models have random weights, so no test says what a topic should be.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import {
  startServer, post, get, cliScores, BIN, MODEL, EMBED_MODEL, QUERY, DOCS,
} from "./harness.mjs";

const ROOT = resolve(import.meta.dirname, "..", "..");
const EXAMPLE = readFileSync(resolve(ROOT, "examples", "ai-drawing-200.txt"), "utf8")
  .split("\n").filter((l) => l.trim().length > 0);
const EXAMPLE_QUERY = "Stable Diffusion vs Midjourney";
// 40 posts: enough for several topics and for k to be chosen in 2..10.
const POSTS = EXAMPLE.slice(0, 40);

let srv; // reranker + embedder
before(async () => {
  srv = await startServer(["--embed-model", EMBED_MODEL]);
});
after(async () => {
  const { code } = await srv.stop();
  assert.equal(code, 0, srv.stderr);
});

function assertError(r, status) {
  assert.equal(r.status, status, r.text);
  assert.ok(r.json && r.json.error, "error body: " + r.text);
  assert.equal(r.json.error.code, status);
  assert.equal(typeof r.json.error.type, "string");
  assert.ok(typeof r.json.error.message === "string" && r.json.error.message.length > 0);
}

// `qrank cluster --json` on the same models, posts given one per line.
function cliCluster(texts, args) {
  return new Promise((resolveJson, reject) => {
    const child = execFile(BIN, ["cluster", "-m", EMBED_MODEL, "--json", "--threads", "1", ...args],
      { maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
        if (err) return reject(new Error(`qrank cluster failed: ${stderr}`));
        resolveJson(JSON.parse(stdout));
      });
    child.stdin.end(texts.join("\n") + "\n");
  });
}

// Everything an answer must satisfy, from its own parts.
function checkStructure(body, texts, { query, kGiven } = {}) {
  const n = texts.length;
  assert.equal(body.object, "clustering");
  assert.equal(body.model, "embedder");
  assert.equal(body.posts, n);
  assert.equal(body.dims, 64);
  assert.equal(body.k, body.clusters.length);
  assert.equal(body.k_chosen_by, kGiven ? "given" : "silhouette");
  if (query) {
    assert.equal(body.query, query);
    assert.equal(body.reranker, "reranker");
  } else {
    assert.equal(body.query, undefined);
    assert.equal(body.reranker, undefined);
  }
  assert.equal(body.labels.length, n);
  assert.equal(body.map.length, n);
  for (const p of body.map) {
    assert.equal(p.length, 2);
    assert.ok(p.every(Number.isFinite));
  }
  if (!kGiven && n > 2) {
    // k is the best silhouette of the range searched.
    const finite = body.silhouette_by_k.filter((s) => s.silhouette !== null);
    const best = finite.reduce((a, b) => (b.silhouette > a.silhouette ? b : a));
    assert.equal(body.k, best.k);
    assert.equal(body.silhouette, best.silhouette);
    assert.deepEqual(body.silhouette_by_k.map((s) => s.k),
      Array.from({ length: Math.min(10, n - 1) - 1 }, (_, i) => i + 2));
  }
  const seen = new Array(n).fill(0);
  let previousSize = Infinity;
  body.clusters.forEach((c, ci) => {
    assert.equal(c.cluster, ci);
    assert.equal(c.size, c.members.length);
    assert.ok(c.size > 0 && c.size <= previousSize, "clusters are numbered by size, largest first");
    previousSize = c.size;
    assert.ok(c.central.length === Math.min(3, c.size));
    const memberSet = new Set(c.members.map((m) => m.index));
    for (const p of c.central) {
      assert.ok(memberSet.has(p.index), "a central post belongs to its cluster");
      assert.equal(p.text, texts[p.index]);
    }
    // The central posts are the members most similar to the centre, nearest first.
    const bySim = [...c.members].sort((a, b) => b.similarity - a.similarity);
    assert.deepEqual(c.central.map((p) => c.members.find((m) => m.index === p.index).similarity),
      bySim.slice(0, c.central.length).map((m) => m.similarity));
    for (const m of c.members) {
      seen[m.index]++;
      assert.equal(body.labels[m.index], ci, "labels agree with the member lists");
      assert.equal(m.text, texts[m.index]);
      assert.ok(m.similarity >= -1 && m.similarity <= 1);
      if (query) assert.ok(m.score >= 0 && m.score <= 1);
      else assert.equal(m.score, undefined);
    }
    const key = query ? "score" : "similarity";
    for (let i = 1; i < c.members.length; i++) {
      assert.ok(c.members[i - 1][key] >= c.members[i][key], `members best first by ${key}`);
    }
  });
  assert.deepEqual(seen, new Array(n).fill(1), "every post is in exactly one cluster");
  assert.ok(body.usage.prompt_tokens > 0);
  assert.equal(body.usage.total_tokens, body.usage.prompt_tokens);
  assert.equal(body.usage.truncated_texts, 0);
}

// The API and the CLI on the same request: the same numbers (both round to 6 decimals).
function assertSameAsCli(api, cli) {
  for (const key of ["posts", "dims", "k", "k_chosen_by", "silhouette", "inertia", "silhouette_by_k", "labels", "map"]) {
    assert.deepEqual(api[key], cli[key], key);
  }
  assert.equal(api.usage.prompt_tokens, cli.usage.prompt_tokens);
  const strip = (clusters) => clusters.map((c) => ({
    cluster: c.cluster,
    size: c.size,
    central: c.central.map((p) => [p.index, p.text]),
    members: c.members.map((m) => [m.index, m.text, m.score, m.similarity]),
  }));
  assert.deepEqual(strip(api.clusters), strip(cli.clusters));
}

// ---- answers ---------------------------------------------------------------------------------

test("with a query: structure, members by P(yes), and the CLI's clustering and scores", async () => {
  const r = await post(srv.base, "/v1/cluster", { texts: POSTS, query: EXAMPLE_QUERY, seed: 7 });
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get("content-type"), /application\/json/);
  checkStructure(r.json, POSTS, { query: EXAMPLE_QUERY });
  const cli = await cliCluster(POSTS, ["-r", MODEL, "-q", EXAMPLE_QUERY, "--seed", "7"]);
  assertSameAsCli(r.json, cli);
  // The member scores are the reranker's: the same as qrank rerank on these posts.
  const scores = await cliScores(EXAMPLE_QUERY, POSTS);
  for (const c of r.json.clusters) {
    for (const m of c.members) assert.ok(Math.abs(m.score - scores[m.index]) <= 5e-7, `post ${m.index}`);
  }
});

test("without a query: members by closeness to the centre; k, k range, instruction as the CLI's", async () => {
  const plain = await post(srv.base, "/v1/cluster", { texts: POSTS });
  assert.equal(plain.status, 200, plain.text);
  checkStructure(plain.json, POSTS);
  assertSameAsCli(plain.json, await cliCluster(POSTS, []));

  const k3 = await post(srv.base, "/v1/cluster", { texts: POSTS, k: 3, seed: 11 });
  assert.equal(k3.status, 200, k3.text);
  checkStructure(k3.json, POSTS, { kGiven: true });
  assert.equal(k3.json.k, 3);
  assertSameAsCli(k3.json, await cliCluster(POSTS, ["-k", "3", "--seed", "11"]));

  const range = await post(srv.base, "/v1/cluster", { texts: POSTS, k_min: 3, k_max: 5 });
  assert.equal(range.status, 200, range.text);
  assert.deepEqual(range.json.silhouette_by_k.map((s) => s.k), [3, 4, 5]);
  assert.ok(range.json.k >= 3 && range.json.k <= 5);
  assertSameAsCli(range.json, await cliCluster(POSTS, ["--k-min", "3", "--k-max", "5"]));

  // "" embeds the posts as plain documents, another instruction embeds them as its queries.
  const bare = await post(srv.base, "/v1/cluster", { texts: POSTS, instruction: "" });
  assert.equal(bare.status, 200, bare.text);
  assert.notDeepEqual(bare.json.map, plain.json.map, "the instruction reaches the embedder");
  assertSameAsCli(bare.json, await cliCluster(POSTS, ["-i", ""]));
  const other = await post(srv.base, "/v1/cluster", { texts: POSTS, instruction: "Find the product each post is about" });
  assertSameAsCli(other.json, await cliCluster(POSTS, ["-i", "Find the product each post is about"]));

  // The reranker's own instruction moves the scores, not the clustering.
  const a = await post(srv.base, "/v1/cluster", { texts: POSTS, query: EXAMPLE_QUERY, k: 2 });
  const b = await post(srv.base, "/v1/cluster", { texts: POSTS, query: EXAMPLE_QUERY, k: 2, rerank_instruction: "Rank posts by how angry they are" });
  assert.deepEqual(a.json.labels, b.json.labels);
  assert.notDeepEqual(a.json.clusters.map((c) => c.members.map((m) => m.score)),
    b.json.clusters.map((c) => c.members.map((m) => m.score)));
  assertSameAsCli(b.json, await cliCluster(POSTS, ["-r", MODEL, "-q", EXAMPLE_QUERY, "-k", "2", "--rerank-instruction", "Rank posts by how angry they are"]));
});

test("a seed gives the same answer every time; the 200 example posts work", async () => {
  const body = { texts: EXAMPLE, query: EXAMPLE_QUERY, seed: 1234 };
  const first = await post(srv.base, "/v1/cluster", body);
  assert.equal(first.status, 200, first.text);
  checkStructure(first.json, EXAMPLE, { query: EXAMPLE_QUERY });
  const again = await Promise.all([post(srv.base, "/v1/cluster", body), post(srv.base, "/v1/cluster", body)]);
  for (const r of again) assert.equal(r.text, first.text, "byte for byte");
  // Omitting the seed is the library's default seed, as in the CLI.
  const noSeed = await post(srv.base, "/v1/cluster", { texts: POSTS });
  const seed42 = await post(srv.base, "/v1/cluster", { texts: POSTS, seed: 42 });
  assert.equal(noSeed.text, seed42.text);
});

test("one or two posts make one cluster; k may be 1 or the number of posts", async () => {
  const one = await post(srv.base, "/v1/cluster", { texts: ["只有一条帖子"] });
  assert.equal(one.status, 200, one.text);
  assert.equal(one.json.k, 1);
  assert.deepEqual(one.json.labels, [0]);
  checkStructure(one.json, ["只有一条帖子"]);
  const two = await post(srv.base, "/v1/cluster", { texts: DOCS.slice(0, 2), query: QUERY });
  assert.equal(two.json.k, 1);
  const all = await post(srv.base, "/v1/cluster", { texts: DOCS, k: DOCS.length });
  assert.equal(all.status, 200, all.text);
  assert.ok(all.json.clusters.every((c) => c.size === 1));
  const single = await post(srv.base, "/v1/cluster", { texts: DOCS, k: 1, model: "anything" });
  assert.equal(single.json.clusters[0].size, DOCS.length);
  assert.equal(single.json.model, "anything", "a model name is accepted and echoed, as OpenAI clients send one");
});

test("clustering runs beside rerank traffic: everyone gets their own answer", async () => {
  const cluster = post(srv.base, "/v1/cluster", { texts: EXAMPLE, query: EXAMPLE_QUERY, seed: 5 });
  const reranks = [0, 1, 2].map((i) => post(srv.base, "/v1/rerank", { query: QUERY, documents: DOCS.slice(i) }));
  const [c, ...rs] = await Promise.all([cluster, ...reranks]);
  assert.equal(c.status, 200, c.text);
  checkStructure(c.json, EXAMPLE, { query: EXAMPLE_QUERY });
  const expected = await cliScores(QUERY, DOCS);
  rs.forEach((r, i) => {
    assert.equal(r.status, 200, r.text);
    for (const x of r.json.results) assert.ok(Math.abs(x.relevance_score - expected[x.index + i]) <= 2e-6);
  });
});

// ---- errors -----------------------------------------------------------------------------------

test("400 for every malformed field, with a message that names it", async () => {
  const cases = [
    ["{not json", /JSON/],
    ["[1, 2]", /object/],
    [{}, /texts/],
    [{ texts: "one post" }, /texts/],
    [{ texts: [] }, /texts/],
    [{ texts: ["a", 2] }, /texts\[1\]/],
    [{ texts: [{ text: "a" }] }, /texts\[0\]/],
    [{ texts: ["a", "  \n"] }, /texts\[1\]/],
    [{ texts: POSTS, k: 0 }, /`k`/],
    [{ texts: POSTS, k: 2.5 }, /`k`/],
    [{ texts: POSTS, k: "3" }, /`k`/],
    [{ texts: DOCS, k: DOCS.length + 1 }, /`k`/],
    [{ texts: POSTS, k_min: 1 }, /k_min/],
    [{ texts: POSTS, k_max: 1e9 }, /k_max/],
    [{ texts: POSTS, k_min: 6, k_max: 3 }, /k_min/],
    [{ texts: POSTS, k: 3, k_max: 5 }, /not both/],
    [{ texts: POSTS, seed: -1 }, /seed/],
    [{ texts: POSTS, seed: 0.5 }, /seed/],
    [{ texts: POSTS, seed: 2 ** 60 }, /seed/],
    [{ texts: POSTS, seed: "7" }, /seed/],
    [{ texts: POSTS, query: "" }, /query/],
    [{ texts: POSTS, query: "   " }, /query/],
    [{ texts: POSTS, query: 3 }, /query/],
    [{ texts: POSTS, instruction: ["x"] }, /instruction/],
    [{ texts: POSTS, rerank_instruction: "x" }, /query/],
    [{ texts: POSTS, model: 1 }, /model/],
  ];
  for (const [body, message] of cases) {
    const r = await post(srv.base, "/v1/cluster", body);
    assertError(r, 400);
    assert.match(r.json.error.message, message, JSON.stringify(body));
  }
});

test("405 for GET; 401 without the key; 413 over --max-documents, --max-body-bytes or --max-request-tokens", async () => {
  const g = await get(srv.base, "/v1/cluster");
  assertError(g, 405);
  assert.equal(g.headers.get("allow"), "POST");

  const keyed = await startServer(["--embed-model", EMBED_MODEL, "--api-key", "cluster-key"]);
  try {
    assertError(await post(keyed.base, "/v1/cluster", { texts: DOCS }), 401);
    const ok = await post(keyed.base, "/v1/cluster", { texts: DOCS }, { Authorization: "Bearer cluster-key" });
    assert.equal(ok.status, 200, ok.text);
  } finally {
    await keyed.stop();
  }

  const small = await startServer(["--embed-model", EMBED_MODEL, "--max-documents", "5", "--max-body-bytes", "4096"]);
  try {
    const over = await post(small.base, "/v1/cluster", { texts: DOCS.slice(0, 6) });
    assertError(over, 413);
    assert.match(over.json.error.message, /--max-documents/);
    assertError(await post(small.base, "/v1/cluster", { texts: ["烟花".repeat(1000)] }), 413);
    assert.equal((await post(small.base, "/v1/cluster", { texts: DOCS.slice(0, 5) })).status, 200);
  } finally {
    await small.stop();
  }
  // The token budget counts the embedding prompts and, with a query, the rerank prompts too.
  const budget = await startServer(["--embed-model", EMBED_MODEL, "--max-request-tokens", "64"]);
  try {
    assert.equal((await post(budget.base, "/v1/cluster", { texts: ["a", "b"] })).status, 200);
    const r = await post(budget.base, "/v1/cluster", { texts: ["a", "b"], query: "q" });
    assertError(r, 413);
    assert.match(r.json.error.message, /--max-request-tokens/);
  } finally {
    await budget.stop();
  }
});

test("501 without --embed-model, even for a body that would be refused; /v1/models says why", async () => {
  const plain = await startServer();
  try {
    for (const body of [{ texts: DOCS }, { texts: DOCS, query: QUERY }, "{bad"]) {
      const r = await post(plain.base, "/v1/cluster", body);
      assertError(r, 501);
      assert.match(r.json.error.message, /--embed-model/);
    }
    const models = await get(plain.base, "/v1/models");
    assert.deepEqual(models.json.data.map((m) => m.kind), ["reranker"], "no embedder listed: the page reads this");
  } finally {
    await plain.stop();
  }
});
