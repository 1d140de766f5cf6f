// This phone as a sensor: DeviceMotionEvent readings, in the project's frame and units, batched over a WebSocket.
"use strict";
const params = new URLSearchParams(location.search);
const token = params.get("token") || "";
const BATCH = 25;
// Android's frame: a phone lying face up reads +9.81 m/s² on z.  Chrome and Firefox on Android report
// accelerationIncludingGravity that way; Safari on iOS has been reported to use the opposite sign.
// rotationRate is in deg/s with the same (right-handed) sign on both.  ?sign=ios|android overrides the guess.
const ios = (typeof DeviceMotionEvent !== "undefined" && typeof DeviceMotionEvent.requestPermission === "function")
  || /iPhone|iPad|iPod/.test(navigator.userAgent);
const sign = params.get("sign") || (ios ? "ios" : "android");
const ACC_SIGN = sign === "ios" ? -1 : 1;
let ws = null, running = false, batch = {t: [], acc: [], gyro: []}, sent = 0, shown = [];

const $ = id => document.getElementById(id);
function banner(text, bad) { const b = $("banner"); b.textContent = text || ""; b.className = "banner" + (text ? " show" : "") + (bad ? " bad" : ""); }
$("about").textContent = "Readings: accelerationIncludingGravity (m/s²) and rotationRate (deg/s), " +
  (sign === "ios" ? "acceleration negated (Safari on iOS reports the opposite sign of Android's)" : "as Android reports them") +
  ", 25 to a message, sent to the daemon as this phone's readings.";
$("device").value = params.get("device") || localStorage.getItem("harstream-device") || ("phone-" + Math.random().toString(36).slice(2, 6));

function onMotion(e) {
  const a = e.accelerationIncludingGravity, r = e.rotationRate;
  if (!running || !a || a.x === null || !r) return;
  batch.t.push((performance.timeOrigin + e.timeStamp) / 1000);
  batch.acc.push([ACC_SIGN * a.x, ACC_SIGN * a.y, ACC_SIGN * a.z]);
  batch.gyro.push([r.beta || 0, r.gamma || 0, r.alpha || 0]);  // about x, y, z
  if (batch.t.length >= BATCH) flush();
}

function flush() {
  if (!batch.t.length || !ws || ws.readyState !== 1) return;
  ws.send(JSON.stringify({t: batch.t, acc: batch.acc, gyro: batch.gyro, units: {acc: "m/s2", gyro: "deg/s"}}));
  sent += batch.t.length; batch = {t: [], acc: [], gyro: []};
}

async function connect(device) {
  const q = "?token=" + encodeURIComponent(token) + "&device=" + encodeURIComponent(device);
  let ok;
  try { ok = await fetch("/api/phone" + q); } catch (err) { ok = {status: 0}; }
  if (ok.status === 403) { banner("Refused: this address's token is wrong or missing. Scan the QR code on the live page again.", true); stop(); return; }
  if (ok.status === 400) { banner("That name will not do: use letters, digits, - or _.", true); stop(); return; }
  if (ok.status !== 200) { banner("The daemon does not answer; trying again in 2 s."); setTimeout(() => running && connect(device), 2000); return; }
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/phone" + q);
  ws.onopen = () => { $("conn").textContent = "sending"; $("conn").className = "conn"; banner(""); };
  ws.onmessage = e => {
    const m = JSON.parse(e.data);
    if (m.kind !== "label") return;
    shown.push(m.label.activity);
    $("activity").textContent = m.label.activity.replace(/_/g, " ");
    $("detail").textContent = "confidence " + m.label.confidence.toFixed(2) + " · worn " + (m.label.placement || "where: not yet known") +
      " · " + sent + " readings sent";
  };
  ws.onclose = () => {
    $("conn").textContent = "not sending"; $("conn").className = "conn down";
    if (running) { banner("Lost the connection; trying again in 2 s."); setTimeout(() => running && connect(device), 2000); }
  };
}

async function start() {
  const device = $("device").value.trim();
  if (!device) { banner("Give this phone a name first.", true); return; }
  localStorage.setItem("harstream-device", device);
  if (typeof DeviceMotionEvent !== "undefined" && typeof DeviceMotionEvent.requestPermission === "function") {
    try {  // iOS asks, and only from a tap
      if (await DeviceMotionEvent.requestPermission() !== "granted") { banner("Motion sensors were not allowed: allow them in Safari's settings.", true); return; }
    } catch (err) { banner("Motion sensors need this page over HTTPS: " + err, true); return; }
  }
  if (!window.isSecureContext) banner("This page is not secure (not HTTPS): the browser may give it no motion sensor.", true);
  running = true; $("start").textContent = "Stop"; $("start").className = "stop";
  window.addEventListener("devicemotion", onMotion);
  await connect(device);
}

function stop() {
  running = false; $("start").textContent = "Start"; $("start").className = "";
  window.removeEventListener("devicemotion", onMotion);
  if (ws) { flush(); ws.close(); ws = null; }
}

$("start").addEventListener("click", () => running ? stop() : start());
window.harstream = {sign, start, stop, sent: () => sent, shown: () => shown.slice(), open: () => !!ws && ws.readyState === 1};
