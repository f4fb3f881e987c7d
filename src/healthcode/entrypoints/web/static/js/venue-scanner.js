/* The guard's scanner: camera -> QR text -> verdict on this device (venue-verify.js) -> a big
   admit / refuse screen -> admitted visitors wait in a queue in this browser and are uploaded
   to POST /venues/{id}/uploads whenever the network is there (idempotent by client id).

   QR decoding: the browser's BarcodeDetector where it has one, the vendored jsQR otherwise
   (Chromium on Linux, Firefox). The page, its scripts and the trust list are kept by a service
   worker (/venue/sw.js), so the scanner opens and decides without a network.

   Only admitted scans are queued: a refused visitor did not enter, so there is no visit to
   record, and their code never leaves the device. A code's client id is derived from the code
   itself, so the same code scanned twice (a visitor who stays in front of the camera, or the
   page reloaded) is one check-in, here and on the server. */
(function () {
  "use strict";

  const root = document.getElementById("scanner");
  const V = window.HealthcodeVerifier;
  if (!root || !V) return;

  const cfg = root.dataset;
  const venue = cfg.venue;
  const policy = {
    maxSkew: Number(cfg.skew),
    maxLifetime: Number(cfg.lifetime),
    refusedColours: cfg.refused.split(" ").filter(Boolean),
  };
  const QUEUE_KEY = "hc.venue.queue." + venue;
  const SYNC_KEY = "hc.venue.synced." + venue;
  const TRUST_KEY = "hc.venue.trust-lists"; // city -> {document, pin}
  const CAMERA_KEY = "hc.venue.camera";
  const REPEAT_SECONDS = 60; // the same code again within a minute: the same visitor
  const RESULT_MS = 5000; // how long a verdict fills the screen
  const FRAME_MS = 200;
  const SYNC_MS = 20000;
  const MAX_UPLOAD = 1000; // services/checkins.MAX_BATCH

  const $ = (id) => document.getElementById(id);
  const texts = {};
  const reasons = {};
  document.querySelectorAll("#texts [data-text]").forEach((li) => {
    texts[li.dataset.text] = li.textContent.trim();
  });
  document.querySelectorAll("#texts [data-reason]").forEach((li) => {
    reasons[li.dataset.reason] = li.textContent.trim();
  });
  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, k) => String(values[k]));
  const nowSeconds = () => Math.floor(Date.now() / 1000);
  const dateFormat = new Intl.DateTimeFormat(cfg.lang, {
    timeZone: cfg.timezone, dateStyle: "medium", timeStyle: "short",
  });
  const when = (epoch) => dateFormat.format(new Date(epoch * 1000));

  // --- The trust list: fetched when online, kept (verified again on every load) for offline --

  // Every trusted city's list: ours, pinned by the anchor the page names, and those our
  // authority imported, each pinned by the fingerprint it was imported with. Each is checked
  // against its pin on every load; per city the newest version held wins (an older one is a
  // rollback), so a key another city withdrew is refused once its newer list has been seen.
  let trust = null;

  async function parsed(documentText, pin) {
    try {
      return await V.loadTrustList(documentText, pin);
    } catch (e) {
      return null;
    }
  }

  const pinOf = (city, given) => (city === cfg.city ? cfg.anchor : given);

  async function loadTrust() {
    let stored = {};
    try { stored = JSON.parse(localStorage.getItem(TRUST_KEY) || "{}") || {}; } catch (e) { stored = {}; }
    const held = {}; // city -> {list, document, pin}
    for (const city of Object.keys(stored)) {
      const kept = stored[city];
      const list = kept && await parsed(kept.document, pinOf(city, kept.pin));
      if (list && list.city === city) held[city] = { list, document: kept.document, pin: kept.pin };
    }
    let refreshed = false;
    try {
      const response = await fetch("/trust-lists/documents", { cache: "no-store", credentials: "same-origin" });
      if (response.ok) {
        for (const row of await response.json()) {
          const fresh = await parsed(row.document, pinOf(row.city, row.anchor_fingerprint));
          const before = held[row.city];
          if (fresh && fresh.city === row.city && (!before || fresh.version >= before.list.version)) {
            held[row.city] = { list: fresh, document: row.document, pin: row.anchor_fingerprint };
          }
        }
        refreshed = true;
        const keep = {};
        for (const city of Object.keys(held)) keep[city] = { document: held[city].document, pin: held[city].pin };
        localStorage.setItem(TRUST_KEY, JSON.stringify(keep));
      }
    } catch (e) {
      // offline and no service worker copy: the stored copies it is
    }
    const own = held[cfg.city];
    const status = $("trust-status");
    if (!own) {
      trust = null;
      status.textContent = texts["trust-missing"];
      return;
    }
    const others = Object.keys(held).filter((c) => c !== cfg.city).sort();
    trust = {
      city: own.list.city, version: own.list.version, issuedAt: own.list.issuedAt,
      keys: [].concat(...Object.keys(held).map((c) => held[c].list.keys)),
    };
    root.dataset.cities = [cfg.city].concat(others).join(" ");
    status.textContent = fill(texts["trust-ok"], { version: own.list.version, when: when(own.list.issuedAt) }) +
      (others.length ? " " + fill(texts["trust-others"], {
        cities: others.map((c) => c + " v" + held[c].list.version).join(", ") }) : "") +
      (refreshed ? "" : " " + texts["trust-stale"]);
  }

  // --- The verdict screen, with a sound and a vibration -----------------------------------

  const verdictBox = $("verdict");
  let hideTimer = null;
  let audio = null;

  function unlockAudio() {
    // Browsers let a page make sounds only after a tap: the "start" button is that tap.
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      audio.resume();
    } catch (e) {
      audio = null;
    }
  }

  function cue(admitted) {
    if (navigator.vibrate) navigator.vibrate(admitted ? 120 : [250, 120, 250]);
    if (!audio) return;
    const tones = admitted ? [[880, 0, 0.18]] : [[220, 0, 0.25], [220, 0.35, 0.25]];
    for (const [frequency, start, length] of tones) {
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.type = admitted ? "sine" : "square";
      oscillator.frequency.value = frequency;
      gain.gain.value = 0.2;
      oscillator.connect(gain).connect(audio.destination);
      const at = audio.currentTime + start;
      oscillator.start(at);
      oscillator.stop(at + length);
    }
  }

  function hideVerdict() {
    verdictBox.hidden = true;
    document.body.classList.remove("verdict-shown");
  }

  function reasonText(result) {
    // An expired code says how long ago it ended: "a minute ago" is a slow refresh, "three
    // hours ago" a screenshot. Expiry has no clock-skew allowance (SIG-9).
    if (result.reason === "expired" && result.validUntil) {
      const minutes = Math.max(1, Math.ceil((nowSeconds() - result.validUntil) / 60));
      return fill(texts["expired-ago"], { minutes: minutes });
    }
    return reasons[result.reason] || reasons.malformed;
  }

  function showVerdict(result) {
    const admitted = result.decision === "admit";
    verdictBox.className = "verdict verdict-" + result.decision;
    verdictBox.dataset.decision = result.decision;
    verdictBox.dataset.reason = result.reason;
    $("verdict-mark").textContent = admitted ? "✓" : "✗";
    $("verdict-word").textContent = texts[result.decision];
    $("verdict-reason").textContent = admitted ? "" : reasonText(result);
    $("verdict-name").textContent = result.maskedName || texts.nobody;
    $("verdict-until").textContent = result.validUntil ? when(result.validUntil) : texts.nobody;
    verdictBox.hidden = false;
    document.body.classList.add("verdict-shown");
    verdictBox.focus();
    cue(admitted);
    clearTimeout(hideTimer);
    hideTimer = setTimeout(hideVerdict, RESULT_MS);
  }

  $("verdict-next").addEventListener("click", () => {
    clearTimeout(hideTimer);
    hideVerdict();
    $("start-camera").focus();
  });

  // --- The queue of admitted scans, and its upload ------------------------------------------

  function queue() {
    try {
      const items = JSON.parse(localStorage.getItem(QUEUE_KEY) || "[]");
      return Array.isArray(items) ? items : [];
    } catch (e) {
      return [];
    }
  }

  function showSync() {
    $("queue-count").textContent = String(queue().length);
    const synced = Number(localStorage.getItem(SYNC_KEY) || 0);
    $("last-sync").textContent = synced ? when(synced) : texts.never;
    $("network").textContent = navigator.onLine ? texts.online : texts.offline;
    root.dataset.network = navigator.onLine ? "online" : "offline";
  }

  function saveQueue(items) {
    localStorage.setItem(QUEUE_KEY, JSON.stringify(items));
    showSync();
  }

  async function clientId(code) {
    const digest = await V.sha256(new TextEncoder().encode(code));
    return V.hex(digest).slice(0, 32);
  }

  async function enqueue(code, scannedAt) {
    const id = await clientId(code);
    const items = queue();
    if (items.some((item) => item.client_id === id)) return;
    items.push({ client_id: id, code: code, scanned_at: scannedAt });
    saveQueue(items);
  }

  let flushing = false;

  function uploadStatus(text) {
    $("upload-status").textContent = text;
  }

  async function flush() {
    const batch = queue().slice(0, MAX_UPLOAD);
    if (flushing || !batch.length || !navigator.onLine) {
      showSync();
      return;
    }
    flushing = true;
    let more = false;
    try {
      const response = await fetch("/venues/" + encodeURIComponent(venue) + "/uploads", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ items: batch }),
      });
      if (response.status === 401) {
        uploadStatus(texts["signed-out"]);
        return;
      }
      if (!response.ok) {
        uploadStatus(texts["upload-failed"]);
        return;
      }
      const report = await response.json();
      const done = new Set(report.accepted.concat(report.duplicates,
        report.rejected.map((r) => r.client_id)));
      const left = queue().filter((item) => !done.has(item.client_id));
      saveQueue(left);
      localStorage.setItem(SYNC_KEY, String(nowSeconds()));
      uploadStatus(fill(texts.uploaded, {
        accepted: report.accepted.length,
        duplicates: report.duplicates.length,
        rejected: report.rejected.length,
      }));
      more = left.length > 0 && done.size > 0;
    } catch (e) {
      uploadStatus(texts["upload-failed"]);
    } finally {
      flushing = false;
      showSync();
    }
    if (more) flush();
  }

  // --- Scanning -----------------------------------------------------------------------------

  const recent = new Map(); // code -> when it was handled

  async function handle(text) {
    const code = String(text).trim();
    if (!code) return;
    const now = nowSeconds();
    for (const [seen, at] of recent) if (at < now - REPEAT_SECONDS) recent.delete(seen);
    if (recent.has(code)) return; // the same visitor still in front of the camera
    recent.set(code, now);
    const result = await V.verifyHealthCode(code, trust, now, policy);
    showVerdict(result);
    if (result.decision === "admit") {
      await enqueue(code, now);
      flush();
    }
  }

  const video = $("camera");
  const canvas = $("frame");
  const drawing = canvas.getContext("2d", { willReadFrequently: true });
  let stream = null;
  let detector = null;

  async function readFrame() {
    if (video.readyState < 2 || !video.videoWidth) return null;
    if (detector) {
      const found = await detector.detect(video);
      return found.length ? found[0].rawValue : null;
    }
    if (typeof window.jsQR !== "function") return null;
    const scale = Math.min(1, 960 / video.videoWidth);
    const width = Math.round(video.videoWidth * scale);
    const height = Math.round(video.videoHeight * scale);
    canvas.width = width;
    canvas.height = height;
    drawing.drawImage(video, 0, 0, width, height);
    const image = drawing.getImageData(0, 0, width, height);
    const found = window.jsQR(image.data, width, height, { inversionAttempts: "dontInvert" });
    return found ? found.data : null;
  }

  async function tick() {
    try {
      const text = await readFrame();
      if (text) await handle(text);
    } catch (e) {
      // a frame that cannot be read: try the next one
    }
    setTimeout(tick, FRAME_MS);
  }

  async function pickDetector() {
    if (!("BarcodeDetector" in window)) return null;
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      return formats.indexOf("qr_code") >= 0 ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
    } catch (e) {
      return null;
    }
  }

  async function startCamera() {
    unlockAudio();
    if (stream) return;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: { ideal: "environment" } }, // the rear camera, on a phone
        audio: false,
      });
    } catch (e) {
      $("camera-status").textContent = texts["camera-failed"];
      return;
    }
    video.srcObject = stream;
    await video.play().catch(() => {});
    detector = await pickDetector();
    root.dataset.decoder = detector ? "native" : "jsqr";
    localStorage.setItem(CAMERA_KEY, "on");
    $("start-camera").hidden = true;
    $("camera-status").textContent = texts["camera-on"];
    tick();
  }

  $("start-camera").addEventListener("click", startCamera);
  $("manual").addEventListener("submit", (event) => {
    event.preventDefault();
    unlockAudio();
    const field = $("manual-code");
    const code = field.value;
    field.value = "";
    recent.delete(code.trim()); // typed on purpose: always check it again
    handle(code);
  });
  $("upload-now").addEventListener("click", flush);
  window.addEventListener("online", flush);
  window.addEventListener("offline", showSync);
  setInterval(flush, SYNC_MS);

  // --- Offline: the service worker keeps the page, its scripts and the trust list -----------

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/venue/sw.js", { scope: "/venue/" }).catch(() => {});
    navigator.serviceWorker.ready.then(() => {
      root.dataset.offline = "ready";
    });
  }

  showSync();
  loadTrust().then(() => {
    root.dataset.trust = trust ? "ready" : "missing";
    flush();
    if (localStorage.getItem(CAMERA_KEY) === "on") startCamera();
  });
})();
