// fortimock dashboard: the page's actions, the live journal and the refresh of the lab's sections.
// Every action goes to the dashboard's pass-through (/api/<service>/...), which forwards it to that
// service's guarded API with the admin token the browser logged in with; nothing here holds the token.
"use strict";

const SERVICES = ["forticare", "ftm", "push", "phone", "appliance"];
const ACTION_HEADER = { "x-fortimock-dashboard": "1" };

function say(text, failed) {
  const status = document.getElementById("status");
  if (!status) return;
  status.textContent = text;
  status.className = failed ? "error" : "ok";
}

// Sends one request to a service's API through the dashboard; resolves to the parsed answer.
async function act(service, path, method, body) {
  const init = { method, credentials: "same-origin", headers: { ...ACTION_HEADER } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`/api/${service}${path}`, init);
  const text = await response.text();
  let answer = null;
  try { answer = text ? JSON.parse(text) : null; } catch (_) { answer = text; }
  if (!response.ok) {
    const reason = answer && answer.message ? answer.message : `HTTP ${response.status}`;
    throw new Error(`${service} ${method} ${path}: ${reason}`);
  }
  return answer;
}

// Replaces the live sections and the header with a freshly rendered page, leaving alone any section the
// user is typing in.
let refreshing = null;
async function refresh() {
  if (refreshing) return refreshing;
  refreshing = (async () => {
    try {
      const response = await fetch("/", { credentials: "same-origin" });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const parts = ["header", ...Array.from(document.querySelectorAll("section.live")).map((s) => `#${s.id}`)];
      for (const selector of parts) {
        const now = document.querySelector(selector);
        const next = fresh.querySelector(selector);
        if (!now || !next || now.contains(document.activeElement) && document.activeElement.tagName === "INPUT") continue;
        now.replaceWith(document.importNode(next, true));
      }
      document.body.dataset.refreshed = String(Date.now());
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

let refreshSoon = null;
function scheduleRefresh() {
  if (refreshSoon) return;
  refreshSoon = setTimeout(() => { refreshSoon = null; refresh(); }, 250);
}

async function run(label, work) {
  try {
    await work();
    say(`${label}: done`, false);
  } catch (error) {
    say(`${label}: ${error.message}`, true);
  }
  await refresh();
}

const ACTIONS = {
  "clock-advance": (form) => run("advance the clock", () =>
    act("ftm", "/__admin/clock", "POST", { advance_secs: Number(form.elements.secs.value) })),
  "clock-freeze": (button) => run(button.dataset.freeze === "true" ? "freeze the clock" : "unfreeze the clock", () =>
    act("ftm", "/__admin/clock", "POST", { freeze: button.dataset.freeze === "true" })),
  "reset": (button) => {
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    return run("reset", async () => {
      for (const service of SERVICES) await act(service, "/__admin/reset", "POST", {});
      await act("ftm", "/__admin/clock", "POST", { real: true });
      document.getElementById("journal-rows").replaceChildren();
    });
  },
  "arm": (form) => {
    const [service, error] = form.elements.armable.value.split("|");
    const spec = { error };
    const serial = form.elements.serial.value.trim();
    if (serial) spec.match = { serial };
    if (form.elements.times.value) spec.times = Number(form.elements.times.value);
    return run(`arm ${error} on ${service}`, () => act(service, "/__admin/scenarios", "POST", spec));
  },
  "disarm": (button) => run(`disarm ${button.dataset.id}`, () =>
    act(button.dataset.service, `/__admin/scenarios/${encodeURIComponent(button.dataset.id)}`, "DELETE")),
  "import": (form) => run("import the state", async () => {
    const file = form.elements.bundle.files[0];
    if (!file) throw new Error("choose a bundle file first");
    const response = await fetch("/state/import", {
      method: "POST",
      credentials: "same-origin",
      headers: { ...ACTION_HEADER, "content-type": "application/json" },
      body: await file.text(),
    });
    if (!response.ok) {
      const answer = await response.json().catch(() => ({}));
      throw new Error(answer.message || `HTTP ${response.status}`);
    }
  }),
};

document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-action]");
  if (!form) return;
  event.preventDefault();
  ACTIONS[form.dataset.action](form);
});

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button || button.closest("form[data-action]")) return;
  ACTIONS[button.dataset.action](button);
});

// One journal line, built with textContent only (entries are data, never markup).
function journalRow(entry) {
  const row = document.createElement("tr");
  row.dataset.seq = String(entry.seq);
  row.dataset.service = entry.service;
  const cells = [entry.time, entry.service, `${entry.method} ${entry.path}`, entry.message_type || "", entry.status, entry.result || ""];
  for (const value of cells) {
    const cell = document.createElement("td");
    cell.textContent = String(value);
    row.appendChild(cell);
  }
  return row;
}

function follow() {
  if (!window.EventSource) return;
  const live = document.getElementById("live");
  const events = new EventSource("/events");
  events.addEventListener("open", () => { if (live) live.className = "badge on"; });
  events.addEventListener("error", () => { if (live) live.className = "badge"; });
  events.addEventListener("journal", (message) => {
    const entry = JSON.parse(message.data);
    const rows = document.getElementById("journal-rows");
    if (rows) {
      rows.appendChild(journalRow(entry));
      while (rows.children.length > 200) rows.removeChild(rows.firstElementChild);
    }
    scheduleRefresh();
  });
}

if (document.getElementById("journal-rows")) {
  follow();
  // The phones' codes change with the clock: the sections are rendered again every few seconds.
  setInterval(() => { if (!document.hidden) refresh(); }, 5000);
}
