// start.test.mjs - ./start.sh as a user runs it on a machine without
// internet: it builds (into its own folder here), fails to fetch the model,
// says where to put it, and serves the random-weight demo model with the
// page, /health and /v1/models saying so. The model URL points at a closed
// local port so the test never downloads anything, online or not.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join, resolve } from "node:path";
import { BUILD_DIR, get } from "./harness.mjs";

const ROOT = resolve(import.meta.dirname, "..", "..");

test("./start.sh offline: clear message, demo model served with --demo, extra args passed through", async () => {
  const modelDir = join(BUILD_DIR, "start-sh-models");
  const proc = spawn("bash", [join(ROOT, "start.sh"), "--host", "127.0.0.1", "--port", "0", "--threads", "1"], {
    cwd: ROOT,
    env: {
      ...process.env,
      QRANK_BUILD: join(BUILD_DIR, "start-sh-build"),
      QRANK_MODEL: join(modelDir, "qwen3-reranker-0.6b-q8_0.gguf"),
      QRANK_MODEL_URL: "http://127.0.0.1:1/qwen3-reranker-0.6b-q8_0.gguf",
      QRANK_API_KEY: "",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  proc.stderr.on("data", (d) => (stderr += d));
  const exited = once(proc, "exit");
  try {
    const base = await new Promise((resolveUrl, reject) => {
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
    assert.match(stderr, /could not download the model/);
    assert.ok(stderr.includes(join(modelDir, "qwen3-reranker-0.6b-q8_0.gguf")), "it says where to put the file");
    assert.match(stderr, /RANDOM-WEIGHT DEMO/);

    const health = await get(base, "/health");
    assert.equal(health.status, 200);
    assert.equal(health.json.demo, true);
    assert.match(health.json.notice, /random-weight demo/);
    const models = await get(base, "/v1/models");
    assert.equal(models.json.demo, true);
    assert.equal(models.json.data[0].id, "demo-random-weights");
    assert.match(models.json.data[0].notice, /scores mean nothing/);
    const page = await get(base, "/");
    assert.equal(page.status, 200);
  } finally {
    proc.kill("SIGTERM"); // start.sh exec'd qrank: this is the server itself
    const [code] = await exited;
    assert.equal(code, 0, stderr.slice(-2000));
  }
});
