// Keeps the live columns of the status page current without a reload: online/offline, heartbeat
// age, fps, temperature, load, camera, versions, backlog, reps today, last error; and asks before
// a form marked data-confirm (revoking a token) is sent.
"use strict";
const DASH = "–";
const HOT_C = 80; // a Raspberry Pi starts throttling its CPU here
const fmt = {
  online: (s) => (s.online ? "online" : "offline"),
  heartbeat_age_s: (s) => (s.heartbeat_age_s == null ? "never" : `${Math.round(s.heartbeat_age_s)} s ago`),
  fps: (s) => (s.fps == null ? DASH : s.fps.toFixed(1)),
  cpu_temp_c: (s) => (s.cpu_temp_c == null ? DASH : s.cpu_temp_c.toFixed(0)),
  load_1m: (s) => (s.load_1m == null ? DASH : s.load_1m.toFixed(2)),
  camera: (s) => s.camera || DASH,
  backlog: (s) => (s.backlog == null ? DASH : String(s.backlog)),
  reps_today: (s) => String(s.reps_today),
  last_error: (s) => s.last_error || "",
  name: (s) => s.name,
};

function render(stations) {
  let online = 0;
  for (const s of stations) {
    if (s.online) online += 1;
    const row = document.querySelector(`tr[data-station="${CSS.escape(s.id)}"]`);
    if (!row) continue;
    for (const [field, f] of Object.entries(fmt)) {
      const cell = row.querySelector(`[data-field="${field}"]`);
      if (cell) cell.textContent = f(s);
    }
    row.classList.toggle("is-online", s.online);
    row.classList.toggle("is-offline", !s.online);
    const state = row.querySelector('[data-field="online"]');
    state.className = `badge ${s.online ? "online" : "offline"}`;
    row.querySelector('[data-field="cpu_temp_c"]').classList.toggle("warn", s.cpu_temp_c != null && s.cpu_temp_c >= HOT_C);
    row.querySelector('[data-field="camera"]').classList.toggle("warn", s.camera != null && s.camera !== "ok");
    row.querySelector('[data-field="last_error"]').title = s.last_error || "";
    const versions = row.querySelector('[data-field="versions"]');
    versions.replaceChildren(document.createTextNode(s.software_version || DASH));
    for (const [k, v] of Object.entries(s.model_versions || {})) {
      const small = document.createElement("small");
      small.textContent = `${k} ${v}`;
      versions.append(document.createElement("br"), small);
    }
  }
  document.getElementById("summary").textContent = `${online} of ${stations.length} online`;
  const refreshed = document.getElementById("refreshed");
  refreshed.classList.remove("stale");
  refreshed.textContent = `updated ${new Date().toLocaleTimeString()}`;
}

async function refresh() {
  try {
    const response = await fetch("/staff/api/stations", { credentials: "same-origin" });
    if (response.status === 401) { location.href = "/staff/login"; return; }
    if (response.ok) render(await response.json());
  } catch (err) {
    const refreshed = document.getElementById("refreshed");
    refreshed.classList.add("stale");
    refreshed.textContent = "server unreachable, retrying…";
  }
}

document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

setInterval(refresh, 2000);
refresh();
