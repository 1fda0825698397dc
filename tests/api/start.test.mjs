// start.test.mjs - ./start.sh as a user runs it on a machine without
// internet: it builds (into its own folder here), fails to fetch the models,
// says where to put them, and serves random-weight demo models (a reranker
// and an embedder, so clustering works too) with the page, /health and
// /v1/models saying so. Then with a reranker on disk but no embedder: it
// serves the reranker alone and says where the embedder goes. The model URLs
// point at a closed local port so the test never downloads anything.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join, resolve } from "node:path";
import { BUILD_DIR, MODEL, get, post } from "./harness.mjs";

const ROOT = resolve(import.meta.dirname, "..", "..");

const modelDir = join(BUILD_DIR, "start-sh-models");
const EMBED_PATH = join(modelDir, "Qwen3-Embedding-0.6B-Q8_0.gguf");

function startSh(env) {
  return spawn("bash", [join(ROOT, "start.sh"), "--host", "127.0.0.1", "--port", "0", "--threads", "1"], {
    cwd: ROOT,
    env: {
      ...process.env,
      QRANK_BUILD: join(BUILD_DIR, "start-sh-build"),
      QRANK_MODEL: join(modelDir, "qwen3-reranker-0.6b-q8_0.gguf"),
      QRANK_MODEL_URL: "http://127.0.0.1:1/qwen3-reranker-0.6b-q8_0.gguf",
      QRANK_EMBED_MODEL: EMBED_PATH,
      QRANK_EMBED_MODEL_URL: "http://127.0.0.1:1/Qwen3-Embedding-0.6B-Q8_0.gguf",
      QRANK_API_KEY: "",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

// Resolves url once start.sh's server prints it; stop() SIGTERMs it (start.sh exec'd
// qrank: the process is the server itself) and checks the clean exit.
function watch(proc) {
  let stdout = "";
  let stderr = "";
  proc.stderr.on("data", (d) => (stderr += d));
  const exited = once(proc, "exit");
  const url = new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error("start.sh did not serve in time:\n" + stderr.slice(-3000))), 540000);
    proc.stdout.on("data", (d) => {
      stdout += d;
      const m = stdout.match(/Running on local URL: http:\/\/localhost:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolveUrl(`http://127.0.0.1:${m[1]}`);
      }
    });
    exited.then(([code]) => {
      clearTimeout(timer);
      reject(new Error(`start.sh exited with ${code}:\n${stderr.slice(-3000)}`));
    });
  });
  url.catch(() => {});
  return {
    url,
    get stderr() {
      return stderr;
    },
    async stop() {
      proc.kill("SIGTERM");
      const [code] = await exited;
      assert.equal(code, 0, stderr.slice(-2000));
    },
  };
}

test("./start.sh offline: clear message, demo models served with --demo, extra args passed through", async () => {
  const proc = startSh({});
  const run = watch(proc);
  try {
    const base = await run.url;
    const stderr = run.stderr;
    assert.match(stderr, /could not download the model/);
    assert.ok(stderr.includes(join(modelDir, "qwen3-reranker-0.6b-q8_0.gguf")), "it says where to put the file");
    assert.match(stderr, /RANDOM-WEIGHT DEMO/);
    assert.ok(stderr.includes(EMBED_PATH), "it says where to put the embedder too");

    const health = await get(base, "/health");
    assert.equal(health.status, 200);
    assert.equal(health.json.demo, true);
    assert.match(health.json.notice, /random-weight demo/);
    const models = await get(base, "/v1/models");
    assert.equal(models.json.demo, true);
    assert.equal(models.json.data[0].id, "demo-random-weights");
    assert.match(models.json.data[0].notice, /scores mean nothing/);
    assert.equal(models.json.data[1].kind, "embedder");
    assert.equal(models.json.data[1].id, "demo-random-weights-embedder");
    const page = await get(base, "/");
    assert.equal(page.status, 200);
    // The demo clusters: the Cluster tab works offline.
    const c = await post(base, "/v1/cluster", { texts: ["SD 本地部署", "MJ 订阅涨价", "今天晚霞很美"], query: "Stable Diffusion vs Midjourney" });
    assert.equal(c.status, 200, c.text);
    assert.equal(c.json.model, "demo-random-weights-embedder");
    assert.equal(c.json.labels.length, 3);
  } finally {
    await run.stop();
  }
});

test("./start.sh with a reranker on disk but no embedder: serves the reranker alone and says where the embedder goes", async () => {
  // A real (synthetic) reranker where start.sh looks for one, so it is not a demo.
  const proc = startSh({ QRANK_MODEL: MODEL });
  const run = watch(proc);
  try {
    const base = await run.url;
    const stderr = run.stderr;
    assert.match(stderr, /could not download the embedding model/);
    assert.ok(stderr.includes(EMBED_PATH), "it says where to put the embedder");
    assert.doesNotMatch(stderr, /RANDOM-WEIGHT DEMO/);
    const models = await get(base, "/v1/models");
    assert.equal(models.json.demo, false);
    assert.deepEqual(models.json.data.map((m) => m.kind), ["reranker"], "no random embedder beside a real reranker");
    const c = await post(base, "/v1/cluster", { texts: ["a", "b"] });
    assert.equal(c.status, 501);
  } finally {
    await run.stop();
  }
});
