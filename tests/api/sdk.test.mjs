// sdk.test.mjs - the official client libraries pointed at qrank: Cohere's
// CohereClient (v1 rerank) and CohereClientV2 (v2 rerank) with `environment`
// set to the server, and OpenAI's client with `baseURL` for embeddings. The
// server runs with an API key, so the SDKs' own auth headers are tested too.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { CohereClient, CohereClientV2, CohereError } from "cohere-ai";
import OpenAI from "openai";
import { startServer, post, cliScores, QUERY, DOCS, EMBED_MODEL } from "./harness.mjs";

const KEY = "sdk-test-key";
let srv;
before(async () => {
  srv = await startServer(["--embed-model", EMBED_MODEL, "--api-key", KEY]);
});
after(async () => {
  const { code } = await srv.stop();
  assert.equal(code, 0, srv.stderr);
});

const f32 = Math.fround;

test("cohere-ai CohereClient.rerank (v1) gets the CLI's scores, top_n and documents", async () => {
  const cohere = new CohereClient({ token: KEY, environment: srv.base });
  const expected = await cliScores(QUERY, DOCS);
  const r = await cohere.rerank({ model: "rerank-multilingual-v3.0", query: QUERY, documents: DOCS, topN: 3, returnDocuments: true });
  assert.equal(r.results.length, 3);
  for (const x of r.results) {
    assert.equal(f32(x.relevanceScore), f32(expected[x.index]));
    assert.equal(x.document.text, DOCS[x.index]);
  }
  const best = expected.indexOf(Math.max(...expected));
  assert.equal(r.results[0].index, best);
  assert.equal(typeof r.id, "string");
  assert.equal(r.meta.billedUnits.searchUnits, 1);
});

test("cohere-ai CohereClientV2.rerank (v2) with a model name", async () => {
  const cohere = new CohereClientV2({ token: KEY, environment: srv.base });
  const expected = await cliScores(QUERY, DOCS);
  const r = await cohere.rerank({ model: "rerank-v3.5", query: QUERY, documents: DOCS });
  assert.equal(r.results.length, DOCS.length);
  for (let i = 1; i < r.results.length; i++) assert.ok(r.results[i - 1].relevanceScore >= r.results[i].relevanceScore);
  for (const x of r.results) assert.equal(f32(x.relevanceScore), f32(expected[x.index]));
  assert.equal(r.meta.apiVersion.version, "2");
});

test("cohere-ai surfaces qrank's errors: a wrong key is 401, empty documents 400", async () => {
  const wrong = new CohereClientV2({ token: "nope", environment: srv.base });
  await assert.rejects(wrong.rerank({ model: "m", query: QUERY, documents: DOCS }), (e) => {
    assert.ok(e instanceof CohereError, String(e));
    assert.equal(e.statusCode, 401);
    return true;
  });
  const cohere = new CohereClientV2({ token: KEY, environment: srv.base });
  await assert.rejects(cohere.rerank({ model: "m", query: QUERY, documents: [] }), (e) => {
    assert.equal(e.statusCode, 400);
    assert.match(JSON.stringify(e.body), /documents/);
    return true;
  });
});

test("openai embeddings.create with baseURL: floats (the SDK asks for base64 and decodes it)", async () => {
  const openai = new OpenAI({ apiKey: KEY, baseURL: srv.base + "/v1" });
  const input = ["杭州亚运会闭幕式烟花秀", "The closing ceremony fireworks", "这剧太上头了"];
  const r = await openai.embeddings.create({ model: "embedder", input });
  assert.equal(r.data.length, 3);
  assert.equal(r.model, "embedder");
  const direct = await post(srv.base, "/v1/embeddings", { input, encoding_format: "float" }, { Authorization: "Bearer " + KEY });
  assert.equal(direct.status, 200, direct.text);
  for (const [i, d] of r.data.entries()) {
    assert.equal(d.index, i);
    assert.equal(d.embedding.length, 64);
    assert.deepEqual(d.embedding.map(f32), direct.json.data[i].embedding.map(f32));
  }
  assert.ok(r.usage.prompt_tokens > 0);

  const small = await openai.embeddings.create({ model: "embedder", input: input[0], dimensions: 32, encoding_format: "float" });
  assert.equal(small.data[0].embedding.length, 32);
  assert.ok(Math.abs(Math.hypot(...small.data[0].embedding) - 1) < 1e-4);
});

test("openai: a wrong key is an AuthenticationError", async () => {
  const openai = new OpenAI({ apiKey: "wrong", baseURL: srv.base + "/v1", maxRetries: 0 });
  await assert.rejects(openai.embeddings.create({ model: "embedder", input: "x" }), (e) => {
    assert.equal(e.status, 401);
    assert.ok(e instanceof OpenAI.AuthenticationError);
    return true;
  });
});
