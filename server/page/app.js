// app.js - the qrank page: tabs, the rerank form, examples, the API key.
// Plain browser JavaScript, no framework and nothing fetched from elsewhere:
// the page must work from the binary alone, offline.
"use strict";

// ---- examples: posts written for this page, relevant ones and near misses ------------------

const EXAMPLES = [
  {
    label: "杭州亚运会闭幕式烟花秀",
    query: "杭州亚运会闭幕式烟花秀",
    documents: [
      "#杭州亚运会闭幕式# 烟花一出来整个奥体中心都沸腾了！金色的“桂花雨”从莲花碗上空落下来，现场看真的泪目",
      "闭幕式的烟花秀太美了，用的是环保烟花，烟雾比开幕式少很多，钱塘江两岸都能看到",
      "有人拍到亚运会闭幕式烟花的全景吗？在滨江区阳台上只看到一半，求高清视频",
      "亚运会开幕式的数字火炬手太震撼了，上亿人一起“点燃”主火炬，科技感拉满",
      "杭州亚运会闭幕式结束了，下一站爱知·名古屋，我们2026年见！",
      "浏阳烟花节今晚八点开始，无人机+烟花同框，带上家人去看吧",
      "西湖边元旦跨年有没有烟花？去年好像禁放了",
      "今晚奥体中心周边交通管制，闭幕式散场后地铁6号线延长运营到凌晨",
      "中国代表团本届亚运会拿了201枚金牌，闭幕式上旗手入场那一刻太骄傲了",
      "闭幕式最后的烟花“潮起亚细亚”，钱江潮的造型在夜空里铺开，杭州人集体破防",
      "成都大运会闭幕式的烟花也很好看，不过我更喜欢大运会的吉祥物蓉宝",
      "亚运会闭幕式的文艺表演《荷桂共生》配乐好好听，有人知道BGM叫什么吗",
    ],
  },
  {
    label: "China's new EV battery breakthrough",
    query: "China's new EV battery breakthrough",
    documents: [
      "CATL just unveiled Shenxing Plus: an LFP pack with 1,000 km range and 10-minute charging for 600 km. This is huge for affordable EVs.",
      "宁德时代发布神行超充电池，充电10分钟续航400公里，磷酸铁锂也能4C快充了",
      "比亚迪第二代刀片电池曝光：体积能量密度提升，针刺实验依然不起火",
      "蔚来150kWh半固态电池包正式交付，实测冬季续航也能跑到800多公里",
      "Sodium-ion batteries are going into production cars in China this year — cheaper, no lithium, and they work better in the cold.",
      "Tesla's 4680 cells are finally ramping up in Texas, but yields are still below target.",
      "新能源车价格战又开始了，某品牌直降三万，老车主纷纷要求补偿",
      "My phone battery dies by 3pm every day. Any tips for making it last longer?",
      "国内充电桩数量突破800万个，高速服务区基本实现全覆盖",
      "Just watched a video of an EV catching fire in a parking garage. Scary stuff, is it common?",
      "清华团队在《Nature》发表固态电解质新成果，锂金属电池循环寿命大幅提升，或将用于下一代电动车",
      "Battery stocks rallied today after strong quarterly earnings from Chinese suppliers.",
    ],
  },
  {
    label: "这剧太上头了停不下来",
    query: "这剧太上头了停不下来",
    documents: [
      "救命 一口气刷了十二集 天都亮了 这剧有毒啊家人们",
      "上头了上头了！男女主的眼神戏绝了 明天还要上班但我停不下来",
      "追更追到失眠，每集结尾都卡在最要命的地方，编剧你出来！",
      "这首歌太上头了 单曲循环一整天 脑子里全是旋律",
      "剧情拖沓，注水严重，看到第八集弃剧了",
      "昨晚喝了两杯白的，现在还上头，头疼欲裂",
      "有没有和这部剧一样好看的？求推荐类似的悬疑剧",
      "一周只更两集真的会谢，会员都买了还要超前点播？",
      "室友看这剧看到凌晨三点还在尖叫，我也被安利了，结果我看到了五点",
      "男二好帅啊 这是哪个演员 以前演过什么",
      "本来只想看一集就睡，结果“下一集”按钮根本停不下来，这就是传说中的电子榨菜吗",
      "这游戏太上头了，一局接一局，回过神来已经凌晨了",
    ],
  },
  {
    label: "上海哪里可以看樱花?",
    query: "上海哪里可以看樱花?",
    instruction:
      "Given a location-based query, rank documents by relevance to cherry blossom viewing in Shanghai",
    documents: [
      "顾村公园樱花节开幕啦！上万株樱花全开，地铁7号线顾村公园站下车就到，周末人超多建议早点去",
      "辰山植物园的樱花大道好出片，早樱晚樱都有，顺便还能看郁金香",
      "同济大学四平路校区的樱花大道开了，校外人员记得提前预约入校",
      "武汉大学樱花季预约通道开放，每天限流两万人",
      "上海鲜花港郁金香展开幕，三百多个品种，拍照超美",
      "东京上野公园的樱花满开了，今年比往年早了一周",
      "世纪公园的樱花林在2号门附近，人比顾村少，适合带娃野餐",
      "星巴克樱花季限定杯子上线了，粉粉的好好看",
      "上海植物园牡丹园下周开放，可以去看牡丹芍药",
      "滨江森林公园也有一片樱花林，还能骑车看江景，人少景美",
      "这周末上海有雨，赏花的朋友注意带伞",
      "无锡鼋头渚的樱花被称为“天下第一赏樱胜地”，从上海开车两个多小时",
      "上海迪士尼春季限定花车巡游开始了，粉色主题",
      "嘉定紫藤园的紫藤花开了，一片紫色瀑布",
    ],
  },
  {
    label: "Is coffee good for you? · rank by factual accuracy",
    query: "Is coffee good for you?",
    instruction: "Given a health question, rank posts by factual accuracy and evidence",
    documents: [
      "Large cohort studies link 3–4 cups of coffee a day to lower all-cause mortality, but they are observational: they show association, not cause.",
      "Coffee causes cancer, that's why I quit cold turkey. Don't let Big Coffee lie to you!",
      "Caffeine raises blood pressure for a few hours; regular drinkers build some tolerance. If you have hypertension, ask your doctor.",
      "Every morning my grandma and I shared a cup of coffee on the porch. She's gone now, but that smell still feels like home. ☕️",
      "Pregnant? Most guidelines say keep caffeine under 200 mg a day — about one or two cups.",
      "Coffee literally cured my diabetes. Five cups a day and no more insulin!!",
      "Honestly coffee is the only reason I survive Mondays 😭 my whole personality is espresso",
      "A cup of filter coffee has roughly 80–120 mg of caffeine; espresso has more per ml but less per serving.",
      "Drank coffee at 6pm and now it's 3am and I'm staring at the ceiling questioning my life choices",
      "Unfiltered coffee (French press, Turkish) contains cafestol, which can raise LDL cholesterol; paper filters remove most of it.",
      "My dad and I haven't talked in years. Yesterday he texted 'coffee sometime?' and I cried in the supermarket.",
      "Coffee dehydrates you so every cup cancels a glass of water — science!",
    ],
  },
];
// The same posts ranked for feelings instead of facts: run both and watch the order move.
EXAMPLES.push({
  ...EXAMPLES[4],
  label: "Is coffee good for you? · rank by emotional resonance",
  instruction: "Given a health question, rank posts by emotional resonance: how personally moving and relatable they are",
});

