/* The resident's health code: draws the signed code as a QR code (vendored qrcode-generator,
   alphanumeric mode, with a 4-module quiet zone), shows its colour and valid-until, fetches a new
   code before this one runs out, and keeps the newest code in localStorage so that the page
   (kept by the service worker at /me/sw.js) still shows it offline — but only while it is valid:
   after valid-until the QR code is removed and the page says the code has expired.
   Validity is judged by this phone's clock, as the door's scanner judges it by its own. */
(function () {
  'use strict';

  var STORE = 'hc.code.';
  var QUIET = 4; // modules of white around the code (ISO/IEC 18004)
  var script = document.currentScript;

  function now() { return Math.floor(Date.now() / 1000); }

  function load(subject) {
    try { return JSON.parse(window.localStorage.getItem(STORE + subject) || 'null'); }
    catch (e) { return null; }
  }

  function save(code) {
    try { window.localStorage.setItem(STORE + code.subject_id, JSON.stringify(code)); }
    catch (e) { /* private mode or full: the page still works online */ }
  }

  function forgetAll() {
    try {
      for (var i = window.localStorage.length - 1; i >= 0; i--) {
        var k = window.localStorage.key(i);
        if (k && k.indexOf(STORE) === 0) { window.localStorage.removeItem(k); }
      }
    } catch (e) { /* nothing stored */ }
    if ('serviceWorker' in navigator && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage({ type: 'forget' });
    }
  }

  function drawQr(box, text) {
    var qr = window.qrcode(0, 'M');
    qr.addData(text, 'Alphanumeric');
    qr.make();
    var count = qr.getModuleCount();
    var total = count + 2 * QUIET;
    var scale = Math.max(4, Math.floor(720 / total));
    var canvas = box.querySelector('canvas');
    if (!canvas) {
      canvas = document.createElement('canvas');
      canvas.setAttribute('aria-hidden', 'true');
      box.appendChild(canvas);
    }
    canvas.width = canvas.height = total * scale;
    var g = canvas.getContext('2d');
    g.fillStyle = '#ffffff';
    g.fillRect(0, 0, canvas.width, canvas.height);
    g.fillStyle = '#000000';
    for (var r = 0; r < count; r++) {
      for (var c = 0; c < count; c++) {
        if (qr.isDark(r, c)) { g.fillRect((c + QUIET) * scale, (r + QUIET) * scale, scale, scale); }
      }
    }
  }

  function Card(el) {
    this.el = el;
    this.subject = el.getAttribute('data-subject');
    this.box = el.querySelector('[data-testid=qr]');
    this.band = el.querySelector('[data-role=colour]');
    this.until = el.querySelector('[data-role=valid-until]');
    this.state = el.querySelector('[data-role=state]');
    this.expired = el.querySelector('[data-role=expired]');
    this.format = new Intl.DateTimeFormat(el.getAttribute('data-lang') || undefined, {
      dateStyle: 'medium', timeStyle: 'medium', timeZone: el.getAttribute('data-timezone') || undefined
    });
    this.busy = false;
    this.lastTry = 0;
    this.offline = !navigator.onLine;
    var shown = {
      subject_id: this.subject,
      code: el.getAttribute('data-code'),
      colour: el.getAttribute('data-colour'),
      issued_at: Number(el.getAttribute('data-issued')),
      expires_at: Number(el.getAttribute('data-expires'))
    };
    var kept = load(this.subject);
    // The page may come from the service worker's cache: the newest code wins.
    this.code = kept && kept.expires_at > shown.expires_at ? kept : shown;
    save(this.code);
    var self = this;
    el.querySelector('[data-role=refresh]').addEventListener('click', function () { self.refresh(true); });
  }

  Card.prototype.text = function (name) { return this.el.getAttribute('data-text-' + name) || ''; };

  Card.prototype.show = function () {
    var code = this.code;
    var valid = code.expires_at > now();
    this.el.className = this.el.className.replace(/\bband-\w+\b/, 'band-' + (valid ? code.colour : 'expired'));
    this.band.className = 'colour-band colour-' + code.colour;
    this.band.textContent = this.el.getAttribute('data-name-' + code.colour) || code.colour;
    this.band.hidden = !valid;
    this.until.textContent = this.format.format(new Date(code.expires_at * 1000));
    this.until.setAttribute('datetime', new Date(code.expires_at * 1000).toISOString());
    this.expired.hidden = valid;
    this.el.setAttribute('data-state', valid ? (this.offline ? 'offline' : 'online') : 'expired');
    if (valid) {
      if (this.box.getAttribute('data-drawn') !== code.code) {
        drawQr(this.box, code.code);
        this.box.setAttribute('data-drawn', code.code);
      }
      this.box.hidden = false;
    } else {
      this.box.textContent = '';  // never a stale QR code
      this.box.removeAttribute('data-drawn');
      this.box.hidden = true;
    }
    if (this.offline) { this.state.textContent = this.text('offline'); }
    var banner = document.querySelector('[data-role=offline-banner]');
    if (banner) { banner.hidden = !this.offline; }
  };

  Card.prototype.refreshDue = function () {
    var c = this.code;
    var margin = Math.max(10, Math.min(60, Math.floor((c.expires_at - c.issued_at) / 4)));
    return now() >= c.expires_at - margin;
  };

  Card.prototype.refresh = function (asked) {
    if (this.busy || (!asked && now() - this.lastTry < 15)) { return; }
    this.busy = true;
    this.lastTry = now();
    var self = this;
    var body = new URLSearchParams({ subject_id: this.subject });
    fetch('/me/code', {
      method: 'POST', body: body, credentials: 'same-origin', redirect: 'manual',
      headers: { 'Accept': 'application/json' }
    }).then(function (response) {
      var json = (response.headers.get('content-type') || '').indexOf('application/json') === 0;
      if (!response.ok || !json) {
        self.offline = false;
        self.state.textContent = response.type === 'opaqueredirect' || response.status === 401
          ? self.text('signed-out') : self.text('failed');
        return null;
      }
      return response.json();
    }).then(function (code) {
      if (code) {
        self.code = code;
        self.offline = false;
        save(code);
        self.state.textContent = self.text('online');
      }
    }).catch(function () {
      self.offline = true;
    }).then(function () {
      self.busy = false;
      self.show();
    });
  };

  Card.prototype.tick = function () {
    if (navigator.onLine && this.refreshDue()) { this.refresh(false); }
    this.show();
  };

  var cards = Array.prototype.map.call(document.querySelectorAll('[data-code-card]'), function (el) {
    return new Card(el);
  });
  cards.forEach(function (card) {
    card.state.textContent = card.offline ? card.text('offline') : card.text('online');
    card.show();
  });
  window.setInterval(function () { cards.forEach(function (card) { card.tick(); }); }, 1000);
  window.addEventListener('online', function () {
    cards.forEach(function (card) { card.offline = false; card.refresh(true); });
  });
  window.addEventListener('offline', function () {
    cards.forEach(function (card) { card.offline = true; card.show(); });
  });
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible') { cards.forEach(function (card) { card.tick(); }); }
  });

  // Signing out on this phone forgets the codes it kept.
  var signOut = document.querySelector('form[action="/sign-out"]');
  if (signOut) { signOut.addEventListener('submit', forgetAll); }

  var worker = script && script.getAttribute('data-service-worker');
  if (worker && 'serviceWorker' in navigator) {
    navigator.serviceWorker.register(worker, { scope: '/me' }).catch(function () {
      /* no offline copy: the page still works online */
    });
  }
}());
