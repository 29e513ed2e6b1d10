/* Hilum web reader: plain JS over the REST API (no build step). */
"use strict";

(() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const $ = (sel) => document.querySelector(sel);

  // --- strings ---------------------------------------------------------------------------------
  const I18N = {
    en: {
      tagline: "Chest radiograph reading assistant", no_study: "No study loaded", report: "Report",
      close_study: "Close study", study: "Study", drop_title: "Drop a chest film",
      drop_sub: "DICOM, PNG or JPEG · or click to browse", examples: "Example films (phantom)",
      layers: "Layers", display: "Display", window: "Window", level: "Level", invert: "Invert", fit: "Fit",
      reset_wl: "Reset W/L", viewer_hint: "Wheel: zoom · drag: pan · right-drag: window/level",
      empty_title: "Load a frontal chest radiograph to begin", empty_sub: "Drop a file on the left or pick an example film.",
      dialog_title: "Dialogue",
      dialog_sub: "The first turn screens the whole film. Then ask about a region; each answer builds on the previous ones.",
      ask_placeholder: "Ask about this film…", enter_hint: "Enter to send · Shift+Enter for a new line",
      uploading: "Reading the film…", thinking: "Answering…", session: "Session", turns: "turns",
      spacing: "spacing", estimated: "estimated", dicom: "DICOM", frontal: "frontal", flipped_lr: "mirrored?", findings: "Findings", measurements: "Measurements",
      checklist: "Checklist", matched: "matched", sign: "Sign", status: "Status", evidence: "Evidence",
      location: "Location", size: "Size", margin: "Margin", which: "Which one do you mean?", anchor: "Anchor",
      layer: "Layer", centre: "Centre", pixels: "px", narrated: "narrated by", understood: "understood as",
      ready: "ready", not_ready: "not ready", offline: "offline", closed: "Study closed.", zoom: "Zoom",
      stage_decode: "decode", stage_encode: "encode", stage_findings: "findings", stage_compose: "compose",
      stage_narrate: "narrate", stage_parse: "parse", stage_resolve: "resolve",
      l_screening: "Screening highlight", l_focus: "Focused contour", l_spicules: "Spicules", l_notches: "Notches",
      l_measurements: "Measurements", l_anatomy: "Anatomy", l_labels: "Labels", l_checklist: "Checklist card",
      l_heatmap: "Lesion heatmap",
      api_key_prompt: "This server needs an API key. Enter yours (kept for this browser tab only):",
    },
    zh: {
      tagline: "胸片阅片助手", no_study: "未载入影像", report: "报告", close_study: "关闭检查", study: "检查",
      drop_title: "拖入胸片", drop_sub: "DICOM、PNG 或 JPEG · 或点击选择文件", examples: "示例胸片(体模)",
      layers: "图层", display: "显示", window: "窗宽", level: "窗位", invert: "反相", fit: "适应窗口",
      reset_wl: "重置窗宽窗位", viewer_hint: "滚轮缩放 · 拖动平移 · 右键拖动调窗",
      empty_title: "载入一张正位胸片开始", empty_sub: "把文件拖到左侧,或选择一张示例胸片。", dialog_title: "对话",
      dialog_sub: "第一轮自动全片筛查。之后可针对某个区域提问,每一轮都建立在前面的回答之上。",
      ask_placeholder: "就这张胸片提问…", enter_hint: "回车发送 · Shift+回车换行", uploading: "正在读片…",
      thinking: "正在回答…", session: "会话", turns: "轮", spacing: "像素间距", estimated: "估计", dicom: "DICOM", frontal: "正位", flipped_lr: "疑似镜像",
      findings: "病灶", measurements: "测量", checklist: "核对清单", matched: "符合", sign: "征象", status: "状态",
      evidence: "依据", location: "位置", size: "大小", margin: "边缘", which: "您指的是哪一个?", anchor: "锚点",
      layer: "图层", centre: "中心", pixels: "像素", narrated: "叙述", understood: "理解为", ready: "就绪",
      not_ready: "未就绪", offline: "离线", closed: "检查已关闭。", zoom: "缩放",
      stage_decode: "解码", stage_encode: "编码", stage_findings: "病灶", stage_compose: "组织", stage_narrate: "叙述",
      stage_parse: "解析", stage_resolve: "指代",
      l_screening: "筛查高亮", l_focus: "精确轮廓", l_spicules: "毛刺", l_notches: "分叶切迹", l_measurements: "测量线",
      l_anatomy: "解剖标志", l_labels: "标签", l_checklist: "核对卡片", l_heatmap: "病灶热图",
      api_key_prompt: "此服务器需要 API 密钥。请输入您的密钥(仅保存在当前浏览器标签页):",
    },
  };
  const QUESTIONS = {
    zh: [
      "肺部是否有异常?",
      "右肺中叶那个圆形影,边缘是否规则?",
      "这个病灶距离右肺门有多远?是否与肺门结构相连?",
      "如果这是早期肺癌,典型X线表现应该有哪些?当前影像符合几条?",
    ],
    en: [
      "Is there anything abnormal in the lungs?",
      "Is the margin of the round opacity in the right middle lobe regular?",
      "How far is this lesion from the right hilum? Is it connected to the hilar structures?",
      "If this were early lung cancer, what are the typical X-ray signs, and how many does this image show?",
    ],
  };
  const LAYERS = [
    ["heatmap", "#ffb000"], ["screening", "#ffb000"], ["focus", "#ff3b30"], ["spicules", "#ff9500"],
    ["notches", "#34c759"], ["measurements", "#0a84ff"], ["anatomy", "#64d2ff"], ["labels", "#ffffff"],
    ["checklist", "#a0a7b4"],
  ];

  // --- state ---------------------------------------------------------------------------------------
  const state = {
    lang: localStorage.getItem("hilum.lang") || ((navigator.language || "en").startsWith("zh") ? "zh" : "en"),
    session: null, turns: [], active: -1, filmName: "", busy: false,
    size: [512, 512], spacing: null, spacingSource: null,
    view: null, wl: { window: 1, level: 0.5, invert: false },
    hidden: new Set(), elements: [],
  };
  const t = (key) => (I18N[state.lang] && I18N[state.lang][key]) || I18N.en[key] || key;

  // --- api -----------------------------------------------------------------------------------------
  // The API key (a server with HILUM_API_KEYS_FILE answers 401 without one): asked for once, kept in
  // sessionStorage (this tab only), sent as a Bearer token on every request, the streamed ask included.
  const KEY_STORE = "hilum.apiKey";
  async function api(method, path, body, isForm) {
    let res;
    for (let attempt = 0; ; attempt++) {
      const init = { method, headers: {} };
      if (body !== undefined) {
        if (isForm) init.body = body;
        else { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
      }
      const sent = sessionStorage.getItem(KEY_STORE);
      if (sent) init.headers["Authorization"] = `Bearer ${sent}`;
      res = await fetch(path, init);
      if (res.status !== 401 || attempt > 0) break;
      if (sessionStorage.getItem(KEY_STORE) !== sent) continue;  // another request was given a key meanwhile
      sessionStorage.removeItem(KEY_STORE);  // none, or a wrong one
      const entered = (window.prompt(t("api_key_prompt")) || "").trim();
      if (!entered) break;
      sessionStorage.setItem(KEY_STORE, entered);
    }
    if (!res.ok) {
      let message = `${res.status} ${res.statusText}`, kind = null;
      try {
        const j = await res.json();
        message = (j.error && j.error.message) || message;
        kind = (j.error && j.error.kind) || null;
      } catch (e) { /* keep */ }
      const err = new Error(message);
      err.kind = kind;
      throw err;
    }
    return res;
  }

  // --- i18n ------------------------------------------------------------------------------------------
  function applyLang() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.documentElement.dataset.lang = state.lang;
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
    document.querySelectorAll("[data-lang-btn]").forEach((b) => b.classList.toggle("active", b.dataset.langBtn === state.lang));
    renderSuggestions();
    renderLayerPanel();
    renderMeta();
    renderCorners();
  }

  function renderSuggestions() {
    const box = $("#suggestions");
    box.innerHTML = "";
    QUESTIONS[state.lang].forEach((q, i) => {
      const b = document.createElement("button");
      b.type = "button"; b.className = "suggestion"; b.dataset.q = String(i + 1);
      b.disabled = !state.session || state.busy;
      b.innerHTML = `<b>Q${i + 1}</b>`;
      b.append(document.createTextNode(q));
      b.title = q;
      b.addEventListener("click", () => ask(q));
      box.append(b);
    });
  }

  // --- health ------------------------------------------------------------------------------------------
  async function pollHealth() {
    const el = $("#health");
    try {
      const res = await fetch("/readyz");
      el.className = "health " + (res.ok ? "ok" : "bad");
      $("#health-text").textContent = res.ok ? t("ready") : t("not_ready");
    } catch (e) {
      el.className = "health bad"; $("#health-text").textContent = t("offline");
    }
  }

  // --- examples + upload ---------------------------------------------------------------------------------
  async function loadExamples() {
    try {
      const list = await (await api("GET", "/v1/examples")).json();
      const box = $("#examples");
      list.forEach((ex) => {
        const b = document.createElement("button");
        b.type = "button"; b.className = "example"; b.title = ex.title; b.dataset.seed = ex.seed;
        b.innerHTML = `<img alt="" loading="lazy" src="${ex.image_url}"><span>#${ex.seed}</span>`;
        b.addEventListener("click", async () => {
          b.classList.add("loading");
          try {
            const blob = await (await api("GET", ex.image_url)).blob();
            await upload(blob, `phantom-${ex.seed}.png`);
          } catch (e) { toast(e.message); } finally { b.classList.remove("loading"); }
        });
        box.append(b);
      });
    } catch (e) { /* examples are optional */ }
  }

  async function upload(blob, name) {
    if (state.busy) return;
    setBusy(true, t("uploading"));
    try {
      if (state.session) api("DELETE", `/v1/sessions/${state.session.session_id}`).catch(() => {});
      const form = new FormData();
      form.append("file", blob, name);
      form.append("lang", state.lang);
      const session = await (await api("POST", "/v1/sessions", form, true)).json();
      const film = await (await api("GET", `/v1/sessions/${session.session_id}/image.png`)).blob();
      await startSession(session, URL.createObjectURL(film), name);
    } catch (e) {
      toast(e.message);
      if (e.kind === "not_a_chest_film") {  // the film gate's refusal stays on screen, in the user's language
        const err = document.createElement("div");
        err.className = "msg-error film-refused"; err.textContent = e.message;
        $("#transcript").append(err);
      }
    } finally { setBusy(false); }
  }

  function imageGeometry(image) {
    const size = image.working_size || image.size || image.image_size || image.shape;
    if (Array.isArray(size) && size.length >= 2) state.size = [Number(size[0]), Number(size[1])];
    else if (image.height && image.width) state.size = [Number(image.height), Number(image.width)];
    const sp = image.working_spacing_mm || image.pixel_spacing_mm || image.spacing_mm;
    state.spacing = Array.isArray(sp) ? [Number(sp[0]), Number(sp[1])] : (typeof sp === "number" ? [sp, sp] : null);
    state.spacingSource = image.spacing_source || null;
  }

  function startSession(session, filmUrl, name) {
    state.session = session; state.turns = []; state.filmName = name; state.active = -1;
    imageGeometry(session.image || {});
    const [h, w] = state.size;
    const film = $("#film");
    film.setAttribute("href", filmUrl);
    film.setAttribute("width", w); film.setAttribute("height", h);
    $("#viewer").classList.add("has-film");
    $("#viewer-empty").classList.add("hidden");
    fitView();
    $("#transcript").querySelectorAll(".msg-user,.turn-card,.msg-error").forEach((n) => n.remove());
    $("#transcript-empty").classList.add("hidden");
    (session.turns || []).forEach((turn) => addTurn(turn));
    ["#question", "#btn-send", "#btn-report", "#btn-close"].forEach((s) => { $(s).disabled = false; });
    renderSuggestions(); renderMeta(); renderCorners();
    $("#question").focus();
  }

  // --- asking --------------------------------------------------------------------------------------------
  async function ask(question) {
    question = (question || "").trim();
    if (!question || !state.session || state.busy) return;
    const user = document.createElement("div");
    user.className = "msg-user"; user.textContent = question;
    $("#transcript").append(user);
    const pending = document.createElement("div");
    pending.className = "turn-card pending";
    pending.innerHTML = `<div class="turn-head"><span class="turn-no">…</span><span class="spinner"></span></div><div class="stages"></div>`;
    $("#transcript").append(pending);
    scrollTranscript();
    setBusy(true, t("thinking"));
    try {
      const turn = await askStreaming(question, pending.querySelector(".stages"));
      pending.remove();
      addTurn(turn);
    } catch (e) {
      pending.remove();
      const err = document.createElement("div");
      err.className = "msg-error"; err.textContent = e.message;
      $("#transcript").append(err);
    } finally {
      setBusy(false);
      $("#question").focus();
    }
  }

  async function askStreaming(question, stagesBox) {
    const res = await api("POST", `/v1/sessions/${state.session.session_id}/turns/stream`, { question });
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "", turn = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (value) buffer += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).trim(); buffer = buffer.slice(nl + 1);
        if (!line) continue;
        const ev = JSON.parse(line);
        if (ev.kind === "stage") {
          const pill = document.createElement("span");
          pill.className = "stage-pill done"; pill.textContent = t("stage_" + ev.stage);
          stagesBox.append(pill);
        } else if (ev.kind === "turn") turn = ev.turn;
        else if (ev.kind === "error") throw new Error(ev.message || "error");
      }
      if (done) break;
    }
    if (!turn) throw new Error("no answer");
    return turn;
  }

  function addTurn(turn) {
    state.turns.push(turn);
    const idx = state.turns.length - 1;
    $("#transcript").append(renderTurnCard(turn, idx));
    selectTurn(idx);
    renderMeta();
    scrollTranscript();
  }

  function scrollTranscript() { const tr = $("#transcript"); tr.scrollTop = tr.scrollHeight; }

  // --- transcript rendering ---------------------------------------------------------------------------------
  function el(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = text;
    return n;
  }

  function withChips(text, anchors) {
    const frag = document.createDocumentFragment();
    const kinds = {};
    (anchors || []).forEach((a) => { kinds[a.id] = a.kind; });
    let last = 0;
    const re = /\bA\d+\b/g;
    let m;
    while ((m = re.exec(text))) {
      frag.append(document.createTextNode(text.slice(last, m.index)));
      const chip = el("span", "anchor-chip" + (kinds[m[0]] && kinds[m[0]] !== "finding" ? " anatomy" : ""), m[0]);
      chip.dataset.chip = m[0];
      chip.addEventListener("click", (e) => { e.stopPropagation(); focusAnchor(m0(chip)); });
      frag.append(chip);
      last = m.index + m[0].length;
    }
    frag.append(document.createTextNode(text.slice(last)));
    return frag;
  }
  const m0 = (chip) => chip.dataset.chip;

  function fmt(v, digits = 1) {
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(digits);
    if (Array.isArray(v)) return v.map((x) => fmt(x, digits)).join(", ");
    if (v === null || v === undefined) return "—";
    return String(v);
  }

  function queryLine(q) {
    if (!q) return "";
    const parts = [];
    ["side", "lobe", "zone", "band"].forEach((k) => { if (q[k]) parts.push(`${k}=${q[k]}`); });
    ["anatomy", "descriptors", "references"].forEach((k) => { if (q[k] && q[k].length) parts.push(`${k}=${q[k].join("/")}`); });
    return parts.join("  ");
  }

  function renderTurnCard(turn, idx) {
    const card = el("div", "turn-card");
    card.dataset.turn = String(turn.turn);
    card.dataset.intent = turn.intent;
    const head = el("div", "turn-head");
    head.append(el("span", "turn-no", `T${turn.turn}`), el("span", "badge intent", turn.intent), el("span", "badge", turn.lang));
    const total = turn.timings ? Object.values(turn.timings).reduce((a, b) => a + (Number(b) || 0), 0) : 0;
    if (total) head.append(el("span", "badge time", `${(total * 1000).toFixed(0)} ms`));
    card.append(head);
    const ql = queryLine(turn.query);
    if (ql) card.append(el("div", "query-line", `${t("understood")}: ${ql}`));
    const sections = (turn.answer && turn.answer.sections) || [];
    if (sections.length) sections.forEach((s) => card.append(renderSection(s, turn.anchors)));
    else if (turn.answer && turn.answer.text) { const p = el("p"); p.append(withChips(turn.answer.text, turn.anchors)); card.append(p); }
    if (turn.findings && turn.findings.length && turn.intent !== "sign_checklist") card.append(findingsTable(turn.findings));
    if (turn.measurements && turn.measurements.length) card.append(measurementsTable(turn.measurements));
    if (turn.checklist) card.append(checklistTable(turn.checklist));
    if (turn.clarification) card.append(clarifyBox(turn.clarification));
    if (turn.narration && turn.narration.source) {
      card.append(el("div", "source-note", `${t("narrated")}: ${turn.narration.source}` +
        (turn.narration.fallback_reason ? ` (${turn.narration.fallback_reason})` : "")));
    }
    card.addEventListener("click", () => selectTurn(idx));
    return card;
  }

  function renderSection(s, anchors) {
    const box = el("div", "section");
    box.dataset.kind = s.kind || "";
    if (s.title) box.append(el("h5", null, s.title));
    if (s.text) { const p = el("p"); p.append(withChips(String(s.text), anchors)); box.append(p); }
    if (Array.isArray(s.rows) && s.rows.length) {
      const table = el("table", "data");
      s.rows.forEach((row) => {
        const tr = el("tr");
        (Array.isArray(row) ? row : Object.values(row)).forEach((c) => tr.append(el("td", null, fmt(c))));
        table.append(tr);
      });
      box.append(table);
    }
    return box;
  }

  function table(headers, rows) {
    const tb = el("table", "data");
    const hr = el("tr");
    headers.forEach((h) => hr.append(el("th", null, h)));
    tb.append(hr);
    rows.forEach((r) => {
      const tr = el("tr");
      r.forEach((c) => {
        if (c instanceof Node) { const td = el("td"); td.append(c); tr.append(td); }
        else tr.append(el("td", typeof c === "number" ? "num" : null, fmt(c)));
      });
      tb.append(tr);
    });
    return tb;
  }

  function findingsTable(findings) {
    const rows = findings.map((f) => [
      withChips(f.anchor_id || f.id || "", []),
      [f.side, f.lobe, f.zone, f.band].filter(Boolean).join(" · "),
      typeof f.diameter_mm === "number" ? `${f.diameter_mm.toFixed(1)} mm` : fmt(f.diameter_mm),
      f.margin || f.kind || "—",
    ]);
    const box = el("div", "section");
    box.append(el("h5", null, t("findings")), table([t("anchor"), t("location"), t("size"), t("margin")], rows));
    return box;
  }

  function measurementsTable(ms) {
    const rows = ms.map((m) => [
      m.kind || "",
      withChips([m.from || m.of, m.to].filter(Boolean).join(" → "), []),
      typeof m.mm === "number" ? `${m.mm.toFixed(1)} mm` : fmt(m.mm),
      m.spacing_source ? (m.spacing_source === "estimated" ? t("estimated") : t("dicom")) : "",
    ]);
    const box = el("div", "section");
    box.append(el("h5", null, t("measurements")), table(["", t("anchor"), "mm", t("spacing")], rows));
    return box;
  }

  function statusChip(status) { return el("span", `status ${status}`, status); }

  function checklistTable(c) {
    const box = el("div", "section");
    const h = el("h5", null, `${t("checklist")} · ${c.title || c.name || ""}`);
    box.append(h);
    box.append(el("div", "score", `${c.matched}/${c.total} ${t("matched")}`));
    box.append(table([t("sign"), t("status"), t("evidence")],
      (c.items || []).map((i) => [i.label || i.sign, statusChip(i.status), i.evidence || ""])));
    return box;
  }

  function clarifyBox(c) {
    const box = el("div", "clarify");
    box.append(el("div", null, c.question || c.text || t("which")));
    (c.candidates || []).forEach((cand) => {
      const id = typeof cand === "string" ? cand : cand.id || cand.anchor_id;
      const label = typeof cand === "string" ? cand : `${id} ${cand.label || ""}`.trim();
      const b = el("button", "ghost small", label);
      b.type = "button";
      b.addEventListener("click", (e) => { e.stopPropagation(); ask(id); });
      box.append(b);
    });
    return box;
  }

  function selectTurn(idx) {
    state.active = idx;
    document.querySelectorAll(".turn-card").forEach((c, i) => c.classList.toggle("active", i === idx));
    renderOverlays(state.turns[idx]);
  }

  // --- overlays -------------------------------------------------------------------------------------------------
  function svg(tag, attrs) {
    const n = document.createElementNS(SVG_NS, tag);
    Object.entries(attrs || {}).forEach(([k, v]) => { if (v !== undefined && v !== null) n.setAttribute(k, v); });
    return n;
  }
  const pts = (points) => (points || []).map((p) => `${p[0]},${p[1]}`).join(" ");

  function styleAttrs(style) {
    const s = style || {};
    return {
      stroke: s.stroke || "none", fill: s.fill || "none", "stroke-width": s.width || 1.5,
      "stroke-dasharray": Array.isArray(s.dash) && s.dash.length ? s.dash.join(" ") : null,
    };
  }

  // sizes in screen pixels: text, markers and label offsets keep their size at any zoom
  function screenScale() {
    const width = $("#film-svg").getBoundingClientRect().width || 1;
    return state.view ? state.view.w / width : state.size[1] / width;
  }

  function placeScaled(n, k) {
    if (n.dataset.fs) n.setAttribute("font-size", Number(n.dataset.fs) * k);
    if (n.dataset.r) n.setAttribute("r", Number(n.dataset.r) * k);
    if (n.dataset.ax) {
      n.setAttribute("x", Number(n.dataset.ax) + Number(n.dataset.dx || 0) * k);
      n.setAttribute("y", Number(n.dataset.ay) + Number(n.dataset.dy || 0) * k);
    }
  }

  function rescaleOverlays() {
    const k = screenScale();
    document.querySelectorAll("#overlays [data-fs], #overlays [data-r]").forEach((n) => placeScaled(n, k));
  }

  function scaledText(text, at, fs, dx, dy, color) {
    const n = svg("text", { fill: color, "font-weight": 600, "data-fs": fs, "data-ax": at[0], "data-ay": at[1],
      "data-dx": dx, "data-dy": dy });
    n.textContent = text;
    return n;
  }

  function drawElement(o) {
    const style = o.style || {};
    const g = svg("g");
    let shape = null;
    if (o.type === "polygon") shape = svg("polygon", { points: pts(o.points), ...styleAttrs(style) });
    else if (o.type === "polyline") shape = svg("polyline", { points: pts(o.points), ...styleAttrs(style), fill: "none" });
    else if (o.type === "point" && o.at) {
      shape = svg("circle", { cx: o.at[0], cy: o.at[1], "data-r": (style.radius || 3) + 1.5,
        fill: style.fill || style.stroke || "#fff", stroke: "#000", "stroke-width": 1 });
    } else if (o.type === "text" && o.at) {
      shape = scaledText(o.text || "", o.at, 13, 0, -2, style.color || "#fff");
    } else if (o.type === "heatmap" && o.image) {
      const b = o.bbox_px || [0, 0, state.size[1], state.size[0]];
      shape = svg("image", { href: o.image, x: b[0], y: b[1], width: b[2] - b[0], height: b[3] - b[1],
        opacity: style.opacity || 0.35, preserveAspectRatio: "none", style: "pointer-events:none" });
    }
    if (!shape) return null;
    g.append(shape);
    const hit = hitArea(o, shape);
    if (hit) g.append(hit);
    const label = o.label && o.type !== "text" ? labelFor(o) : null;
    if (label) g.append(label);
    if (style.role === "focused_contour" && o.anchor_id && o.points && o.points.length) {
      // the focused lesion carries its anchor id beside its contour
      const top = o.points.reduce((a, p) => (p[1] < a[1] ? p : a), o.points[0]);
      const right = Math.max(...o.points.map((p) => p[0]));
      g.append(scaledText(o.anchor_id, [right, top[1]], 13, 8, -10, style.stroke || "#ff3b30"));
    }
    return g;
  }

  // generous invisible hit areas, so thin strokes and small markers are easy to hover
  function hitArea(o, shape) {
    if (o.type === "polygon") { shape.setAttribute("pointer-events", "all"); return null; }
    if (o.type === "polyline") {
      return svg("polyline", { points: pts(o.points), fill: "none", stroke: "transparent", "stroke-width": 12,
        "pointer-events": "stroke", class: "hit" });
    }
    if (o.type === "point" && o.at) {
      return svg("circle", { cx: o.at[0], cy: o.at[1], "data-r": 9, fill: "transparent", "pointer-events": "all",
        class: "hit" });
    }
    return null;
  }

  function labelFor(o) {
    const color = (o.style && (o.style.stroke || o.style.fill)) || "#fff";
    if (o.type === "point" && o.at) return scaledText(o.label, o.at, 12, 7, -7, color);
    if (o.type !== "polyline" || !o.points || o.points.length < 2) return null;
    const a = o.points[0], b = o.points[o.points.length - 1];
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]) || 1;
    // the distance label sits above its line, the gap label below: they never cover each other
    const side = o.style && o.style.role === "gap_line" ? 1 : -1;
    const nx = (-(b[1] - a[1]) / len) * side * 16, ny = ((b[0] - a[0]) / len) * side * 16;
    const f = o.style && o.style.role === "gap_line" ? 0.5 : 0.55;
    const at = [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f];
    const n = scaledText(o.label, at, 13, nx - 14, ny + 4, color);
    return n;
  }

  function renderOverlays(turn) {
    const root = $("#overlays");
    root.innerHTML = "";
    state.elements = [];
    const card = $("#checklist-card");
    card.classList.add("hidden");
    if (!turn) { renderLayerPanel(); return; }
    const layers = {};
    (turn.overlays || []).forEach((o) => {
      const layer = o.type === "heatmap" ? "heatmap" : (o.layer || "other");
      if (o.type === "table") { renderChecklistCard(o); return; }
      const node = drawElement(o);
      if (!node) return;
      if (!layers[layer]) {
        layers[layer] = svg("g", { "data-layer": layer, class: "layer" });
      }
      const idx = state.elements.push({ ...o, layer }) - 1;
      node.setAttribute("class", "ov");
      node.dataset.ov = String(idx);
      node.dataset.layer = layer;
      if (o.anchor_id) node.dataset.anchorId = o.anchor_id;
      if (o.style && o.style.role) node.dataset.role = o.style.role;
      layers[layer].append(node);
    });
    LAYERS.map(([name]) => name).concat(Object.keys(layers)).forEach((name) => {
      if (layers[name] && !layers[name].parentNode) root.append(layers[name]);
    });
    applyLayerVisibility();
    renderLayerPanel();
    if (turn.intent !== "screen") frameElements(); else if (state.view) fitView();
    rescaleOverlays();
  }

  // a focused turn frames its overlays (at least half the film wide) so the detail is visible
  function frameElements() {
    const xs = [], ys = [];
    state.elements.forEach((o) => {
      if (o.type === "heatmap") return;
      (o.points || (o.at ? [o.at] : [])).forEach((p) => { xs.push(p[0]); ys.push(p[1]); });
    });
    if (!xs.length || !state.view) return;
    const [h, w] = state.size;
    const box = $("#viewer").getBoundingClientRect();
    const aspect = box.width / Math.max(1, box.height);
    const cx = (Math.min(...xs) + Math.max(...xs)) / 2, cy = (Math.min(...ys) + Math.max(...ys)) / 2;
    let vw = Math.max((Math.max(...xs) - Math.min(...xs)) * 2.2, w * 0.6);
    let vh = Math.max((Math.max(...ys) - Math.min(...ys)) * 2.2, h * 0.6);
    if (vw / vh < aspect) vw = vh * aspect; else vh = vw / aspect;
    setView({ x: cx - vw / 2, y: cy - vh / 2, w: vw, h: vh });
  }

  function renderChecklistCard(o) {
    const card = $("#checklist-card");
    card.innerHTML = "";
    if (o.anchor_id) card.dataset.anchorId = o.anchor_id;
    card.dataset.layer = "checklist";
    const h = el("h4");
    const m = o.measurements || {};
    h.append(el("span", null, o.title || t("checklist")), el("span", "score", `${fmt(m.matched)}/${fmt(m.total)}`));
    card.append(h);
    card.append(table([t("sign"), t("status"), t("evidence")],
      (o.rows || []).map((r) => [r[0], statusChip(r[1]), r[2] || ""])));
    card.classList.toggle("hidden", state.hidden.has("checklist"));
    card.dataset.present = "1";
  }

  function applyLayerVisibility() {
    document.querySelectorAll("#overlays g.layer").forEach((g) => {
      g.style.display = state.hidden.has(g.dataset.layer) ? "none" : "";
    });
    const card = $("#checklist-card");
    if (card.dataset.present === "1" && state.active >= 0 &&
        (state.turns[state.active].overlays || []).some((o) => o.type === "table")) {
      card.classList.toggle("hidden", state.hidden.has("checklist"));
    }
  }

  function renderLayerPanel() {
    const box = $("#layers");
    if (!box) return;
    box.innerHTML = "";
    const counts = {};
    state.elements.forEach((e) => { counts[e.layer] = (counts[e.layer] || 0) + 1; });
    const turn = state.turns[state.active];
    if (turn && (turn.overlays || []).some((o) => o.type === "table")) counts.checklist = 1;
    const known = LAYERS.map(([n]) => n);
    const names = known.concat(Object.keys(counts).filter((n) => !known.includes(n)));
    names.forEach((name) => {
      const color = (LAYERS.find(([n]) => n === name) || [name, "#888"])[1];
      const row = el("label", "layer-row" + (counts[name] ? "" : " empty"));
      row.dataset.layerToggle = name;
      const cb = el("input");
      cb.type = "checkbox"; cb.checked = !state.hidden.has(name);
      cb.addEventListener("change", () => {
        if (cb.checked) state.hidden.delete(name); else state.hidden.add(name);
        applyLayerVisibility();
      });
      const sw = el("span", "swatch");
      sw.style.borderColor = color; sw.style.background = color + "33";
      row.append(cb, sw, el("span", "name", t("l_" + name) === "l_" + name ? name : t("l_" + name)),
        el("span", "count", counts[name] ? String(counts[name]) : ""));
      box.append(row);
    });
  }

  function anchorById(id) {
    for (let i = state.turns.length - 1; i >= 0; i--) {
      const a = (state.turns[i].anchors || []).find((x) => x.id === id);
      if (a) return a;
    }
    return ((state.session && state.session.anchors) || []).find((x) => x.id === id) || null;
  }

  function focusAnchor(id) {
    const a = anchorById(id);
    document.querySelectorAll(`#overlays [data-anchor-id="${id}"]`).forEach((n) => {
      n.classList.remove("focus-pulse"); void n.getBBox(); n.classList.add("focus-pulse");
    });
    if (a && a.center_px) {
      const [w] = [state.view.w];
      const nw = Math.min(w, state.size[1] / 2);
      setView({ x: a.center_px[0] - nw / 2, y: a.center_px[1] - (nw * state.view.h / state.view.w) / 2, w: nw,
        h: nw * state.view.h / state.view.w });
    }
  }

  // --- tooltip ------------------------------------------------------------------------------------------------------
  function toMm(px) {
    if (!state.spacing) return null;
    return [px[0] * state.spacing[1], px[1] * state.spacing[0]];
  }

  function elementCentre(o) {
    if (o.at) return o.at;
    if (o.points && o.points.length) {
      const n = o.points.length;
      return [o.points.reduce((s, p) => s + p[0], 0) / n, o.points.reduce((s, p) => s + p[1], 0) / n];
    }
    return null;
  }

  function measurementRows(o) {
    const rows = [];
    const m = o.measurements || {};
    Object.entries(m).forEach(([k, v]) => {
      if (v === null || v === undefined || v === "") return;
      if (k === "mm") rows.push([o.style && o.style.role === "gap_line" ? "gap" : "length", `${fmt(v)} mm`]);
      else if (k.endsWith("_mm")) rows.push([k.replace(/_mm$/, ""), `${fmt(v)} mm`]);
      else rows.push([k, fmt(v)]);
    });
    if (o.points && o.points.length === 2 && state.spacing && !("mm" in m) && !Object.keys(m).some((k) => k.endsWith("_mm"))) {
      const [a, b] = o.points;
      const d = Math.hypot((b[0] - a[0]) * state.spacing[1], (b[1] - a[1]) * state.spacing[0]);
      rows.push(["length", `${d.toFixed(1)} mm`]);
    }
    return rows;
  }

  function showTooltip(node, evt) {
    const o = state.elements[Number(node.dataset.ov)];
    if (!o) return;
    const tip = $("#tooltip");
    tip.innerHTML = "";
    const head = el("div", "tt-head");
    head.append(el("span", "tt-id", o.anchor_id || "—"), el("span", "tt-layer", `${t("l_" + o.layer)} · ${o.type}`));
    tip.append(head);
    const a = o.anchor_id ? anchorById(o.anchor_id) : null;
    if (a && a.label) tip.append(el("div", "muted", a.label));
    const dl = el("dl");
    const add = (k, v) => { dl.append(el("dt", null, k), el("dd", null, v)); };
    const c = (a && a.center_px) || elementCentre(o);
    if (c) {
      add(`${t("centre")} (${t("pixels")})`, `${c[0].toFixed(0)}, ${c[1].toFixed(0)}`);
      const mm = toMm(c);
      if (mm) add(`${t("centre")} (mm)`, `${mm[0].toFixed(1)}, ${mm[1].toFixed(1)}`);
    }
    measurementRows(o).forEach(([k, v]) => add(k, v));
    tip.append(dl);
    tip.classList.remove("hidden");
    moveTooltip(evt);
  }

  function moveTooltip(evt) {
    const tip = $("#tooltip");
    const box = $("#viewer").getBoundingClientRect();
    let x = evt.clientX - box.left + 14, y = evt.clientY - box.top + 14;
    if (x + tip.offsetWidth > box.width - 8) x = evt.clientX - box.left - tip.offsetWidth - 14;
    if (y + tip.offsetHeight > box.height - 8) y = evt.clientY - box.top - tip.offsetHeight - 14;
    tip.style.left = `${x}px`; tip.style.top = `${y}px`;
  }

  // --- viewer: pan / zoom / window-level ----------------------------------------------------------------------------------
  function fitView() {
    const [h, w] = state.size;
    const box = $("#viewer").getBoundingClientRect();
    const aspect = box.width / Math.max(1, box.height);
    let vw = w * 1.04, vh = h * 1.04;
    if (vw / vh < aspect) vw = vh * aspect; else vh = vw / aspect;
    setView({ x: (w - vw) / 2, y: (h - vh) / 2, w: vw, h: vh });
  }

  function setView(v) {
    state.view = v;
    $("#film-svg").setAttribute("viewBox", `${v.x} ${v.y} ${v.w} ${v.h}`);
    rescaleOverlays();
    renderCorners();
  }

  function svgPoint(evt) {
    const s = $("#film-svg");
    const p = s.createSVGPoint();
    p.x = evt.clientX; p.y = evt.clientY;
    return p.matrixTransform(s.getScreenCTM().inverse());
  }

  function zoomAt(evt, factor) {
    if (!state.view) return;
    const p = svgPoint(evt);
    const v = state.view;
    const nw = Math.min(Math.max(v.w * factor, state.size[1] / 20), state.size[1] * 6);
    const k = nw / v.w;
    setView({ x: p.x - (p.x - v.x) * k, y: p.y - (p.y - v.y) * k, w: v.w * k, h: v.h * k });
  }

  function applyWL() {
    const { window: W, level: L, invert } = state.wl;
    let slope = 1 / W, intercept = -(L - W / 2) / W;
    if (invert) { slope = -slope; intercept = 1 - intercept; }
    document.querySelectorAll("#wl-transfer > *").forEach((f) => {
      f.setAttribute("slope", slope.toFixed(4)); f.setAttribute("intercept", intercept.toFixed(4));
    });
    $("#wl-window").value = W; $("#wl-level").value = L;
    $("#wl-window-out").textContent = W.toFixed(2); $("#wl-level-out").textContent = L.toFixed(2);
    renderCorners();
  }

  function renderCorners(cursor) {
    if (!state.session) return;
    const [h, w] = state.size;
    const img = state.session.image || {};
    // the view and orientation the film gate established (screening turn), never an assumed "PA"
    const fc = (state.turns[0] && state.turns[0].film_check) || {};
    const view = fc.view === "PA" || fc.view === "AP" ? fc.view : t("frontal");
    const orient = fc.orientation && fc.orientation !== "upright" ? ` · ${t(fc.orientation)}` : "";
    $("#corner-tl").textContent = `${state.filmName || "film"}\n${img.modality || "CR/DX"} · ${view}${orient} · ${w}×${h}`;
    const zoom = state.view ? (($("#viewer").getBoundingClientRect().width / state.view.w) * 100).toFixed(0) : "100";
    $("#corner-bl").textContent = `W ${state.wl.window.toFixed(2)}  L ${state.wl.level.toFixed(2)}${state.wl.invert ? "  INV" : ""}\n${t("zoom")} ${zoom}%`;
    const sp = state.spacing ? `${state.spacing[1].toFixed(3)} mm/px (${state.spacingSource === "estimated" ? t("estimated") : state.spacingSource || "dicom"})` : "";
    let pos = "";
    if (cursor) {
      pos = `x ${cursor.x.toFixed(0)}  y ${cursor.y.toFixed(0)} px`;
      const mm = toMm([cursor.x, cursor.y]);
      if (mm) pos += `\n${mm[0].toFixed(1)}, ${mm[1].toFixed(1)} mm`;
    }
    $("#corner-tr").textContent = pos;
    $("#corner-br").textContent = sp;
  }

  function installViewer() {
    const viewer = $("#viewer");
    const svgEl = $("#film-svg");
    let drag = null;
    svgEl.addEventListener("wheel", (e) => { e.preventDefault(); zoomAt(e, e.deltaY > 0 ? 1.15 : 1 / 1.15); }, { passive: false });
    svgEl.addEventListener("contextmenu", (e) => e.preventDefault());
    svgEl.addEventListener("pointerdown", (e) => {
      if (!state.view) return;
      drag = { button: e.button, x: e.clientX, y: e.clientY, view: { ...state.view }, wl: { ...state.wl } };
      svgEl.setPointerCapture(e.pointerId);
      if (e.button === 0) viewer.classList.add("panning");
    });
    svgEl.addEventListener("pointermove", (e) => {
      if (state.view) {
        const p = svgPoint(e);
        const inside = p.x >= 0 && p.y >= 0 && p.x <= state.size[1] && p.y <= state.size[0];
        renderCorners(inside ? p : null);
      }
      if (!drag) return;
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (drag.button === 2) {
        state.wl.window = Math.min(1.5, Math.max(0.05, drag.wl.window + dx / 400));
        state.wl.level = Math.min(1, Math.max(0, drag.wl.level - dy / 400));
        applyWL();
      } else if (drag.button === 0) {
        const k = drag.view.w / svgEl.getBoundingClientRect().width;
        setView({ ...drag.view, x: drag.view.x - dx * k, y: drag.view.y - dy * k });
      }
    });
    const end = () => { drag = null; viewer.classList.remove("panning"); };
    svgEl.addEventListener("pointerup", end);
    svgEl.addEventListener("pointercancel", end);
    svgEl.addEventListener("dblclick", fitView);
    $("#overlays").addEventListener("mouseover", (e) => {
      const node = e.target.closest("[data-ov]");
      if (node) showTooltip(node, e);
    });
    $("#overlays").addEventListener("mousemove", (e) => { if (!$("#tooltip").classList.contains("hidden")) moveTooltip(e); });
    $("#overlays").addEventListener("mouseout", (e) => {
      const node = e.target.closest("[data-ov]");
      if (node && !node.contains(e.relatedTarget)) $("#tooltip").classList.add("hidden");
    });
    window.addEventListener("resize", () => { if (state.session) fitView(); });
    $("#wl-window").addEventListener("input", (e) => { state.wl.window = Number(e.target.value); applyWL(); });
    $("#wl-level").addEventListener("input", (e) => { state.wl.level = Number(e.target.value); applyWL(); });
    $("#btn-invert").addEventListener("click", () => { state.wl.invert = !state.wl.invert; applyWL(); });
    $("#btn-fit").addEventListener("click", fitView);
    $("#btn-reset-wl").addEventListener("click", () => { state.wl = { window: 1, level: 0.5, invert: false }; applyWL(); });
  }

  // --- misc --------------------------------------------------------------------------------------------------------------------
  function setBusy(on, text) {
    state.busy = on;
    $("#busy").classList.toggle("hidden", !on);
    if (text) $("#busy-text").textContent = text;
    $("#btn-send").disabled = on || !state.session;
    document.querySelectorAll(".suggestion").forEach((b) => { b.disabled = on || !state.session; });
  }

  function renderMeta() {
    const s = state.session;
    if (!s) { $("#meta-session").textContent = t("no_study"); $("#meta-spacing").textContent = ""; $("#meta-turns").textContent = ""; return; }
    $("#meta-session").innerHTML = "";
    $("#meta-session").append(document.createTextNode(`${t("session")} `), el("b", null, s.session_id.slice(0, 8)));
    $("#meta-spacing").textContent = state.filmName;
    $("#meta-turns").textContent = `${state.turns.length} ${t("turns")}`;
  }

  let toastTimer = null;
  function toast(message) {
    const n = $("#toast");
    n.textContent = message; n.classList.remove("hidden");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => n.classList.add("hidden"), 6000);
  }

  function renderReport(report) {
    const body = $("#report-body");
    body.innerHTML = "";
    const img = report.image || {};
    const sp = img.pixel_spacing_mm ? `${Number(img.pixel_spacing_mm[1]).toFixed(3)} mm/px (${img.spacing_source})` : "";
    body.append(el("div", "query-line", [state.filmName, (img.size || []).join("×"), sp, report.session_id]
      .filter(Boolean).join("  ·  ")));
    if ((report.findings || []).length) body.append(findingsTable(report.findings));
    if ((report.measurements || []).length) body.append(measurementsTable(report.measurements));
    (report.checklists || []).forEach((c) => body.append(checklistTable(c)));
    (report.turns || []).forEach((turn) => {
      const box = el("div", "section");
      box.append(el("h5", null, `T${turn.turn} · ${turn.intent}`));
      if (turn.question) box.append(el("div", "msg-user report-q", turn.question));
      (turn.sections || []).forEach((sec) => box.append(renderSection(sec, report.anchors)));
      body.append(box);
    });
    if (report.disclaimer) body.append(el("div", "source-note", report.disclaimer));
  }

  async function showReport() {
    if (!state.session) return;
    try {
      const report = await (await api("GET", `/v1/sessions/${state.session.session_id}/report`)).json();
      renderReport(report);
      $("#report-dialog").showModal();
    } catch (e) { toast(e.message); }
  }

  async function closeStudy() {
    if (!state.session) return;
    try { await api("DELETE", `/v1/sessions/${state.session.session_id}`); } catch (e) { /* already gone */ }
    state.session = null; state.turns = []; state.active = -1;
    $("#film").removeAttribute("href");
    $("#viewer").classList.remove("has-film");
    $("#viewer-empty").classList.remove("hidden");
    renderOverlays(null);
    $("#transcript").querySelectorAll(".msg-user,.turn-card,.msg-error").forEach((n) => n.remove());
    $("#transcript-empty").classList.remove("hidden");
    ["#question", "#btn-send", "#btn-report", "#btn-close"].forEach((s) => { $(s).disabled = true; });
    renderSuggestions(); renderMeta();
  }

  function installInputs() {
    const dz = $("#dropzone");
    ["dragenter", "dragover"].forEach((ev) => dz.addEventListener(ev, (e) => { e.preventDefault(); dz.classList.add("over"); }));
    ["dragleave", "drop"].forEach((ev) => dz.addEventListener(ev, () => dz.classList.remove("over")));
    dz.addEventListener("drop", (e) => {
      e.preventDefault();
      const f = e.dataTransfer.files && e.dataTransfer.files[0];
      if (f) upload(f, f.name);
    });
    document.body.addEventListener("dragover", (e) => e.preventDefault());
    document.body.addEventListener("drop", (e) => {
      e.preventDefault();
      const f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
      if (f) upload(f, f.name);
    });
    $("#file-input").addEventListener("change", (e) => {
      const f = e.target.files[0];
      if (f) upload(f, f.name);
      e.target.value = "";
    });
    const q = $("#question");
    q.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        const text = q.value; q.value = ""; ask(text);
      }
    });
    $("#ask-form").addEventListener("submit", (e) => { e.preventDefault(); const text = q.value; q.value = ""; ask(text); });
    document.querySelectorAll("[data-lang-btn]").forEach((b) => b.addEventListener("click", () => {
      state.lang = b.dataset.langBtn; localStorage.setItem("hilum.lang", state.lang); applyLang();
    }));
    $("#btn-report").addEventListener("click", showReport);
    $("#btn-report-close").addEventListener("click", () => $("#report-dialog").close());
    $("#btn-close").addEventListener("click", closeStudy);
  }

  installViewer();
  installInputs();
  applyLang();
  applyWL();
  loadExamples();
  pollHealth();
  setInterval(pollHealth, 10000);
  window.hilum = { state, ask, upload };
})();
