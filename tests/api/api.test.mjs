// api.test.mjs - the HTTP contract of `qrank serve`, on a real server with a
// synthetic model: every route, every error code, concurrent clients getting
// the CLI's scores, metrics, loading and draining.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, openSync, closeSync, rmSync, readdirSync, readlinkSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import {
  startServer, spawnServer, post, get, cliScores, QUERY, DOCS, EMBED_MODEL,
} from "./harness.mjs";

let srv; // reranker + embedder, no key
before(async () => {
  srv = await startServer(["--embed-model", EMBED_MODEL]);
});
after(async () => {
  const { code } = await srv.stop();
  assert.equal(code, 0, "a SIGTERM'd server exits 0:\n" + srv.stderr);
});

const sigmoid = (x) => 1 / (1 + Math.exp(-x));
const f32 = Math.fround;

function assertError(r, status) {
  assert.equal(r.status, status, r.text);
  assert.ok(r.json && r.json.error, "error body: " + r.text);
  assert.equal(r.json.error.code, status);
  assert.equal(typeof r.json.error.message, "string");
  assert.ok(r.json.error.message.length > 0);
  assert.equal(typeof r.json.error.type, "string");
}

function assertSortedDesc(values) {
  for (let i = 1; i < values.length; i++) assert.ok(values[i - 1] >= values[i], `not sorted: ${values}`);
}

// ---- routes ------------------------------------------------------------------------------------