// ---- API key and requests --------------------------------------------------------------------

const state = {
  key: localStorage.getItem("qrank-api-key") || "",
  last: null,          // {query, documents, order} of the last run, to show moves
  running: false,
};

const $ = (id) => document.getElementById(id);

async function api(path, body) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (state.key) headers["Authorization"] = "Bearer " + state.key;
  const res = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (res.status === 401) showKeyForm();
  if (!res.ok) {
    const msg = data && data.error ? data.error.message : res.status + " " + res.statusText;
    const err = new Error(msg);
    err.status = res.status;
    throw err;
  }
  return data;
}

function showKeyForm() {
  $("key-form").hidden = false;
  $("api-key").focus();
}

$("key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  state.key = $("api-key").value.trim();
  localStorage.setItem("qrank-api-key", state.key);
  $("key-form").hidden = true;
  loadModelInfo();
});

// ---- tabs: one per <section data-tab>, shown only when there is more than one --------------

function setupTabs() {
  const sections = [...document.querySelectorAll("section[data-tab]")];
  const nav = $("tabs");
  if (sections.length < 2) return;
  const select = (name) => {
    for (const s of sections) s.hidden = s.dataset.tab !== name;
    for (const b of nav.children) b.setAttribute("aria-selected", String(b.dataset.tab === name));
    if (location.hash !== "#" + name) history.replaceState(null, "", "#" + name);
  };
  for (const s of sections) {
    const b = document.createElement("button");
    b.type = "button";
    b.role = "tab";
    b.dataset.tab = s.dataset.tab;
    b.textContent = s.dataset.title;
    b.addEventListener("click", () => select(s.dataset.tab));
    nav.appendChild(b);
  }
  nav.hidden = false;
  const wanted = location.hash.slice(1);
  select(sections.some((s) => s.dataset.tab === wanted) ? wanted : sections[0].dataset.tab);
}

