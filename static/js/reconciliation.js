/* Admin 대사: a reconciliation can take a while (Toss answers look-ups in up to 60 s); say so and
   keep the button from being pressed twice while it runs. */
(function () {
  'use strict';
  document.querySelectorAll('form.reconcile-run').forEach(function (form) {
    form.addEventListener('submit', function () {
      var button = form.querySelector('button[type=submit]');
      var status = form.querySelector('.busy');
      if (button) {
        button.disabled = true;
        button.setAttribute('aria-disabled', 'true');
      }
      if (status) {
        status.textContent = form.dataset.busyText || '처리 중입니다…';
      }
    });
  });
}());
