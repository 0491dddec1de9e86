// The wall screen: renders whole snapshots pushed over the WebSocket. On any disconnect it
// reconnects with backoff; the first message after a reconnect is the full state again, so nothing
// the screen missed can leave it wrong. Every string goes in through textContent.
"use strict";
const key = document.body.dataset.wallKey;
const TARGET_DESCENT_S = 4;
const $ = (id) => document.getElementById(id);
let snapshot = null;
let clockOffset = 0; // server time − local time, seconds

function serverNow() { return Date.now() / 1000 + clockOffset; }
function grade(score) { return score >= 85 ? "good" : score >= 60 ? "ok" : "bad"; }
function praise(rep) {
  if (rep.faults.length === 0 && rep.score >= 85) return "Great rep — slow, controlled, back flat";
  return rep.cue;
}
function mmss(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function mode() {
  if (!snapshot) return "idle";
  const s = snapshot.session;
  if (snapshot.mode === "set" && s && s.last_rep_received_at != null &&
      serverNow() - s.last_rep_received_at >= snapshot.rest_after_s) return "rest";
  return snapshot.mode;
}

function renderSet(s) {
  const rep = s.last_rep;
  $("set-index").textContent = s.set_index;
  $("rep-count").textContent = s.set_rep_count;
  const score = $("latest-score");
  score.textContent = rep.score;
  score.className = `score ${grade(rep.score)}`;
  $("latest-cue").textContent = praise(rep);
  // Lowering tempo against the 4 s target; the mark at 3 s is the fast-descent limit.
  const tempo = Math.min(1, rep.descent_s / TARGET_DESCENT_S);
  $("tempo-fill").style.width = `${tempo * 100}%`;
  $("tempo-fill").style.background = rep.descent_s >= 3 ? "var(--good)" : "var(--bad)";
  $("tempo-value").textContent = `${rep.descent_s.toFixed(1)} s`;
  // Depth: 90° (vertical) on the left, the floor (0°) on the right; the member's own floor marked.
  const depth = Math.min(1, Math.max(0, (90 - rep.bottom_angle_deg) / 90));
  $("depth-fill").style.width = `${depth * 100}%`;
  $("depth-value").textContent = `${Math.round(rep.bottom_angle_deg)}°`;
  const floor = s.end_range_deg;
  $("floor-mark").hidden = floor == null;
  if (floor != null) $("floor-mark").style.left = `${Math.min(1, (90 - floor) / 90) * 100}%`;
  $("floor-label").textContent = floor == null ? "" : `your floor ${Math.round(floor)}° — control, not depth`;
  const tiles = s.reps.map((r) => {
    const li = document.createElement("li");
    li.className = `tile ${grade(r.score)}`;
    const b = document.createElement("b");
    b.textContent = r.score;
    const span = document.createElement("span");
    span.textContent = r.faults.length ? r.cue : "Good rep";
    li.append(b, span);
    return li;
  });
  $("tiles").replaceChildren(...tiles);
}

function renderRest(s) {
  const since = s.last_rep_received_at == null ? 0 : serverNow() - s.last_rep_received_at;
  $("rest-timer").textContent = mmss(since);
  const parts = [];
  if (s.set_index != null) {
    const range = s.end_range_deg == null ? "" : ` · your floor ${Math.round(s.end_range_deg)}°`;
    parts.push(`Set ${s.set_index}: ${s.set_rep_count} reps · average ${Math.round(s.set_mean_score)}${range}`);
  }
  if (s.holds.length) parts.push(`Hollow hold: ${Math.round(s.holds[s.holds.length - 1].duration_s)} s`);
  $("summary").replaceChildren(...parts.map((t) => {
    const div = document.createElement("div");
    div.textContent = t;
    return div;
  }));
}

function render() {
  const m = mode();
  document.body.dataset.mode = m;
  if (snapshot) $("station-name").textContent = snapshot.station.name;
  const s = snapshot && snapshot.session;
  if (m === "set" && s && s.last_rep) renderSet(s);
  if (m === "rest" && s) renderRest(s);
}

let delay = 500;
function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/wall/${encodeURIComponent(key)}/live`);
  ws.onopen = () => { delay = 500; $("link").hidden = true; };
  ws.onmessage = (msg) => {
    snapshot = JSON.parse(msg.data);
    clockOffset = snapshot.server_now - Date.now() / 1000;
    render();
  };
  ws.onclose = () => {
    $("link").hidden = false;
    // Backoff with jitter, so every screen in the gym doesn't reconnect in the same instant.
    setTimeout(connect, delay * (0.5 + Math.random() / 2));
    delay = Math.min(delay * 2, 5000);
  };
}
setInterval(render, 500); // rest timer, and set → rest when the member stops
connect();
