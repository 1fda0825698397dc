// cluster.js - the Cluster tab: posts in, topics out (POST /v1/cluster).
// A map of the posts (the server's 2-D PCA of their embeddings, one dot per
// post, coloured by topic) beside each topic's list: size, central posts and
// members best first with bars. Drawn as inline SVG by hand, so the page
// still loads nothing from elsewhere. Loaded after app.js and uses its
// helpers ($, api, state); kept in its own file so the rerank page stays as
// it was.
"use strict";

const CLUSTER_EXAMPLE = {
  url: "/examples/ai-drawing-200.txt",
  query: "Stable Diffusion vs Midjourney",
};
const MEMBERS_SHOWN = 8; // per topic before "show all"
const PALETTE = ["#4f46e5", "#e11d48", "#059669", "#d97706", "#0891b2", "#9333ea", "#65a30d",
  "#db2777", "#475569", "#b45309"];

const clusterState = { running: false, available: null };

function topicColor(c) {
  // Beyond the palette, hues a golden angle apart stay distinguishable for a while.
  return c < PALETTE.length ? PALETTE[c] : `hsl(${(c * 137.508) % 360} 65% 48%)`;
}

function clusterLines() {
  return $("cluster-texts").value.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
}

function updateClusterCount() {
  const n = clusterLines().length;
  $("cluster-count").textContent = n ? n + (n === 1 ? " post" : " posts") : "";
}

function showClusterError(message) {
  $("cluster-error").textContent = message;
  $("cluster-error").hidden = !message;
}

// ---- does this server cluster at all? ---------------------------------------------------------

function setClusterAvailable(yes) {
  clusterState.available = yes;
  $("cluster-unavailable").hidden = yes;
  for (const el of $("cluster-form").querySelectorAll("input, textarea, button")) el.disabled = !yes;
}

async function checkEmbedder() {
  try {
    const info = await api("/v1/models");
    setClusterAvailable(info.data.some((m) => m.kind === "embedder"));
  } catch (e) {
    if (e.status === 503) setTimeout(checkEmbedder, 1000); // still loading: app.js says so
    // 401: app.js shows the key form; its submit runs this again (below).
  }
}

// ---- the map --------------------------------------------------------------------------------

const SVG_NS = "http://www.w3.org/2000/svg";
const MAP_W = 600, MAP_H = 440, MAP_PAD = 18;

function svg(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function drawMap(texts, data) {
  const map = $("cluster-map");
  map.replaceChildren();
  const xs = data.map.map((p) => p[0]), ys = data.map.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  // Each axis fills the box: PCA's second axis is usually the narrower one.
  const sx = (x) => MAP_PAD + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * (MAP_W - 2 * MAP_PAD);
  const sy = (y) => MAP_H - MAP_PAD - (y1 > y0 ? (y - y0) / (y1 - y0) : 0.5) * (MAP_H - 2 * MAP_PAD);
  map.appendChild(svg("rect", { x: 0.5, y: 0.5, width: MAP_W - 1, height: MAP_H - 1, rx: 10, class: "map-frame" }));
  const r = texts.length > 400 ? 3.5 : texts.length > 100 ? 5 : 7;
  data.map.forEach(([x, y], i) => {
    const c = data.labels[i];
    const dot = svg("circle", {
      cx: sx(x).toFixed(1), cy: sy(y).toFixed(1), r, fill: topicColor(c),
      class: "pt", "data-index": i, "data-cluster": c, tabindex: 0,
      "aria-label": `Topic ${c + 1}: ${texts[i]}`,
    });
    map.appendChild(dot);
  });
}

function showTip(dot, texts) {
  const tip = $("cluster-tip");
  const i = Number(dot.dataset.index), c = Number(dot.dataset.cluster);
  tip.replaceChildren();
  const head = document.createElement("span");
  head.className = "tip-head";
  head.style.color = topicColor(c);
  head.textContent = `Topic ${c + 1} · post #${i + 1}`;
  const body = document.createElement("span");
  body.textContent = texts[i];
  tip.append(head, body);
  tip.hidden = false;
  // Beside the dot, kept inside the map's box.
  const box = tip.parentElement.getBoundingClientRect();
  const d = dot.getBoundingClientRect();
  const left = Math.min(Math.max(0, d.left - box.left + d.width / 2 - tip.offsetWidth / 2), box.width - tip.offsetWidth);
  const above = d.top - box.top - tip.offsetHeight - 8;
  tip.style.left = left + "px";
  tip.style.top = (above >= 0 ? above : d.bottom - box.top + 8) + "px";
  highlightPost(i);
}

function hideTip() {
  $("cluster-tip").hidden = true;
  highlightPost(null);
}

function highlightPost(i) {
  for (const el of document.querySelectorAll("#tab-cluster .hl")) el.classList.remove("hl");
  if (i === null) return;
  const dot = $("cluster-map").querySelector(`.pt[data-index="${i}"]`);
  if (dot) {
    dot.classList.add("hl");
    dot.parentNode.appendChild(dot); // drawn last: on top of its neighbours
  }
  for (const li of document.querySelectorAll(`#cluster-lists li[data-index="${i}"]`)) li.classList.add("hl");
}

function focusTopic(c) {
  $("cluster-map").classList.toggle("focus", c !== null);
  for (const dot of $("cluster-map").querySelectorAll(".pt")) dot.classList.toggle("on", Number(dot.dataset.cluster) === c);
}

// ---- the lists ------------------------------------------------------------------------------

// Hover effects for a mouse only: on a touch screen "enter" fires on taps and
// scrolls, and would leave the map dimmed.
function onMouse(el, enter, leave) {
  el.addEventListener("pointerenter", (e) => e.pointerType === "mouse" && enter());
  el.addEventListener("pointerleave", (e) => e.pointerType === "mouse" && leave());
}

function postItem(tag, texts, p, value, label) {
  const li = document.createElement(tag);
  li.dataset.index = String(p.index);
  if (value !== undefined) {
    const head = document.createElement("div");
    head.className = "result-head";
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.setAttribute("role", "meter");
    bar.setAttribute("aria-label", label);
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "1");
    bar.setAttribute("aria-valuenow", value.toFixed(4));
    const fill = document.createElement("div");
    fill.className = "fill";
    fill.style.width = Math.max(0, Math.min(1, value)) * 100 + "%";
    bar.appendChild(fill);
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = value.toFixed(4);
    head.append(bar, score);
    li.appendChild(head);
  }
  const text = document.createElement("p");
  text.className = "doc";
  text.textContent = texts[p.index];
  li.appendChild(text);
  onMouse(li, () => highlightPost(p.index), () => highlightPost(null));
  return li;
}

