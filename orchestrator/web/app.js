/* Hilum web reader: plain JS over the REST API (no build step). Every string the page shows of
   its own comes from one catalogue, /static/messages.json, in the page's language; the API's
   answer text comes in the language of the question. */
"use strict";

(async () => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const $ = (sel) => document.querySelector(sel);

  // --- strings: the catalogue ------------------------------------------------------------------
  const CATALOGUE = await (await fetch("/static/messages.json")).json();
  const LANGS = ["zh", "en"];
  const LAYERS = [
    ["heatmap", "#ffb000"], ["screening", "#ffb000"], ["focus", "#ff3b30"], ["spicules", "#ff9500"],
    ["notches", "#34c759"], ["measurements", "#0a84ff"], ["anatomy", "#64d2ff"], ["labels", "#ffffff"],
    ["checklist", "#a0a7b4"],
  ];
  const QUESTION_KEYS = ["q1", "q2", "q3", "q4"];

  // --- state ---------------------------------------------------------------------------------------
  const stored = localStorage.getItem("hilum.lang");
  const state = {
    lang: LANGS.includes(stored) ? stored : ((navigator.language || "en").startsWith("zh") ? "zh" : "en"),
    session: null, turns: [], active: -1, filmName: "", filmLabel: null, busy: false, busyKey: null,
    uploading: false, size: [512, 512], spacing: null, spacingSource: null,
    view: null, wl: { window: 1, level: 0.5, invert: false },
    hidden: new Set(), elements: [],
    log: [],          // the transcript: {type: "user"|"turn"|"error", ...}, rendered by renderTranscript
    queue: [],        // questions typed while a film loads or an answer is on its way (log entries)
    inflight: null,   // the pending card of the question being answered
    health: null,     // "ok" | "bad" | "offline"
    toast: null,      // {kind, message, lang}
    report: null, examples: [],
    earlier: null,    // an earlier film (File) the reader chose: sent with the next film uploaded, to compare
    filmUrl: null, earlierUrl: null, earlierShown: false,  // the session's film and earlier film on screen
    editing: null,    // the transcript entry (a past question) being edited for a re-run
    origins: [],      // edit and re-run: the conversations a fork replaced, most recent last ({session, turns, log, active})
  };

  // the page's own text: t("ui key", {vars}); term("group", value) for the API's enumerations
  function t(key, vars) {
    const s = (CATALOGUE[state.lang].ui || {})[key];
    return fill(s === undefined ? key : s, vars);
  }
  function fill(s, vars) {
    return vars ? String(s).replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m)) : String(s);
  }
  function term(group, value) {
    if (value === null || value === undefined || value === "") return "";
    const g = CATALOGUE[state.lang][group] || {};
    if (value in g) return g[value];
    return String(value).replace(/_/g, " ");  // an enumeration the catalogue does not know yet
  }
  const langName = (code) => term("lang", code);
  const sameLang = (lang) => !lang || lang === state.lang;

  // --- api -----------------------------------------------------------------------------------------
  // The API key (a server with HILUM_API_KEYS_FILE answers 401 without one): asked for once, kept in
  // sessionStorage (this tab only), sent as a Bearer token on every request, the streamed ask included.
  const KEY_STORE = "hilum.apiKey";
  class ApiError extends Error {
    constructor(kind, message, status) { super(message || kind); this.kind = kind; this.status = status; }
  }
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
      try { res = await fetch(path, init); } catch (e) { throw new ApiError("network", "", 0); }
      if (res.status !== 401 || attempt > 0) break;
      if (sessionStorage.getItem(KEY_STORE) !== sent) continue;  // another request was given a key meanwhile
      sessionStorage.removeItem(KEY_STORE);  // none, or a wrong one
      const entered = (window.prompt(t("api_key_prompt")) || "").trim();
      if (!entered) break;
      sessionStorage.setItem(KEY_STORE, entered);
    }
    if (!res.ok) {
      let message = "", kind = null, subject = null;
      try {
        const j = await res.json();
        message = (j.error && j.error.message) || "";
        kind = (j.error && j.error.kind) || null;
        subject = (j.error && j.error.subject) || null;  // "earlier": the earlier film was refused, not the film
      } catch (e) { /* keep */ }
      const err = new ApiError(kind, message, res.status);
      err.subject = subject;
      throw err;
    }
    return res;
  }

  // an error in the page's language: the catalogue's text for its kind, else the server's message
  function errorText(err) {
    const known = err.kind && (CATALOGUE[state.lang].error || {})[err.kind];
    if (err.subject === "earlier") {  // the earlier film was refused, not the film: the server's own words say so
      const same = (err.lang || state.lang) === state.lang && err.message;
      return same ? err.message : `${t("earlier_refused")} ${known || err.message || ""}`.trim();
    }
    if (known) return known;
    if (err.message) return err.message;
    return t("unknown_error", { status: err.status || "—" });
  }
  const errorRecord = (e) => ({ kind: e.kind || null, message: e.message || "", status: e.status || 0, lang: state.lang,
    subject: e.subject || null });

  // --- i18n ------------------------------------------------------------------------------------------
  function applyLang() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.documentElement.dataset.lang = state.lang;
    document.title = t("page_title");
    document.querySelectorAll("[data-i18n]").forEach((n) => { n.textContent = t(n.dataset.i18n); });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((n) => { n.placeholder = t(n.dataset.i18nPlaceholder); });
    document.querySelectorAll("[data-i18n-aria]").forEach((n) => { n.setAttribute("aria-label", t(n.dataset.i18nAria)); });
    document.querySelectorAll("[data-i18n-title]").forEach((n) => { n.title = t(n.dataset.i18nTitle); });
    document.querySelectorAll("[data-lang-btn]").forEach((b) => b.classList.toggle("active", b.dataset.langBtn === state.lang));
    renderHealth();
    renderExamples();
    renderSuggestions();
    renderLayerPanel();
    renderMeta();
    renderCorners();
    renderTranscript();
    renderForkBar();
    if (state.earlierShown) renderEarlierBanner();
    if (state.active >= 0) renderOverlays(state.turns[state.active], true);
    if (state.busy) $("#busy-text").textContent = t(state.busyKey);
    renderToast();
    if (state.report && $("#report-dialog").open) renderReport(state.report);
    $("#tooltip").classList.add("hidden");
  }

  function setLang(lang) {
    if (!LANGS.includes(lang) || lang === state.lang) return;
    state.lang = lang; localStorage.setItem("hilum.lang", lang); applyLang();
    showTurnsIn(lang);
  }

  // every answered turn in the page's language: a turn answered in the other one is composed again by the
  // server (GET /v1/sessions/{id}/turns/{n}?lang=: the same question, parse and anchors; nothing stored), and
  // both versions are kept on the turn, so switching back shows the original. A turn that cannot be fetched
  // stays as it was, with its language badge.
  async function showTurnsIn(lang) {
    const session = state.session;
    if (!session) return;
    const turns = state.turns;
    for (let i = 0; i < turns.length; i++) {
      const turn = turns[i];
      const versions = turn.versions || (turn.versions = { [turn.lang]: turn });
      let other = versions[lang];
      if (!other) {
        try {
          other = await (await api("GET", `/v1/sessions/${session.session_id}/turns/${turn.turn}?lang=${lang}`)).json();
        } catch (e) { continue; }
        versions[lang] = other;
        other.versions = versions;
      }
      if (state.session !== session || state.turns !== turns || state.lang !== lang) return;  // moved on meanwhile
      turns[i] = other;
    }
    if (state.session !== session || state.turns !== turns || state.lang !== lang) return;
    renderTranscript();
    if (state.active >= 0) renderOverlays(state.turns[state.active], true);
  }

  // the four example questions, for the film on screen: the story's questions about its first finding (named by its
  // place and kind, as a reader would: "the round nodule in the right middle lobe"); on a film with no finding, what a
  // reader asks of a normal film; on a film Hilum cannot read, what it can still answer (the film, its terms, a
  // checklist's signs)
  function suggestedQuestions() {
    const first = state.turns && state.turns[0];
    if (!state.session || !first) return QUESTION_KEYS.map((key) => term("question", key));
    const check = first.film_check || {};
    if (check.anatomy_plausible === false) return ["w1", "w2", "w3", "w4"].map((key) => term("question", key));
    const findings = first.findings || [];
    if (!findings.length) return ["n1", "n2", "n3", "n4"].map((key) => term("question", key));
    const f = findings[0];
    const placed = f.lobe && f.side_confirmed !== false;
    const q1 = placed ? fill(term("question", "q1_of"), {what: findingWhat(f), lobe: term("lobe", f.lobe)})
      : fill(term("question", "q1_anchor"), {a: f.anchor_id || "A1"});
    const hilum = f.side_confirmed !== false && (f.side === "right" || f.side === "left");
    const q2 = hilum ? fill(term("question", "q2_of"), {hilum: term("anatomy", `hilum_${f.side}`)}) : term("question", "q2");
    return [q1, q2, term("question", "q3"), term("question", "q4")];
  }

  function renderSuggestions() {
    const box = $("#suggestions");
    box.innerHTML = "";
    suggestedQuestions().forEach((q, i) => {
      const b = document.createElement("button");
      b.type = "button"; b.className = "suggestion"; b.dataset.q = String(i + 1);
      b.disabled = !state.session;
      b.append(el("b", null, String(i + 1)), document.createTextNode(q));
      b.title = q;
      b.addEventListener("click", () => ask(q));
      box.append(b);
    });
  }

  // --- health ------------------------------------------------------------------------------------------
  async function pollHealth() {
    try {
      const res = await fetch("/readyz");
      state.health = res.ok ? "ok" : "bad";
    } catch (e) {
      state.health = "offline";
    }
    renderHealth();
  }

  function renderHealth() {
    const n = $("#health");
    if (!state.health) { $("#health-text").textContent = "…"; return; }
    n.className = "health " + (state.health === "ok" ? "ok" : "bad");
    $("#health-text").textContent = t(state.health === "ok" ? "ready" : state.health === "bad" ? "not_ready" : "offline");
  }

  // --- examples + upload ---------------------------------------------------------------------------------
  async function loadExamples() {
    try {
      state.examples = await (await api("GET", "/v1/examples")).json();
    } catch (e) { state.examples = []; /* examples are optional */ }
    renderExamples();
  }

  const exampleTitle = (ex) => t(ex.scenario ? "example_scenario" : "example_plain", { seed: ex.seed });

  function renderExamples() {
    const box = $("#examples");
    const buttons = new Map([...box.querySelectorAll("button.example")].map((b) => [b.dataset.seed, b]));
    state.examples.forEach((ex) => {
      let b = buttons.get(String(ex.seed));
      if (!b) {
        b = document.createElement("button");
        b.type = "button"; b.className = "example"; b.dataset.seed = ex.seed;
        const img = document.createElement("img");
        img.alt = ""; img.loading = "lazy"; img.src = ex.image_url;
        b.append(img, el("span", null, `#${ex.seed}`));
        b.addEventListener("click", () => openExample(ex, b));
        box.append(b);
      }
      const spacing = ex.pixel_spacing_mm ? ` · ${t("example_spacing", { mm: Number(ex.pixel_spacing_mm[1]).toFixed(4) })}` : "";
      b.title = exampleTitle(ex) + spacing;
      b.setAttribute("aria-label", exampleTitle(ex));
    });
  }

  async function openExample(ex, button) {
    if (state.busy) return;
    button.classList.add("loading");
    startLoading();
    try {
      // the DICOM, so that every measurement uses the film's true spacing
      const blob = await (await api("GET", ex.dicom_url || ex.image_url)).blob();
      await upload(blob, `phantom-${ex.seed}.dcm`, ex);
    } catch (e) {
      stopLoading();
      showError(e);
    } finally { button.classList.remove("loading"); }
  }

  function startLoading() {
    state.uploading = true;
    setBusy(true, "uploading");
    $("#question").disabled = false;  // the reader may type while the film loads: the question waits
  }
  function stopLoading() {
    state.uploading = false;
    setBusy(false);
    $("#question").disabled = !state.session;
  }

  async function upload(blob, name, example) {
    if (state.uploading && !example) return;
    if (!state.session && state.log.some((entry) => entry.type === "error")) {
      // no study open: the refusals on screen were of earlier files, not of this one (a new refusal of another kind
      // showed beside an old "this is a colour picture")
      state.log = state.log.filter((entry) => entry.type !== "error");
      renderTranscript();
    }
    if (!example) startLoading();
    try {
      const form = new FormData();
      form.append("file", blob, name);
      form.append("lang", state.lang);
      // an earlier film the reader chose is compared with the film they upload (not with an example film)
      const sent = state.earlier && !example;
      if (sent) form.append("earlier", state.earlier, state.earlier.name);
      if (example && state.earlier) {  // an example film is never compared: the earlier film chosen is put down, not
        state.earlier = null;          // kept armed for whichever film comes next (another patient's, maybe)
        showEarlierPicked(false);
      }
      const session = await (await api("POST", "/v1/sessions", form, true)).json();
      if (sent) {  // used once: a later film is never compared with this one unless it is chosen again
        state.earlier = null;
        showEarlierPicked(false);
      }
      const film = await (await api("GET", `/v1/sessions/${session.session_id}/image.png`)).blob();
      forgetSessions();  // only now: a refused upload leaves the study on screen open
      clearToast();  // the action succeeded: an earlier error is stale
      startSession(session, URL.createObjectURL(film), name, example || null);
    } catch (e) {
      if (e.subject === "earlier") showEarlierPicked(true);  // the earlier film was refused: say so where it is chosen
      showError(e, e.kind === "not_a_chest_film" && e.subject !== "earlier");
    } finally {
      stopLoading();
      drainQueue();
    }
  }

  function imageGeometry(image) {
    const size = image.working_size || image.size || image.image_size || image.shape;
    if (Array.isArray(size) && size.length >= 2) state.size = [Number(size[0]), Number(size[1])];
    else if (image.height && image.width) state.size = [Number(image.height), Number(image.width)];
    const sp = image.working_spacing_mm || image.pixel_spacing_mm || image.spacing_mm;
    state.spacing = Array.isArray(sp) ? [Number(sp[0]), Number(sp[1])] : (typeof sp === "number" ? [sp, sp] : null);
    state.spacingSource = image.spacing_source || null;
  }

  // the open session and every conversation a fork replaced: closed on the server (a new film, close study)
  function forgetSessions() {
    const ids = [state.session, ...state.origins.map((o) => o.session)].filter(Boolean).map((s) => s.session_id);
    ids.forEach((id) => api("DELETE", `/v1/sessions/${id}`).catch(() => {}));
    state.origins = []; state.editing = null;
    renderForkBar();
  }

  // a session's transcript: each turn after the first preceded by the reader's question
  function transcriptOf(session) {
    const log = [];
    (session.turns || []).forEach((turn, i) => {
      const q = (session.questions || [])[i];
      if (q) log.push({ type: "user", text: q, turnNo: turn.turn });
      log.push({ type: "turn", idx: i });
    });
    return log;
  }

  function startSession(session, filmUrl, name, example) {
    state.session = session; state.turns = []; state.filmName = name; state.filmLabel = example; state.active = -1;
    state.report = null; state.origins = []; state.editing = null;
    state.hidden = new Set();  // a new study shows every layer: its text names anchors a hidden layer would not draw
    renderForkBar();
    imageGeometry(session.image || {});
    const [h, w] = state.size;
    const film = $("#film");
    film.setAttribute("href", filmUrl);
    resetEarlier(filmUrl);
    film.setAttribute("width", w); film.setAttribute("height", h);
    $("#viewer").classList.add("has-film");
    $("#viewer-empty").classList.add("hidden");
    fitView();
    // a new film: a new transcript, but the questions still waiting for it stay
    state.log = state.log.filter((entry) => entry.type === "user" && entry.queued);
    state.turns = (session.turns || []).slice();
    state.log = transcriptOf(session).concat(state.log);
    ["#question", "#btn-send", "#btn-report", "#btn-close"].forEach((s) => { $(s).disabled = false; });
    renderTranscript();
    if (state.turns.length) selectTurn(state.turns.length - 1);
    renderSuggestions(); renderMeta(); renderCorners();
    $("#btn-earlier").hidden = !comparedWithEarlier();
    $("#question").focus();
    showTurnsIn(state.lang);
  }

  // --- asking --------------------------------------------------------------------------------------------
  // A question is never lost: typed while a film loads or while an answer is on its way, it waits in
  // the transcript (marked as queued) and is sent, in order, as soon as the session can take it.
  function submitQuestion() {
    const q = $("#question");
    const text = q.value.trim();
    if (!text) return;
    if (!state.session && !state.uploading) return;  // nothing to ask about: the text stays in the box
    q.value = "";
    ask(text);
  }

  function ask(question) {
    question = (question || "").trim();
    if (!question) return;
    if (!state.session && !state.uploading) return;
    const entry = { type: "user", text: question, queued: true };
    state.log.push(entry);
    state.queue.push(entry);
    renderTranscript();
    drainQueue();
  }

  function drainQueue() {
    if (state.busy || !state.session || !state.queue.length) return;
    const entry = state.queue.shift();
    send(entry);
  }

  async function send(entry) {
    entry.queued = false;
    const pending = el("div", "turn-card pending");
    pending.innerHTML = `<div class="turn-head"><span class="turn-no">…</span><span class="spinner"></span></div><div class="stages"></div>`;
    state.inflight = pending;
    renderTranscript();
    setBusy(true, "thinking");
    try {
      const turn = await askStreaming(entry.text, pending.querySelector(".stages"));
      clearToast();  // the action succeeded: an earlier error is stale
      entry.turnNo = turn.turn;  // the question of this turn: it can be edited and re-run
      state.turns.push(turn);
      state.log.push({ type: "turn", idx: state.turns.length - 1 });
      state.inflight = null;
      renderTranscript();
      selectTurn(state.turns.length - 1);
      renderMeta();
      // a question asked in the other language is answered in it; the page shows it in its own too
      if (turn.lang && turn.lang !== state.lang) showTurnsIn(state.lang);
    } catch (e) {
      state.inflight = null;
      state.log.push({ type: "error", ...errorRecord(e) });
      renderTranscript();
    } finally {
      state.inflight = null;
      setBusy(false);
      $("#question").focus();
      drainQueue();
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
          const pill = el("span", "stage-pill done", term("stage", ev.stage));
          pill.dataset.stage = ev.stage;
          stagesBox.append(pill);
        } else if (ev.kind === "turn") turn = ev.turn;
        else if (ev.kind === "error") throw new ApiError(ev.error_kind || "stream", ev.message || "", 0);
      }
      if (done) break;
    }
    if (!turn) throw new ApiError("stream", "", 0);
    return turn;
  }

  // the newest answer from its start when it is longer than the transcript shows (a phone's), else the end; on a
  // narrow screen the page is scrolled so that the dialog fills what the film (held at the top) leaves
  function scrollTranscript() {
    const tr = $("#transcript");
    if (window.matchMedia("(max-width: 900px)").matches) tr.closest(".dialog").scrollIntoView({block: "end"});
    const cards = tr.querySelectorAll(".turn-card");
    const last = cards[cards.length - 1];
    if (last && last.offsetHeight > tr.clientHeight) {
      tr.scrollTop += last.getBoundingClientRect().top - tr.getBoundingClientRect().top;
    } else {
      tr.scrollTop = tr.scrollHeight;
    }
  }

  // --- edit and re-run --------------------------------------------------------------------------------------
  // Every past question has an edit control; a re-run forks the session at that turn (the server keeps
  // the turns before it and answers the edited question: POST /v1/sessions/{id}/fork) and the forked
  // conversation replaces the view. The bar above the transcript leads back to the one it replaced.
  function startEdit(entry) {
    if (state.busy || state.uploading) return;
    state.editing = entry;
    renderTranscript();
    const box = document.querySelector(".msg-user.editing textarea");
    if (box) { box.focus(); box.setSelectionRange(box.value.length, box.value.length); }
  }

  function editBox(entry) {
    const form = el("form", "msg-user editing");
    form.dataset.turn = String(entry.turnNo);
    const box = el("textarea", "edit-input");
    box.rows = 2; box.value = entry.text;
    box.setAttribute("aria-label", t("edit_question"));
    const actions = el("div", "edit-actions");
    const rerun = el("button", "primary small edit-rerun", t("rerun"));
    rerun.type = "submit";
    const cancel = el("button", "ghost small edit-cancel", t("cancel_edit"));
    cancel.type = "button";
    cancel.addEventListener("click", () => { state.editing = null; renderTranscript(); });
    actions.append(rerun, cancel);
    form.append(box, actions);
    form.addEventListener("submit", (e) => { e.preventDefault(); forkAt(entry.turnNo, box.value); });
    box.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); forkAt(entry.turnNo, box.value); }
      if (e.key === "Escape") { state.editing = null; renderTranscript(); }
    });
    return form;
  }

  async function forkAt(turnNo, question) {
    question = (question || "").trim();
    if (!question || !state.session || state.busy) return;
    setBusy(true, "rerunning");
    try {
      const res = await api("POST", `/v1/sessions/${state.session.session_id}/fork`, { turn: turnNo, question });
      const forked = await res.json();
      clearToast();  // the action succeeded: an earlier error is stale
      state.origins.push({ session: state.session, turns: state.turns, log: state.log, active: state.active });
      state.editing = null;
      showConversation(forked, forked.turns || [], transcriptOf(forked), (forked.turns || []).length - 1);
    } catch (e) {
      showError(e);
    } finally {
      setBusy(false);
      drainQueue();
    }
  }

  // back to the conversation the fork replaced (the forked session is closed on the server)
  function backToOriginal() {
    if (!state.origins.length || state.busy) return;
    const fork = state.session;
    const back = state.origins.pop();
    if (fork) api("DELETE", `/v1/sessions/${fork.session_id}`).catch(() => {});
    state.editing = null;
    showConversation(back.session, back.turns, back.log, back.active);
  }

  // (``turns``: the conversation's turns so far; a session object holds only those it was created with)
  function showConversation(session, turns, log, active) {
    state.session = session;
    state.turns = turns.slice();
    state.log = log.concat(state.log.filter((entry) => entry.type === "user" && entry.queued));
    state.report = null;
    renderTranscript();
    renderForkBar();
    if (state.turns.length) selectTurn(active >= 0 && active < state.turns.length ? active : state.turns.length - 1);
    renderMeta();
    showTurnsIn(state.lang);
  }

  function renderForkBar() {
    const bar = $("#fork-bar");
    if (!bar) return;
    bar.innerHTML = "";
    const origin = state.session && state.session.forked_from;
    if (!state.origins.length || !origin) { bar.classList.add("hidden"); return; }
    bar.append(el("span", "fork-text", t("forked_view", { n: origin.turn })));
    const back = el("button", "ghost small fork-back", t("back_to_original"));
    back.type = "button";
    back.addEventListener("click", backToOriginal);
    bar.append(back);
    bar.classList.remove("hidden");
  }

  // --- transcript rendering ---------------------------------------------------------------------------------
  function el(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = text;
    return n;
  }

  function renderTranscript() {
    const box = $("#transcript");
    box.querySelectorAll(".msg-user,.turn-card,.msg-error").forEach((n) => n.remove());
    $("#transcript-empty").classList.toggle("hidden", state.log.length > 0 || !!state.session);
    state.log.forEach((entry) => {
      if (entry.type === "user") {
        if (entry === state.editing) { box.append(editBox(entry)); return; }
        const n = el("div", "msg-user" + (entry.queued ? " queued" : ""), entry.text);
        if (entry.queued) n.append(el("span", "queued-mark", t(state.session && !state.uploading ? "queued_busy" : "queued")));
        if (!entry.queued && entry.turnNo >= 2) {  // turn 1 is the screening turn: no question of the reader's
          n.dataset.turn = String(entry.turnNo);
          const edit = el("button", "ghost small edit-q", t("edit"));
          edit.type = "button";
          edit.title = t("edit_question");
          edit.disabled = state.busy || state.uploading;
          edit.addEventListener("click", (e) => { e.stopPropagation(); startEdit(entry); });
          n.append(edit);
        }
        box.append(n);
      } else if (entry.type === "turn") {
        box.append(renderTurnCard(state.turns[entry.idx], entry.idx));
      } else if (entry.type === "error") {
        const n = el("div", "msg-error" + (entry.kind === "not_a_chest_film" ? " film-refused" : ""), errorText(entry));
        if (entry.kind) n.dataset.kind = entry.kind;
        // the gate's own reason (why this is no chest film) when it came in the page's language
        if (entry.kind === "not_a_chest_film" && entry.message && entry.lang === state.lang) {
          n.append(el("div", "reason", entry.message));
        }
        box.append(n);
      }
    });
    // queued questions sit after the one being answered
    if (state.inflight) {
      const firstQueued = box.querySelector(".msg-user.queued");
      box.insertBefore(state.inflight, firstQueued);
    }
    document.querySelectorAll(".turn-card").forEach((c) => c.classList.toggle("active", Number(c.dataset.idx) === state.active));
    scrollTranscript();
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
      chip.addEventListener("click", (e) => { e.stopPropagation(); focusAnchor(chip.dataset.chip); });
      frag.append(chip);
      last = m.index + m[0].length;
    }
    frag.append(document.createTextNode(text.slice(last)));
    return frag;
  }

  function fmt(v, digits = 1) {
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(digits);
    if (Array.isArray(v)) return v.map((x) => fmt(x, digits)).join(", ");
    if (v === null || v === undefined) return "—";
    if (typeof v === "boolean") return term("status", v ? "yes" : "no");
    return String(v);
  }
  const mmText = (v) => (typeof v === "number" ? `${v.toFixed(1)} mm` : fmt(v));

  // a point of the API's vocabulary ("A4", "hilum_right") as the page names it
  function placeName(ref) {
    if (!ref) return "";
    if (/^A\d+$/.test(ref)) return ref;
    return term("anatomy", ref);
  }

  function queryLine(q) {
    if (!q) return "";
    const parts = [];
    if (q.side) parts.push(`${t("q_side")} ${term("side", q.side)}`);
    if (q.lobe) parts.push(`${t("q_lobe")} ${term("lobe", q.lobe)}`);
    if (q.zone) parts.push(`${t("q_zone")} ${term("zone", q.zone)}`);
    if (q.band) parts.push(`${t("q_band")} ${term("band", q.band)}`);
    if (q.anatomy && q.anatomy.length) parts.push(`${t("q_anatomy")} ${q.anatomy.map((a) => term("anatomy", a)).join(t("and"))}`);
    if (q.descriptors && q.descriptors.length) parts.push(`${t("q_descriptors")} ${q.descriptors.map((d) => term("descriptor", d)).join(t("and"))}`);
    return parts.join(" · ");
  }

  // how the question was understood; the words it refers with are the reader's own, quoted as typed
  function queryBox(q, lang) {
    const line = queryLine(q);
    const refs = (q && q.references) || [];
    if (!line && !refs.length) return null;
    const box = el("div", "query-line", `${t("understood")}: ${line}`);
    if (refs.length) {
      box.append(document.createTextNode(`${line ? " · " : ""}${t("q_references")} `));
      const words = el("q", "user-words", refs.join(t("and")));
      if (lang) words.lang = lang;
      box.append(words);
    }
    return box;
  }

  // the turn's prose (the API's text, in the language of the question): shown as it is when that is
  // the page's language, folded under a line in the page's language otherwise
  function prose(lang, build, labelKey = "answered_in") {
    const body = el("div", "prose");
    if (lang) body.lang = lang;
    build(body);
    if (sameLang(lang)) return body;
    const fold = el("details", "other-lang");
    fold.append(el("summary", null, t(labelKey, { lang: langName(lang) })), body);
    return fold;
  }

  function renderTurnCard(turn, idx) {
    const card = el("div", "turn-card");
    card.dataset.turn = String(turn.turn);
    card.dataset.intent = turn.intent;
    card.dataset.idx = String(idx);
    card.dataset.lang = turn.lang || "";
    const head = el("div", "turn-head");
    const badge = el("span", "badge intent", term("intent", turn.clarification ? "clarify" : turn.intent));
    head.append(el("span", "turn-no", `T${turn.turn}`), badge);
    if (!sameLang(turn.lang)) head.append(el("span", "badge", langName(turn.lang)));
    const total = turn.timings ? Object.values(turn.timings).reduce((a, b) => a + (Number(b) || 0), 0) : 0;
    if (total) head.append(el("span", "badge time", `${(total * 1000).toFixed(0)} ms`));
    card.append(head);
    const qb = queryBox(turn.query, turn.lang);
    if (qb) card.append(qb);
    const sections = (turn.answer && turn.answer.sections) || [];
    const text = (turn.answer && turn.answer.text) || "";
    card.append(prose(turn.lang, (body) => {
      if (sections.length) sections.forEach((s) => body.append(renderSection(s, turn.anchors)));
      else if (text) { const p = el("p"); p.append(withChips(text, turn.anchors)); body.append(p); }
    }));
    if (turn.findings && turn.findings.length && turn.intent !== "sign_checklist") card.append(findingsTable(turn.findings));
    if (turn.measurements && turn.measurements.length) card.append(measurementsTable(turn.measurements));
    if (turn.checklist) card.append(checklistTable(turn.checklist, turn.lang));
    if (turn.clarification) card.append(clarifyBox(turn.clarification, turn, text));
    if (turn.narration && turn.narration.source) {
      const note = el("div", "source-note", `${t("narrated")}: ${term("narrator", turn.narration.source)}` +
        (turn.narration.fallback_reason ? ` (${t("fallback")})` : ""));
      card.append(note);
    }
    card.addEventListener("click", () => selectTurn(idx));
    card.tabIndex = 0;  // an earlier turn is chosen from the keyboard too (its overlays drawn)
    card.addEventListener("keydown", (e) => {
      if ((e.key === "Enter" || e.key === " ") && e.target === card) { e.preventDefault(); selectTurn(idx); }
    });
    return card;
  }

  function renderSection(s, anchors) {
    const box = el("div", "section");
    box.dataset.kind = s.kind || "";
    if (s.title) box.append(el("h5", null, s.title));
    if (s.text) { const p = el("p"); p.append(withChips(String(s.text), anchors)); box.append(p); }
    // a section's ``rows`` are the API's machine-readable values (a comparison's lobes, zones, margins as codes):
    // the turn's findings table shows the same findings in the page's language, and with the margin as the text
    // states it, so they are not drawn here raw
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

  // where a finding is, in the page's language: lobe · zone · band, e.g. "right middle lobe · middle zone · outer third"
  function findingWhere(f) {
    // an effusion-like opacity lies in its pleural space, never in a lobe (as the answers and the SR say)
    if (f.kind === "effusion") return [f.side ? term("pleural_space", f.side) : "", term("zone", f.zone)].filter(Boolean).join(" · ");
    // and what it is projected over on the frontal film (a dome, the heart, the mediastinum), as the answer places it
    const parts = [f.lobe ? term("lobe", f.lobe) : (f.side ? term("lung", f.side) : ""), term("zone", f.zone), term("band", f.band),
      term("overlies", f.overlies)];
    return parts.filter(Boolean).join(" · ");
  }
  function findingWhat(f) {
    const shape = ["strand", "consolidation", "effusion"].includes(f.kind) ? "" : term("shape", f.shape);
    // named as the answer names it: a calcification or a cavity only where the answer states it
    const what = term("kind", f.named_kind || f.kind);
    return state.lang === "zh" ? `${shape}${what}` : [shape, what].filter(Boolean).join(" ");
  }
  function findingSize(f) {
    // the finding's one size, as the answer text states it (orchestrator/findings/size.py)
    if (Array.isArray(f.size_mm) && f.size_mm.length) {
      return `${f.size_mm.map((v) => v.toFixed(1)).join(" × ")} mm`;
    }
    if (typeof f.longest_mm === "number" && typeof f.shortest_mm === "number" && f.longest_mm - f.shortest_mm >= 2) {
      return `${f.longest_mm.toFixed(1)} × ${f.shortest_mm.toFixed(1)} mm`;
    }
    return mmText(f.diameter_mm);
  }

  // the margin as the answer states it: a smooth reading nothing backs is "no irregularity seen at this resolution",
  // an irregular one below the calibration's threshold "possibly …" (orchestrator/dialogue/composer.py, margin_backed)
  function marginStated(f) {
    if (!f.stated || f.stated.margin !== false) return f.margin;
    return f.margin === "smooth" ? "unresolved" : `${f.margin}_possibly`;
  }

  function findingsTable(findings) {
    const rows = findings.map((f) => [
      withChips(f.anchor_id || f.id || "", []),
      findingWhat(f),
      findingWhere(f),
      findingSize(f),
      f.margin && f.kind !== "effusion" ? term("margin", marginStated(f)) : "—",  // fluid has no margin read
    ]);
    const box = el("div", "section findings-table");
    box.append(el("h5", null, t("findings")),
      table([t("anchor"), t("type"), t("location"), t("size"), t("margin")], rows));
    return box;
  }

  function uniqueMeasurements(ms) {
    const seen = new Set();
    return ms.filter((m) => {
      const key = `${m.kind}|${m.from || m.of}|${m.earlier_finding_id || ""}|${typeof m.mm === "number" ? m.mm.toFixed(1) : m.mm}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }

  // the statuses that measure one film's size against the other's (interval_answer.MEASURED)
  const MEASURED_CHANGES = new Set(["larger", "smaller", "no_measurable_change"]);
  // a size change from an earlier reading that was only a "possibly": the answer gives no change from it
  const fromPossible = (m) => Boolean(m.earlier_uncertain) && MEASURED_CHANGES.has(m.status);

  // this film's size, the earlier film's, and what the comparison called it (as the answer's text says)
  function intervalText(m) {
    const sizes = [m.mm, m.earlier_mm].map((v) => (typeof v === "number" ? mmText(v) : "–"));
    // from an earlier "possibly": this film's size, and that no growth figure is given (it said "larger ?")
    if (fromPossible(m)) return `${sizes[0]} · ${term("interval", "from_possible")}`;
    // an earlier reading that was only a "possibly" is marked so ("?") where the sizes are not compared
    return `${sizes[0]} ← ${sizes[1]}${m.earlier_uncertain ? " ?" : ""} · ${term("interval", m.status)}`;
  }

  function measurementsTable(ms) {
    // a finding's size as the text states it: its diameter, or a strand's longest × shortest axes (one size per finding)
    const axes = (m) => m.kind === "diameter" && m.size_kind === "axes" && Array.isArray(m.size_mm) && m.size_mm.length;
    const rows = uniqueMeasurements(ms).map((m) => [
      term("measure", axes(m) ? "size" : m.kind),
      withChips([placeName(m.from || m.of), placeName(m.to)].filter(Boolean).join(" → "), []),
      axes(m) ? `${m.size_mm.map((v) => v.toFixed(1)).join(" × ")} mm`
        : m.kind === "interval_change" ? intervalText(m) : m.kind === "angle" ? `${fmt(m.deg)}°` : mmText(m.mm),
      m.spacing_source ? (m.spacing_source === "estimated" ? t("estimated") : t("dicom")) : "",
    ]);
    const box = el("div", "section measurements-table");
    box.append(el("h5", null, t("measurements")), table([t("what"), t("anchor"), t("value"), t("spacing")], rows));
    return box;
  }

  function statusChip(status) {
    const n = el("span", `status ${status}`, term("status", status));
    n.dataset.status = status;
    return n;
  }

  // a checklist in the page's language: titles and sign names from the catalogue, the evidence
  // (the API's words about this film) where it is in the page's language
  function checklistRows(c, lang) {
    return (c.items || []).map((i) => [
      (CATALOGUE[state.lang].checklist_sign || {})[i.sign] || (sameLang(lang) ? i.label : term("checklist_sign", i.sign)),
      statusChip(i.status),
      sameLang(lang) ? (i.evidence || "") : "",
    ]);
  }
  function checklistTitle(c, lang) {
    return (CATALOGUE[state.lang].checklist || {})[c.name] || (sameLang(lang) ? (c.title || "") : term("checklist", c.name));
  }

  function checklistTable(c, lang) {
    const box = el("div", "section checklist-table");
    box.append(el("h5", null, `${t("checklist")} · ${checklistTitle(c, lang)}`));
    // "0 of 1 decidable sign present": a count of one in its own words, as the turns' count ("1 turn")
    box.append(el("div", "score", t(c.total === 1 ? "matched_one" : "matched", { matched: c.matched, total: c.total })));
    box.append(table([t("sign"), t("status"), t("evidence")], checklistRows(c, lang)));
    return box;
  }

  function clarifyBox(c, turn, answerText) {
    const box = el("div", "clarify");
    // the question is asked once: not again when the answer already says it
    const q = c.question || c.text || "";
    if (!q || !sameLang(turn.lang)) box.append(el("div", null, t("which")));
    else if (!answerText.includes(q)) box.append(el("div", null, q));
    (c.candidates || []).forEach((cand) => {
      const id = typeof cand === "string" ? cand : cand.id || cand.anchor_id;
      const b = el("button", "ghost small", `${id} ${anchorLabel(id, turn) || ""}`.trim());
      b.type = "button";
      b.dataset.candidate = id;
      b.addEventListener("click", (e) => { e.stopPropagation(); ask(id); });
      box.append(b);
    });
    return box;
  }

  // an anchor's name in the page's language: built from its finding or anatomy name
  function anchorLabel(id, turn) {
    const a = anchorById(id);
    if (!a) return "";
    if (a.finding_id) {
      const f = findingById(a.finding_id);
      if (f) return `${f.lobe ? term("lobe", f.lobe) : term("lung", f.side)}${state.lang === "zh" ? "" : " "}${findingWhat(f)}`;
    }
    if (a.name) return term("anatomy", a.name);
    if (a.kind === "relation" && a.from && a.to) return `${placeName(a.from)} → ${placeName(a.to)}`;
    const lang = turn ? turn.lang : (state.session && state.session.lang);
    return sameLang(lang) ? (a.label || "") : "";
  }

  function findingById(fid) {
    for (let i = state.turns.length - 1; i >= 0; i--) {
      const f = (state.turns[i].findings || []).find((x) => x.id === fid);
      if (f) return f;
    }
    return null;
  }

  function selectTurn(idx) {
    if (state.earlierShown) resetEarlier(state.filmUrl);  // a turn's overlays are drawn on this film: show it
    state.active = idx;
    document.querySelectorAll(".turn-card").forEach((c) => c.classList.toggle("active", Number(c.dataset.idx) === idx));
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
    document.querySelectorAll("#overlays [data-fs], #overlays [data-r], #earlier-overlays [data-fs]")
      .forEach((n) => placeScaled(n, k));
  }

  function scaledText(text, at, fs, dx, dy, color) {
    const n = svg("text", { fill: color, "font-weight": 600, "data-fs": fs, "data-ax": at[0], "data-ay": at[1],
      "data-dx": dx, "data-dy": dy });
    n.textContent = text;
    return n;
  }

  // a picture an overlay names as a resource of the session (the lesion heatmap): fetched once per
  // session with the page's credentials, kept as an object URL
  const pictures = new Map();
  function sessionPicture(resource) {
    if (!state.session) return null;
    const key = `${state.session.session_id}/${resource}`;
    if (pictures.has(key)) return pictures.get(key);
    pictures.set(key, null);
    api("GET", `/v1/sessions/${key}`).then((res) => res.blob()).then((blob) => {
      pictures.set(key, URL.createObjectURL(blob));
      if (state.session && key.startsWith(state.session.session_id) && state.active >= 0) {
        renderOverlays(state.turns[state.active], true);
      }
    }).catch(() => {});  // no heatmap: the other layers stand alone
    return null;
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
    } else if (o.type === "heatmap" && o.resource) {
      const href = sessionPicture(o.resource);
      if (!href) return null;  // on its way: the overlays are drawn again when it arrives
      const b = o.bbox_px || [0, 0, state.size[1], state.size[0]];
      shape = svg("image", { href, x: b[0], y: b[1], width: b[2] - b[0], height: b[3] - b[1],
        opacity: style.opacity || 0.35, preserveAspectRatio: "none", "pointer-events": "none" });
    }
    if (!shape) return null;
    g.append(shape);
    const hit = hitArea(o, shape);
    if (hit) g.append(hit);
    const label = o.label && o.type !== "text" ? labelFor(o) : null;
    if (label) g.append(label);
    if (style.role === "focused_contour" && o.anchor_id && o.points && o.points.length) {
      // the focused lesion carries its anchor id beside its contour, at the first corner of its box that lies in no
      // other finding's outline (beside lesions close together, a label at its top right sat inside the next one)
      const { x0, x1, y0, y1 } = pointsBox(o.points);
      const corners = [[x1, y0, 8, -10], [x0, y0, -22, -10], [x1, y1, 8, 18], [x0, y1, -22, 18]];
      const others = (state.contourBoxes || []).filter((b) => b.id !== o.anchor_id);
      const scale = state.view ? state.view.w / Math.max(1, $("#viewer").getBoundingClientRect().width) : 1;
      const clear = corners.find(([x, y, dx, dy]) => !others.some((b) => {
        const px = x + dx * scale, py = y + dy * scale;
        return px >= b.x0 - 4 && px <= b.x1 + 4 && py >= b.y0 - 4 && py <= b.y1 + 4;
      })) || corners[0];
      g.append(scaledText(o.anchor_id, [clear[0], clear[1]], 13, clear[2], clear[3], style.stroke || "#ff3b30"));
    }
    return g;
  }

  function pointsBox(points) {
    const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
    return { x0: Math.min(...xs), x1: Math.max(...xs), y0: Math.min(...ys), y1: Math.max(...ys) };
  }

  // every finding outline's box in a turn's overlays: where an anchor's label must not go
  function contourBoxes(turn) {
    return (turn.overlays || []).filter((o) => o.type === "polygon" && o.anchor_id && o.points && o.points.length)
      .map((o) => ({ id: o.anchor_id, ...pointsBox(o.points) }));
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

  function renderOverlays(turn, keepView) {
    const root = $("#overlays");
    root.innerHTML = "";
    state.elements = [];
    const card = $("#checklist-card");
    card.classList.add("hidden");
    if (!turn) { renderLayerPanel(); return; }
    state.contourBoxes = contourBoxes(turn);
    const layers = {};
    (turn.overlays || []).forEach((o) => {
      const layer = o.type === "heatmap" ? "heatmap" : (o.layer || "other");
      if (o.type === "table") { renderChecklistCard(o, turn); return; }
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
    if (!keepView) { if (turn.intent !== "screen") frameElements(); else if (state.view) fitView(); }
    rescaleOverlays();
  }

  // a focused turn frames its overlays (at least half the film wide) so the detail is visible; a turn that draws
  // nothing ("how are the bones?") shows the whole film, not the last turn's close-up with its drawing gone
  function frameElements() {
    const xs = [], ys = [];
    state.elements.forEach((o) => {
      if (o.type === "heatmap") return;
      (o.points || (o.at ? [o.at] : [])).forEach((p) => { xs.push(p[0]); ys.push(p[1]); });
    });
    if (!state.view) return;
    if (!xs.length) { fitView(); return; }
    const [h, w] = state.size;
    const box = $("#viewer").getBoundingClientRect();
    const aspect = box.width / Math.max(1, box.height);
    const cx = (Math.min(...xs) + Math.max(...xs)) / 2, cy = (Math.min(...ys) + Math.max(...ys)) / 2;
    let vw = Math.max((Math.max(...xs) - Math.min(...xs)) * 2.2, w * 0.6);
    let vh = Math.max((Math.max(...ys) - Math.min(...ys)) * 2.2, h * 0.6);
    if (vw / vh < aspect) vw = vh * aspect; else vh = vw / aspect;
    setView({ x: cx - vw / 2, y: cy - vh / 2, w: vw, h: vh });
  }

  function renderChecklistCard(o, turn) {
    const card = $("#checklist-card");
    card.innerHTML = "";
    if (o.anchor_id) card.dataset.anchorId = o.anchor_id;
    card.dataset.layer = "checklist";
    // its header folds the table away (on a phone it starts folded: the card would cover the film), and names the
    // finding the signs were checked against
    const h = el("h4");
    h.tabIndex = 0;
    h.setAttribute("role", "button");
    const m = o.measurements || {};
    const c = turn.checklist;
    const title = c ? checklistTitle(c, turn.lang) : (sameLang(turn.lang) ? o.title : "") || t("checklist");
    const subject = (c && c.subject_anchor_id) || o.anchor_id;
    h.append(el("span", null, subject ? `${subject} · ${title}` : title), el("span", "score", `${fmt(m.matched)}/${fmt(m.total)}`));
    const fold = () => { card.classList.toggle("collapsed"); h.setAttribute("aria-expanded", String(!card.classList.contains("collapsed"))); };
    h.addEventListener("click", fold);
    h.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); fold(); } });
    card.classList.toggle("collapsed", window.matchMedia("(max-width: 900px)").matches);
    h.setAttribute("aria-expanded", String(!card.classList.contains("collapsed")));
    card.append(h);
    const rows = c ? checklistRows(c, turn.lang)
      : (o.rows || []).map((r) => [sameLang(turn.lang) ? r[0] : "", statusChip(r[1]), sameLang(turn.lang) ? (r[2] || "") : ""]);
    card.append(table([t("sign"), t("status"), t("evidence")], rows));
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
      row.append(cb, sw, el("span", "name", term("layer", name)),
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
      if (k === "mm") rows.push([term("measure", o.style && o.style.role === "gap_line" ? "gap" : "length"), `${fmt(v)} mm`]);
      else if (k.endsWith("_mm")) rows.push([term("measure", k.replace(/_mm$/, "")), `${fmt(v)} mm`]);
      else rows.push([term("measure", k), measureValue(k, v)]);
    });
    if (o.points && o.points.length === 2 && state.spacing && !("mm" in m) && !Object.keys(m).some((k) => k.endsWith("_mm"))) {
      const [a, b] = o.points;
      const d = Math.hypot((b[0] - a[0]) * state.spacing[1], (b[1] - a[1]) * state.spacing[0]);
      rows.push([term("measure", "length"), `${d.toFixed(1)} mm`]);
    }
    return rows;
  }

  function measureValue(k, v) {
    if (k === "margin") return term("margin", v);
    if (k === "spacing_source") return v === "estimated" ? t("estimated") : t("dicom");
    if (k === "from" || k === "to") return placeName(v);
    if (k === "clock") return t("clock", { n: fmt(v) });
    if (k === "connected" || k === "bronchus_cut_off") return term("status", v);
    return fmt(v);
  }

  function showTooltip(node, evt) {
    const o = state.elements[Number(node.dataset.ov)];
    if (!o) return;
    const tip = $("#tooltip");
    tip.innerHTML = "";
    const head = el("div", "tt-head");
    head.append(el("span", "tt-id", o.anchor_id || "—"), el("span", "tt-layer", `${term("layer", o.layer)} · ${term("overlay_type", o.type)}`));
    tip.append(head);
    const a = o.anchor_id ? anchorById(o.anchor_id) : null;
    const label = o.anchor_id ? anchorLabel(o.anchor_id, state.turns[state.active]) : "";
    if (label) tip.append(el("div", "muted", label));
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
    const orient = fc.orientation && fc.orientation !== "upright" ? ` · ${term("orientation", fc.orientation)}` : "";
    // a film whose anatomy the encoder could not establish, read by the second reader alone: said on the film too
    const reader = (fc.warnings || []).includes("second_reader") ? ` · ${t("read_alone")}` : "";
    const name = state.filmLabel ? exampleTitle(state.filmLabel) : (state.filmName || t("film"));
    if (state.earlierShown) {  // the earlier film on screen: none of this film's name, spacing or millimetres
      $("#corner-tl").textContent = t("show_earlier");
      $("#corner-tr").textContent = cursor ? `x ${cursor.x.toFixed(0)}  y ${cursor.y.toFixed(0)} px` : "";
      $("#corner-br").textContent = "";
      return;
    }
    $("#corner-tl").textContent = `${name}\n${img.modality || "CR/DX"} · ${view}${orient}${reader} · ${w}×${h}`;
    const zoom = state.view ? (($("#viewer").getBoundingClientRect().width / state.view.w) * 100).toFixed(0) : "100";
    $("#corner-bl").textContent = `${t("window_short")} ${state.wl.window.toFixed(2)}  ${t("level_short")} ${state.wl.level.toFixed(2)}${state.wl.invert ? `  ${t("inverted")}` : ""}\n${t("zoom")} ${zoom}%`;
    const sp = state.spacing ? `${state.spacing[1].toFixed(3)} mm/px (${state.spacingSource === "estimated" ? t("estimated") : t("dicom")})` : "";
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
  function setBusy(on, key) {
    state.busy = on;
    if (key) state.busyKey = key;
    $("#busy").classList.toggle("hidden", !on);
    if (on && key) $("#busy-text").textContent = t(key);
    $("#btn-send").disabled = !state.session && !state.uploading;
    document.querySelectorAll(".suggestion").forEach((b) => { b.disabled = !state.session; });
    document.querySelectorAll(".edit-q, .edit-rerun, .fork-back").forEach((b) => { b.disabled = on || state.uploading; });
  }

  function renderMeta() {
    const s = state.session;
    if (!s) { $("#meta-session").textContent = t("no_study"); $("#meta-spacing").textContent = ""; $("#meta-turns").textContent = ""; return; }
    $("#meta-session").innerHTML = "";
    $("#meta-session").append(document.createTextNode(`${t("session")} `), el("b", null, s.session_id.slice(0, 8)));
    $("#meta-spacing").textContent = state.filmLabel ? exampleTitle(state.filmLabel) : state.filmName;
    $("#meta-turns").textContent = state.turns.length === 1 ? t("turn_one") : t("turns", { n: state.turns.length });
  }

  // One toast at a time, for errors that have no place in the transcript. It stays until it is
  // dismissed or the next action succeeds, and it never sits over the composer.
  function showError(e, inTranscript) {
    if (inTranscript) {
      state.log.push({ type: "error", ...errorRecord(e) });
      renderTranscript();
    }
    state.toast = errorRecord(e);
    renderToast();
  }
  function clearToast() { state.toast = null; renderToast(); }
  function renderToast() {
    const n = $("#toast");
    n.innerHTML = "";
    if (!state.toast) { n.classList.add("hidden"); return; }
    n.append(el("span", "toast-text", errorText(state.toast)));
    if (state.toast.kind) n.dataset.kind = state.toast.kind; else delete n.dataset.kind;
    const close = el("button", "ghost small toast-close", "×");
    close.type = "button";
    close.setAttribute("aria-label", t("dismiss"));
    close.title = t("dismiss");
    close.addEventListener("click", clearToast);
    n.append(close);
    n.classList.remove("hidden");
  }

  function renderReport(report) {
    const body = $("#report-body");
    body.innerHTML = "";
    const img = report.image || {};
    const sp = img.pixel_spacing_mm
      ? `${Number(img.pixel_spacing_mm[1]).toFixed(3)} mm/px (${img.spacing_source === "estimated" ? t("estimated") : t("dicom")})` : "";
    const name = state.filmLabel ? exampleTitle(state.filmLabel) : state.filmName;
    body.append(el("div", "query-line", [name, (img.size || []).join("×"), sp, report.session_id]
      .filter(Boolean).join("  ·  ")));
    const cmp = report.comparison;  // compared with an earlier film: said at the head, the rows in the table below
    if (cmp) {
      const days = typeof cmp.interval_days === "number" ? t("days_before", { n: cmp.interval_days }) : t("date_unknown");
      body.append(el("div", "query-line report-comparison", cmp.comparable ? t("earlier_view", { days })
        : `${t("earlier_view", { days })} · ${t("not_compared")}`));
    }
    if ((report.findings || []).length) body.append(findingsTable(report.findings));
    if ((report.measurements || []).length) body.append(measurementsTable(report.measurements));
    (report.checklists || []).forEach((c) => body.append(checklistTable(c, c.lang || report.lang)));
    (report.turns || []).forEach((turn) => {
      const box = el("div", "section report-turn");
      box.dataset.turn = String(turn.turn);
      box.append(el("h5", null, `T${turn.turn} · ${term("intent", turn.intent)}`));
      if (turn.question) box.append(el("div", "msg-user report-q", turn.question));
      const lang = turn.lang || report.lang;
      box.append(prose(lang, (p) => (turn.sections || []).forEach((sec) => p.append(renderSection(sec, report.anchors)))));
      body.append(box);
    });
    if (report.disclaimer) body.append(prose(report.lang, (p) => p.append(el("div", "source-note", report.disclaimer)), "report_lang"));
  }

  // the report saved as a file, in the page's language: the JSON, or the DICOM SR a PACS takes (fetched with the
  // page's key, where one is needed, then handed to the browser as a download)
  async function saveReport(kind) {
    if (!state.session) return;
    const sid = state.session.session_id;
    try {
      const res = await api("GET", `/v1/sessions/${sid}/report?${kind === "sr" ? "format=sr&" : ""}lang=${state.lang}`);
      const link = document.createElement("a");
      link.href = URL.createObjectURL(await res.blob());
      link.download = `hilum-${sid}.${kind === "sr" ? "dcm" : "json"}`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    } catch (e) { showError(e); }
  }

  async function showReport() {
    if (!state.session) return;
    try {
      // every turn in the page's language: a session asked in both reads as one report
      state.report = await (await api("GET", `/v1/sessions/${state.session.session_id}/report?lang=${state.lang}`)).json();
      clearToast();
      renderReport(state.report);
      $("#report-dialog").showModal();
    } catch (e) { showError(e); }
  }

  // --- an earlier film ---------------------------------------------------------------------------------
  // the earlier film chosen for the next upload: its name, a control to remove it, and whether it was refused
  function showEarlierPicked(refused) {
    $("#earlier-name").textContent = state.earlier ? state.earlier.name : "";
    $("#earlier-name").classList.toggle("refused", Boolean(state.earlier && refused));
    $("#earlier-clear").classList.toggle("hidden", !state.earlier);
  }
  // a session made with an earlier film: the viewer shows that film on demand, with where its findings were
  // (the comparison rows' earlier_bbox_px, in the earlier film's own frame), and this film's overlays set aside
  function comparedWithEarlier() {
    const first = state.turns[0];
    return Boolean(first && ((first.answer || {}).sections || []).some((s) => s.kind === "interval"));
  }
  function resetEarlier(filmUrl) {
    if (state.earlierUrl) URL.revokeObjectURL(state.earlierUrl);
    if (state.earlierShown && filmUrl) $("#film").setAttribute("href", filmUrl);  // back to this film
    state.filmUrl = filmUrl; state.earlierUrl = null; state.earlierShown = false;
    renderCorners();
    $("#earlier-overlays").innerHTML = "";
    $("#earlier-banner").classList.add("hidden");
    $("#overlays").classList.remove("hidden");
    setEarlierButton("show_earlier");
  }
  function setEarlierButton(key) {  // its words follow the page's language (data-i18n)
    const b = $("#btn-earlier");
    b.dataset.i18n = key;
    b.textContent = t(key);
    b.setAttribute("aria-pressed", key === "show_current" ? "true" : "false");
  }
  function renderEarlierBanner() {  // in the page's language, again on a switch
    const rows = ((state.turns[0] || {}).measurements || []).filter((m) => m.kind === "interval_change");
    const days = rows.length && typeof rows[0].interval_days === "number"
      ? t("days_before", { n: rows[0].interval_days }) : t("date_unknown");
    $("#earlier-banner").textContent = t("earlier_view", { days });
  }
  async function toggleEarlier() {
    if (!state.session) return;
    if (state.earlierShown) { resetEarlier(state.filmUrl); return; }
    try {
      if (!state.earlierUrl) {
        const blob = await (await api("GET", `/v1/sessions/${state.session.session_id}/earlier.png`)).blob();
        state.earlierUrl = URL.createObjectURL(blob);
      }
    } catch (e) { showError(e); return; }
    state.earlierShown = true;
    renderCorners();
    $("#film").setAttribute("href", state.earlierUrl);
    $("#overlays").classList.add("hidden");
    const rows = ((state.turns[0] || {}).measurements || []).filter((m) => m.kind === "interval_change");
    const root = $("#earlier-overlays");
    root.innerHTML = "";
    rows.forEach((m) => {
      const b = m.earlier_bbox_px;
      if (!Array.isArray(b) || b.length !== 4) return;
      root.append(svg("ellipse", { class: "earlier-box", cx: (b[0] + b[2]) / 2, cy: (b[1] + b[3]) / 2,
        rx: Math.max((b[2] - b[0]) / 2, 3), ry: Math.max((b[3] - b[1]) / 2, 3), "data-anchor-id": m.from || "" }));
      // a finding not found on the earlier film: where it would be, to look at (no size there); the label keeps its
      // size on screen as the film is zoomed, as the film's own labels do
      // a place the earlier film only possibly showed a lesion at is labelled so, with no size (as the text says "only
      // possibly" and gives no change from it); elsewhere a "possibly" size is marked "?"
      root.append(scaledText(m.status === "new" ? `${m.from || ""} · ${term("interval", "not_found_there")}`
        : fromPossible(m) ? `${m.from || ""} · ${term("interval", "possible_there")}`
        : `${m.from || term("interval", m.status)} · ${mmText(m.earlier_mm)}${m.earlier_uncertain ? " ?" : ""}`,
      [b[2], b[1]], 13, 4, 0, "#ff9f0a"));
    });
    renderEarlierBanner();
    $("#earlier-banner").classList.remove("hidden");
    setEarlierButton("show_current");
    rescaleOverlays();
  }

  async function closeStudy() {
    if (!state.session) return;
    forgetSessions();
    state.session = null; state.turns = []; state.active = -1; state.log = []; state.queue = []; state.report = null;
    state.filmLabel = null;
    resetEarlier(null);
    $("#btn-earlier").hidden = true;
    $("#film").removeAttribute("href");
    $("#viewer").classList.remove("has-film");
    $("#viewer-empty").classList.remove("hidden");
    renderOverlays(null);
    renderTranscript();
    ["#question", "#btn-send", "#btn-report", "#btn-close"].forEach((s) => { $(s).disabled = true; });
    renderSuggestions(); renderMeta();
  }

  function installInputs() {
    const dz = $("#dropzone");
    const take = (f) => { if (f && !state.busy) upload(f, f.name); };
    ["dragenter", "dragover"].forEach((ev) => dz.addEventListener(ev, (e) => { e.preventDefault(); dz.classList.add("over"); }));
    ["dragleave", "drop"].forEach((ev) => dz.addEventListener(ev, () => dz.classList.remove("over")));
    dz.addEventListener("drop", (e) => {
      e.preventDefault();
      take(e.dataTransfer.files && e.dataTransfer.files[0]);
    });
    document.body.addEventListener("dragover", (e) => e.preventDefault());
    document.body.addEventListener("drop", (e) => {
      e.preventDefault();
      take(e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0]);
    });
    $("#file-input").addEventListener("change", (e) => {
      take(e.target.files[0]);
      e.target.value = "";
    });
    $("#earlier-input").addEventListener("change", (e) => {
      state.earlier = e.target.files[0] || null;  // kept for the next film uploaded
      showEarlierPicked(false);
      e.target.value = "";
    });
    $("#earlier-clear").addEventListener("click", () => { state.earlier = null; showEarlierPicked(false); });
    // the drop zone and the earlier film's picker open their file dialogs from the keyboard too
    ["#dropzone", "#earlier-pick"].forEach((sel) => $(sel).addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $(sel).querySelector("input").click(); }
    }));
    const q = $("#question");
    q.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        submitQuestion();
      }
    });
    $("#ask-form").addEventListener("submit", (e) => { e.preventDefault(); submitQuestion(); });
    document.querySelectorAll("[data-lang-btn]").forEach((b) => b.addEventListener("click", () => setLang(b.dataset.langBtn)));
    $("#btn-report").addEventListener("click", showReport);
    $("#btn-report-json").addEventListener("click", () => saveReport("json"));
    $("#btn-report-sr").addEventListener("click", () => saveReport("sr"));
    $("#btn-earlier").addEventListener("click", toggleEarlier);
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
  window.hilum = { state, ask, upload, setLang, forkAt, backToOriginal, catalogue: CATALOGUE };
})();
