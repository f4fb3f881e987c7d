/* The check-in pass: a running clock (seconds) in the page's language and time zone, so that a
   screenshot of an old pass is told from the live one; and the address bar set to my check-ins,
   so that reloading the page shows them instead of sending the check-in again. */
(function () {
  'use strict';
  var clock = document.querySelector('[data-clock]');
  if (!clock) { return; }
  var lang = document.documentElement.lang || 'zh-CN';
  var meta = document.querySelector('meta[name=timezone]');
  var zone = (meta && meta.getAttribute('content')) || undefined;
  var format;
  try {
    format = new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false, timeZone: zone });
  } catch (e) {
    format = new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  }
  function tick() { clock.textContent = format.format(new Date()); }
  tick();
  window.setInterval(tick, 1000);
  if (window.history && window.history.replaceState) { window.history.replaceState(null, '', '/me/checkins'); }
}());