// ---- model info, demo notice, loading ----------------------------------------------------------

async function loadModelInfo() {
  try {
    const info = await api("/v1/models");
    const m = info.data[0];
    $("model-badge").textContent = m.id + " · " + m.weight_type + (info.demo ? " · DEMO" : "");
    $("model-badge").classList.toggle("warn", !!info.demo);
    $("model-badge").hidden = false;
    $("foot-model").textContent =
      info.data.map((d) => d.kind + ": " + d.name + " (" + d.layers + " layers, " + d.weight_type + ")").join(" · ");
    $("demo-banner").hidden = !info.demo;
    if (info.notice) $("demo-text").textContent = info.notice;
    $("status-banner").hidden = true;
  } catch (e) {
    if (e.status === 503) {
      $("status-banner").textContent = "The model is loading…";
      $("status-banner").hidden = false;
      setTimeout(loadModelInfo, 1000);
    } else if (e.status !== 401) {
      $("status-banner").textContent = "Cannot reach the server: " + e.message;
      $("status-banner").hidden = false;
    }
  }
}

// ---- the rerank form -------------------------------------------------------------------------

function documentLines() {
  return $("documents").value.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
}

function updateCount() {
  const n = documentLines().length;
  $("doc-count").textContent = n ? n + (n === 1 ? " document" : " documents") : "";
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function render(query, documents, data, seconds) {
  const list = $("results");
  list.replaceChildren();
  const previous =
    state.last && state.last.query === query &&
    state.last.documents.join("\n") === documents.join("\n") ? state.last.order : null;
  const order = data.results.map((r) => r.index);
  data.results.forEach((r, rank) => {
    const li = document.createElement("li");
    li.className = "result";
    li.dataset.index = String(r.index);

    const head = document.createElement("div");
    head.className = "result-head";
    const pos = document.createElement("span");
    pos.className = "rank";
    pos.textContent = "#" + (rank + 1);
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.setAttribute("role", "meter");
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "1");
    bar.setAttribute("aria-valuenow", r.relevance_score.toFixed(4));
    const fill = document.createElement("div");
    fill.className = "fill";
    fill.style.width = Math.max(0, Math.min(1, r.relevance_score)) * 100 + "%";
    bar.appendChild(fill);
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = r.relevance_score.toFixed(4);
    head.append(pos, bar, score);

    const text = document.createElement("p");
    text.className = "doc";
    text.textContent = documents[r.index];

    const meta = document.createElement("div");
    meta.className = "meta";
    const orig = document.createElement("span");
    orig.className = "orig";
    orig.textContent = "input #" + (r.index + 1);
    meta.appendChild(orig);
    if (previous) {
      const before = previous.indexOf(r.index);
      const moved = before - rank;
      if (moved !== 0) {
        const m = document.createElement("span");
        m.className = "moved " + (moved > 0 ? "up" : "down");
        m.textContent = (moved > 0 ? "▲ " : "▼ ") + Math.abs(moved) + " since last run";
        meta.appendChild(m);
      }
    }
    li.append(head, text, meta);
    list.appendChild(li);
  });
  $("empty").hidden = true;
  $("timing").textContent =
    documents.length + " documents · " + data.usage.prompt_tokens + " tokens · " +
    seconds.toFixed(seconds < 1 ? 3 : 2) + " s";
  state.last = { query, documents, order };
  // One column (a phone): the list is below the form, so bring it into view.
  if (window.matchMedia("(max-width: 899px)").matches) {
    $("results").closest(".card").scrollIntoView({ behavior: "smooth", block: "start" });
  }
}

