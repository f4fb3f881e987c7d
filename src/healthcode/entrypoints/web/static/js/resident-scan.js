/* Scanning a venue's place code with the phone's camera: the browser's BarcodeDetector where it
   has one, the vendored jsQR decoder on canvas frames otherwise. A place code (PLACE1:..., or
   the link to the check-in page that holds it, as posters print it) is put into the check-in form, which is submitted as if typed: the server checks the signature
   and the poster, and checks the resident in. Anything else read is ignored with a message. */
(function () {
  'use strict';

  var PLACE = 'PLACE1:';
  var box = document.querySelector('[data-scanner]');
  if (!box) { return; }
  var video = box.querySelector('[data-role=video]');
  var frame = box.querySelector('[data-role=frame]');
  var status = box.querySelector('[data-role=status]');
  var start = box.querySelector('[data-role=start]');
  var form = document.querySelector('[data-role=checkin-form]');
  var field = form.querySelector('[name=place_code]');
  var stream = null;
  var detector = null;
  var done = false;

  function say(name) { status.textContent = box.getAttribute('data-text-' + name) || ''; }

  function stop() {
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); }
    stream = null;
  }

  // A poster's QR holds a link to the check-in page with the place code in its fragment
  // (https://HOST/C#PLACE1:...); older posters hold the bare place code. Both are read.
  function placeCode(text) {
    if (text.indexOf(PLACE) === 0) { return text; }
    var at = text.indexOf('#');
    if (!/^https?:\/\//i.test(text) || at < 0) { return ''; }
    try { text = decodeURIComponent(text.slice(at + 1)); } catch (e) { return ''; }
    return text.indexOf(PLACE) === 0 ? text : '';
  }

  function found(text) {
    if (done || !text) { return; }
    text = placeCode(text);
    if (!text) { say('not-place'); return; }
    done = true;
    stop();
    say('found');
    field.value = text;
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
  }

  function decodeFrame() {
    var w = video.videoWidth, h = video.videoHeight;
    if (!w || !h) { return null; }
    var scale = Math.min(1, 800 / Math.max(w, h));
    frame.width = Math.round(w * scale);
    frame.height = Math.round(h * scale);
    var g = frame.getContext('2d', { willReadFrequently: true });
    g.drawImage(video, 0, 0, frame.width, frame.height);
    var image = g.getImageData(0, 0, frame.width, frame.height);
    var hit = window.jsQR(image.data, image.width, image.height, { inversionAttempts: 'attemptBoth' });
    return hit ? hit.data : null;
  }

  function look() {
    if (done || !stream) { return; }
    var next = function () { window.setTimeout(look, 150); };
    if (video.readyState < 2) { next(); return; }
    if (detector) {
      detector.detect(video).then(function (codes) {
        if (codes.length) { found(codes[0].rawValue); }
      }).catch(function () { detector = null; }).then(next);
      return;
    }
    found(decodeFrame());
    next();
  }

  function chooseDecoder() {
    if (!('BarcodeDetector' in window)) { return Promise.resolve(null); }
    return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      return formats.indexOf('qr_code') !== -1 ? new window.BarcodeDetector({ formats: ['qr_code'] }) : null;
    }).catch(function () { return null; });
  }

  function begin() {
    if (stream || done) { return; }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { say('no-camera'); return; }
    say('starting');
    chooseDecoder().then(function (d) {
      detector = d;
      return navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: 'environment' } }, audio: false });
    }).then(function (s) {
      stream = s;
      video.srcObject = s;
      return video.play();
    }).then(function () {
      start.disabled = true;  // out of sight, keeping its place: nothing below it moves
      start.style.visibility = 'hidden';
      say('looking');
      look();
    }).catch(function () {
      stop();
      say('no-camera');
    });
  }

  start.addEventListener('click', begin);
  window.addEventListener('pagehide', stop);
  // After a refused check-in, wait to be asked: the camera would read the same poster again.
  if (!document.querySelector('[data-role=checkin-form] [role=alert]')) { begin(); }
}());
