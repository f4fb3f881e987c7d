/* The resident's service worker (served as /me/sw.js, scope /me): keeps the code page and the
   files it needs, so that with no network the page still opens and shows the last code while it
   is valid (resident-code.js decides that). Network first: online, the page is always fresh.
   Only /me itself is kept; no other page of the resident is stored on the phone. */
'use strict';

var CACHE = 'hc-me-v1';
var SHELL = [
  '/me',
  '/static/css/app.css',
  '/static/css/resident.css',
  '/static/icon.svg',
  '/static/vendor/htmx.org/htmx.min.js',
  '/static/vendor/qrcode-generator/qrcode.js',
  '/static/js/resident-code.js'
];

self.addEventListener('install', function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) { return cache.addAll(SHELL); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener('activate', function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) { return k !== CACHE; })
        .map(function (k) { return caches.delete(k); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener('message', function (event) {
  if (event.data && event.data.type === 'forget') {
    event.waitUntil(caches.delete(CACHE));
  }
});

function kept(url) {
  return url.origin === self.location.origin && SHELL.indexOf(url.pathname) !== -1;
}

self.addEventListener('fetch', function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== 'GET' || !kept(url)) { return; }
  event.respondWith(
    fetch(request).then(function (response) {
      if (response.ok && response.type === 'basic' && !response.redirected) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put(url.pathname, copy); });
      }
      return response;
    }).catch(function () {
      return caches.match(url.pathname).then(function (found) {
        return found || Response.error();
      });
    })
  );
});