function renderLists(texts, data) {
  const box = $("cluster-lists");
  box.replaceChildren();
  const scored = !!data.query;
  for (const cl of data.clusters) {
    const card = document.createElement("div");
    card.className = "card topic";
    card.dataset.cluster = String(cl.cluster);
    card.style.setProperty("--topic", topicColor(cl.cluster));

    const head = document.createElement("div");
    head.className = "topic-head";
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    const title = document.createElement("h3");
    title.textContent = `Topic ${cl.cluster + 1}`;
    const size = document.createElement("span");
    size.className = "hint size";
    size.textContent = `${cl.size} post${cl.size === 1 ? "" : "s"} · ${Math.round((100 * cl.size) / data.posts)}%`;
    head.append(swatch, title, size);
    card.appendChild(head);

    if (cl.central.length) {
      const h = document.createElement("h4");
      h.textContent = "Central posts";
      const ul = document.createElement("ul");
      ul.className = "central";
      for (const p of cl.central) ul.appendChild(postItem("li", texts, p));
      card.append(h, ul);
    }

    const h = document.createElement("h4");
    h.textContent = scored ? "Members by relevance to the query (P(yes))" : "Members by closeness to the topic's centre";
    const ol = document.createElement("ol");
    ol.className = "members";
    cl.members.forEach((p, rank) => {
      const li = postItem("li", texts, p, scored ? p.score : p.similarity, scored ? "relevance" : "similarity");
      li.className = "member" + (rank >= MEMBERS_SHOWN ? " extra" : "");
      ol.appendChild(li);
    });
    card.append(h, ol);
    if (cl.members.length > MEMBERS_SHOWN) {
      const more = document.createElement("button");
      more.type = "button";
      more.className = "chip more";
      const label = () => (card.classList.contains("open") ? "Show fewer" : `Show all ${cl.members.length}`);
      more.textContent = label();
      more.addEventListener("click", () => {
        card.classList.toggle("open");
        more.textContent = label();
      });
      card.appendChild(more);
    }
    onMouse(card, () => focusTopic(cl.cluster), () => focusTopic(null));
    box.appendChild(card);
  }
}