async function run() {
  if (state.running) return;
  const query = $("query").value.trim();
  const documents = documentLines();
  const instruction = $("instruction").value.trim();
  if (!query) return showError("Enter a query.");
  if (!documents.length) return showError("Enter at least one document (one per line).");
  showError("");
  state.running = true;
  $("run").disabled = true;
  $("run").textContent = "Running…";
  const started = performance.now();
  try {
    const body = { query, documents };
    if (instruction) body.instruction = instruction;
    const data = await api("/v1/rerank", body);
    render(query, documents, data, (performance.now() - started) / 1000);
  } catch (e) {
    showError(e.message);
  } finally {
    state.running = false;
    $("run").disabled = false;
    $("run").textContent = "Run";
  }
}

$("rerank-form").addEventListener("submit", (e) => {
  e.preventDefault();
  run();
});
$("rerank-form").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    run();
  }
});
$("documents").addEventListener("input", updateCount);

function setupExamples() {
  const box = $("example-list");
  EXAMPLES.forEach((ex) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "chip";
    b.textContent = ex.label;
    b.title = ex.instruction ? "Instruction: " + ex.instruction : ex.query;
    b.addEventListener("click", () => {
      $("query").value = ex.query;
      $("documents").value = ex.documents.join("\n");
      $("instruction").value = ex.instruction || "";
      updateCount();
      run();
    });
    box.appendChild(b);
  });
}

// ---- the API tab's examples, with this server's address ------------------------------------

function setupApiExamples() {
  const base = location.origin;
  const auth = state.key || $("key-form").hidden === false ? ' -H "Authorization: Bearer $QRANK_API_KEY"' : "";
  $("api-auth-note").textContent = "With --api-key, send Authorization: Bearer KEY.";
  $("curl-rerank").textContent =
    "curl " + base + "/v1/rerank" + auth + " -H 'Content-Type: application/json' -d '{\n" +
    '  "query": "上海哪里可以看樱花?",\n' +
    '  "documents": ["顾村公园樱花节开幕啦", "东京上野公园的樱花满开了"],\n' +
    '  "top_n": 1, "return_documents": true\n' + "}'";
  $("curl-tei").textContent =
    "curl " + base + "/rerank" + auth + " -H 'Content-Type: application/json' -d '{\n" +
    '  "query": "China\'s new EV battery breakthrough",\n' +
    '  "texts": ["CATL unveiled a 10-minute charging LFP pack", "Battery stocks rallied"],\n' +
    '  "raw_scores": false, "return_text": true\n' + "}'";
  $("curl-predict").textContent =
    "curl " + base + "/api/predict" + auth + " -H 'Content-Type: application/json' -d '{\n" +
    '  "data": ["这剧太上头了停不下来", "一口气刷了十二集\\n这首歌太上头了", "", 8]\n' + "}'";
  $("curl-embed").textContent =
    "curl " + base + "/v1/embeddings" + auth + " -H 'Content-Type: application/json' -d '{\n" +
    '  "input": ["杭州亚运会闭幕式烟花秀", "浏阳烟花节今晚八点开始"]\n' + "}'";
}

setupTabs();
setupExamples();
setupApiExamples();
updateCount();
loadModelInfo();