test("GET / serves the page and its own static files, with no external resources", async () => {
  const page = await get(srv.base, "/");
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type"), /text\/html/);
  assert.match(page.text, /id="query"/);
  assert.match(page.text, /id="documents"/);
  assert.match(page.text, /id="instruction"/);
  assert.match(page.text, />Run</);
  assert.doesNotMatch(page.text, /(src|href)="(https?:)?\/\//, "nothing loaded from elsewhere");
  const js = await get(srv.base, "/app.js");
  assert.equal(js.status, 200);
  assert.match(js.headers.get("content-type"), /javascript/);
  assert.doesNotMatch(js.text, /fetch\(["'`]https?:/);
  const css = await get(srv.base, "/style.css");
  assert.equal(css.status, 200);
  assert.match(css.headers.get("content-type"), /text\/css/);
  assert.doesNotMatch(css.text, /url\(\s*["']?https?:/);
});

test("GET /health is 200 {status: ok} once loaded", async () => {
  const r = await get(srv.base, "/health");
  assert.equal(r.status, 200);
  assert.equal(r.json.status, "ok");
  assert.equal(r.json.demo, false);
});

test("GET /v1/models lists the reranker and the embedder", async () => {
  const r = await get(srv.base, "/v1/models");
  assert.equal(r.status, 200);
  assert.equal(r.json.object, "list");
  assert.deepEqual(r.json.data.map((m) => m.kind), ["reranker", "embedder"]);
  assert.equal(r.json.data[0].id, "reranker");
  assert.equal(r.json.data[0].object, "model");
  assert.equal(r.json.data[0].layers, 2);
  assert.equal(r.json.data[0].hidden, 64);
  assert.equal(r.json.demo, false);
  assert.equal(r.json.notice, undefined);
});

// The Q8_0 weights are laid out for the fast kernel while no request waits
// (qrank_model_pack_step); the later tests then compare the server's scores,
// on those copies, with the CLI's, which never makes them.
test("GET /v1/models: Q8_0 layouts made while idle (packed_bytes reaches layout_bytes); none with --no-repack", async () => {
  let r = await get(srv.base, "/v1/models");
  const hasLayout = r.json.data[0].kernels !== "generic";
  if (!hasLayout) console.log("skipped the layout check: the generic kernel table has no packed layout");
  const deadline = Date.now() + 20000;
  while (hasLayout && r.json.data.some((m) => m.packed_bytes < m.layout_bytes) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    r = await get(srv.base, "/v1/models");
  }
  for (const m of r.json.data) {
    assert.equal(m.weight_type, "Q8_0");
    assert.equal(m.fast_activations, "int8", `${m.kind}: what --precision fast rounds Q8_0's activations to`);
    if (hasLayout) assert.ok(m.layout_bytes > 0, `${m.kind}: no layout planned`);
    assert.equal(m.packed_bytes, m.layout_bytes, `${m.kind}: ${m.packed_bytes} of ${m.layout_bytes} bytes after 20 s idle`);
  }
  const never = await startServer(["--no-repack"]);
  try {
    const expected = await cliScores(QUERY, DOCS);
    const scored = await post(never.base, "/v1/rerank", { query: QUERY, documents: DOCS });
    assert.equal(scored.status, 200, scored.text);
    for (const x of scored.json.results) assert.equal(f32(x.relevance_score), f32(expected[x.index]), `doc ${x.index}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const m = (await get(never.base, "/v1/models")).json.data[0];
    assert.equal(m.packed_bytes, 0);
    assert.equal(m.layout_bytes, 0);
  } finally {
    await never.stop();
  }
});

test("POST /v1/rerank (Cohere/Jina form): sorted, top_n, no document unless asked, CLI's scores", async () => {
  const expected = await cliScores(QUERY, DOCS);
  const r = await post(srv.base, "/v1/rerank", { model: "my-reranker", query: QUERY, documents: DOCS });
  assert.equal(r.status, 200, r.text);
  assert.equal(typeof r.json.id, "string");
  assert.equal(r.json.model, "my-reranker", "the model field is echoed");
  assert.equal(r.json.results.length, DOCS.length);
  assertSortedDesc(r.json.results.map((x) => x.relevance_score));
  assert.deepEqual(r.json.results.map((x) => x.index).sort(), DOCS.map((_, i) => i).sort());
  for (const x of r.json.results) {
    assert.ok(!("document" in x), "document is absent, not null, unless asked");
    assert.ok(x.relevance_score > 0 && x.relevance_score < 1);
    assert.equal(f32(x.relevance_score), f32(expected[x.index]), `doc ${x.index}`);
  }
  assert.ok(r.json.usage.prompt_tokens > 0);
  assert.equal(r.json.usage.total_tokens, r.json.usage.prompt_tokens);

  const top = await post(srv.base, "/rerank", {
    query: QUERY, documents: DOCS.map((text, i) => (i % 2 ? { text } : text)), top_n: 2, return_documents: true,
  });
  assert.equal(top.status, 200, top.text);
  assert.equal(top.json.model, "reranker", "without a model field the loaded model's id");
  assert.deepEqual(top.json.results, r.json.results.slice(0, 2).map((x) => ({ ...x, document: { text: DOCS[x.index] } })));
});

test("the instruction changes the scores, as the CLI's -i does", async () => {
  const instruction = "Rank posts by emotional resonance";
  const expected = await cliScores(QUERY, DOCS, instruction);
  const r = await post(srv.base, "/v1/rerank", { query: QUERY, documents: DOCS, instruction });
  assert.equal(r.status, 200, r.text);
  for (const x of r.json.results) assert.equal(f32(x.relevance_score), f32(expected[x.index]));
  const plain = await cliScores(QUERY, DOCS);
  assert.notDeepEqual(expected, plain);
});

test("max_tokens_per_doc cuts documents (fewer prompt tokens)", async () => {
  const long = ["烟花".repeat(200), "fireworks ".repeat(100)];
  const full = await post(srv.base, "/v1/rerank", { query: QUERY, documents: long });
  const cut = await post(srv.base, "/v1/rerank", { query: QUERY, documents: long, max_tokens_per_doc: 8 });
  assert.equal(full.status, 200, full.text);
  assert.equal(cut.status, 200, cut.text);
  assert.ok(cut.json.usage.prompt_tokens < full.json.usage.prompt_tokens - 100,
    `${cut.json.usage.prompt_tokens} vs ${full.json.usage.prompt_tokens}`);
});

test("POST /rerank and /v1/rerank in TEI form: [{index, score, text?}], raw_scores are logits", async () => {
  for (const path of ["/rerank", "/v1/rerank"]) {
    const p = await post(srv.base, path, { query: QUERY, texts: DOCS });
    assert.equal(p.status, 200, p.text);
    assert.ok(Array.isArray(p.json));
    assert.equal(p.json.length, DOCS.length);
    assertSortedDesc(p.json.map((x) => x.score));
    for (const x of p.json) assert.ok(!("text" in x));

    const raw = await post(srv.base, path, { query: QUERY, texts: DOCS, raw_scores: true, return_text: true, truncate: true });
    assert.equal(raw.status, 200, raw.text);
    const prob = new Map(p.json.map((x) => [x.index, x.score]));
    for (const x of raw.json) {
      assert.equal(x.text, DOCS[x.index]);
      assert.ok(Math.abs(sigmoid(x.score) - prob.get(x.index)) < 1e-5, `sigmoid(${x.score}) vs ${prob.get(x.index)}`);
    }
    assert.deepEqual(raw.json.map((x) => x.index), p.json.map((x) => x.index));
  }
});

test("POST /v2/rerank (Cohere v2): {id, results, meta}, model accepted", async () => {
  const r = await post(srv.base, "/v2/rerank", { model: "rerank-v3.5", query: QUERY, documents: DOCS, top_n: 3 });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.json).sort(), ["id", "meta", "results"]);
  assert.equal(r.json.results.length, 3);
  for (const x of r.json.results) assert.deepEqual(Object.keys(x).sort(), ["index", "relevance_score"]);
  assert.equal(r.json.meta.api_version.version, "2");
  assert.equal(r.json.meta.billed_units.search_units, 1);
  assert.ok(r.json.meta.tokens.input_tokens > 0);
});

test("POST /api/predict: the original app's form", async () => {
  const docs = "  " + DOCS.join("\n\n") + "\r\n";
  const expected = await cliScores(QUERY, DOCS);
  const r = await post(srv.base, "/api/predict", { data: [QUERY, docs, "", 4] });
  assert.equal(r.status, 200, r.text);
  const [ranked, scores] = r.json.data;
  assert.equal(ranked.length, DOCS.length, "blank lines are dropped, lines trimmed");
  assertSortedDesc(scores);
  for (let i = 0; i < ranked.length; i++) {
    const index = DOCS.indexOf(ranked[i]);
    assert.ok(index >= 0, ranked[i]);
    assert.equal(f32(scores[i]), f32(expected[index]));
  }
  assert.equal(typeof r.json.duration, "number");
  assert.ok(r.json.duration >= 0 && r.json.duration < 60);

  const short = await post(srv.base, "/api/predict", { data: [QUERY, DOCS[0]] });
  assert.equal(short.status, 200, "instruction and batch size are optional");
  assertError(await post(srv.base, "/api/predict", { data: [QUERY] }), 400);
  assertError(await post(srv.base, "/api/predict", { data: [QUERY, 5] }), 400);
  assertError(await post(srv.base, "/api/predict", { data: [QUERY, "\n \n"] }), 400);
  assertError(await post(srv.base, "/api/predict", { data: [QUERY, "a", 3] }), 400);
});

test("POST /v1/embeddings (OpenAI form): float and base64 agree, dimensions, usage", async () => {
  const input = ["杭州亚运会闭幕式烟花秀", "The closing ceremony fireworks"];
  const r = await post(srv.base, "/v1/embeddings", { input, model: "emb" });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.object, "list");
  assert.equal(r.json.model, "emb");
  assert.equal(r.json.data.length, 2);
  for (const [i, d] of r.json.data.entries()) {
    assert.equal(d.object, "embedding");
    assert.equal(d.index, i);
    assert.equal(d.embedding.length, 64);
    const norm = Math.hypot(...d.embedding);
    assert.ok(Math.abs(norm - 1) < 1e-4, `norm ${norm}`);
  }
  assert.ok(r.json.usage.prompt_tokens > 0);
  assert.equal(r.json.usage.total_tokens, r.json.usage.prompt_tokens);

  const b = await post(srv.base, "/v1/embeddings", { input, encoding_format: "base64" });
  assert.equal(b.status, 200, b.text);
  for (const [i, d] of b.json.data.entries()) {
    const buf = Buffer.from(d.embedding, "base64");
    assert.equal(buf.length, 64 * 4);
    const floats = Array.from({ length: 64 }, (_, k) => buf.readFloatLE(k * 4));
    assert.deepEqual(floats.map(f32), r.json.data[i].embedding.map(f32));
  }

  const one = await post(srv.base, "/v1/embeddings", { input: input[0], dimensions: 32 });
  assert.equal(one.status, 200, one.text);
  assert.equal(one.json.data.length, 1);
  assert.equal(one.json.data[0].embedding.length, 32);
  assert.ok(Math.abs(Math.hypot(...one.json.data[0].embedding) - 1) < 1e-4);

  const q = await post(srv.base, "/v1/embeddings", { input: input[0], instruction: "Identify the topic" });
  assert.equal(q.status, 200, q.text);
  assert.notDeepEqual(q.json.data[0].embedding, r.json.data[0].embedding, "the instruction is used");

  assertError(await post(srv.base, "/v1/embeddings", { input: [] }), 400);
  assertError(await post(srv.base, "/v1/embeddings", { input: [[1, 2, 3]] }), 400);
  assertError(await post(srv.base, "/v1/embeddings", { input: "x", dimensions: 16 }), 400);
  assertError(await post(srv.base, "/v1/embeddings", { input: "x", encoding_format: "hex" }), 400);
});

test("GET /metrics: Prometheus text with requests, errors, latency, documents, tokens, batches, queue", async () => {
  await post(srv.base, "/v1/rerank", { query: QUERY, documents: DOCS });
  await post(srv.base, "/v1/rerank", { query: "", documents: DOCS });
  const r = await get(srv.base, "/metrics");
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type"), /text\/plain/);
  const value = (re) => {
    const m = r.text.match(re);
    assert.ok(m, `no ${re} in\n${r.text}`);
    return Number(m[1]);
  };
  assert.ok(value(/^qrank_requests_total\{route="\/v1\/rerank",code="200"\} (\d+)$/m) >= 1);
  assert.ok(value(/^qrank_request_errors_total\{route="\/v1\/rerank",code="400"\} (\d+)$/m) >= 1);
  assert.ok(value(/^qrank_request_duration_seconds_count\{route="\/v1\/rerank"\} (\d+)$/m) >= 2);
  assert.ok(value(/^qrank_request_duration_seconds_bucket\{route="\/v1\/rerank",le="\+Inf"\} (\d+)$/m) >= 2);
  assert.ok(value(/^qrank_documents_scored_total (\d+)$/m) >= DOCS.length);
  assert.ok(value(/^qrank_prompt_tokens_total (\d+)$/m) > 0);
  assert.ok(value(/^qrank_prefix_tokens_reused_total (\d+)$/m) > 0, "documents of one query share a prefix");
  assert.ok(value(/^qrank_batch_documents_count (\d+)$/m) >= 1);
  assert.ok(value(/^qrank_batch_requests_count (\d+)$/m) >= 1);
  assert.equal(value(/^qrank_queue_depth (\d+)$/m), 0);
});

test("a query sent again skips its prefix (prefix cache): the CLI's scores, /metrics counts it per model; --prefix-cache-mb 0: none", async () => {
  const q = "prefix cache: 烟花 tonight";
  const metric = async (base, name, model = "reranker") => {
    const t = (await get(base, "/metrics")).text;
    const m = t.match(new RegExp(`^${name}\\{model="${model}"\\} (\\d+)$`, "m"));
    assert.ok(m, `no ${name} for the ${model} in\n${t}`);
    return Number(m[1]);
  };
  const hits = await metric(srv.base, "qrank_prefix_cache_hits_total");
  const misses = await metric(srv.base, "qrank_prefix_cache_misses_total");
  const embedHits = await metric(srv.base, "qrank_prefix_cache_hits_total", "embedder");
  const embedMisses = await metric(srv.base, "qrank_prefix_cache_misses_total", "embedder");
  const first = await post(srv.base, "/v1/rerank", { query: q, documents: DOCS.slice(0, 3) });
  const second = await post(srv.base, "/v1/rerank", { query: q, documents: DOCS.slice(3) });
  assert.equal(first.status, 200, first.text);
  assert.equal(second.status, 200, second.text);
  const expected = await cliScores(q, DOCS.slice(3));
  for (const x of second.json.results) assert.equal(f32(x.relevance_score), f32(expected[x.index]), `doc ${x.index}`);
  assert.equal(await metric(srv.base, "qrank_prefix_cache_misses_total"), misses + 1, "the first request computes it");
  assert.equal(await metric(srv.base, "qrank_prefix_cache_hits_total"), hits + 1, "the second finds it");
  assert.ok((await metric(srv.base, "qrank_prefix_cache_bytes")) > 0);
  // an embedder keeps its instruction's prefix: the second call finds it
  const instruction = "prefix cache: group posts by topic";
  for (const input of ["烟花 tonight", "fireworks at the river"]) {
    const r = await post(srv.base, "/v1/embeddings", { input, instruction });
    assert.equal(r.status, 200, r.text);
  }
  assert.equal(await metric(srv.base, "qrank_prefix_cache_misses_total", "embedder"), embedMisses + 1);
  assert.equal(await metric(srv.base, "qrank_prefix_cache_hits_total", "embedder"), embedHits + 1);
  assert.ok((await metric(srv.base, "qrank_prefix_cache_bytes", "embedder")) > 0);
  assert.equal(await metric(srv.base, "qrank_prefix_cache_misses_total"), misses + 1, "embeddings leave the reranker's counts alone");
  const none = await startServer(["--prefix-cache-mb", "0"]);
  try {
    for (let i = 0; i < 2; i++) {
      const r = await post(none.base, "/v1/rerank", { query: q, documents: DOCS.slice(3) });
      assert.equal(r.status, 200, r.text);
      for (const x of r.json.results) assert.equal(f32(x.relevance_score), f32(expected[x.index]), `doc ${x.index}`);
    }
    assert.equal(await metric(none.base, "qrank_prefix_cache_hits_total"), 0);
    assert.equal(await metric(none.base, "qrank_prefix_cache_bytes"), 0);
  } finally {
    await none.stop();
  }
});

// ---- errors -----------------------------------------------------------------------------------

test("400: bad JSON, trailing text, not an object, invalid UTF-8, missing/wrong-typed/empty fields", async () => {
  const cases = [
    "{not json",
    '{"query": "q", "documents": ["a"]} trailing',
    "[1, 2]",
    "",
    new Uint8Array([0x7b, 0x22, 0x71, 0x75, 0x65, 0x72, 0x79, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    { documents: ["a"] },
    { query: 5, documents: ["a"] },
    { query: "q" },
    { query: "q", documents: "a" },
    { query: "q", documents: [1] },
    { query: "q", documents: [{ title: "no text" }] },
    { query: "q", documents: [] },
    { query: "", documents: ["a"] },
    { query: "   ", documents: ["a"] },
    { query: "q", documents: ["a"], top_n: 0 },
    { query: "q", documents: ["a"], top_n: 1.5 },
    { query: "q", documents: ["a"], top_n: "2" },
    { query: "q", documents: ["a"], return_documents: "yes" },
    { query: "q", documents: ["a"], instruction: 3 },
    { query: "q", documents: ["a"], max_tokens_per_doc: -1 },
    { query: "q", texts: [] },
    { query: "q", texts: ["a"], raw_scores: 1 },
    { query: "q", texts: ["a"], truncation_direction: "Left" },
  ];
  for (const body of cases) {
    const r = await post(srv.base, "/v1/rerank", body);
    assertError(r, 400);
  }
  assertError(await post(srv.base, "/v2/rerank", { query: "q", documents: [] }), 400);
  assertError(await post(srv.base, "/api/predict", "{"), 400);
  assertError(await post(srv.base, "/v1/embeddings", "nope"), 400);
});

test("404 for unknown paths, 405 for the wrong method (with Allow)", async () => {
  assertError(await get(srv.base, "/v1/nothing"), 404);
  assertError(await post(srv.base, "/v3/rerank", { query: "q", documents: ["a"] }), 404);
  const r = await get(srv.base, "/v1/rerank");
  assertError(r, 405);
  assert.equal(r.headers.get("allow"), "POST");
  const h = await post(srv.base, "/health", {});
  assertError(h, 405);
  assert.match(h.headers.get("allow"), /GET/);
  assertError(await post(srv.base, "/", {}), 405);
});

test("501 from /v1/embeddings without --embed-model", async () => {
  const plain = await startServer();
  try {
    const r = await post(plain.base, "/v1/embeddings", { input: "x" });
    assertError(r, 501);
    assert.match(r.json.error.message, /--embed-model/);
    const models = await get(plain.base, "/v1/models");
    assert.equal(models.json.data.length, 1);
  } finally {
    await plain.stop();
  }
});

test("401 without the API key on every API route; /health and the page stay open", async () => {
  const keyed = await startServer(["--api-key", "s3cret"]);
  try {
    const bad = { Authorization: "Bearer wrong" };
    for (const [method, path] of [["GET", "/v1/models"], ["GET", "/metrics"], ["POST", "/v1/rerank"], ["POST", "/rerank"],
      ["POST", "/v2/rerank"], ["POST", "/api/predict"], ["POST", "/v1/embeddings"]]) {
      const body = { query: QUERY, documents: DOCS };
      for (const headers of [{}, bad, { Authorization: "s3cret" }]) {
        const r = method === "GET" ? await get(keyed.base, path, headers) : await post(keyed.base, path, body, headers);
        assertError(r, 401);
        assert.equal(r.headers.get("www-authenticate"), "Bearer");
      }
    }
    const ok = await post(keyed.base, "/v1/rerank", { query: QUERY, documents: DOCS }, { Authorization: "Bearer s3cret" });
    assert.equal(ok.status, 200, ok.text);
    assert.equal((await get(keyed.base, "/health")).status, 200);
    assert.equal((await get(keyed.base, "/")).status, 200);
    assert.equal((await get(keyed.base, "/app.js")).status, 200);
  } finally {
    await keyed.stop();
  }
  // The key can also come from the environment.
  const fromEnv = await startServer([], { env: { QRANK_API_KEY: "envkey" } });
  try {
    assertError(await get(fromEnv.base, "/v1/models"), 401);
    assert.equal((await get(fromEnv.base, "/v1/models", { Authorization: "Bearer envkey" })).status, 200);
  } finally {
    await fromEnv.stop();
  }
});

// A raw request, to send a body that no fetch() would (a lying or missing Content-Length).
function rawRequest(port, text) {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1");
    let data = "";
    sock.on("data", (d) => (data += d));
    sock.on("end", () => resolve(data));
    sock.on("error", (e) => (data ? resolve(data) : reject(e)));
    sock.on("connect", () => sock.write(text));
  });
}

test("413: body over --max-body-bytes (declared or chunked), documents over --max-documents", async () => {
  const small = await startServer(["--max-body-bytes", "2048", "--max-documents", "3", "--embed-model", EMBED_MODEL]);
  try {
    const big = { query: QUERY, documents: ["烟花".repeat(600)] };
    assertError(await post(small.base, "/v1/rerank", big), 413);
    // Chunked: no Content-Length, so the limit is found while reading.
    const port = Number(new URL(small.base).port);
    const payload = JSON.stringify(big);
    const chunked = "POST /v1/rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
      "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
      Buffer.byteLength(payload).toString(16) + "\r\n" + payload + "\r\n0\r\n\r\n";
    const raw = await rawRequest(port, chunked);
    assert.match(raw, /^HTTP\/1\.1 413/);
    assert.match(raw, /"code":413/);

    assertError(await post(small.base, "/v1/rerank", { query: QUERY, documents: DOCS.slice(0, 4) }), 413);
    assertError(await post(small.base, "/rerank", { query: QUERY, texts: DOCS.slice(0, 4) }), 413);
    assertError(await post(small.base, "/api/predict", { data: [QUERY, DOCS.slice(0, 4).join("\n")] }), 413);
    assertError(await post(small.base, "/v1/embeddings", { input: DOCS.slice(0, 4) }), 413);
    assert.equal((await post(small.base, "/v1/rerank", { query: QUERY, documents: DOCS.slice(0, 3) })).status, 200);
  } finally {
    await small.stop();
  }
});

test("TEI truncate:false refuses texts over --max-length (413); truncate:true cuts them", async () => {
  const short = await startServer(["--max-length", "100"]);
  try {
    const texts = ["烟花".repeat(150), "ok"];
    assertError(await post(short.base, "/rerank", { query: QUERY, texts }), 413);
    const cut = await post(short.base, "/rerank", { query: QUERY, texts, truncate: true });
    assert.equal(cut.status, 200, cut.text);
  } finally {
    await short.stop();
  }
});

test("429 when the queue is full; the others are answered", async () => {
  const tight = await startServer(["--max-queue", "1", "--batch-tokens", "64"]);
  try {
    const docs = Array.from({ length: 150 }, (_, i) => `第${i}条：闭幕式烟花秀 fireworks post number ${i}`);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => post(tight.base, "/v1/rerank", { query: QUERY + i, documents: docs })));
    const codes = results.map((r) => r.status);
    assert.ok(codes.includes(429), `codes: ${codes}`);
    assert.ok(codes.includes(200), `codes: ${codes}`);
    for (const r of results) if (r.status !== 200) assertError(r, 429);
  } finally {
    await tight.stop();
  }
});

test("concurrent clients get the CLI's scores, and their documents share forward passes", async () => {
  const queries = ["杭州亚运会闭幕式烟花秀", "China's new EV battery breakthrough", "这剧太上头了停不下来",
    "上海哪里可以看樱花?", "Is coffee good for you?", "亚运会金牌榜", "固态电池", "熬夜追剧"];
  const expected = await Promise.all(queries.map((q) => cliScores(q, DOCS)));
  const before = await get(srv.base, "/metrics");
  const rounds = (text) => Number(text.match(/^qrank_batch_requests_count (\d+)$/m)[1]);
  const requests = (text) => Number(text.match(/^qrank_rerank_requests_total (\d+)$/m)[1]);
  // A larger request first keeps the compute thread busy while the others queue up behind it.
  const blocker = post(srv.base, "/v1/rerank", { query: "blocker", documents: Array(200).fill(DOCS.join(" ")) });
  const answers = await Promise.all(queries.map((query) => post(srv.base, "/v1/rerank", { query, documents: DOCS })));
  assert.equal((await blocker).status, 200);
  answers.forEach((r, q) => {
    assert.equal(r.status, 200, r.text);
    for (const x of r.json.results) {
      assert.equal(f32(x.relevance_score), f32(expected[q][x.index]), `query ${q} doc ${x.index}`);
    }
  });
  const afterText = (await get(srv.base, "/metrics")).text;
  const nRequests = requests(afterText) - requests(before.text);
  const nRounds = rounds(afterText) - rounds(before.text);
  assert.equal(nRequests, queries.length + 1);
  assert.ok(nRounds < nRequests, `${nRequests} requests took ${nRounds} rounds: none were batched`);
});

test("503 while the model loads: /health and the API say so, the page is served", async () => {
  const dir = mkdtempSync(join(tmpdir(), "qrank-fifo-"));
  const fifo = join(dir, "model.gguf");
  execFileSync("mkfifo", [fifo]);
  // Opening a FIFO blocks until a writer comes: the loader hangs in qrank_model_load.
  const s = spawnServer(["-m", fifo]);
  try {
    let base = null;
    for (let i = 0; i < 100 && !base; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const m = s.stderr.match(/loading/);
      if (m) base = true;
    }
    assert.ok(base, "the server printed that it is loading: " + s.stderr);
    // The port is not printed before ready, so find it from the process's listening socket.
    const port = listeningPort(s.proc.pid);
    const url = `http://127.0.0.1:${port}`;
    const h = await get(url, "/health");
    assertError(h, 503);
    assert.equal(h.json.status, "loading");
    assertError(await post(url, "/v1/rerank", { query: "q", documents: ["a"] }), 503);
    assertError(await get(url, "/v1/models"), 503);
    assert.equal((await get(url, "/")).status, 200);
  } finally {
    // A writer that closes at once: the load fails and the server exits non-zero.
    closeSync(openSync(fifo, "w"));
    const [code] = await new Promise((r) => s.proc.once("exit", (...a) => r(a)));
    assert.notEqual(code, 0);
    assert.match(s.stderr, /cannot load/);
    rmSync(dir, { recursive: true, force: true });
  }
});

// The TCP port a process listens on, from /proc (Linux): its socket inodes matched
// against /proc/net/tcp's listening entries.
function listeningPort(pid) {
  const inodes = new Set();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = readlinkSync(`/proc/${pid}/fd/${fd}`).match(/^socket:\[(\d+)\]$/);
      if (m) inodes.add(m[1]);
    } catch {
      // the fd closed meanwhile
    }
  }
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let lines = [];
    try {
      lines = readFileSync(table, "utf8").trim().split("\n").slice(1);
    } catch {
      continue;
    }
    for (const line of lines) {
      const f = line.trim().split(/\s+/);
      if (f[3] === "0A" && inodes.has(f[9])) return parseInt(f[1].split(":")[1], 16);
    }
  }
  throw new Error("no listening socket found for pid " + pid);
}

test("SIGTERM drains: a request in flight is answered, then the server exits 0", async () => {
  const s = await startServer();
  const docs = Array(300).fill(DOCS.join(" "));
  let answered = false;
  const pending = post(s.base, "/v1/rerank", { query: QUERY, documents: docs }).finally(() => (answered = true));
  // Stop once the request is being computed (or, on a fast machine, already answered).
  for (let i = 0; i < 500 && !answered; i++) {
    const m = (await get(s.base, "/metrics")).text.match(/^qrank_requests_computing (\d+)$/m);
    if (Number(m[1]) > 0) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const stopped = s.stop();
  const r = await pending;
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.results.length, 300);
  const { code } = await stopped;
  assert.equal(code, 0);
  assert.match(s.stderr, /stopping/);
});
