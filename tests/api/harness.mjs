// harness.mjs - starts and stops a real `qrank serve` for the API, SDK and
// browser tests, and runs the CLI to compare against.
//
// Every server listens on 127.0.0.1 with --port 0 (the kernel picks a free
// port) and the test reads the real port from the "Running on local URL"
// line, so parallel test files never race for a port.
//
// Inputs come from CTest (tests/server.cmake) through the environment:
//   QRANK_BIN          the qrank binary
//   QRANK_MODEL        a synthetic reranker GGUF (tools/make_model.py)
//   QRANK_EMBED_MODEL  a synthetic embedder GGUF
//   QRANK_BUILD_DIR    where screenshots go
import { spawn, execFile } from "node:child_process";
import { once } from "node:events";

export const BIN = need("QRANK_BIN");
export const MODEL = need("QRANK_MODEL");
export const EMBED_MODEL = need("QRANK_EMBED_MODEL");
export const BUILD_DIR = need("QRANK_BUILD_DIR");

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through ctest (tests/server.cmake)`);
  return v;
}

// Starts `qrank serve -m MODEL ...args`; resolves once it prints its URL.
// With { waitReady: false } it resolves as soon as the process runs (for the loading test),
// and the URL is read from a later line via server.ready.
export async function startServer(args = [], { model = MODEL, env = {}, timeoutMs = 30000 } = {}) {
  const proc = spawn(BIN, ["serve", "-m", model, "--host", "127.0.0.1", "--port", "0", "--threads", "1", ...args], {
    env: { ...process.env, QRANK_API_KEY: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  proc.stderr.on("data", (d) => (stderr += d));
  const exited = once(proc, "exit").then(([code, signal]) => ({ code, signal }));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`qrank serve did not start in ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
    proc.stdout.on("data", (d) => {
      stdout += d;
      const m = stdout.match(/Running on local URL: http:\/\/localhost:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${m[1]}`);
      }
    });
    exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`qrank serve exited with ${code} before it was ready:\n${stderr}`));
    });
  });
  ready.catch(() => {});
  const server = {
    proc,
    ready,
    exited,
    base: null,
    get stderr() {
      return stderr;
    },
    // SIGTERM, then the exit status (0 after a clean drain).
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
  server.base = await ready;
  return server;
}

// Starts the server without waiting for the model (used with a FIFO as the model path).
export function spawnServer(args) {
  const proc = spawn(BIN, ["serve", "--host", "127.0.0.1", "--port", "0", ...args], {
    env: { ...process.env, QRANK_API_KEY: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  proc.stderr.on("data", (d) => (stderr += d));
  return { proc, get stderr() { return stderr; } };
}

export async function post(base, path, body, headers = {}) {
  const res = await fetch(base + path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, json, text };
}

export async function get(base, path, headers = {}) {
  const res = await fetch(base + path, { headers });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, json, text };
}

// `qrank rerank --json` on the same model: scores by input index.
export function cliScores(query, documents, instruction) {
  const args = ["rerank", "-m", MODEL, "-q", query, "--json", "--threads", "1"];
  if (instruction) args.push("-i", instruction);
  return new Promise((resolve, reject) => {
    const child = execFile(BIN, args, { maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`qrank rerank failed: ${stderr}`));
      const out = JSON.parse(stdout);
      const scores = new Array(documents.length);
      for (const r of out.results) scores[r.index] = r.relevance_score;
      resolve(scores);
    });
    child.stdin.end(documents.join("\n") + "\n");
  });
}

// The posts of a few tests: Chinese, English and mixed, short like the real traffic.
export const QUERY = "杭州亚运会闭幕式烟花秀";
export const DOCS = [
  "闭幕式的烟花秀太美了，钱塘江两岸都能看到",
  "亚运会开幕式的数字火炬手太震撼了",
  "浏阳烟花节今晚八点开始",
  "The closing ceremony fireworks in Hangzhou were unreal 🎆",
  "今晚奥体中心周边交通管制",
  "西湖边元旦跨年有没有烟花？",
];
