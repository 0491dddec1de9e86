// Keeps the live columns of the status page current without a reload: online/offline, heartbeat
// age, fps, temperature, load, camera, versions, backlog, reps today, last error.
"use strict";
const fmt = {
  online: (s) => (s.online ? "online" : "offline"),
  heartbeat_age_s: (s) => (s.heartbeat_age_s == null ? "never" : `${Math.round(s.heartbeat_age_s)} s ago`),
  fps: (s) => (s.fps == null ? "–" : s.fps.toFixed(1)),
  cpu_temp_c: (s) => (s.cpu_temp_c == null ? "–" : s.cpu_temp_c.toFixed(0)),
  load_1m: (s) => (s.load_1m == null ? "–" : s.load_1m.toFixed(2)),
  camera: (s) => s.camera || "–",
  backlog: (s) => (s.backlog == null ? "–" : String(s.backlog)),
  reps_today: (s) => String(s.reps_today),
  last_error: (s) => s.last_error || "",
  name: (s) => s.name,
};

function render(stations) {
  for (const s of stations) {
    const row = document.querySelector(`tr[data-station="${CSS.escape(s.id)}"]`);
    if (!row) continue;
    for (const [field, f] of Object.entries(fmt)) {
      const cell = row.querySelector(`[data-field="${field}"]`);
      if (cell) cell.textContent = f(s);
    }
    const state = row.querySelector('[data-field="online"]');
    state.className = s.online ? "online" : "offline";
    const versions = row.querySelector('[data-field="versions"]');
    versions.replaceChildren(document.createTextNode(s.software_version || "–"));
    for (const [k, v] of Object.entries(s.model_versions || {})) {
      const small = document.createElement("small");
      small.textContent = `${k} ${v}`;
      versions.append(document.createElement("br"), small);
    }
  }
  document.getElementById("refreshed").textContent = `updated ${new Date().toLocaleTimeString()}`;
}

async function refresh() {
  try {
    const response = await fetch("/staff/api/stations", { credentials: "same-origin" });
    if (response.status === 401) { location.href = "/staff/login"; return; }
    if (response.ok) render(await response.json());
  } catch (err) {
    document.getElementById("refreshed").textContent = "server unreachable, retrying…";
  }
}
setInterval(refresh, 2000);
refresh();
