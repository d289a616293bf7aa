/*
 * 전체 동의: the box marked data-agree-all ticks or clears every box marked data-agree-item in the
 * same form, and follows them (ticked only while all of them are). Progressive enhancement: without
 * this script the server treats a ticked 전체 동의 as every item ticked (storefront/web/auth/forms.py).
 */
(function () {
  'use strict';

  function wire(all) {
    var form = all.form;
    if (!form) return;
    var items = Array.prototype.slice.call(form.querySelectorAll('input[type=checkbox][data-agree-item]'));
    function follow() {
      all.checked = items.length > 0 && items.every(function (item) { return item.checked; });
    }
    all.addEventListener('change', function () {
      items.forEach(function (item) { item.checked = all.checked; });
    });
    items.forEach(function (item) { item.addEventListener('change', follow); });
    follow();
  }

  Array.prototype.forEach.call(document.querySelectorAll('input[type=checkbox][data-agree-all]'), wire);
})();