function renderLegend(data) {
  const legend = $("cluster-legend");
  legend.replaceChildren();
  for (const cl of data.clusters) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "legend-item";
    b.style.setProperty("--topic", topicColor(cl.cluster));
    b.textContent = `Topic ${cl.cluster + 1} (${cl.size})`;
    onMouse(b, () => focusTopic(cl.cluster), () => focusTopic(null));
    b.addEventListener("click", () => {
      const card = document.querySelector(`#cluster-lists .topic[data-cluster="${cl.cluster}"]`);
      if (card) card.scrollIntoView({ behavior: "smooth", block: "start" });
    });
    legend.appendChild(b);
  }
}

function renderClusters(texts, data, seconds) {
  clusterState.texts = texts;
  drawMap(texts, data);
  renderLegend(data);
  renderLists(texts, data);
  hideTip();
  const sil = data.k >= 2 ? ` · silhouette ${data.silhouette.toFixed(3)}` : "";
  $("cluster-summary").textContent =
    `${data.posts} posts · ${data.k} topic${data.k === 1 ? "" : "s"} (${data.k_chosen_by === "given" ? "k given" : "k by silhouette"})` +
    `${sil} · ${data.usage.prompt_tokens} tokens · ${seconds.toFixed(seconds < 1 ? 3 : 2)} s`;
  $("cluster-output").hidden = false;
  if (window.matchMedia("(max-width: 899px)").matches) {
    $("cluster-output").scrollIntoView({ behavior: "smooth", block: "start" });
  }
}

async function runCluster() {
  if (clusterState.running || clusterState.available === false) return;
  const texts = clusterLines();
  const query = $("cluster-query").value.trim();
  const kText = $("cluster-k").value.trim();
  if (!texts.length) return showClusterError("Enter some posts, one per line.");
  const body = { texts };
  if (query) body.query = query;
  if (kText) {
    const k = Number(kText);
    if (!Number.isInteger(k) || k < 1) return showClusterError("k is a whole number of topics, 1 or more (or empty to choose it).");
    body.k = k;
  }
  showClusterError("");
  clusterState.running = true;
  $("cluster-run").disabled = true;
  $("cluster-run").textContent = "Running…";
  const started = performance.now();
  try {
    const data = await api("/v1/cluster", body);
    renderClusters(texts, data, (performance.now() - started) / 1000);
  } catch (e) {
    showClusterError(e.message);
    if (e.status === 501) setClusterAvailable(false);
  } finally {
    clusterState.running = false;
    $("cluster-run").disabled = clusterState.available === false;
    $("cluster-run").textContent = "Run";
  }
}

async function loadClusterExample() {
  showClusterError("");
  try {
    const res = await fetch(CLUSTER_EXAMPLE.url);
    if (!res.ok) throw new Error(res.status + " " + res.statusText);
    $("cluster-texts").value = (await res.text()).trimEnd();
  } catch (e) {
    return showClusterError("Cannot load the example: " + e.message);
  }
  $("cluster-query").value = CLUSTER_EXAMPLE.query;
  $("cluster-k").value = "";
  updateClusterCount();
  runCluster();
}

// ---- wiring ---------------------------------------------------------------------------------

$("cluster-form").addEventListener("submit", (e) => {
  e.preventDefault();
  runCluster();
});
$("cluster-form").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    runCluster();
  }
});
$("cluster-texts").addEventListener("input", updateClusterCount);
$("cluster-example").addEventListener("click", loadClusterExample);
$("key-form").addEventListener("submit", () => setTimeout(checkEmbedder, 0));

const clusterMap = $("cluster-map");
clusterMap.addEventListener("pointerover", (e) => {
  if (e.target.classList.contains("pt")) showTip(e.target, clusterState.texts);
});
clusterMap.addEventListener("focusin", (e) => {
  if (e.target.classList.contains("pt")) showTip(e.target, clusterState.texts);
});
clusterMap.addEventListener("pointerleave", hideTip);
clusterMap.addEventListener("focusout", hideTip);
// A tap on a phone: show that post, or hide the tip when the tap misses every dot.
clusterMap.addEventListener("click", (e) => {
  if (e.target.classList.contains("pt")) showTip(e.target, clusterState.texts);
  else hideTip();
});

$("curl-cluster").textContent =
  "curl " + location.origin + "/v1/cluster -H 'Content-Type: application/json' -d '{\n" +
  '  "texts": ["SD 的 LoRA 训练了一晚上终于不崩脸了", "MJ v6 出图太稳了", "Midjourney 订阅又涨价了",\n' +
  '            "SD 本地跑要几G显存?", "今天的晚霞好美"],\n' +
  '  "query": "Stable Diffusion vs Midjourney", "k": 2, "seed": 42\n' + "}'";

updateClusterCount();
checkEmbedder();
