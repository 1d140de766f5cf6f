// The live view: every device's latest label and a timeline of the last minutes, the daemon's figures.
"use strict";
const COLOURS = {WALKING: "#2e7d32", WALKING_UPSTAIRS: "#1565c0", WALKING_DOWNSTAIRS: "#6a1b9a", SITTING: "#ef6c00",
  STANDING: "#f9a825", LAYING: "#795548", RUNNING: "#c62828", UNKNOWN: "#9e9e9e"};
const WINDOW_S = 600;
const token = new URLSearchParams(location.search).get("token") || "";
const q = token ? "?token=" + encodeURIComponent(token) : "";
const devices = {};  // name -> {labels: [...]}
let stats = {};

function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }

function banner(text, bad) {
  const b = document.getElementById("banner");
  b.textContent = text || ""; b.className = "banner" + (text ? " show" : "") + (bad ? " bad" : "");
}

function add(device, label) {
  const d = devices[device] || (devices[device] = {labels: []});
  d.labels.push(label);
  const now = Date.now() / 1000;
  while (d.labels.length && now - d.labels[0].received > WINDOW_S) d.labels.shift();
}

function draw() {
  const box = document.getElementById("devices");
  const names = Object.keys(devices).sort();
  document.getElementById("empty").style.display = names.length ? "none" : "";
  const now = Date.now() / 1000;
  for (const name of names) {
    let card = document.getElementById("dev-" + name);
    if (!card) {
      card = el("div", "card device"); card.id = "dev-" + name; card.dataset.device = name;
      card.append(el("div", "name", name), el("div", "activity"), el("div", "meta"), el("div", "meta age"));
      const c = el("canvas", "timeline"); c.width = 600; c.height = 22; card.append(c);
      box.append(card);
    }
    const last = devices[name].labels[devices[name].labels.length - 1];
    card.querySelector(".activity").textContent = last.activity;
    card.querySelector(".activity").style.color = COLOURS[last.activity] || "#333";
    card.querySelector(".meta").textContent = "confidence " + last.confidence.toFixed(2) + " · worn " + (last.placement || "where: not yet known");
    card.querySelector(".age").textContent = Math.max(0, now - last.received).toFixed(0) + " s ago";
    const canvas = card.querySelector("canvas"), g = canvas.getContext("2d");
    g.clearRect(0, 0, canvas.width, canvas.height);
    for (const l of devices[name].labels) {  // a band per label: its hop of 1.28 s, coloured by activity
      const x = canvas.width * (1 - (now - l.received) / WINDOW_S), w = Math.max(1, canvas.width * 1.28 / WINDOW_S);
      g.fillStyle = COLOURS[l.activity] || "#333"; g.fillRect(x - w, 0, w + 0.5, canvas.height);
    }
  }
}

function drawStats() {
  const t = document.getElementById("stats"); t.innerHTML = "";
  const all = Object.values(stats);
  if (!all.length) { t.append(row("no stats yet", "")); return; }
  const sum = k => all.reduce((a, s) => a + (s[k] || 0), 0);
  t.append(row("daemons and replicas", all.length), row("devices", sum("devices")), row("messages/s", sum("rate").toFixed(0)),
           row("labels", sum("labels")));
  const p99 = Math.max(...all.map(s => (s.window_to_label_ms || {}).p99 || 0));
  t.append(row("window→label p99", p99.toFixed(1) + " ms"));
  const rejects = {};
  for (const s of all) for (const [k, v] of Object.entries(s.rejects || {})) rejects[k] = (rejects[k] || 0) + v;
  for (const [k, v] of Object.entries(rejects)) t.append(row("rejected: " + k, v));
}
function row(a, b) { const r = el("tr"); r.append(el("td", "", a), el("td", "", String(b))); return r; }

function legend(labels) {
  const box = document.getElementById("legend"); box.innerHTML = "";
  for (const l of labels.concat(labels.includes("UNKNOWN") ? [] : ["UNKNOWN"])) {
    const s = el("span"); const i = el("i"); i.style.background = COLOURS[l] || "#333"; s.append(i, document.createTextNode(l.toLowerCase())); box.append(s);
  }
}

async function start() {
  const r = await fetch("/api/state" + q);
  if (r.status === 403) { banner("This page needs the token: open the address the daemon's log gives.", true); return; }
  const state = await r.json();
  legend(state.labels);
  for (const [device, labels] of Object.entries(state.history)) for (const l of labels) add(device, l);
  stats = state.stats; drawStats(); draw();
  document.getElementById("qr").innerHTML = await (await fetch("/qr.svg" + q)).text();
  document.getElementById("phonelink").href = state.phone_url;
  if (state.made_certificate) document.getElementById("trust").textContent =
    " The certificate was made by the daemon: the phone's browser warns once; check the address and go on (or give web_cert and web_key).";
  connect();
  setInterval(draw, 1000);
}

function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/live" + q);
  const conn = document.getElementById("conn");
  ws.onopen = () => { conn.textContent = "live"; conn.className = "conn"; banner(""); };
  ws.onmessage = e => {
    const m = JSON.parse(e.data);
    if (m.kind === "label") { add(m.device, m.label); draw(); }
    else if (m.kind === "stats") {
      const before = stats[m.stats.client_id];  // messages a second, from this and the last stats of the same daemon
      const dt = before ? m.stats.uptime_s - before.uptime_s : 0;
      m.stats.rate = dt > 0 ? Math.max(0, (m.stats.messages - before.messages) / dt) : (before ? before.rate || 0 : 0);
      stats[m.stats.client_id] = m.stats; drawStats();
    }
  };
  ws.onclose = () => { conn.textContent = "reconnecting"; conn.className = "conn down";
    banner("Lost the connection to the daemon; trying again every 2 s."); setTimeout(connect, 2000); };
}
start();
