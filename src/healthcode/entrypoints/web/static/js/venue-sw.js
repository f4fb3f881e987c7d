/* The scanner's service worker (served as /venue/sw.js, scope /venue/): it keeps the scanner
   page, its scripts and the trust lists of every city it trusts, so that a guard can open the
   scanner and decide admit / refuse with no network. Nothing else is cached: no other page, and
   no API answer but the public trust lists.

   The page and the trust list are fetched from the network first (fresh when possible) and
   fall back to the kept copy; scripts and styles come from the kept copy and are refreshed in
   the background. A scanner page that now answers with a redirect (signed out, or no longer
   venue staff) is forgotten. */
"use strict";

const CACHE = "hc-venue-v2";
const PAGE = "/venue/scan";
const TRUST = "/trust-lists/documents"; // every trusted city's list (ours among them)
const ASSETS = [
  "/static/css/app.css",
  "/static/css/venue.css",
  "/static/icon.svg",
  "/static/js/venue-verify.js",
  "/static/js/venue-scanner.js",
  "/static/vendor/cbor-x/index-no-eval.min.js",
  "/static/vendor/htmx.org/htmx.min.js",
  "/static/vendor/jsqr/jsQR.js",
];
const NETWORK_WAIT_MS = 4000; // a bad network is no network: answer from the kept copy

function keepable(response) {
  return response.ok && !response.redirected && response.type === "basic";
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await Promise.all([PAGE, TRUST].concat(ASSETS).map(async (url) => {
      try {
        const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
        if (keepable(response)) await cache.put(url, response);
      } catch (e) {
        // offline while installing: the next visit fills the gap
      }
    }));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("hc-venue-") && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

function withTimeout(promise, ms) {
  return Promise.race([
    promise,
    new Promise((resolve, reject) => setTimeout(() => reject(new Error("timeout")), ms)),
  ]);
}

async function networkFirst(request, key) {
  const cache = await caches.open(CACHE);
  let response;
  try {
    response = await withTimeout(fetch(request), NETWORK_WAIT_MS);
  } catch (e) {
    return (await cache.match(key)) || Response.error();
  }
  if (keepable(response)) await cache.put(key, response.clone());
  else if (key === PAGE) await cache.delete(key);
  return response;
}

async function keptFirst(event, key) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(key);
  const refresh = fetch(event.request).then(async (response) => {
    if (keepable(response)) await cache.put(key, response.clone());
    return response;
  });
  if (kept) {
    event.waitUntil(refresh.catch(() => undefined));
    return kept;
  }
  return refresh;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === PAGE || url.pathname === TRUST) {
    event.respondWith(networkFirst(request, url.pathname));
  } else if (ASSETS.indexOf(url.pathname) >= 0) {
    event.respondWith(keptFirst(event, url.pathname));
  }
});
