// load.mjs - drives `qrank serve` (synthetic model) with many concurrent
// keep-alive connections for a while and checks what a front-end service
// needs: no 5xx and no broken connections, 429 as the only refusal once the
// queue is full, memory flat after warm-up (RSS growth under 5%), and
// latency percentiles printed.
//
//   node load.mjs [--seconds 60] [--connections 64] [--warmup 0.5] [--no-rss-check]
// Environment: QRANK_BIN, QRANK_MODEL (tests/hardening.cmake sets them).
//
// The server gets --max-queue 16 so that 64 connections are beyond its
// capacity and 429s must appear: the point is to see it refuse cleanly.
// Requests vary (query, number and length of documents, dialect) so
// allocations of many sizes are exercised; RSS is read from
// /proc/PID/status once a second. Warm-up is the first half of the run,
// while the heaps reach the size the request mix needs. The check compares
// high-water marks, the highest RSS after warm-up against the highest
// before it, because RSS also dips for a moment whenever glibc trims the
// heap after a big scheduler round, and a baseline sampled in such a dip
// reads as growth. What used to creep (+7 MB in 60 s with a flat live heap,
// per heaptrack) was glibc's per-thread caches in long-lived connection
// threads; the server now recycles a connection after --keepalive-requests
// answers (http.c). --no-rss-check is for sanitizer builds, whose quarantine
// and shadow memory make RSS meaningless; there LeakSanitizer checks the
// server at exit instead.
import http from "node:http";
import { readFileSync } from "node:fs";
import { startServer, QUERY, DOCS } from "../api/harness.mjs";

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}
const SECONDS = arg("--seconds", Number(process.env.QRANK_LOAD_SECONDS || 60));
const CONNECTIONS = arg("--connections", 64);
const WARMUP = arg("--warmup", 0.5);
const RSS_CHECK = !process.argv.includes("--no-rss-check");

const rssKb = (pid) => Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)[1]);

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// Deterministic variety: request i of connection c.
function makeRequest(c, i) {
  const k = (c * 7919 + i * 104729) % 1000;
  const n = 1 + (k % 8);
  const docs = Array.from({ length: n }, (_, j) => DOCS[(k + j) % DOCS.length].repeat(1 + ((k >> 3) % 3)));
  const query = `${QUERY} ${k}`;
  switch (k % 4) {
    case 0: return ["/v1/rerank", { query, documents: docs, top_n: 3 }];
    case 1: return ["/v2/rerank", { model: "m", query, documents: docs.map((text) => ({ text })) }];
    case 2: return ["/rerank", { query, texts: docs, truncate: true }];
    default: return ["/api/predict", { data: [query, docs.join("\n")] }];
  }
}

const server = await startServer(["--max-queue", "16", "--threads", "1"]);
const { port } = new URL(server.base);
const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
const codes = new Map();
const latencies = []; // ms of 200s
const latencies429 = [];
let broken = 0;
let brokenMessage = "";
const rss = []; // [seconds since start, kB]
const start = Date.now();
const end = start + SECONDS * 1000;

function send(path, body) {
  return new Promise((resolve) => {
    const data = Buffer.from(JSON.stringify(body));
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: "127.0.0.1", port, path, method: "POST", agent,
      headers: { "Content-Type": "application/json", "Content-Length": data.length } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    });
    req.on("error", (e) => resolve({ status: 0, error: e.message }));
    req.end(data);
  });
}

async function client(c) {
  for (let i = 0; Date.now() < end; i++) {
    const [path, body] = makeRequest(c, i);
    const r = await send(path, body);
    codes.set(r.status, (codes.get(r.status) || 0) + 1);
    if (r.status === 200) latencies.push(r.ms);
    else if (r.status === 429) {
      latencies429.push(r.ms);
      await new Promise((res) => setTimeout(res, 20)); // a polite client backs off a little
    } else if (r.status === 0) {
      broken++;
      brokenMessage = r.error;
    }
  }
}

const sampler = setInterval(() => rss.push([(Date.now() - start) / 1000, rssKb(server.proc.pid)]), 1000);
await Promise.all(Array.from({ length: CONNECTIONS }, (_, c) => client(c)));
clearInterval(sampler);
rss.push([(Date.now() - start) / 1000, rssKb(server.proc.pid)]);
agent.destroy();
const { code } = await server.stop();

latencies.sort((a, b) => a - b);
latencies429.sort((a, b) => a - b);
const total = [...codes.values()].reduce((a, b) => a + b, 0);
const afterWarmup = rss.filter(([t]) => t >= SECONDS * WARMUP);
const duringWarmup = rss.filter(([t]) => t < SECONDS * WARMUP);
const base = duringWarmup.length ? Math.max(...duringWarmup.map(([, kb]) => kb)) : NaN;
const peak = afterWarmup.length ? Math.max(...afterWarmup.map(([, kb]) => kb)) : NaN;
const growth = (peak - base) / base;
console.log(`load: ${CONNECTIONS} connections for ${SECONDS} s: ${total} requests, ` +
  `${(total / SECONDS).toFixed(1)}/s; status codes ${JSON.stringify(Object.fromEntries(codes))}`);
console.log(`load: 200 latency p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms ` +
  `(${latencies.length} answers); 429 p50 ${percentile(latencies429, 50).toFixed(1)} ms`);
console.log(`load: RSS ${(rss[0][1] / 1024).toFixed(1)} MB at 1 s, ${(base / 1024).toFixed(1)} MB at most during warm-up ` +
  `(${(SECONDS * WARMUP).toFixed(0)} s), ${(peak / 1024).toFixed(1)} MB at most after it: ${(growth * 100).toFixed(2)}% growth`);

const series = rss.filter((_, i) => i % Math.max(1, Math.round(rss.length / 12)) === 0);
console.log(`load: RSS MB over time: ${series.map(([t, kb]) => `${t.toFixed(0)}s ${(kb / 1024).toFixed(1)}`).join(", ")}`);

const failures = [];
for (const status of codes.keys()) {
  if (status !== 200 && status !== 429) failures.push(`status ${status} x${codes.get(status)}`);
}
if (broken) failures.push(`${broken} broken connections (${brokenMessage})`);
if (!codes.get(200)) failures.push("no request was answered");
if (CONNECTIONS > 16 && !codes.get(429)) failures.push("no 429 although the queue holds 16 and there are more clients");
if (RSS_CHECK && !(growth < 0.05)) failures.push(`RSS grew ${(growth * 100).toFixed(2)}% after warm-up`);
if (code !== 0) failures.push(`the server exited ${code}:\n${server.stderr}`);
if (failures.length) {
  console.error("load: FAILED: " + failures.join("; "));
  process.exit(1);
}
console.log("load: ok");
