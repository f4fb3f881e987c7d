/* The page a poster's QR opens (/C#PLACE1:...). The place code is in the address's fragment,
   which the browser never sends: it is read here, kept in this tab's session storage while the
   resident signs in (the sign-in comes back to /C without it), shown as the venue it names
   (POST /place-codes/check) and put into the check-in form. */
(function () {
  'use strict';
  var KEY = 'healthcode.place';
  var PLACE = 'PLACE1:';
  var box = document.querySelector('[data-link-checkin]');
  if (!box) { return; }
  var code = '';
  try { code = decodeURIComponent(window.location.hash.slice(1)); } catch (e) { code = ''; }
  if (code.indexOf(PLACE) === 0) {
    try { window.sessionStorage.setItem(KEY, code); } catch (e) { /* private mode: no storage */ }
    if (window.history && window.history.replaceState) { window.history.replaceState(null, '', window.location.pathname); }
  } else {
    try { code = window.sessionStorage.getItem(KEY) || ''; } catch (e) { code = ''; }
  }
  var form = box.querySelector('[data-role=checkin-form]');
  if (code.indexOf(PLACE) !== 0) {
    var none = box.querySelector('[data-role=none]');
    none.textContent = box.getAttribute('data-text-none');
    none.hidden = false;
    if (form) { form.hidden = true; }
    return;
  }
  if (form) {
    form.querySelector('[name=place_code]').value = code;
    form.addEventListener('submit', function () {
      try { window.sessionStorage.removeItem(KEY); } catch (e) { /* nothing kept */ }
    });
  }
  var chinese = (document.documentElement.lang || '').indexOf('zh') === 0;
  fetch('/place-codes/check', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, credentials: 'same-origin',
    body: JSON.stringify({ place_code: code })
  }).then(function (answer) { return answer.ok ? answer.json() : null; }).then(function (found) {
    if (!found || !found.ok) { return; }
    var name = chinese ? found.venue_name : found.venue_name_en;
    box.querySelector('[data-role=venue]').textContent = name || '';
    box.querySelector('[data-role=district]').textContent = found.district || '';
    box.querySelector('[data-role=place]').hidden = false;
  }).catch(function () { /* the check-in itself checks the code */ });
}());
