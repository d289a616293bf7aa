/*
 * The "결제를 처리하고 있습니다" page (templates/checkout/processing.html) moves on by itself.
 *
 * data-mode="settle": send the page's form at once (POST to this same URL: the server claims the
 * checkout once, registers the card, charges, then redirects to the result). The button stays for
 * a browser without JavaScript. data-mode="wait": another request is already at work on this
 * checkout; look again every 1.5 s (a GET, which never charges), and after about 45 s say where
 * the result will be.
 */
(function () {
  'use strict';

  var WAIT_MS = 1500;
  var MAX_LOOKS = 30;

  // Back from the result: a page restored from the back-forward cache asks the server again.
  window.addEventListener('pageshow', function (event) {
    if (event.persisted) { window.location.reload(); }
  });

  document.addEventListener('DOMContentLoaded', function () {
    var form = document.getElementById('settle-form');
    if (!form) { return; }
    if (form.dataset.mode === 'settle') {
      var button = form.querySelector('button[type=submit]');
      if (button) { button.disabled = true; button.setAttribute('aria-disabled', 'true'); }
      HTMLFormElement.prototype.submit.call(form);
      return;
    }

    var key = 'settle-looks:' + (new URLSearchParams(window.location.search).get('intent') || '');
    var looks = 0;
    try { looks = parseInt(window.sessionStorage.getItem(key) || '0', 10); } catch (e) { looks = 0; }
    if (looks >= MAX_LOOKS) {
      var slow = document.getElementById('settle-slow');
      if (slow) { slow.hidden = false; }
      return;
    }
    try { window.sessionStorage.setItem(key, String(looks + 1)); } catch (e) { /* private mode: no cap */ }
    window.setTimeout(function () { window.location.reload(); }, WAIT_MS);
  });
}());
