// The wall screen beside the mat. Every message on the WebSocket is the station's whole wall state
// (server/screen.py `wall_snapshot`); this script shows one of the page's panels and fills in its
// numbers and cues. Strings only ever go in through textContent, never as markup.
//
// Recovery: on any close or error it reconnects with backoff (0.5 s doubling to 5 s, with jitter)
// and reads /state meanwhile; the first message after a reconnect is the full state again, so a
// screen that missed messages is right again the moment it is back. A silent socket is checked
// against /state now and then, so a half-dead connection can't leave the screen frozen.
"use strict";
(() => {
  const body = document.body;
  const KEY = body.dataset.wallKey;
  const BASE = `/wall/${encodeURIComponent(KEY)}`;
  const TARGET_DESCENT_S = 4; // the guide's count of four
  const FAST_DESCENT_S = 3;   // under this a rep is marked fast_descent
  const GOOD = 85;
  const OK = 60;
  const MIN_DELAY_MS = 500;
  const MAX_DELAY_MS = 5000;
  const QUIET_CHECK_MS = 30000;  // a socket this quiet gets its server checked
  const CONNECT_TIMEOUT_MS = 8000;
  const PRAISE = "Great rep — slow and controlled";
  // Most important first, as the station ranks them.
  const FAULT_ORDER = ["back_arched", "fast_descent", "momentum", "knees_bent", "short_top"];
  const FAULT_SHORT = {
    back_arched: "Back lifted", fast_descent: "Too fast", momentum: "Swinging",
    knees_bent: "Knees bent", short_top: "Not vertical",
  };
  // Hanging from a bar the top is hip height, not vertical.
  const faultShort = (rep, f) => (rep.variant === "hanging" && f === "short_top" ? "Too low"
    : FAULT_SHORT[f] || String(f).replace(/_/g, " "));
  // What went well, as ticks. No "back flat" tick: a missing back_arched fault is not proof of a
  // flat back (the camera may not have judged it), and that is the one to never falsely reassure on.
  const FAULT_OK = {
    fast_descent: "slow lowering", momentum: "no swing", knees_bent: "legs straight", short_top: "full height",
  };
  // What is judged per variant (edge/scoring.py): heel taps are quick bent-knee moves by design.
  const JUDGED = { heel_tap: ["momentum"], hanging: ["momentum", "short_top"] };
  const TEMPO_JUDGED = new Set(["double_leg", "single_leg"]);

  const $ = (id) => document.getElementById(id);
  let snap = null;
  let clockOffset = 0;      // server clock − local clock, seconds
  let lastServerNow = null; // of the snapshot on screen, to drop an older one arriving late
  let shownMode = null;

  // --- helpers -----------------------------------------------------------------------------------
  const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  const serverNow = () => Date.now() / 1000 + clockOffset;
  const grade = (score) => (score >= GOOD ? "good" : score >= OK ? "ok" : "bad");
  const deg = (v) => (num(v) == null ? "–" : `${Math.round(v)}°`);
  // A personal end range at or below the floor plane (legs lowered all the way, read as 0° or a few
  // degrees under) is "to the mat", never "your floor -5°".
  const toTheMat = (v) => num(v) != null && Math.round(v) <= 0;
  const setText = (el, text) => { if (el.textContent !== text) el.textContent = text; };
  function mmss(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const m = Math.floor(s / 60);
    return `${String(m).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
  }
  // Free text that must never be cut off (elements with data-fit): it wraps, and if it is still too
  // big for its box the font size steps down, to FIT_FLOOR of the stylesheet's size at the least.
  // Run after the text changes, when the window changes size and when the fonts have loaded.
  const FIT_FLOOR = 0.5;
  const FIT_STEP = 0.04;
  const overflows = (node) => node.scrollHeight > node.clientHeight || node.scrollWidth > node.clientWidth;
  function fit(node) {
    node.style.fontSize = "";
    if (!node.getClientRects().length || !overflows(node)) return; // hidden, or fits as it is
    const base = parseFloat(getComputedStyle(node).fontSize);
    const floor = base * FIT_FLOOR;
    let size = base;
    while (overflows(node) && size > floor) {
      size = Math.max(floor, size - Math.max(1, base * FIT_STEP));
      node.style.fontSize = `${size}px`;
    }
  }
  function fitAll() {
    for (const node of document.querySelectorAll("[data-fit]")) fit(node);
  }
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = String(text);
    return node;
  }
  function topFault(rep) {
    const faults = Array.isArray(rep.faults) ? rep.faults : [];
    return FAULT_ORDER.find((f) => faults.includes(f)) || faults[0] || null;
  }
  function headline(rep) {
    const faults = Array.isArray(rep.faults) ? rep.faults : [];
    if (faults.length === 0 && rep.score >= GOOD) return PRAISE;
    return rep.cue || (faults.length ? faultShort(rep, topFault(rep)) : "");
  }
  function tileLabel(rep) {
    const f = topFault(rep);
    if (f) return faultShort(rep, f);
    if (rep.score >= GOOD) return "Great rep";
    return rep.cue || "Good rep";
  }

  // --- which panel -------------------------------------------------------------------------------
  function modeNow() {
    if (!snap) return "idle";
    let mode = snap.mode;
    const s = snap.session;
    const last = s ? num(s.last_rep_received_at) : null;
    if (last != null) {
      const since = serverNow() - last;
      if (mode === "set" && since >= snap.rest_after_s) mode = "rest";
      const leave = num(snap.summary_after_leaving_s);
      if (snap.mat === "empty" && leave != null && since > leave) mode = "idle";
    }
    if ((mode === "set" || mode === "rest") && !(s && s.last_rep)) mode = snap.mat === "empty" ? "idle" : "ready";
    return mode;
  }

  // --- panels ------------------------------------------------------------------------------------
  function renderTiles(list, s) {
    const reps = Array.isArray(s.reps) ? s.reps : [];
    const first = Math.max(1, (s.set_rep_count || reps.length) - reps.length + 1);
    list.replaceChildren(...reps.map((r, i) => {
      const li = el("li", `tile ${grade(r.score)}`);
      const score = el("b", String(r.score).length > 2 ? "tile-score long" : "tile-score", r.score);
      li.append(el("span", "tile-n", first + i), score, el("span", "tile-cue", tileLabel(r)));
      return li;
    }));
  }

  function renderReady() {
    if (snap.mat === "hanging") {
      setText($("ready-kicker"), "Hanging leg raises");
      setText($("ready-title"), "Hang still: no swinging");
      setText($("ready-cue"), "Curl your pelvis up to your ribs and raise your legs to hip height or higher.");
      renderHold($("ready-hold"), snap.session);
      return;
    }
    const onMat = snap.mat !== "lying";
    setText($("ready-kicker"), onMat ? "Welcome" : "Ready when you are");
    setText($("ready-title"), onMat ? "Lie on your back, side-on to the camera"
      : "Press your lower back into the mat");
    setText($("ready-cue"), onMat ? "Then press your lower back into the mat (squish the grape), and lift."
      : "Squish the grape. Then lift: legs up to vertical, down for a count of four.");
    renderHold($("ready-hold"), snap.session);
  }

  function renderHold(node, s) {
    const holds = s && Array.isArray(s.holds) ? s.holds : [];
    const hold = holds[holds.length - 1];
    node.hidden = !hold;
    if (!hold) return;
    const flat = num(hold.flat_share);
    setText(node, `Hollow hold: ${Math.round(hold.duration_s)} s` +
      (flat == null ? "" : ` · back flat ${Math.round(flat * 100)}% of it`));
  }

  // What the camera saw of an arched back: how far it lifted and at which leg angle it began, so the
  // member knows where to stop next time.
  function backEvidence(rep, faults) {
    const lift = num(rep.back_lift_cm);
    if (!faults.includes("back_arched") || lift == null) return "";
    const onset = num(rep.back_onset_deg);
    return `Back lifted ${lift.toFixed(1)} cm` + (onset == null ? "" : ` from legs at ${deg(onset)}`);
  }

  function renderSet(s) {
    const rep = s.last_rep;
    setText($("set-index"), String(s.set_index ?? 1));
    const count = $("rep-count");
    setText(count, String(s.set_rep_count ?? 0));
    count.classList.toggle("long", count.textContent.length > 2);
    setText($("total-reps"), s.rep_count > s.set_rep_count ? `${s.rep_count} this session` : "");
    const score = $("latest-score");
    setText(score, String(rep.score));
    score.className = `score ${grade(rep.score)}${score.textContent.length > 2 ? " long" : ""}`;
    setText($("latest-cue"), headline(rep));
    const faults = Array.isArray(rep.faults) ? rep.faults : [];
    setText($("latest-back"), backEvidence(rep, faults));
    const good = (JUDGED[rep.variant] || Object.keys(FAULT_OK)).filter((f) => !faults.includes(f)).slice(0, 3);
    $("latest-good").replaceChildren(...good.map((f) => el("span", "check", FAULT_OK[f])));

    // Lowering tempo: the bar is descent / 4 s; the line at 3 s is the fast-descent limit.
    const d = num(rep.descent_s);
    const judged = TEMPO_JUDGED.has(rep.variant);
    setText($("tempo-value"), d == null ? "–" : `${d.toFixed(1)} s`);
    setText($("tempo-note"), judged ? "target 4 s" : "not scored for this move");
    const fill = $("tempo-fill");
    fill.style.width = `${Math.min(1, Math.max(0, (d || 0) / TARGET_DESCENT_S)) * 100}%`;
    fill.className = `fill ${!judged ? "plain" : d >= TARGET_DESCENT_S ? "good" : d >= FAST_DESCENT_S ? "ok" : "bad"}`;

    // Depth: the leg's lowest elevation this rep (0° floor, 90° vertical) and the member's floor.
    // Hanging, the legs always come down to the hang: height is what the member works for.
    const hanging = rep.variant === "hanging";
    document.querySelector(".dial").classList.toggle("hanging", hanging);
    if (hanging) {
      setText($("depth-label"), "Highest point");
      renderDial(num(rep.top_angle_deg), null);
      setText($("depth-value"), deg(rep.top_angle_deg));
      setText($("floor-label"), "hip height is 90°");
      setText($("depth-note"), "Height without swinging.");
    } else {
      setText($("depth-label"), "Lowest point");
      renderDial(num(rep.bottom_angle_deg), num(s.end_range_deg));
      setText($("depth-value"), deg(rep.bottom_angle_deg));
      const floor = num(s.end_range_deg);
      setText($("floor-label"), floor == null ? "finding your floor…"
        : toTheMat(floor) ? "to the mat" : `your floor ${deg(floor)}`);
      setText($("depth-note"), "Depth is not the goal — control is.");
    }
    renderTiles($("tiles"), s);
  }

  function polar(angle, r) {
    const a = (Math.min(90, Math.max(0, angle)) * Math.PI) / 180;
    return [10 + r * Math.cos(a), 100 - r * Math.sin(a)];
  }
  function renderDial(bottom, floor) {
    const [lx, ly] = polar(bottom ?? 0, 84);
    const leg = $("dial-leg");
    leg.setAttribute("x2", lx.toFixed(1));
    leg.setAttribute("y2", ly.toFixed(1));
    $("dial-foot").setAttribute("cx", lx.toFixed(1));
    $("dial-foot").setAttribute("cy", ly.toFixed(1));
    const tick = $("dial-floor");
    const below = $("dial-below");
    tick.style.display = below.style.display = floor == null ? "none" : "";
    if (floor == null) return;
    const [ix, iy] = polar(floor, 72);
    const [ox, oy] = polar(floor, 106);
    tick.setAttribute("x1", ix.toFixed(1));
    tick.setAttribute("y1", iy.toFixed(1));
    tick.setAttribute("x2", ox.toFixed(1));
    tick.setAttribute("y2", oy.toFixed(1));
    const [ex, ey] = polar(floor, 90);
    below.setAttribute("d", `M 100 100 A 90 90 0 0 0 ${ex.toFixed(1)} ${ey.toFixed(1)}`);
  }

  function renderRest(s) {
    const n = s.set_index ?? 1;
    setText($("summary-title"), s.set_closed ? `Set ${n} done` : `Set ${n}`);
    setText($("summary-reps"), String(s.set_rep_count ?? 0));
    const mean = num(s.set_mean_score);
    const meanEl = $("summary-mean");
    setText(meanEl, mean == null ? "–" : String(Math.round(mean)));
    meanEl.className = `mean ${mean == null ? "" : grade(mean)}`;
    const floorEl = $("summary-floor");
    const mat = toTheMat(s.end_range_deg);
    setText(floorEl, mat ? "to the mat" : deg(s.end_range_deg));
    floorEl.classList.toggle("words", mat);
    renderHold($("summary-hold"), s);
    setText($("rest-next"), n >= 3 ? "That's 3 sets — well done." : `Set ${n + 1} next, when you're ready.`);
    renderTiles($("rest-tiles"), s);
    tickRest();
  }

  function tickRest() {
    const s = snap && snap.session;
    const last = s ? num(s.last_rep_received_at) : null;
    setText($("rest-timer"), mmss(last == null ? 0 : serverNow() - last));
  }

  function render() {
    const mode = modeNow();
    shownMode = mode;
    body.dataset.mode = mode;
    body.dataset.mat = snap ? String(snap.mat) : "empty";
    const s = snap && snap.session;
    const badge = $("mode-badge");
    badge.hidden = mode === "idle";
    setText(badge, mode === "set" ? `Set ${s.set_index ?? 1}` : mode === "rest" ? "Rest" : "Ready");
    if (snap && snap.station) setText($("station-name"), String(snap.station.name));
    if (mode === "ready") renderReady();
    if (mode === "set") renderSet(s);
    if (mode === "rest") renderRest(s);
    fitAll();
  }

  function safely(fn) {
    try { fn(); } catch (err) { console.error("wall screen:", err); }
  }

  function apply(next, fresh) {
    if (!next || typeof next !== "object" || typeof next.server_now !== "number") return;
    // A /state read can come back after a newer push; the first push of a new socket always wins.
    if (!fresh && lastServerNow != null && next.server_now < lastServerNow) return;
    lastServerNow = next.server_now;
    clockOffset = next.server_now - Date.now() / 1000;
    snap = next;
    safely(render);
  }

  window.addEventListener("resize", () => safely(fitAll));
  if (document.fonts) {
    document.fonts.addEventListener("loadingdone", () => safely(fitAll));
    document.fonts.ready.then(() => safely(fitAll));
  }

  // Once a second: the rest timer runs, and "set" becomes "rest" (or the summary goes) on time.
  setInterval(() => safely(() => {
    if (modeNow() !== shownMode) render();
    else if (shownMode === "rest") tickRest();
  }), 250);

  // --- connection --------------------------------------------------------------------------------
  let ws = null;
  let delay = MIN_DELAY_MS;
  let retry = null;
  let openedAt = 0;
  let heardAt = 0;
  let checking = false;

  function showLink(state) {
    const link = $("link");
    link.hidden = state === "live";
    link.dataset.state = state;
    setText($("link-text"), state === "gone" ? "screen link not recognised — ask staff"
      : state === "connecting" ? "connecting…" : "reconnecting…");
  }

  async function readState() {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), 5000);
    try {
      const r = await fetch(`${BASE}/state`, { cache: "no-store", signal: ctl.signal });
      if (r.status === 404) { showLink("gone"); return false; }
      if (!r.ok) return false;
      apply(await r.json(), false);
      return true;
    } catch (_) {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  function drop() {
    const old = ws;
    ws = null;
    if (old) {
      old.onopen = old.onmessage = old.onclose = old.onerror = null;
      try { old.close(); } catch (_) { /* already closed */ }
    }
  }

  function lost() {
    drop();
    if ($("link").dataset.state !== "gone") showLink("reconnecting");
    readState();
    if (retry != null) return;
    const wait = delay * (0.5 + Math.random() * 0.5); // jitter: a gym's screens don't reconnect in step
    delay = Math.min(MAX_DELAY_MS, delay * 2);
    retry = setTimeout(() => { retry = null; connect(); }, wait);
  }

  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    let sock;
    try {
      sock = new WebSocket(`${proto}//${location.host}${BASE}/live`);
    } catch (_) {
      lost();
      return;
    }
    ws = sock;
    openedAt = heardAt = Date.now();
    let fresh = true;
    sock.onmessage = (msg) => {
      let next;
      try { next = JSON.parse(msg.data); } catch (_) { return; }
      heardAt = Date.now();
      delay = MIN_DELAY_MS; // only a socket that delivered counts as recovered
      showLink("live");
      apply(next, fresh);
      fresh = false;
    };
    sock.onclose = () => { if (ws === sock) lost(); };
    sock.onerror = () => { if (ws === sock) lost(); };
  }

  // A socket can die without a close (a pulled cable, a sleeping access point): a socket stuck
  // connecting is dropped, and one that has been quiet a while gets its server asked directly.
  setInterval(async () => {
    if (!ws || checking) return;
    if (ws.readyState === WebSocket.CONNECTING && Date.now() - openedAt > CONNECT_TIMEOUT_MS) { lost(); return; }
    if (ws.readyState !== WebSocket.OPEN || Date.now() - heardAt < QUIET_CHECK_MS) return;
    checking = true;
    const sock = ws;
    const ok = await readState();
    checking = false;
    if (ws !== sock) return;
    if (ok) heardAt = Date.now();
    else lost();
  }, 2000);

  showLink("connecting");
  connect();
})();
